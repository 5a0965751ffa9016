"""zk rollups as shards of one bridge (#18 on the zk design): two ZkRollups over one
verifier share Bridge.vy; moves between them are carried with no Merkle proof (a zk
batch is proven whole), on the slow path once the exit's batch is proven and on the
fast path before, the provider repaid from the owner's credit, which the owner cannot
pull while the move is owed, wherever its withdrawal lands.

Every L1 call is mirrored in the specification (``core/shards/zk_exits.py``): the
credits, carries and arrivals the contracts show must be the ones it computes. Batches
are proven with the development keys of ``Batch(1, 2, 1, 1, 1, 1, 8)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.shards import zk_exits as spec
from l2gpu.core.shards.bridge import Move, sign_move
from l2gpu.core.shards.liquidity import LpTerms
from l2gpu.core.types import Address
from l2gpu.core.zk.pubdata import decode_withdrawals
from l2gpu.core.zk.state import ZkState
from l2gpu.core.zk.withdrawal import WithdrawalTx
from l2gpu.l1 import Chain, ContractRevert
from l2gpu.l1.build import CompiledContract
from l2gpu.l1.contracts.bridge import ZkShardSet, deploy_zk_shards
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
from l2gpu.liquidity.provider import LiquidityProvider
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain
from l2gpu.zk.verifier_contract import compile_verifier

from .test_zk_rollup_batches import DEPTH, SHAPE, ZkWorld

pytestmark = pytest.mark.slow  # proving: scheduled first (tests/conftest.py)

ETH = 10**18
FEE = 10**16
DELAY = 3600


def secret(who: int) -> bytes:
    return bytes([who]) * 32


def l2_key(who: int) -> tuple[int, int]:
    point = eddsa.public_key(secret(who))
    return point.x, point.y


@dataclass
class Shard:
    """One zk shard: its world (L2 state, prover) and the specification's records."""

    world: ZkWorld
    spec: spec.ZkShardExits
    index_of: dict[int, int] = field(default_factory=dict)  # L1 account -> L2 index

    @property
    def rollup(self) -> ZkRollupClient:
        return self.world.rollup

    def step(self, call: spec.ZkShardInput) -> list[spec.ZkShardEvent]:
        self.spec, events = spec.state_transition(self.spec, call)
        return events

    def deposit(self, chain: Chain, who: int, amount: int) -> None:
        self.world.rollup.deposit(chain.accounts[who], l2_key(who), amount)
        self.step(spec.FirstDeposit(owner(chain, who), l2_key(who)))
        if who not in self.index_of:
            self.index_of[who] = len(self.index_of) + 1
            self.world.secrets[self.index_of[who]] = secret(who)

    def seal(self, *, deposits: int = 0, withdraw: tuple[int, int] | None = None):
        """The next batch, proven but not posted: its exit index, result and proof."""
        withdrawals = []
        if withdraw is not None:
            who, amount = withdraw
            index = self.index_of[who]
            withdrawals = [(WithdrawalTx(index, amount, self.world.state.account(index).nonce),
                            index)]  # fmt: skip
        result, proof = self.world.batch(withdrawals=withdrawals, deposits=deposits)
        exit_index = spec.exit_index(self.rollup.batch_count(), 0, SHAPE.withdrawals)
        return exit_index, result, proof

    def post(self, chain: Chain, sealed, *, deposits: int = 0):
        """Post a sealed batch and mirror its acceptance in the specification."""
        _, result, proof = sealed
        self.world.submit(result, proof, deposits=deposits)
        slots = tuple(
            None if w is None else (Address(w.eth_address), w.amount)
            for w in decode_withdrawals(SHAPE, result.pubdata)
        )
        return self.step(spec.Accept(slots))

    def agrees(self, chain: Chain, *whom: int) -> None:
        """The contract's credits and claimed exits are the specification's."""
        for who in whom:
            assert self.rollup.credit(chain.accounts[who].address) == self.spec.credit.get(
                owner(chain, who), 0
            ), who
        for index in range(self.rollup.batch_count() * SHAPE.withdrawals + 1):
            assert self.rollup.contract.call("exit_claimed", index) == self.spec.exit_claimed(index)


