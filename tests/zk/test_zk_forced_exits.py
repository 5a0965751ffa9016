"""Forced exits in the zk rollup: an account's L1 address asks L1 for its whole
balance without the operator (``ZkRollup.force_exit``, a full exit), and the operator
either takes the request into a proven batch, which pays the balance to that address,
or is frozen once the request has waited past the forced-inclusion delay, after which
the escape hatch pays the balance. So an operator that keeps posting batches but
leaves one user's withdrawals out cannot keep that user's money on L2.

Batches are proven with the tests' batch circuit (one forced-exit slot) and posted
to ZkRollup.vy on the embedded chain; the node's part runs a real node on SQLite."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from l2gpu.core.zk.pubdata import ForcedExitSlot, encode_forced_exit
from l2gpu.l1 import Chain, ContractRevert
from l2gpu.node.zk.escape import escape
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

from .test_zk_rollup_batches import ETH, ZkWorld, l2_key
from .zk_node_world import NodeWorld, withdrawal

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

DELAY = 3600  # the worlds' forced-inclusion delay


@pytest.fixture(scope="module")
def deposited(
    module_chain: Chain, batch_circuit: CompiledCircuit, batch_keys: Keys, toolchain: Toolchain
) -> ZkWorld:
    """Alice (L1 account 1, the fee account, index 1) and Bob (2, index 2) with 1 and 2
    ether on L2, both deposits in accepted batches: proven once for the module, on its
    chain before any test's snapshot (``chain`` rolls each test back to this)."""
    world = ZkWorld(module_chain, batch_circuit, batch_keys, toolchain)
    for who, amount in ((1, ETH), (2, 2 * ETH)):
        world.rollup.deposit(module_chain.accounts[who], l2_key(who), amount)
    for _ in range(2):  # one deposit slot per batch
        world.submit(*world.batch(deposits=1), deposits=1)
    return world


@pytest.fixture
def world(deposited: ZkWorld, chain: Chain) -> ZkWorld:
    """The deposited world for one test: a copy of its Python side (the L2 state is
    immutable), on the chain as it was after the deposits."""
    assert chain is deposited.chain
    return copy.copy(deposited)


def test_l1_queues_a_forced_exit_only_for_an_account_it_has_seen_created(
    chain: Chain, batch_circuit: CompiledCircuit, batch_keys: Keys, toolchain: Toolchain
) -> None:
    world = ZkWorld(chain, batch_circuit, batch_keys, toolchain)
    rollup, bob = world.rollup, chain.accounts[2]
    with pytest.raises(ContractRevert, match="has no L2 account: it never deposited"):
        rollup.force_exit(bob)
    rollup.deposit(bob, l2_key(2), ETH)
    # Queued but not in a batch: the leaf is empty, so no batch could prove the exit.
    with pytest.raises(ContractRevert, match="not in an accepted batch yet"):
        rollup.force_exit(bob)
    world.submit(*world.batch(deposits=1), deposits=1)
    rollup.force_exit(bob)
    with pytest.raises(ContractRevert, match="already waiting"):  # one at a time
        rollup.force_exit(bob)
    [queued] = rollup.queued_forced_exits()
    assert (queued.position, queued.index) == (0, 1)
    assert queued.eth_address == bytes.fromhex(bob.address[2:])


