"""The one-step verifier (re-execution from witnesses) agrees with the full-state STF."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from l2gpu.core.l2.proofs.step import StepWitness, WitnessError, verify_step

from .helpers import CHAIN, ROLLUP
from .steps import StepWorld


def test_every_step_agrees_with_the_spec() -> None:
    outcomes: Counter[str] = Counter()
    for seed in range(12):
        world = StepWorld(seed)
        for _ in range(120):
            step = world.step()
            verdict = verify_step(CHAIN, ROLLUP, step.pre, step.tx, step.block, step.witness,
                                  step.l1_index)  # fmt: skip
            assert verdict.fault == step.fault, step
            assert verdict.post_root == step.post_root, step
            outcomes[type(step.tx).__name__ + (":ok" if step.fault is None else ":bad")] += 1
    # Every transaction type was seen both applied and rejected (the generator is not idle).
    for name in ("Transfer", "Withdraw", "OpenChannel", "TopUpChannel", "CooperativeClose",
                 "CloseByRenter", "SubmitVoucher", "CloseByProvider", "SettleChannel"):  # fmt: skip
        assert outcomes[name + ":ok"] > 0, (name, outcomes)
        assert outcomes[name + ":bad"] > 0, (name, outcomes)
    assert outcomes["Deposit:ok"] > 0
    assert outcomes["ForcedWithdraw:ok"] > 0


def test_a_forged_witness_is_the_provers_error() -> None:
    world = StepWorld(3)
    step = next(s for s in iter(world.step, None) if s.fault is None and s.witness.writes)
    bad_path = tuple(b"\x01" * 32 for _ in step.witness.writes[0])
    forged = replace(step.witness, writes=(bad_path, *step.witness.writes[1:]))
    with pytest.raises(WitnessError, match="bad write path"):
        verify_step(CHAIN, ROLLUP, step.pre, step.tx, step.block, forged, step.l1_index)
    with pytest.raises(WitnessError):
        verify_step(CHAIN, ROLLUP, step.pre, step.tx, step.block, StepWitness(), step.l1_index)
