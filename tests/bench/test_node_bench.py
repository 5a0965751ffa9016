"""The node suite on a small load: ``l2gpu up`` on anvil driven by client processes.

Whatever the machine's speed, the figures must add up: transfers included only
from waves sent, and the waves signed during the run are those the clients did not
sign ahead (issue #14: users sign on their own machines, so the benchmark signs
before its window as far as ``presign`` goes)."""

from __future__ import annotations

import pytest

from l2gpu.bench.node import measure_node

pytestmark = pytest.mark.slow


def test_a_small_run_adds_up(anvil_url: str) -> None:
    del anvil_url  # the fixture fails the test when anvil is missing; the suite starts its own
    wave, accounts, presign = 16, 8, 2
    figures = measure_node(accounts=accounts, processes=2, wave=wave, seconds=3.0,
                           batch_size=500, presign=presign)  # fmt: skip
    sent = figures["node_waves_sent"]
    assert sent >= accounts  # each account sent at least its first wave
    assert figures["node_waves_presigned"] == accounts * presign
    # each account sends its signed waves first, then signs as it goes
    assert sent - accounts * presign <= figures["node_waves_signed_live"] <= sent - accounts
    # how many the window saw depends on the machine's speed; never more than were sent
    assert 0 <= figures["node_transactions_included"] <= sent * wave
    assert figures["node_tps"] == pytest.approx(
        figures["node_transactions_included"] / figures["node_window_s"], rel=0.05
    )
    if figures["node_transactions_included"]:
        assert figures["node_cpu_ms_per_tx"] > 0
