"""``l2gpu bench designs``: one Philly-drawn trace through every settlement design,
on one anvil and one ``l2gpu up``, each design reached only through its seam."""

from __future__ import annotations

import pytest

from l2gpu.bench.designs import measure_designs, philly_trace
from l2gpu.designs import DESIGNS

pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

FIELDS = {
    "l1_bytes_per_gpu_hour", "l1_gas_per_gpu_hour", "l1_gas_calldata_16_per_gpu_hour",
    "l1_gas_eip7623_floor_per_gpu_hour", "l1_blob_gas_per_gpu_hour",
    "seconds_to_first_payment_median", "provider_money_soft_s_median",
    "provider_money_final_s", "provider_money_withdrawable_s", "renter_exposure_s",
    "renter_exposure_wei_max", "provider_exposure_s_max", "provider_exposure_wei_max",
    "operator_cpu_s", "operator",
}  # fmt: skip


def test_the_trace_is_drawn_from_philly_and_seeded() -> None:
    first, again, other = philly_trace(50, 10, 7), philly_trace(50, 10, 7), philly_trace(50, 10, 8)
    assert first == again
    assert first != other
    assert all(1 <= t.paid_s <= 10 and t.paid_s <= t.duration_s and t.gpus >= 1 for t in first)


def test_every_design_runs_the_same_leases_and_reports_every_figure() -> None:
    # the zk node proves with the tests' circuit (compiled and keyed once, cached)
    run = measure_designs(leases=4, wave=4, seconds=3, zk_leases=1, zk_shape="1,2,1,1,1,1")
    assert set(run["designs"]) == set(DESIGNS)
    paid = run["workload"]["seconds_paid_in_run"]
    for name, figures in run["designs"].items():
        assert figures["lease_errors"] == [], name
        proven = name in ("zk", "validium")
        assert figures["leases_done"] == figures["leases_in_run"] == (1 if proven else 4)
        assert set(figures) >= FIELDS, name
        assert figures["l1_bytes_per_gpu_hour"] > 0, name
    channel_l1, rollup, hybrid = (run["designs"][n] for n in ("channel-l1", "rollup", "hybrid"))
    # vouchers: one per paid second, off chain; L1 sees the opens and closes only
    assert channel_l1["off_chain_messages"] == paid == hybrid["off_chain_messages"]
    assert channel_l1["l1_transactions"] == 2 * 4
    assert channel_l1["operator"]["powers"] == []
    assert channel_l1["operator_cpu_s"] is None
    # per-second transfers: every paid second is an L2 transaction in a batch
    assert rollup["off_chain_messages"] == 0
    assert rollup["l2_tx_bytes"] >= 8 * paid
    # a hybrid lease: its open and its co-signed close, at most 40 bytes of batch data
    assert hybrid["l2_tx_bytes"] / 4 <= 40
    # a zk lease: its OPEN (29 bytes) and CLOSE (19) in proven batches, vouchers off chain
    zk = run["designs"]["zk"]
    assert zk["l2_tx_bytes"] == 29 + 19
    assert zk["off_chain_messages"] > 0
    assert zk["l1_transactions"] > 0  # the proven batches that carried them
    # a validium lease: the same operations, but only their digest reaches L1
    validium = run["designs"]["validium"]
    assert validium["l2_tx_bytes"] == zk["l2_tx_bytes"]
    assert validium["l1_transactions"] > 0
    per_tx = {n: run["designs"][n]["l1_bytes"] / run["designs"][n]["l1_transactions"]
              for n in ("zk", "validium")}  # fmt: skip
    assert per_tx["validium"] < per_tx["zk"]  # each batch's sections: 32 bytes instead
    for inside in (rollup, hybrid, zk, validium):
        assert inside["operator"]["can_take"] is False
        assert inside["provider_money_final_s"] > inside["provider_money_soft_s_median"]
    for bounded in (rollup, hybrid, zk):
        assert bounded["operator"]["longest_freeze_s"] > 0
    # sharded: every lease done on its parties' shards; a routed one pays each second
    # with two messages (the renter's voucher to the hub, the hub's to the provider)
    sharded = run["designs"]["sharded"]
    routed = sharded["leases_routed_through_hub"]
    assert sharded["shards"] == 2
    assert 0 <= routed <= 4
    assert sharded["off_chain_messages"] >= paid
    assert sharded["operator"]["can_take"] is False
    # withholding the off-L1 data freezes a validium for good: its trust cost
    assert validium["operator"]["longest_freeze_s"] is None
    # a Plasma lease: a lock (a message to the operator), a transfer per second off
    # chain, and the best one in a block: 157 bytes of child chain, a 32-byte root on L1
    plasma = run["designs"]["plasma"]
    assert plasma["l2_tx_bytes"] == 157 * 4
    assert plasma["off_chain_messages"] == paid + 4
    assert plasma["l1_transactions"] >= 1  # block roots, shared by the leases
    assert plasma["operator"]["can_take"] is True  # a lease's lock is the operator's promise
    assert plasma["operator"]["longest_freeze_s"] == 8 * 86_400  # exit + response period
