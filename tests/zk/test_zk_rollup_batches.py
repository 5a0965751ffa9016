"""The zk rollup end to end on the py-evm chain: deposits queued on L1, batches applied
by the spec, proven with Groth16 (development keys) and accepted by ZkRollup.vy only
with a proof of exactly the data L1 holds; withdrawals paid when their batch is
accepted, with no challenge window; a batch's timestamp neither before the last
accepted batch's nor after the block's.

These tests prove batches of the batch circuit (``circuits/batch.circom``), whose
public data must be the layout of ``core/zk/pubdata.py`` (the 71-byte header with
the timestamp, then seven sections)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.zk.batch import BatchResult, apply_batch
from l2gpu.core.zk.pubdata import BatchShape, section_sizes
from l2gpu.core.zk.state import ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer
from l2gpu.core.zk.withdrawal import WithdrawalTx, sign_withdrawal
from l2gpu.l1 import Chain, ContractRevert
from l2gpu.l1.build import CompiledContract
from l2gpu.l1.contracts.zk_rollup import (
    Groth16Proof,
    Sections,
    ZkRollupClient,
    pubdata_sections,
    pubdata_timestamp,
    submit_gas_bound,
)
from l2gpu.zk.prover import BASE_FIELD, Proof, prove
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain
from l2gpu.zk.verifier_contract import compile_verifier

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

ETH = 10**18
SHAPE = BatchShape(deposits=1, transfers=2, withdrawals=1)  # one open, close, reclaim
SECTION_NAMES = ("deposits", "transfers", "withdrawals", "opens", "closes", "reclaims",
                 "forced_exits")  # fmt: skip
DEPTH = 8
SECRETS = {i: bytes([i]) * 32 for i in (1, 2, 3)}  # the L2 keys of L1 accounts 1, 2, 3


def l2_key(who: int) -> tuple[int, int]:
    point = eddsa.public_key(SECRETS[who])
    return point.x, point.y


def evm_proof(proof: Proof) -> Groth16Proof:
    a, b, c, _ = proof.calldata()
    return Groth16Proof((a[0], a[1]), ((b[0][0], b[0][1]), (b[1][0], b[1][1])), (c[0], c[1]))


def sections(result: BatchResult) -> Sections:
    """The public data less its header (L1's own): its seven sections."""
    return pubdata_sections(SHAPE, result.pubdata)


@dataclass
class ZkWorld:
    """A chain with a ZkRollup over the batch circuit's verifier, and the L2 state."""

    chain: Chain
    circuit: CompiledCircuit
    keys: Keys
    toolchain: Toolchain
    state: ZkState = field(default_factory=lambda: ZkState.empty(DEPTH))
    proof_seconds: float = 0.0
    # L2 account index -> its EdDSA secret; a rollup deployed already (a shard).
    secrets: dict[int, bytes] = field(default_factory=lambda: dict(SECRETS))
    shard: ZkRollupClient | None = None

    def __post_init__(self) -> None:
        self.taken = 0
        self.exits_taken = 0
        if self.shard is not None:
            self.rollup = self.shard
            return
        built = compile_verifier(self.keys.verifying_key, title=self.circuit.name)
        verifier = self.chain.deploy(
            CompiledContract("BatchVerifier", built.abi, built.bytecode, "generated"),
            sender=self.chain.accounts[0],
        )
        self.rollup = ZkRollupClient.deploy(
            self.chain, self.chain.accounts[0], genesis_root=self.state.root(),
            verifier=verifier, circuit_hash=bytes.fromhex(self.circuit.key),
            shape=SHAPE, depth=DEPTH, force_delay=3600,
        )  # fmt: skip

    def batch(
        self,
        transfers: list[tuple[TransferTx, int]] = (),  # type: ignore[assignment]
        withdrawals: list[tuple[WithdrawalTx, int]] = (),  # type: ignore[assignment]
        *,
        deposits: int = 0,
        exits: int = 0,
        timestamp: int | None = None,
    ) -> tuple[BatchResult, Proof]:
        """Apply the next ``deposits`` queued deposits, the signed transactions and the
        next ``exits`` queued forced exits; prove. The batch's ``timestamp`` is the
        chain's latest block's unless given."""
        queued = self.rollup.queued_deposits()[self.taken : self.taken + deposits]
        waiting = self.rollup.queued_forced_exits()[self.exits_taken : self.exits_taken + exits]
        forced = [q.request for q in waiting]
        signatures = [sign_transfer(self.secrets[who], tx) for tx, who in transfers]
        signatures += [sign_withdrawal(self.secrets[who], tx) for tx, who in withdrawals]
        result = apply_batch(
            self.state, SHAPE, 1, [d.slot for d in queued], [tx for tx, _ in transfers],
            [tx for tx, _ in withdrawals], signatures, forced_exits=forced,
            timestamp=self.chain.timestamp() if timestamp is None else timestamp,
        )  # fmt: skip
        started = time.perf_counter()
        proof = prove(self.circuit, result.circuit_input, keys=self.keys, toolchain=self.toolchain)
        self.proof_seconds = time.perf_counter() - started
        assert proof.public == (result.public_input,)
        return result, proof

    def submit(
        self,
        result: BatchResult,
        proof: Proof,
        *,
        deposits: int = 0,
        exits: int = 0,
        replaced: dict[str, bytes] | None = None,
        estimate: bool = False,
    ):
        """Post ``result`` with ``proof`` (sections ``replaced`` by other bytes); with
        ``estimate``, L1's estimate first (a refusal then costs one run, not a failed
        transaction and its replay for the reason)."""
        parts = dict(zip(SECTION_NAMES, sections(result), strict=True))
        parts.update(replaced or {})
        d, t, w, o, c, r, f = (parts[name] for name in SECTION_NAMES)
        receipt = self.rollup.submit_batch(
            new_root=result.new_state.root(), fee_account=1,
            timestamp=pubdata_timestamp(result.pubdata), deposit_count=deposits,
            sections=(d, t, w, o, c, r, f), proof=evm_proof(proof),
            sender=self.chain.accounts[0], estimate=estimate, exit_count=exits,
        )  # fmt: skip
        self.state, self.taken = result.new_state, self.taken + deposits
        self.exits_taken += exits
        return receipt


@pytest.fixture
def world(chain: Chain, batch_circuit: CompiledCircuit, batch_keys: Keys, toolchain: Toolchain):
    return ZkWorld(chain, batch_circuit, batch_keys, toolchain)


def test_deposit_transfer_withdraw_through_proven_batches(world: ZkWorld) -> None:
    chain, rollup = world.chain, world.rollup
    for who, amount in ((1, ETH), (2, 2 * ETH)):
        rollup.deposit(chain.accounts[who], l2_key(who), amount)
    for _ in range(2):  # one deposit slot per batch
        result, proof = world.batch(deposits=1)
        world.submit(result, proof, deposits=1)
    assert rollup.state_root() == world.state.root()
    # Account 2 pays account 1 (fee code 1 goes to the fee account, 1) and withdraws.
    pay = TransferTx(2, 1, 5 * 10**17, 1, 0)
    out = WithdrawalTx(2, 10**18, 1)
    result, proof = world.batch([(pay, 2)], [(out, 2)])
    receipt = world.submit(result, proof)
    assert rollup.state_root() == world.state.root()
    bob = chain.accounts[2].address
    assert rollup.credit(bob) == 10**18  # final at once: no challenge window
    accepted = receipt.event("BatchAccepted")
    assert accepted.args["public_input"] == result.public_input
    print(f"\nBatch(1, 2, 1, 8), a transfer and a withdrawal: submit_batch used "
          f"{receipt.gas_used} gas; proving took {world.proof_seconds:.2f} s")  # fmt: skip
    # posted with the bound as its limit, not an estimate: far above, never below
    bound = submit_gas_bound(sum(map(len, sections(result))), 0, SHAPE.withdrawals,
                             SHAPE.forced_exits)  # fmt: skip
    assert world.chain.w3.eth.get_transaction(str(receipt.tx_hash))["gas"] == bound
    assert 2 * receipt.gas_used < bound < 1_000_000
    assert world.state.account(1).balance == ETH + 5 * 10**17 + pay.fee
    assert world.state.account(2).balance == 2 * ETH - 5 * 10**17 - pay.fee - 10**18
    before = chain.balance(bob)
    rollup.withdraw_credit(chain.accounts[2])
    assert chain.balance(bob) > before + 10**18 - 10**16  # less the claim's gas


def test_l1_accepts_no_batch_but_the_proven_one(world: ZkWorld) -> None:
    chain, rollup = world.chain, world.rollup
    rollup.deposit(chain.accounts[1], l2_key(1), ETH)
    rollup.deposit(chain.accounts[2], l2_key(2), ETH)
    first, first_proof = world.batch(deposits=1)
    root = rollup.state_root()

    def refused(result: BatchResult, proof: Proof, match: str, **kw) -> None:
        with pytest.raises(ContractRevert, match=match):
            world.submit(result, proof, estimate=True, **kw)
        assert rollup.state_root() == root

    # The data L1 hashes differs from the proven data by one byte.
    deposits = sections(first)[0]
    forged = bytes([deposits[0] ^ 1]) + deposits[1:]
    refused(first, first_proof, "differs from the queue", deposits=1,
            replaced={"deposits": forged})  # fmt: skip
    # The same data, claimed with a proof of other public inputs (a later batch's).
    world.submit(first, first_proof, deposits=1)
    root = rollup.state_root()
    second, second_proof = world.batch(deposits=1)
    refused(second, first_proof, "does not verify", deposits=1)
    # A new root the proof does not prove.
    fake = BatchResult(world.state.with_account(7, world.state.account(1)), *second[1:])
    refused(fake, second_proof, "does not verify", deposits=1)
    # A coordinate not below the base field, and a point off the curve.
    big = Proof((second_proof.a[0] + BASE_FIELD, second_proof.a[1]), second_proof.b,
                second_proof.c, second_proof.public)  # fmt: skip
    refused(second, big, "verifier", deposits=1)
    off = Proof((1, 3), second_proof.b, second_proof.c, second_proof.public)
    refused(second, off, "verifier", deposits=1)
    # More deposits than the shape has slots.
    refused(second, second_proof, "more deposits than the batch has slots", deposits=2)
    world.submit(second, second_proof, deposits=1)  # the real one still goes through
    assert rollup.state_root() == world.state.root()
    # Deposits L1 has not queued: the queue is empty now, the batch claims one.
    root = rollup.state_root()
    third, third_proof = world.batch()
    refused(third, third_proof, "not queued", deposits=1)
    world.submit(third, third_proof)
    assert rollup.state_root() == world.state.root()


def test_a_batch_is_dated_between_the_last_batch_and_the_block(world: ZkWorld) -> None:
    """The batch's timestamp is the clock channel expiries are read against: L1 refuses
    one before the last accepted batch's (the clock would go back) and one after its
    block's (an operator could reclaim channels before their expiry)."""
    chain, rollup = world.chain, world.rollup
    rollup.deposit(chain.accounts[1], l2_key(1), ETH)
    first = chain.timestamp()
    world.submit(*world.batch(deposits=1, timestamp=first), deposits=1)
    assert rollup.last_timestamp() == first
    chain.time_travel(600)  # the chain's clock, never a sleep
    root = rollup.state_root()
    for timestamp, reason in ((first - 1, "before the last accepted batch's"),
                              (chain.timestamp() + 3600, "after this block's")):  # fmt: skip
        result, proof = world.batch(timestamp=timestamp)
        with pytest.raises(ContractRevert, match=reason):
            world.submit(result, proof)
        assert rollup.state_root() == root
    # The same second as the last batch is not before it; then the block's own time.
    world.submit(*world.batch(timestamp=first))
    now = chain.timestamp()
    receipt = world.submit(*world.batch(timestamp=now))
    assert receipt.event("BatchAccepted").args["timestamp"] == now
    assert rollup.last_timestamp() == now
    assert rollup.state_root() == world.state.root()


def test_the_gas_bound_gives_the_verifier_what_the_contract_does() -> None:
    from l2gpu.l1.build import contracts_root
    from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, VERIFY_GAS

    source = (contracts_root() / CONTRACT_SOURCE).read_text()
    assert f"VERIFY_GAS: constant(uint256) = {VERIFY_GAS}" in source
    small, large = submit_gas_bound(300, 0, 1), submit_gas_bound(40_000, 64, 64)
    assert large - small > 16 * 39_700 + 127 * 60_000  # calldata and slots grow it
    largest = BatchShape(64, 1024, 64, 64, 64, 64, 64)  # the most ZkRollup.vy accepts
    assert submit_gas_bound(sum(section_sizes(largest)), 64, 64, 64) < 30_000_000  # a block's
