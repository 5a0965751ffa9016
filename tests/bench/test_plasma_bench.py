"""The plasma suite's parts run and report every figure (the designs row is checked
by test_designs)."""

from __future__ import annotations

from l2gpu.bench import plasma


def test_the_plasma_suite_measures_every_exit_game_call_and_a_mass_exit() -> None:
    gas = plasma.exit_game_gas()
    assert set(gas) == set(plasma.CALLS.values())  # every call of the game, measured
    assert all(value > 21_000 for value in gas.values())
    block = plasma.block_cost()
    # submit_block(bytes32): a 4-byte selector and the 32-byte root
    assert block["block_root_calldata_bytes"] == 36
    assert block["block_root_l1_bytes_median"] > block["block_root_calldata_bytes"]
    proofs = plasma.proof_sizes()
    assert proofs["transfers_1_exclusion_bytes"] < proofs["transfers_10000_exclusion_bytes"]
    everyone = plasma.mass_exit(users=10)
    assert everyone["all_paid"] is True
    assert everyone["exits"] == 10
    assert everyone["simulated_s_from_withholding_to_last_payout"] > 7 * 86_400