def test_a_forced_exit_is_paid_by_the_next_batch_exactly_as_queued(world: ZkWorld) -> None:
    """One world for three stories (each proof costs seconds): a batch that alters or
    counts out the queued exit is refused; the honest one pays it; then the rest."""
    chain, rollup = world.chain, world.rollup
    bob = chain.accounts[2]
    nonce = world.state.account(2).nonce
    rollup.force_exit(bob)
    honest, proof = world.batch(exits=1)
    # Another account debited (Alice's, paid to Bob?): L1 checks the index it queued.
    section = encode_forced_exit(ForcedExitSlot(1, 2 * ETH))
    with pytest.raises(ContractRevert, match="a forced-exit slot differs from the queue"):
        world.submit(honest, proof, exits=1, replaced={"forced_exits": section}, estimate=True)
    # The queued index, but less than the balance: the proof does not verify.
    short = encode_forced_exit(ForcedExitSlot(2, 2 * ETH - 1))
    with pytest.raises(ContractRevert, match="the proof does not verify"):
        world.submit(honest, proof, exits=1, replaced={"forced_exits": short}, estimate=True)
    # Counting it out while carrying it, or taking more than the slots.
    with pytest.raises(ContractRevert, match="past the count is not a no-op"):
        world.submit(honest, proof, exits=0, estimate=True)
    with pytest.raises(ContractRevert, match="more forced exits than the batch has slots"):
        world.submit(honest, proof, exits=2, estimate=True)
    receipt = world.submit(honest, proof, exits=1)
    paid = receipt.event("ForcedExitPaid").args
    assert bytes(paid["owner"]) == bytes.fromhex(bob.address[2:])
    assert (paid["account_index"], paid["paid"]) == (2, 2 * ETH)
    assert rollup.credit(bob.address) == 2 * ETH  # final with the batch's proof
    assert world.state.account(2).balance == 0
    assert world.state.account(2).nonce == nonce  # nothing was signed
    assert rollup.forced_exits_done() == 1
    assert rollup.state_root() == world.state.root()
    rollup.withdraw_credit(bob)
    assert chain.balance(rollup.address) == ETH  # Alice's, on L2
    # The account stays, empty; its owner may ask again once the batch took the first.
    assert rollup.force_exit(bob).event("ForcedExitQueued").args["queue_index"] == 1


def test_an_operator_that_leaves_a_forced_exit_out_is_frozen_and_the_balance_escapes(
    world: ZkWorld,
) -> None:
    chain, rollup = world.chain, world.rollup
    bob, anyone = chain.accounts[2], chain.accounts[5]
    young, proof = world.batch()
    with pytest.raises(ContractRevert, match="takes forced exits that are not queued"):
        world.submit(young, proof, exits=1, estimate=True)
    rollup.force_exit(bob)
    # The operator posts a batch without it: allowed while the request is young.
    world.submit(young, proof)
    with pytest.raises(ContractRevert, match="no queued deposit or forced exit is overdue"):
        rollup.freeze(anyone)
    chain.time_travel(DELAY + 1)
    frozen = rollup.freeze(anyone).event("Frozen").args
    assert (frozen["overdue_queue_index"], frozen["forced_exit"]) == (0, True)
    with pytest.raises(ContractRevert, match="the rollup is frozen"):
        world.submit(young, proof, estimate=True)
    with pytest.raises(ContractRevert, match="exit with exit_account instead"):
        rollup.force_exit(chain.accounts[1])
    # Bob's whole balance leaves through the escape hatch, rebuilt from L1's calldata.
    report = escape(rollup, bob)
    assert report.account == 2 * ETH
    assert rollup.credit(bob.address) == 2 * ETH


def test_a_node_takes_queued_forced_exits_and_a_restart_replays_them(
    chain: Chain,
    batch_circuit: CompiledCircuit,
    batch_keys: Keys,
    toolchain: Toolchain,
    tmp_path: Path,
) -> None:
    world = NodeWorld(chain, batch_circuit, batch_keys, toolchain, tmp_path / "zk.db")
    world.deposit(1, ETH)
    world.deposit(2, 2 * ETH)
    node = world.node()
    assert node.seal() == 0
    assert node.seal() == 1
    assert node.prove_and_post() == 2  # L1 saw both accounts created
    # Bob's withdrawal reaches the node, which sits on it; Bob asks L1 instead.
    node.submit(withdrawal(2, ETH, 0))
    world.rollup.force_exit(chain.accounts[2])
    assert node.seal() == 2  # the withdrawal and the forced exit, in that order
    assert node.prove_and_post() == 1
    bob = chain.accounts[2].address
    assert world.rollup.credit(bob) == 2 * ETH  # the withdrawal, then what was left
    assert node.sequencer.state.account(2).balance == 0
    assert node.status()["forced_exits_taken"] == 1
    assert world.rollup.state_root() == node.sequencer.state.root()
    # Alice's exit is sealed but not posted when the node dies; a restart replays it
    # from its log, and posts it.
    world.rollup.force_exit(chain.accounts[1])
    assert node.seal() == 3
    root = node.sequencer.state.root()
    del node
    restarted = world.node()
    assert restarted.sequencer.state.root() == root
    assert restarted.sequencer.forced_exits_taken == 2
    assert restarted.seal() is None  # nothing left to take
    assert restarted.prove_and_post() == 1
    assert world.rollup.credit(chain.accounts[1].address) == ETH  # all Alice held
    assert restarted.sequencer.state.account(1).balance == 0
    assert world.rollup.forced_exits_done() == 2
