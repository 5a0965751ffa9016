"""A job whose start the market hears late (it was down or slow): the market's clock for
the lease starts then, and the provider still serves no more than the grace unpaid
(seen in the chaos test: started 4 s late, 9.4 s served unpaid)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from l2gpu.core.errors import L2gpuError
from tests.agent.test_agent import PRICE, World


@pytest.mark.parametrize("late", [0, 2, 4, 6])
def test_a_start_the_market_hears_late_is_not_served_unpaid(tmp_path: Path, late: int) -> None:
    world = World(tmp_path)
    payer = world.rent("sleep 120", duration=15)
    began = world.clock()
    reach = world.agent.client.report

    def report(lease_id: int, kind: str, **fields: Any) -> Any:
        if kind != "accepted" and world.clock() < began + late:  # it misses "started"
            raise L2gpuError("the market is unreachable")
        return reach(lease_id, kind, **fields)

    world.agent.client.report = report  # type: ignore[method-assign]
    world.agent.step()  # starts the job
    lease_id = payer.info.id
    ran = 0
    for _ in range(40):
        ran += world.agent.backend.status(lease_id).state == "running"  # this second
        world.second(payer)
        if lease_id not in world.agent.served:
            break
    assert world.agent.backend.status(lease_id).state == "exited"
    assert ran - payer.paid // (PRICE * 2) <= world.agent.grace
