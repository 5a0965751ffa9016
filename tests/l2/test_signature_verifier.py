"""SignatureVerifier.vy agrees with the co-signature spec (proofs/signature.py).

Commitments sealed by a real sequencer with real co-signers, honest or tampered,
are judged by the Python spec and by the contract on anvil, from the same witness.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2gpu.core.crypto.bls import aggregate
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.commitment import apply_commitment, message_for
from l2gpu.core.l2.proofs.replay import signature_witness
from l2gpu.core.l2.proofs.signature import SignatureWitness, signature_valid
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import BlockContext, CooperativeClose, OpenChannel, Transfer
from l2gpu.core.types import Seconds, Timestamp, Wei
from l2gpu.l1.build import compile_contract
from l2gpu.l1.chain import Chain, ContractRevert, DeployedContract
from l2gpu.l1.contracts import dispute_abi as abi
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key

from ..conftest import ANVIL_KEYS
from .helpers import CHAIN, ROLLUP, World


@pytest.fixture(scope="module")
def verifier(anvil_url: str) -> DeployedContract:
    chain: Chain = connect_jsonrpc(anvil_url, [account_from_private_key(k) for k in ANVIL_KEYS])
    sender = chain.accounts[0]
    bls = chain.deploy(compile_contract("rollup/BlsVerifier.vy"), sender=sender)
    return chain.deploy(compile_contract("rollup/SignatureVerifier.vy"), bls.address,
                        sender=sender)  # fmt: skip


def roots_before(state: L2State, commitment: Commitment) -> list[bytes]:
    """The root before each transaction (replayed on ``state``, which advances)."""
    roots = []
    block = BlockContext(commitment.timestamp, 0)
    from l2gpu.core.l2.stf import state_transition

    mark = state.checkpoint()
    for tx in commitment.txs:
        roots.append(state.root())
        state_transition(state, tx, block)
    state.rollback(mark)
    state.commit()
    return roots


def judge(verifier: DeployedContract, pre: L2State, commitment: Commitment) -> tuple[bool, bool]:
    """(spec, contract) verdicts on the commitment's co-signature."""
    block = BlockContext(commitment.timestamp, 0)
    witness, valid = signature_witness(pre, commitment, block)
    roots = roots_before(pre, commitment)
    spec = signature_valid(CHAIN, ROLLUP, commitment, roots, witness)
    assert spec == valid
    return spec, on_chain(verifier, commitment, roots, witness)


def on_chain(
    verifier: DeployedContract, commitment: Commitment, roots: list[bytes], w: SignatureWitness
) -> bool:
    from l2gpu.core.crypto.bls_points import g1_point

    return bool(verifier.call_fast(
        "signature_valid", CHAIN, ROLLUP, commitment.encode(), roots, abi.root_parts(w.pre_parts),
        [abi.signer_key(s) for s in w.signers], [abi.close_parties(c) for c in w.closes],
        g1_point(commitment.signature),
    ))  # fmt: skip


def sealed(world: World) -> Commitment:
    report = world.sequencer.seal()
    assert len(report.commitments) == 1, report.dropped
    return report.commitments[0]


def test_honest_transfer_commitments_verify_and_forged_ones_do_not(
    verifier: DeployedContract,
) -> None:
    world, twin = World(n=6), World(n=6)
    for sender in range(1, 6):
        world.send(Transfer(sender, 0, Wei(10**15), Wei(10**9)))
    commitment = sealed(world)
    assert judge(verifier, twin.state, commitment) == (True, True)
    forged = replace(commitment, signature=world.bls[1].sign(b"another message"))
    assert judge(verifier, twin.state, forged) == (False, False)
    # One co-signer missing from the aggregate.
    message = message_for(CHAIN, ROLLUP, twin.state.root(), commitment)
    partial = aggregate([world.bls[i].sign(message) for i in range(1, 5)])
    assert judge(verifier, twin.state, replace(commitment, signature=partial)) == (False, False)


def test_a_cooperative_close_needs_both_parties(verifier: DeployedContract) -> None:
    world, twin = World(n=4), World(n=4)
    world.send(OpenChannel(1, 2, Wei(10**16), Timestamp(world.now + 3600), Seconds(600)))
    opened = sealed(world)
    apply_commitment(twin.state, opened, 0)
    world.send(CooperativeClose(1, 0, Wei(10**15)))
    world.expect(2, CooperativeClose(1, 0, Wei(10**15)))
    close = sealed(world)
    assert judge(verifier, twin.state, close) == (True, True)
    message = message_for(CHAIN, ROLLUP, twin.state.root(), close)
    renter_only = world.bls[1].sign(message)
    assert judge(verifier, twin.state, replace(close, signature=renter_only)) == (False, False)


def test_more_than_32_signers_is_a_fault_proven_without_keys(verifier: DeployedContract) -> None:
    # 16 cooperative closes of channels with distinct parties (32 co-signers) and one
    # more sender: 33 signers, one more than a commitment may have.
    world, twin = World(n=35), World(n=35)
    for renter in range(1, 17):
        world.send(OpenChannel(renter, renter + 16, Wei(10**16),
                               Timestamp(world.now + 3600), Seconds(600)))  # fmt: skip
    apply_commitment(twin.state, sealed(world), 0)
    closes = tuple(CooperativeClose(renter, renter - 1, Wei(10**15)) for renter in range(1, 17))
    extra = OpenChannel(33, 1, Wei(10**15), Timestamp(world.now + 3600), Seconds(600))
    commitment = Commitment(3, Timestamp(world.now), (*closes, extra))
    message = message_for(CHAIN, ROLLUP, twin.state.root(), commitment)
    signed = replace(commitment, signature=aggregate([world.bls[i].sign(message)
                                                      for i in range(1, 34)]))  # fmt: skip
    block = BlockContext(commitment.timestamp, 0)
    witness, valid = signature_witness(twin.state, signed, block)
    assert not valid
    assert witness.signers == ()
    assert len(witness.closes) == 16
    roots = roots_before(twin.state, signed)
    assert signature_valid(CHAIN, ROLLUP, signed, roots, witness) is False
    assert on_chain(verifier, signed, roots, witness) is False


def test_a_wrong_signer_list_reverts(verifier: DeployedContract) -> None:
    world, twin = World(n=4), World(n=4)
    world.send(Transfer(1, 2, Wei(10**15), Wei(0)))
    commitment = sealed(world)
    witness, _ = signature_witness(twin.state, commitment, BlockContext(commitment.timestamp, 0))
    roots = roots_before(twin.state, commitment)
    with pytest.raises(ContractRevert, match="witness"):
        on_chain(verifier, commitment, roots, replace(witness, signers=()))
