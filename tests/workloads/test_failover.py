"""Failover's parts: a provider that preempts a lease says so at once (the lease machine,
the API, an agent that shuts down), and the renter's copy of the job's checkpoints is
fetched, kept whole and laid over the task's folder for the next attempt."""

from __future__ import annotations

from pathlib import Path

from l2gpu.agent.outputs import Retention
from l2gpu.archive import Layer, pack, unpack
from l2gpu.core.market import lease as lm
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.types import Timestamp
from l2gpu.renter.checkpoints import Checkpoints, agent_may_answer
from tests.agent.test_agent import World, wait_for
from tests.market.helpers import T0
from tests.market.test_lease import new_lease, run

JOB = "mkdir -p checkpoints; echo 3 > checkpoints/.s; mv checkpoints/.s checkpoints/step; sleep 60"


def test_a_provider_preempting_ends_a_running_lease_and_fails_an_unstarted_one() -> None:
    running, _ = run(
        new_lease(), lm.JobStarted(Timestamp(T0)), lm.UsageMetered(Timestamp(T0 + 5), 5)
    )
    taken, events = lm.state_transition(running, lm.ProviderPreempted(Timestamp(T0 + 6), "spot"))
    assert (taken.status, taken.reason) == (
        LeaseStatus.PREEMPTED,
        "preempted by the provider: spot",
    )
    assert taken.amount_due == 5 * taken.price_per_second
    assert not any(isinstance(e, lm.StopJob) for e in events)  # the agent stopped it
    never, _ = lm.state_transition(new_lease(), lm.ProviderPreempted(Timestamp(T0)))
    assert never.status is LeaseStatus.FAILED
    assert never.amount_due == 0


def _world(tmp_path: Path) -> World:
    world = World(tmp_path)
    world.agent.kept = Retention(tmp_path / "kept")
    return world


def _written(world: World, lease_id: int) -> bool:
    world.agent.step()
    return (world.tmp / "jobs" / f"lease-{lease_id}" / "checkpoints" / "step").exists()


def test_a_checkpoint_is_fetched_after_a_preemption_and_resumes_the_next_attempt(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path)
    payer = world.rent(JOB)
    world.agent.step()
    lease_id = payer.step().id
    wait_for(lambda: _written(world, lease_id))
    # The provider takes the lease back, its agent still up (a machine reclaimed).
    world.agent.client.report(lease_id, "preempted", reason="the machine is reclaimed")
    lease = payer.step()
    assert lease.status is LeaseStatus.PREEMPTED
    assert lease.reason == "preempted by the provider: the machine is reclaimed"
    assert payer.done

    def second(_: float) -> None:
        world.clock.advance(1)
        world.agent.step()

    saved = Checkpoints(world.renter, tmp_path / "state", every=60, clock=world.clock,
                        sleep=second)  # fmt: skip
    assert not saved.has_copy()
    saved.after(lease_id, lease.status, lease.reason)
    assert saved.fetched == 1
    assert (saved.copy / "checkpoints" / "step").read_text() == "3\n"
    # The next attempt's folder: the task's, with the copy laid over it.
    (tmp_path / "task" / "checkpoints").mkdir(parents=True)
    (tmp_path / "task" / "checkpoints" / "step").write_text("0\n")
    (tmp_path / "task" / "train.sh").write_text("echo go\n")
    unpack(pack([Layer(tmp_path / "task"), saved.layer()]), tmp_path / "next")
    assert (tmp_path / "next" / "checkpoints" / "step").read_text() == "3\n"
    assert (tmp_path / "next" / "train.sh").exists()
    # A fetch that fails (nothing there) keeps the copy as it was.
    saved._fetch(lease_id + 99, 2)
    assert "lease" in saved.problem
    assert (saved.copy / "checkpoints" / "step").read_text() == "3\n"


def test_an_agent_that_shuts_down_preempts_its_leases_at_once(tmp_path: Path) -> None:
    world = _world(tmp_path)
    payer = world.rent("sleep 60")
    world.agent.step()
    lease_id = payer.step().id
    world.second(payer)
    world.agent.shutdown()
    lease = payer.step()
    assert lease.status is LeaseStatus.PREEMPTED
    assert lease.reason == f"preempted by the provider: {lm.AGENT_SHUT_DOWN}"
    assert world.agent.backend.status(lease_id).state == "exited"
    assert not agent_may_answer(lease.reason)
    assert not agent_may_answer(lm.AGENT_SILENT)
    assert agent_may_answer("preempted by the provider: the machine is reclaimed")


def test_checkpoints_are_fetched_only_while_running_and_not_more_often_than_asked(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path)
    info = world.rent("sleep 60").info.model_copy(update={"status": LeaseStatus.RUNNING})
    ticks = [100.0]
    saved = Checkpoints(world.renter, tmp_path / "state", every=10, clock=world.clock,
                        monotonic=lambda: ticks[0])  # fmt: skip
    fetched: list[int] = []
    saved._fetch = lambda lease_id, wait_s: fetched.append(lease_id)  # type: ignore[method-assign]
    for _ in range(3):
        saved.watch(info, [])
        assert saved._thread is not None
        saved._thread.join(5)
        ticks[0] += 5
    assert fetched == [info.id, info.id]  # at 100 and 110, not at 105
    stopped = info.model_copy(update={"status": LeaseStatus.ENDED})
    ticks[0] += 60
    saved.watch(stopped, [])
    assert fetched == [info.id, info.id]