def owner(chain: Chain, who: int) -> Address:
    return Address.from_hex(chain.accounts[who].address)


@pytest.fixture
def shards(chain: Chain, batch_circuit: CompiledCircuit, batch_keys: Keys,
           toolchain: Toolchain) -> tuple[ZkShardSet, Shard, Shard]:  # fmt: skip
    built = compile_verifier(batch_keys.verifying_key, title=batch_circuit.name)
    compiled = CompiledContract("BatchVerifier", built.abi, built.bytecode, "generated")
    verifier = chain.deploy(compiled, sender=chain.accounts[0])
    deployed = deploy_zk_shards(
        chain, chain.accounts[0], 2, genesis_root=ZkState.empty(DEPTH).root(),
        verifier=verifier, circuit_hash=bytes.fromhex(batch_circuit.key), shape=SHAPE,
        depth=DEPTH, force_delay=DELAY,
    )  # fmt: skip
    a, b = (
        Shard(
            ZkWorld(chain, batch_circuit, batch_keys, toolchain, secrets={}, shard=rollup),
            spec.ZkShardExits(SHAPE.withdrawals),
        )
        for rollup in deployed.shards
    )
    return deployed, a, b


def move(chain: Chain, bridge, who: int, exit_index: int, amount: int, to: int, fee: int = 0):
    m = Move(0, exit_index, owner(chain, who), amount, 1, owner(chain, to), fee)
    return m, sign_move(PrivateKey(bytes(chain.accounts[who].key)), bridge.domain, m)


