"""The forwards' stress on the real price paths: the margins chosen leave no bad debt
anywhere, and a maintenance margin below the index's step bound does."""

from __future__ import annotations

from l2gpu.analytics import credit_stress
from l2gpu.analytics import forward_stress as fs


def test_the_chosen_margins_are_still_the_choice() -> None:
    paths = credit_stress.real_price_paths()
    grid = [(2_000, 1_000), fs.CHOSEN_FORWARD_MARGINS, (3_000, 1_500)]
    outcomes = fs.stress(paths, grid, shocks=(0.2, 0.4, 0.9))
    below_step, chosen, wider = outcomes
    assert chosen.real_bad_debt_wei == 0
    assert chosen.first_bad_shock is None
    assert fs.choose_margins(outcomes) is chosen
    # Maintenance below the 20 % an update the index may move: shortfalls appear.
    assert below_step.real_bad_debt_wei > 0
    assert wider.real_bad_debt_wei > 0  # more initial margin does not save it
    assert chosen.real_liquidations > 0


def test_a_mirrored_path_rises_as_the_original_falls() -> None:
    path = credit_stress.shocked_path(0.3)
    up = fs.mirrored(path)
    assert [round(p, 6) for p in up.prices] == [1.0, 1.3, 1.3]
