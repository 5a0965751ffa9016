"""The zk node on the embedded chain with Batch(1, 2, 1, 8): sealing, proving and
posting in order, the write-ahead log's restart rule, and the start-up checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy

from l2gpu.core.zk.state import ZkError
from l2gpu.l1 import Chain
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.startup import CircuitMismatch, check_verifier
from l2gpu.zk.prover import Proof, ProofError, prove
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

from .zk_node_world import ETH, NodeWorld, transfer, withdrawal

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)


@pytest.fixture
def world(
    chain: Chain,
    batch_circuit: CompiledCircuit,
    batch_keys: Keys,
    toolchain: Toolchain,
    tmp_path: Path,
) -> NodeWorld:
    return NodeWorld(chain, batch_circuit, batch_keys, toolchain, tmp_path / "zk.db")


def test_a_batch_sealed_before_a_crash_is_posted_after_the_restart(world: NodeWorld) -> None:
    world.deposit(1, ETH)
    world.deposit(2, 2 * ETH)
    node = world.node()
    assert node.seal() == 0  # the first deposit (one slot per batch)
    assert node.seal() == 1
    pay = node.submit(transfer(2, 1, 10**17, 1, 0))
    assert node.seal() == 2
    late = node.submit(transfer(2, 1, 10**17, 0, 1))  # accepted, never sealed
    sealed_root = node.sequencer.state.root()
    # The node dies here: nothing proven, nothing posted.
    del node
    # Restarted with two provers. The first proof of batch 0 fails once batch 1's has
    # started beside it; then the first proof of batch 3 fails beside batch 2's.
    calls: list[int] = []
    started_beside = {1: threading.Event(), 2: threading.Event()}

    def prover(inputs: object) -> Proof:
        number = next(b.number for b in restarted.batches if b.result.circuit_input is inputs)
        calls.append(number)
        if number in started_beside:
            started_beside[number].set()
        if number in (0, 3) and calls.count(number) == 1:
            beside = 1 if number == 0 else 2
            assert started_beside[beside].wait(60), f"batch {beside} was not proven beside"
            raise ProofError(f"the prover crashed on batch {number}", "prove it again")
        return prove(world.circuit, inputs, keys=world.keys,  # type: ignore[arg-type]
                     toolchain=world.toolchain)  # fmt: skip

    restarted = world.node(prover=prover, provers=2)
    status = restarted.status()
    assert (status["batches_sealed"], status["batches_posted"], status["pending"]) == (3, 0, 1)
    assert status["provers"] == 2
    assert restarted.sequencer.state.root() == sealed_root
    assert restarted.outcomes[pay].batch == 2
    assert restarted.outcomes[late].status == "pending"
    # The pending transfer survived the restart, and goes in the next batch.
    assert restarted.seal() == 3
    with pytest.raises(ProofError, match="crashed on batch 0"):
        restarted.prove_and_post()
    # Batch 1 was proven, but is not posted before batch 0; its proof is kept.
    assert world.rollup.batch_count() == 0
    assert (restarted.batches[0].proof, restarted.status()["batches_proven"]) == (None, 1)
    started = time.perf_counter()
    with pytest.raises(ProofError, match="crashed on batch 3"):
        restarted.prove_and_post()
    print(f"\nthree batches proven and posted in {time.perf_counter() - started:.1f} s")
    # Batch 3 failed beside batch 2: the batches before it are on L1 all the same.
    assert world.rollup.batch_count() == 3
    assert world.rollup.state_root() == sealed_root
    assert restarted.prove_and_post() == 1
    assert sorted(calls) == [0, 0, 1, 2, 3, 3]  # batch 1 once: its proof was kept
    assert restarted.sequencer.state.account(2).nonce == 2
    assert world.rollup.state_root() == restarted.sequencer.state.root()


def test_a_stopped_prover_posts_the_proof_it_was_making_and_leaves_the_rest(
    world: NodeWorld,
) -> None:
    world.deposit(1, ETH)
    world.deposit(2, ETH)
    node: ZkNode

    def prover(inputs: object) -> Proof:
        # stop() is asked for while the first batch is being proven
        threading.Thread(target=node.stop, daemon=True).start()
        assert wait_until(node._stop.is_set), "stop() was not asked for"
        return prove(world.circuit, inputs, keys=world.keys,  # type: ignore[arg-type]
                     toolchain=world.toolchain)  # fmt: skip

    node = world.node(prover=prover)
    assert (node.seal(), node.seal()) == (0, 1)
    node.start(poll_seconds=60)
    assert wait_until(lambda: node._worker is None), "the prover thread did not stop"
    assert world.rollup.batch_count() == 1  # the batch it was on, and no other
    assert node.batches[1].proof is None
    assert world.node().prove_and_post() == 1  # a restart proves the rest


def wait_until(condition: Callable[[], object], seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # polling a thread of this process
    return True


def test_a_node_restarted_after_posting_posts_nothing_twice(world: NodeWorld) -> None:
    world.deposit(1, ETH)
    node = world.node()
    node.seal()
    assert node.prove_and_post() == 1
    again = world.node()
    assert again.status()["batches_posted"] == 1
    assert again.prove_and_post() == 0
    assert world.rollup.batch_count() == 1
    # A crash between L1's acceptance and the zk_posted record: L1 says it was taken.
    engine = sqlalchemy.create_engine(f"sqlite:///{world.database}")
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DELETE FROM rollup_log WHERE kind = 'zk_posted'"))
    engine.dispose()
    third = world.node()
    assert third.status()["batches_posted"] == 1
    assert third.prove_and_post() == 0
    assert world.rollup.batch_count() == 1


def test_seal_drops_what_no_longer_applies_and_keeps_nonce_order(world: NodeWorld) -> None:
    world.deposit(1, ETH)
    world.deposit(2, ETH)
    node = world.node()
    node.seal()
    node.seal()
    # Account 2: a withdrawal, then a transfer (nonce 1): a batch applies transfers
    # first, so the transfer waits for the next batch instead of failing.
    out = node.submit(withdrawal(2, 10**17, 0))
    after = node.submit(transfer(2, 1, 10**17, 0, 1))
    assert node.seal() == 2
    assert node.outcomes[out].batch == 2
    assert node.outcomes[after].status == "pending"
    assert node.seal() == 3
    assert node.outcomes[after].batch == 3
    with pytest.raises(ZkError, match="zk: wrong nonce"):
        node.submit(transfer(2, 1, 1, 0, 0))


def test_a_transaction_that_relies_on_one_that_waits_waits_too(world: NodeWorld) -> None:
    for who in (1, 2, 3):
        world.deposit(who, ETH)
    node = world.node()
    for _ in range(3):
        node.seal()
    node.submit(withdrawal(3, 10**17, 0))
    gift = node.submit(transfer(3, 2, 9 * 10**17, 0, 1))  # waits: 3 withdrew in this batch
    spend = node.submit(transfer(2, 1, 15 * 10**17, 0, 0))  # admitted on the gift's money
    assert node.seal() == 3
    assert node.outcomes[gift].status == "pending"
    assert node.outcomes[spend].status == "pending"  # it used to be dropped
    restarted = world.node()
    assert [p.position for p in restarted.sequencer.pending] == [gift, spend]
    assert restarted.seal() == 4
    assert (restarted.outcomes[gift].batch, restarted.outcomes[spend].batch) == (4, 4)


def test_a_failed_proof_is_reported_and_never_posted(world: NodeWorld) -> None:
    world.deposit(1, ETH)

    def broken(_inputs: object) -> object:
        raise ProofError("the proof does not verify", "make the keys again")

    node = world.node(prover=broken)  # type: ignore[arg-type]
    node.start(poll_seconds=0.05)
    try:
        node.seal()
        deadline = time.monotonic() + 10
        while node.status()["last_error"] is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        node.stop()
    status = node.status()
    assert status["last_error"].startswith("ProofError: the proof does not verify")
    assert (status["batches_proven"], status["batches_posted"]) == (0, 0)
    assert world.rollup.batch_count() == 0


def test_a_node_refuses_to_start_on_a_contract_of_another_circuit(
    chain: Chain, batch_circuit: CompiledCircuit, batch_keys: Keys, toolchain: Toolchain,
    tmp_path: Path,
) -> None:  # fmt: skip
    world = NodeWorld(chain, batch_circuit, batch_keys, toolchain, tmp_path / "zk.db",
                      circuit_hash=bytes(range(32)))  # fmt: skip
    with pytest.raises(CircuitMismatch, match="would be refused"):
        world.node()


def test_a_node_refuses_a_verifier_made_from_another_key_of_its_circuit(
    chain: Chain, batch_circuit: CompiledCircuit, batch_keys: Keys, transfer_keys: Keys,
    toolchain: Toolchain, tmp_path: Path,
) -> None:  # fmt: skip
    """Development keys on L1 and a ceremony's in the node (or the other way round):
    same circuit, other verifying key. Stand-in for a ceremony's key: another circuit's
    verifying key under this circuit's hash."""
    world = NodeWorld(chain, batch_circuit, batch_keys, toolchain, tmp_path / "zk.db")
    assert world.node().status()["keys"]["origin"] == "development"
    check_verifier(world.rollup, batch_circuit, batch_keys)  # the keys it was deployed with
    other = replace(batch_keys, origin="ceremony", label="a ceremony's key",
                    verifying_key=transfer_keys.verifying_key)  # fmt: skip
    with pytest.raises(CircuitMismatch, match="another verifying key than the node's ceremony"):
        check_verifier(world.rollup, batch_circuit, other)
