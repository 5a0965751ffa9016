"""The leverage suite: its gas comes from the contract's receipts, its latency from a
shock on the chain, its stress from the real price paths."""

from __future__ import annotations

from l2gpu.bench import leverage


def test_the_leverage_suite_measures_the_pool_and_its_stress() -> None:
    figures = leverage.run()
    calls = {"set_price", "supply", "add_collateral", "borrow", "repay", "liquidate", "withdraw"}
    assert calls <= set(figures["gas_median"])
    assert all(20_000 < figures["gas_median"][c] < 200_000 for c in calls)
    assert figures["positions_liquidated"] == leverage.BORROWERS  # the -50 % shock
    assert set(figures["forwards_gas"]) == {"post_index", "open_offer", "take", "liquidate",
                                            "settle"}  # fmt: skip
    assert figures["liquidation_latency_updates_max"] >= 0
    assert figures["stress_real_paths"] > 50
    assert figures["stress_real_bad_debt_wei"] == 0  # the chosen parameters
    assert figures["stress_first_bad_shock"] is not None
    assert figures["scripted_lender_return"] > 0  # ten days of interest
