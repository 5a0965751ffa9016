"""Fuzzing the one-step fraud proof's witness: a witness that does not prove what the
step needs is refused with WitnessError, and any witness that is accepted gives the
honest verdict (the post-state root, or the rule the transaction breaks)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.commitment import InvalidCommitment, apply_commitment
from l2gpu.core.l2.proofs.step import StepVerdict, StepWitness, WitnessError, verify_step
from l2gpu.core.l2.state import Account, L2Channel
from l2gpu.core.types import Timestamp
from tests.fuzz.support import fuzz, outcome
from tests.fuzz.test_codec import commitments
from tests.l2.helpers import CHAIN, ROLLUP, T0
from tests.l2.steps import Step, StepWorld

_WORLD = StepWorld(11)
STEPS = [_WORLD.step() for _ in range(120)]

hashes = st.binary(min_size=32, max_size=32)


@st.composite
def altered_proof(draw: st.DrawFn, proof: tuple[bytes, ...]) -> tuple[bytes, ...]:
    items = list(proof)
    change = draw(st.integers(0, 3))
    if change == 0 and items:
        items[draw(st.integers(0, len(items) - 1))] = draw(hashes)
    elif change == 1:
        del items[draw(st.integers(0, len(items))) :]
    elif change == 2:
        items.append(draw(hashes))
    else:
        items = draw(st.lists(st.binary(max_size=40), max_size=26))
    return tuple(items)


@st.composite
def altered_leaf(draw: st.DrawFn, leaf: Account | L2Channel | None) -> object:
    if leaf is None or draw(st.booleans()):
        return None
    # Values stay in their leaf's range: a witness is ABI-encoded on L1, where a balance
    # cannot exceed its uint128.
    if isinstance(leaf, Account):
        return replace(leaf, balance=leaf.balance ^ draw(st.sampled_from([1, 2**127])),
                       nonce=leaf.nonce + draw(st.integers(0, 1)))  # fmt: skip
    return replace(leaf, index=leaf.index ^ 1)


@st.composite
def altered_witness(draw: st.DrawFn, witness: StepWitness) -> StepWitness:
    for _ in range(draw(st.integers(1, 3))):
        part = draw(st.sampled_from(["accounts", "channels", "writes", "count"]))
        if part == "count":
            delta = draw(st.sampled_from([-1, 1, 2**24, -(2**24)]))
            witness = replace(witness, channel_count=witness.channel_count + delta)
            continue
        items = list(getattr(witness, part))
        if not items:
            continue
        at = draw(st.integers(0, len(items) - 1))
        change = draw(st.integers(0, 3))
        if change == 0:
            del items[at]
        elif change == 1:
            items.insert(draw(st.integers(0, len(items))), items[at])
        elif part == "writes":
            items[at] = draw(altered_proof(items[at]))
        elif change == 2:
            items[at] = replace(items[at], proof=draw(altered_proof(items[at].proof)))
        else:
            leaf_name = "account" if part == "accounts" else "channel"
            leaf = draw(altered_leaf(getattr(items[at], leaf_name)))
            items[at] = replace(items[at], **{leaf_name: leaf})
        witness = replace(witness, **{part: tuple(items)})
    return witness


def verify(step: Step, witness: StepWitness) -> StepVerdict | WitnessError:
    return outcome(WitnessError, verify_step, CHAIN, ROLLUP, step.pre, step.tx, step.block,
                   witness, step.l1_index)  # fmt: skip


def test_honest_witnesses_give_the_honest_verdict() -> None:
    for step in STEPS:
        verdict = verify(step, step.witness)
        assert isinstance(verdict, StepVerdict)
        assert (verdict.post_root, verdict.fault) == (step.post_root, step.fault)


@fuzz(300)
@given(st.sampled_from(STEPS).flatmap(lambda s: st.tuples(st.just(s), altered_witness(s.witness))))
def test_altered_witnesses_are_refused_or_change_nothing(case: tuple[Step, StepWitness]) -> None:
    step, witness = case
    verdict = verify(step, witness)
    if isinstance(verdict, StepVerdict):
        assert (verdict.post_root, verdict.fault) == (step.post_root, step.fault)


# -- commitments from L1, applied to a state ------------------------------------------------


@fuzz(200)
@given(
    commitments(),
    st.one_of(st.sampled_from([0, T0, T0 + 10**6]), st.integers(0, 2**40)),
)
def test_decoded_commitments_apply_or_are_invalid(commitment: Commitment, timestamp: int) -> None:
    """A watcher applies what it decoded from L1: the only failure is InvalidCommitment.

    Timestamps stay below 2**40: L1 refuses a commitment stamped after its block (see
    the report of issue #12 on timestamps near 2**64)."""
    commitment = replace(commitment, timestamp=Timestamp(timestamp))
    state = _WORLD.state
    mark = state.checkpoint()
    try:
        outcome(InvalidCommitment, apply_commitment, state, commitment, 0)
    finally:
        state.rollback(mark)
        state.commit()