def test_moves_from_a_zk_shard_fast_and_slow(chain: Chain, shards) -> None:
    deployed, a, b = shards
    bridge, lp, relayer = deployed.bridge, chain.accounts[4], chain.accounts[5]
    alice, bob, dave = 1, 2, 3
    a.deposit(chain, alice, 2 * ETH)
    a.deposit(chain, dave, ETH)
    b.deposit(chain, bob, ETH)
    a.post(chain, a.seal(deposits=1), deposits=1)
    b.post(chain, b.seal(deposits=1), deposits=1)

    # The fast path: alice's withdrawal is sealed, not proven; a provider fronts it.
    sealed = a.seal(deposits=1, withdraw=(alice, ETH))
    fast, signature = move(chain, bridge, alice, sealed[0], ETH, bob, FEE)
    assert not a.rollup.contract.call("exit_claimed", sealed[0])
    bridge.front(lp, fast, signature)
    arrived = b.rollup.queued_deposits()[-1].slot
    assert (arrived.index, arrived.amount, arrived.ax) == (1, ETH - FEE, l2_key(bob)[0])
    alice_address = owner(chain, alice)
    assert bridge.contract.call("owed_on", 0, alice_address) == ETH
    # One fronted move per owner at a time on a zk shard: alice cannot front a second
    # move of hers for 1 wei and relay it first to take the credit that repays this one.
    greedy, greedy_signature = move(chain, bridge, alice, 2**200, ETH, alice, ETH - 1)
    with pytest.raises(ContractRevert, match="is fronted and has not landed yet"):
        bridge.front(chain.accounts[alice], greedy, greedy_signature)
    with pytest.raises(ContractRevert, match="the move is fronted: it lands when relayed"):
        bridge.contract.transact("cancel", fast.as_tuple(), sender=chain.accounts[alice])
    # Another valid batch is accepted first at that index (anyone may prove one): the
    # sealed batch no longer applies, and alice's withdrawal lands one batch later.
    a.post(chain, a.seal(deposits=1), deposits=1)  # dave's deposit alone, posted first
    assert a.rollup.contract.call("exit_claimed", sealed[0])
    resealed = a.seal(withdraw=(alice, ETH))
    assert resealed[0] == sealed[0] + SHAPE.withdrawals
    assert a.post(chain, resealed) == [spec.Credited(alice_address, ETH)]
    # alice is credited, but the credit repays the provider first: she cannot pull it.
    with pytest.raises(ContractRevert, match="repays moves a liquidity provider fronted"):
        a.rollup.withdraw_credit(chain.accounts[alice])
    assert a.step(spec.PullCredit(alice_address, owed=ETH)) == [spec.Rejected(spec.OWED)]
    # Nor can a move of her own, not fronted, take the credit that repays the provider.
    other, other_signature = move(chain, bridge, alice, resealed[0], ETH, bob)
    with pytest.raises(ContractRevert, match="or repays a fronted move"):
        bridge.relay_proven(relayer, other, other_signature, SHAPE.withdrawals)
    assert a.step(spec.Carry(resealed[0], resealed[0], alice_address, ETH, owed=ETH)) == [
        spec.Rejected(spec.CREDIT_SHORT)]  # fmt: skip
    before = chain.balance(lp.address)
    bridge.relay_proven(relayer, fast, signature, SHAPE.withdrawals)
    assert chain.balance(lp.address) == before + ETH  # repaid the whole amount
    repaid = spec.Carry(sealed[0], sealed[0], alice_address, ETH, fronted=True, owed=ETH)
    assert a.step(repaid) == [spec.Carried(sealed[0], alice_address, ETH)]
    assert bridge.contract.call("owed_on", 0, alice_address) == 0
    a.agrees(chain, alice, dave)

    # The slow path: dave's withdrawal is proven and credited to dave; it cannot be
    # fronted any more, and a relay of his signed move takes it from his credit.
    sealed = a.seal(withdraw=(dave, ETH // 2))
    assert a.post(chain, sealed) == [spec.Credited(owner(chain, dave), ETH // 2)]
    slow, slow_signature = move(chain, bridge, dave, sealed[0], ETH // 2, bob)
    with pytest.raises(ContractRevert, match="the exit was claimed already"):
        bridge.front(lp, slow, slow_signature)
    bridge.relay_proven(relayer, slow, slow_signature, SHAPE.withdrawals)
    a.step(spec.Carry(sealed[0], sealed[0], owner(chain, dave), ETH // 2))
    a.agrees(chain, alice, dave)
    assert b.rollup.queued_deposits()[-1].slot.amount == ETH // 2
    for replayed, sig in ((fast, signature), (slow, slow_signature)):
        with pytest.raises(ContractRevert, match="landed already"):
            bridge.relay_proven(relayer, replayed, sig, SHAPE.withdrawals)

    # Both arrivals are ordinary deposits to bob's account: the circuit takes them.
    b.post(chain, b.seal(deposits=1), deposits=1)
    b.post(chain, b.seal(deposits=1), deposits=1)
    assert b.world.state.account(1).balance == ETH + (ETH - FEE) + ETH // 2


def test_arrivals_never_stay_in_the_bridge_and_a_pulled_credit_is_not_moved(
    chain: Chain, shards
) -> None:
    deployed, a, b = shards
    bridge, relayer = deployed.bridge, chain.accounts[5]
    alice, carol = 1, 6
    a.deposit(chain, alice, 2 * ETH)
    a.post(chain, a.seal(deposits=1), deposits=1)
    first = a.seal(withdraw=(alice, ETH // 4))
    a.post(chain, first)

    # carol has no account on shard B: what arrives for her is credited on L1 there.
    to_carol, signature = move(chain, bridge, alice, first[0], ETH // 4, carol)
    bridge.relay_proven(relayer, to_carol, signature, SHAPE.withdrawals)
    a.step(spec.Carry(first[0], first[0], owner(chain, alice), ETH // 4))
    assert b.step(spec.Arrive(owner(chain, carol), ETH // 4)) == [
        spec.ArrivalCreditedOnL1(owner(chain, carol), ETH // 4, spec.NO_ACCOUNT)]  # fmt: skip
    b.agrees(chain, carol)
    before = chain.balance(chain.accounts[carol].address)
    b.rollup.withdraw_credit(chain.accounts[carol])
    assert chain.balance(chain.accounts[carol].address) > before + ETH // 4 - 10**16

    # An owner who pulls its credit first has its wei: the relay is refused, and
    # nothing arrives.
    second = a.seal(withdraw=(alice, ETH // 4))
    a.post(chain, second)
    a.rollup.withdraw_credit(chain.accounts[alice])
    a.step(spec.PullCredit(owner(chain, alice)))
    late, late_signature = move(chain, bridge, alice, second[0], ETH // 4, carol)
    queued = len(b.rollup.queued_deposits())
    with pytest.raises(ContractRevert, match="credit does not cover the move"):
        bridge.relay_proven(relayer, late, late_signature, SHAPE.withdrawals)
    assert a.step(spec.Carry(second[0], second[0], owner(chain, alice), ETH // 4)) == [
        spec.Rejected(spec.CREDIT_SHORT)]  # fmt: skip
    assert len(b.rollup.queued_deposits()) == queued
    assert not bridge.landed(late)
    # The signed move stays good against a later credit of alice's until she cancels it.
    with pytest.raises(ContractRevert, match="only the move's owner cancels it"):
        bridge.contract.transact("cancel", late.as_tuple(), sender=relayer)
    bridge.contract.transact("cancel", late.as_tuple(), sender=chain.accounts[alice])
    for call in (lambda: bridge.relay_proven(relayer, late, late_signature, SHAPE.withdrawals),
                 lambda: bridge.front(chain.accounts[4], late, late_signature)):  # fmt: skip
        with pytest.raises(ContractRevert, match="landed already"):
            call()

    # A frozen target shard: the arrival is credited on L1 too.
    b.deposit(chain, 2, ETH)  # a deposit no batch takes ...
    chain.time_travel(DELAY + 1)  # ... past the forced-inclusion delay
    b.rollup.freeze(relayer)
    b.step(spec.Freeze())
    third = a.seal(withdraw=(alice, ETH // 4))
    a.post(chain, third)
    frozen, frozen_signature = move(chain, bridge, alice, third[0], ETH // 4, 2)
    bridge.relay_proven(relayer, frozen, frozen_signature, SHAPE.withdrawals)
    assert b.step(spec.Arrive(owner(chain, 2), ETH // 4))[0].reason == spec.FROZEN
    b.agrees(chain, 2)


def test_only_the_bridge_deposits_for_others_and_carries_exits(
    chain: Chain, shards, tmp_path: Path
) -> None:
    deployed, a, _ = shards
    bridge, mallory = deployed.bridge, chain.accounts[7]
    assert bridge.contract.call("exits_are_positions", 0)  # read from each ZkRollup
    too_much = Move(0, 0, owner(chain, 7), 2**128, 1, owner(chain, 7), 2**128 - 1)  # 1 wei
    signature = sign_move(PrivateKey(bytes(mallory.key)), bridge.domain, too_much)
    with pytest.raises(ContractRevert, match=r"at most 2\*\*128 - 1 wei"):
        bridge.front(mallory, too_much, signature)
    # The liquidity provider's daemon re-executes optimistic batches: it says so.
    terms = LpTerms(min_fee_ppm=100, max_move=ETH, budget=ETH)
    with pytest.raises(L2gpuError, match="shard 0 .* is not an optimistic rollup"):
        LiquidityProvider(chain, bridge, mallory, terms, tmp_path)
    with pytest.raises(ContractRevert, match="only the shards' bridge deposits"):
        a.rollup.contract.transact("deposit_for", mallory.address, b"", b"", b"",
                                   sender=mallory, value=1)  # fmt: skip
    with pytest.raises(ContractRevert, match="only the shards' bridge carries"):
        a.rollup.contract.transact("bridge_withdraw", 0, 0, mallory.address, 1, [], bytes(32),
                                   bytes(32), 0, 0, sender=mallory)  # fmt: skip
    # A deposit through the bridge goes to the depositor's shard with its own key.
    home = bridge.shard_of(Address.from_hex(mallory.address))
    bridge.deposit_zk(mallory, l2_key(7), ETH)
    queued = deployed.shards[home].queued_deposits()[-1].slot
    assert (queued.ax, queued.ay, queued.amount) == (*l2_key(7), ETH)
    with pytest.raises(ContractRevert, match="64 bytes, x then y"):
        bridge.contract.transact("deposit", b"\x01" * 63, b"", b"", sender=mallory, value=1)
    with pytest.raises(ContractRevert, match="not a Baby Jubjub point"):
        bridge.contract.transact("deposit", b"\x00" * 31 + b"\x01" + b"\x00" * 31 + b"\x02",
                                 b"", b"", sender=chain.accounts[8], value=1)  # fmt: skip
