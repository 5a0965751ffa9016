"""The witness verifier (fraud-proof rules for transfer commitments) agrees with the spec.

Random transfer commitments, honest or tampered (overspend, unknown recipient, a forged
aggregate signature, a wrong claimed root), are judged twice: by applying them to the
full state (``apply_commitment``) and by re-executing them from a witness alone. Both
must accept the same commitments with the same root and reject the same ones.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.commitment import InvalidCommitment, apply_commitment
from l2gpu.core.l2.proofs.verifier import verify_transfer_commitment
from l2gpu.core.l2.proofs.witness import transfer_witness
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Wei

from .helpers import CHAIN, ROLLUP, World


def honest_commitment(world: World, transfers: list[tuple[int, int, int]]) -> Commitment:
    for sender, to, amount in transfers:
        world.send(Transfer(sender, to, Wei(amount * 10**12), Wei(10**9)))
    report = world.sequencer.seal()
    assert len(report.commitments) == 1
    return report.commitments[0]


transfers = st.lists(
    st.tuples(st.integers(1, 4), st.integers(0, 4), st.integers(1, 400_000)), min_size=1, max_size=6
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transfers, st.sampled_from(["none", "overspend", "unknown", "signature", "root"]))
def test_witness_verifier_agrees_with_the_spec(batch: list, tamper: str) -> None:
    world = World(n=5)
    pre = world.state.root()
    commitment = honest_commitment(world, batch)
    honest_root = commitment.post_root
    # Judge against the pre-commitment state: rebuild it from the deposits.
    judge = World(n=5).state
    assert judge.root() == pre
    if tamper == "overspend":
        first = commitment.txs[0]
        commitment = replace(
            commitment, txs=(replace(first, amount=Wei(10**24)), *commitment.txs[1:])
        )
    elif tamper == "unknown":
        first = commitment.txs[0]
        commitment = replace(commitment, txs=(replace(first, to=99), *commitment.txs[1:]))
    elif tamper == "signature":
        commitment = replace(commitment, signature=world.bls[1].sign(b"something else"))
    elif tamper == "root":
        commitment = replace(commitment, post_root=b"\x07" * 32)
    witness = transfer_witness(judge, commitment, 0)
    verdict = verify_transfer_commitment(CHAIN, ROLLUP, commitment, 0, witness)
    try:
        spec_root = apply_commitment(judge, commitment, 0)
        spec_fault = None
    except InvalidCommitment as exc:
        spec_root, spec_fault = None, exc.reason
    if tamper == "root":
        # The verifier computes the honest root; the claim differs from it: fraud.
        assert spec_fault == "l2: wrong post-state root"
        assert verdict.post_root == honest_root != commitment.post_root
        return
    if spec_fault is None:
        assert verdict.fault is None
        assert verdict.post_root == spec_root == honest_root
    else:
        assert verdict.post_root is None
        assert verdict.fault == spec_fault


def test_a_witness_with_a_forged_account_is_caught() -> None:
    world = World(n=3)
    judge = World(n=3).state
    commitment = honest_commitment(world, [(1, 2, 1000)])
    witness = transfer_witness(judge, commitment, 0)
    rich = replace(witness.touches[0].account, balance=Wei(10**30))
    forged = replace(witness, touches=(replace(witness.touches[0], account=rich),
                                       *witness.touches[1:]))  # fmt: skip
    verdict = verify_transfer_commitment(CHAIN, ROLLUP, commitment, 0, forged)
    assert verdict.fault == "witness: bad account proof"
