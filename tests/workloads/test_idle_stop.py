"""``rent --idle-stop``: what idle means (no output and no GPU use for the limit, from
the job's start), and the agent telling the market when the job used its GPUs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.renter.idle import IdleStop, idle_reason
from l2gpu.wire import LogChunk
from tests.agent.fake_nvml import FakeNvmlForTests
from tests.agent.test_agent import World


def test_idle_counts_from_the_last_output_or_gpu_use() -> None:
    def reason(now: int, output: int | None = None, gpu: int | None = None) -> str | None:
        return idle_reason(now=now, started_at=100, last_output_at=output, gpu_active_at=gpu,
                           limit_s=60)  # fmt: skip

    assert reason(159) is None
    assert reason(160) == (
        "the job printed nothing and used no GPU for 60 s, at least the 60 s of --idle-stop"
    )
    assert reason(200, output=150) is None
    assert reason(210, output=150) is not None
    assert reason(210, output=150, gpu=190) is None
    assert reason(250, output=150, gpu=190) is not None


class _Nvml(FakeNvmlForTests):
    busy = 0

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=self.busy, memory=0)


def test_the_agent_reports_gpu_use_and_an_idle_job_is_told_apart(tmp_path: Path) -> None:
    world = World(tmp_path)
    nvml = _Nvml()
    world.agent.nvml = nvml
    payer = world.rent("sleep 60")
    world.agent.step()
    started = payer.step()
    assert started.status is LeaseStatus.RUNNING
    assert started.started_at is not None
    idle = IdleStop(10, world.clock)
    for _ in range(3):
        world.second(payer)
    assert payer.step().gpu_active_at is None  # 0 % busy: not used
    nvml.busy = 40
    world.second(payer)
    used = payer.step()
    assert used.gpu_active_at == world.clock()
    assert idle.watch(used, []) is None
    nvml.busy = 0
    for _ in range(9):
        world.second(payer)
    assert idle.watch(payer.step(), []) is None
    # Output a moment ago keeps it active; then ten quiet seconds make it idle.
    assert idle.watch(payer.step(), [LogChunk(seq=1, at=world.clock(), text="epoch 1\n")]) is None
    for _ in range(9):
        world.second(payer)
    assert idle.watch(payer.step(), []) is None
    world.second(payer)
    assert "used no GPU for 10 s" in (idle.watch(payer.step(), []) or "")
    world.renter.stop(started.id)
    world.agent.step()
