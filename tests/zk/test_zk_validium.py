"""The zk ledger as a validium on the embedded chain: the node proves each batch with
the validium circuit and posts only the deposits, the withdrawals and the digest of
the other sections; L1 accepts a batch only if the proof is for that digest; the node
serves the whole public data, from which anyone rebuilds the state and exits after a
freeze (``l2gpu zk exit``'s core, ``node/zk/escape.py``). Withhold one batch's data and
no exit proof opens: the validium's trust cost."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.core.errors import L2gpuError
from l2gpu.core.zk.batch import BatchResult
from l2gpu.core.zk.batch_input import BatchInput
from l2gpu.core.zk.channel import OpenChannelTx, sign_open
from l2gpu.core.zk.pubdata import split_sections, validium_public_input
from l2gpu.core.zk.replay import rebuild_state
from l2gpu.l1 import Chain, ContractRevert, Receipt
from l2gpu.l1.contracts.zk_rollup import (
    Groth16Proof,
    ZkRollupClient,
    pubdata_sections,
    pubdata_timestamp,
)
from l2gpu.node.zk.escape import OffchainSource, escape
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.records import SignedTx
from l2gpu.zk.prover import Proof, prove
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

from .test_zk_rollup_batches import evm_proof
from .zk_node_world import DEPTH, ETH, SECRETS, SHAPE, NodeWorld, transfer, withdrawal

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

NOT_OPEN = "do not open to the last proven state root"


@pytest.fixture
def world(
    chain: Chain,
    validium_circuit: CompiledCircuit,
    validium_keys: Keys,
    toolchain: Toolchain,
    tmp_path: Path,
) -> NodeWorld:
    return NodeWorld(chain, validium_circuit, validium_keys, toolchain, tmp_path / "zk.db",
                     validium=True)  # fmt: skip


def posted_receipts(rollup: ZkRollupClient) -> list[Receipt]:
    """Every receipt of ``rollup.submit_batch`` from now on (a spy on the node's poster)."""
    receipts: list[Receipt] = []
    post = rollup.submit_batch

    def spy(**kwargs: object) -> Receipt:
        receipt = post(**kwargs)  # type: ignore[arg-type]
        receipts.append(receipt)
        return receipt

    rollup.submit_batch = spy  # type: ignore[method-assign]
    return receipts


def test_a_validium_posts_a_digest_serves_the_data_and_every_account_exits(
    world: NodeWorld,
) -> None:
    chain, rollup = world.chain, world.rollup
    world.deposit(1, ETH)  # the fee account, which also rents from itself below
    node: ZkNode | None = None

    def forging_prover(inputs: BatchInput) -> Proof:
        """The node's prover, which also tries the first batch's proof where L1 must
        refuse it: for other off-L1 bytes, and at the rollup form's entry."""
        proof = prove(world.circuit, inputs, keys=world.keys, toolchain=world.toolchain)
        assert node is not None
        if rollup.batch_count() == 0:
            refuse_forgeries(world, node.batches[0].result, evm_proof(proof))
        return proof

    node = world.node(prover=forging_prover)
    receipts = posted_receipts(node.rollup)
    assert node.status()["validium"] is True
    assert node.seal() == 0
    node.submit(transfer(1, 1, 10**17, 1, 0))
    node.submit(withdrawal(1, 2 * 10**17, 1))
    deposit = 10**17
    opening = OpenChannelTx(0, 1, 1, deposit, chain.timestamp() + 100_000, 2)
    node.submit(SignedTx(opening, sign_open(SECRETS[1], opening)))
    assert node.seal() == 1
    assert node.prove_and_post() == 2
    assert rollup.state_root() == node.sequencer.state.root()
    assert rollup.credit(chain.accounts[1].address) == 2 * 10**17  # final at once
    # L1 holds the digest of the transfers, never their bytes; the node serves them
    served = [node.batch_data(n) for n in range(2)]
    datas = [bytes.fromhex(str(b["data"])[2:]) for b in served if b is not None]
    assert len(datas) == 2
    for data, receipt in zip(datas, receipts, strict=True):
        accepted = receipt.event("BatchAccepted").args["public_input"]
        assert accepted == validium_public_input(SHAPE, data)
    sent = bytes(chain.w3.eth.get_transaction(receipts[1].tx_hash)["input"])
    transfers = pubdata_sections(SHAPE, datas[1])[1]
    assert transfers[:12] != bytes(12)
    assert transfers[:12] not in sent
    assert split_sections(SHAPE, datas[1])[0][-58:-19] in sent  # the withdrawal is on L1
    print(f"\nvalidium batch with a transfer and a withdrawal: {receipts[1].gas_used} gas, "
          f"{receipts[1].tx_bytes} bytes of L1 transaction")  # fmt: skip
    # Anyone rebuilds the state from the served data, and it is L1's.
    rebuilt = rebuild_state(DEPTH, SHAPE, datas)
    assert rebuilt.root() == rollup.state_root()
    # The operator stops: a deposit waits past the delay, anyone freezes; a state
    # missing the last batch proves nothing, the served data gets every wei out.
    with pytest.raises(L2gpuError, match="not frozen"):
        escape(rollup, chain.accounts[1], served_by(datas))
    world.deposit(2, ETH)
    chain.time_travel(3600 + 1)
    rollup.freeze(chain.accounts[3])
    stale = rebuild_state(DEPTH, SHAPE, datas[:1])
    owner = stale.account(1)
    assert owner is not None
    with pytest.raises(ContractRevert, match=NOT_OPEN):
        rollup.exit_account(1, owner, stale.proof(1), chain.accounts[3])
    with pytest.raises(L2gpuError, match="no copy of it was found"):
        escape(rollup, chain.accounts[1], served_by(datas[:1]))  # the node withholds batch 1
    account = rebuilt.account(1)
    assert account is not None
    assert [(c.renter, c.deposit) for _, c in rebuilt.channels()] == [(1, deposit)]
    report = escape(rollup, chain.accounts[1], served_by(datas))
    assert (report.account, report.refunded, report.channels) == (account.balance, 0, deposit)
    assert rollup.credit(chain.accounts[1].address) == 2 * 10**17 + account.balance + deposit
    assert account.balance + deposit == ETH - 2 * 10**17  # every wei but the withdrawal
    assert escape(rollup, chain.accounts[2], served_by(datas)).refunded == ETH  # never taken
    assert escape(rollup, chain.accounts[1], served_by(datas)).total == 0  # once only


def refuse_forgeries(world: NodeWorld, result: BatchResult, proof: Groth16Proof) -> None:
    """L1 refuses a validium batch's valid proof with another off-L1 digest, and at the
    rollup form's entry (``submit_batch``)."""
    deposits, transfers, withdrawals, opens, closes, reclaims, exits = pubdata_sections(
        SHAPE, result.pubdata
    )
    args = (result.new_state.root(), 1, pubdata_timestamp(result.pubdata), 1)
    proof_args = (list(proof.a), [list(proof.b[0]), list(proof.b[1])], list(proof.c))
    contract, sender = world.rollup.contract, world.chain.accounts[0]
    with pytest.raises(ContractRevert, match="is a validium: post with submit_validium_batch"):
        contract.transact("submit_batch", *args, deposits, transfers, withdrawals, opens,
                          closes, reclaims, 0, exits, *proof_args, sender=sender)  # fmt: skip
    other = bytes(32)  # the digest of other off-L1 bytes
    with pytest.raises(ContractRevert, match="the proof does not verify"):
        contract.transact("submit_validium_batch", *args, deposits, withdrawals, 0, exits,
                          other, *proof_args, sender=sender, gas=3_000_000)  # fmt: skip


def served_by(datas: list[bytes]) -> OffchainSource:
    """A copy of the node's /zk/batches holding ``datas`` (batches from 0)."""
    return lambda number: datas[number] if number < len(datas) else None


def test_the_rollup_form_refuses_the_validium_entry(
    chain: Chain,
    batch_circuit: CompiledCircuit,
    batch_keys: Keys,
    toolchain: Toolchain,
    tmp_path: Path,
) -> None:
    world = NodeWorld(chain, batch_circuit, batch_keys, toolchain, tmp_path / "zk.db")
    assert world.rollup.validium() is False
    proof = ([0, 0], [[0, 0], [0, 0]], [0, 0])
    with pytest.raises(ContractRevert, match="keeps its data on L1: post with submit_batch"):
        world.rollup.contract.transact(
            "submit_validium_batch", 1, 1, 0, 0, bytes(103), bytes(39), 0, bytes(19), bytes(32),
            *proof,
            sender=chain.accounts[0], gas=3_000_000,
        )  # fmt: skip
