"""The credit stress on the real price data: the paths it reads, and that the
parameters it chose are still the choice (they survive; the next LTV up does not)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2gpu.analytics import credit_stress as cs
from l2gpu.core.credit.rates import PoolParams


@pytest.fixture(scope="module")
def paths() -> list[cs.PricePath]:
    return cs.real_price_paths()


def test_the_real_paths_and_their_worst_moves(paths: list[cs.PricePath]) -> None:
    assert len(paths) > 50
    assert all(p.prices[0] == 1.0 and len(p.prices) >= cs.MIN_SNAPSHOTS for p in paths)
    assert 0.55 < cs.worst_real_drop(paths) < 0.65  # OVHcloud's V100 between two snapshots
    assert 0.3 < max(cs.vast_spreads().values()) < 0.5


def test_the_chosen_parameters_survive_and_the_next_ltv_up_does_not(
    paths: list[cs.PricePath],
) -> None:
    survive = cs.worst_real_drop(paths)
    bolder = replace(cs.CHOSEN_PARAMS, ltv_bps=4_000, liquidation_threshold_bps=5_000)
    chosen, next_up = cs.stress(paths, [cs.CHOSEN_PARAMS, bolder], shocks=(0.5, 0.6, 0.7))
    assert chosen.real_bad_debt_wei == 0
    assert all(bad == 0 for shock, bad in chosen.shock_bad_debt_wei.items() if shock <= survive)
    # One LTV step bolder already leaves bad debt: on a real path or a survivable shock.
    assert next_up.real_bad_debt_wei > 0 or (next_up.first_bad_shock or 1.0) <= survive
    assert chosen.real_liquidations > 0  # the real paths do make bots liquidate


def test_a_shock_deeper_than_the_collateral_margin_leaves_bad_debt_written_off() -> None:
    outcome = cs.run_path(PoolParams(), cs.shocked_path(0.6))
    assert outcome.bad_debt_wei > 0
    assert outcome.liquidations > 0


def test_choose_prefers_the_highest_safe_ltv() -> None:
    def outcome(ltv: int, bad_real: int, shocks: dict[float, int]) -> cs.ParamsOutcome:
        params = replace(PoolParams(), ltv_bps=ltv, liquidation_threshold_bps=ltv + 1_000)
        return cs.ParamsOutcome(params, bad_real, 0, 0.0, shocks)

    safe_low = outcome(3_000, 0, {0.5: 0, 0.7: 0})
    safe_mid = outcome(4_000, 0, {0.5: 0, 0.7: 5})
    unsafe = outcome(5_000, 1, {0.5: 0, 0.7: 9})
    assert cs.choose([safe_low, safe_mid, unsafe], 0.5) is safe_mid
    assert cs.choose([safe_low, safe_mid, unsafe], 0.7) is safe_low
    with pytest.raises(ValueError, match="no parameter set survives"):
        cs.choose([unsafe], 0.5)
