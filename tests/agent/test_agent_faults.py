"""The agent under faults (issue #13): metering never waits on a log upload, and a
market outage never has the provider serve more than the grace period unpaid."""

from __future__ import annotations

from pathlib import Path

from l2gpu.client import ApiRequestError
from l2gpu.core.market.lease_state import LeaseStatus
from tests.api.helpers import described
from tests.market.helpers import PROVIDER, RENTER

from .test_agent import World, wait_for


def failing(*_args, **_kwargs):
    raise ApiRequestError("internal error: DataError", "this is a bug in l2gpu", 500)


def test_metering_goes_on_when_log_uploads_fail(tmp_path: Path, monkeypatch) -> None:
    world = World(tmp_path)
    payer = world.rent("for i in 1 2 3 4 5 6; do echo line $i; done; sleep 60")
    world.agent.step()
    lease_id = payer.info.id
    monkeypatch.setattr(world.agent.client, "send_logs", failing)  # the market answers 500
    for _ in range(5):
        world.second(payer)
    assert world.renter.lease(lease_id).metered_seconds == 5  # billed all the same
    assert payer.paid == 5 * 2 * 10**12
    monkeypatch.undo()  # uploads work again: no line was lost meanwhile

    def all_lines_arrived() -> bool:
        world.agent.step()
        return "line 6" in "".join(c.text for c in world.renter.logs(lease_id).chunks)

    wait_for(all_lines_arrived)


def test_a_market_outage_never_leaves_the_provider_unpaid_past_grace(
    tmp_path: Path, monkeypatch
) -> None:
    world = World(tmp_path)
    payer = world.rent("sleep 60")
    world.agent.step()
    for _ in range(3):
        world.second(payer)
    lease_id = payer.info.id
    client = world.agent.client
    for name in ("work", "heartbeat", "report", "send_logs"):  # the market is gone
        monkeypatch.setattr(client, name, failing)
    served = world.agent.served[lease_id]
    states = []
    for _ in range(12):  # vouchers travel through the market: none arrive now
        world.second(payer)
        states.append(world.agent.backend.status(lease_id).state)
    # The agent metered on and obeyed its payee: paused at the grace, then stopped.
    assert states[world.agent.grace - 1] == "paused"
    assert states[-1] == "exited"
    assert served.max_unpaid_seconds <= world.agent.grace
    monkeypatch.undo()  # the market is back and has preempted the silent provider
    for _ in range(3):
        world.second(payer)
    lease = world.renter.lease(lease_id)
    assert lease.status in (LeaseStatus.PREEMPTED, LeaseStatus.ENDED)
    assert lease_id not in world.agent.served  # the job is stopped
    wait_for(lambda: world.agent.backend.status(lease_id).state == "exited")


def test_a_job_past_its_memory_limit_ends_its_lease_with_the_reason(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.agent.memory_bytes = 96 * 2**20
    hog = "python -c 'b = []\nwhile True: b.append(bytearray(8 * 2**20))'"
    payer = world.rent(hog)
    world.agent.step()
    lease_id = payer.info.id

    def ended() -> bool:
        world.second(payer)
        return world.renter.lease(lease_id).status is not LeaseStatus.RUNNING

    wait_for(ended, 300)
    lease = world.renter.lease(lease_id)
    assert lease.status is LeaseStatus.ENDED
    assert "memory limit" in lease.reason


def test_a_poison_job_fails_its_own_lease_once(tmp_path: Path) -> None:
    world = World(tmp_path)
    poison = world.renter.rent(
        world.offer.id, command="echo hi", duration=600,
        files={"output.log": "the backend's own file"},  # refused by the backend
        channel=described(RENTER, PROVIDER.address, 10**18),
    )  # fmt: skip
    starts = []
    original = world.agent.backend.start
    world.agent.backend.start = lambda spec: (starts.append(spec), original(spec))  # type: ignore[method-assign]
    for _ in range(3):
        world.second()
    lease = world.renter.lease(poison.id)
    assert lease.status is LeaseStatus.FAILED
    assert "output.log" in lease.reason
    assert len(starts) == 1  # tried once, never again
