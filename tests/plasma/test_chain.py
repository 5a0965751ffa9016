"""The Plasma child chain (issue 17): the operator's rules, and the coin histories
that let a payee check coins against the posted roots alone."""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.plasma.chain import (
    Accepted,
    ChildChain,
    RecordDeposit,
    Refused,
    SealBlock,
    Sealed,
    SubmitTransfer,
    state_transition,
)
from l2gpu.core.plasma.history import BlockProof, HistoryError, block_proof, check_history
from l2gpu.core.plasma.sumtree import EMPTY, Moved, SumTree
from l2gpu.core.plasma.transactions import (
    Deposit,
    SignedTransfer,
    Transfer,
    plasma_domain,
    sign_transfer,
)
from l2gpu.core.types import Address, ChainId

DOMAIN = plasma_domain(ChainId(31337), Address(b"\x11" * 20))
KEYS = [PrivateKey((1000 + i).to_bytes(32, "big")) for i in range(4)]
BY_ADDRESS = {k.address: k for k in KEYS}


class World:
    """A chain driven through its one entry point, remembering what L1 would hold
    (roots, deposits) and what the operator serves (each block's transfers)."""

    def __init__(self) -> None:
        self.state = ChildChain(DOMAIN)
        self.deposits: list[Deposit] = []
        self.blocks: dict[int, tuple[SignedTransfer, ...]] = {}

    def apply(self, input_):
        self.state, events = state_transition(self.state, input_)
        for event in events:
            if hasattr(event, "deposit"):
                self.deposits.append(event.deposit)
            if isinstance(event, Sealed):
                self.blocks[event.number] = event.transfers
        return events

    def send(self, key: PrivateKey, start: int, end: int, to: Address, prev: int):
        signed = sign_transfer(key, DOMAIN, Transfer(start, end, to, prev))
        return self.apply(SubmitTransfer(signed))[0]

    def history(self, start: int, end: int) -> tuple:
        deposits = [d for d in self.deposits if d.start < end and start < d.end]
        first = min(d.block for d in deposits) + 1
        proofs = [block_proof(b, self.blocks[b], start, end)
                  for b in range(first, self.state.height + 1)]  # fmt: skip
        return check_history(DOMAIN, self.state.roots, deposits, start, end, proofs)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_histories_follow_the_chain_and_coins_are_conserved(data) -> None:
    world = World()
    for step in range(data.draw(st.integers(4, 14))):
        kind = data.draw(st.sampled_from(["deposit", "send", "send", "send", "seal"]))
        if kind == "deposit" or not world.state.segments:
            who = data.draw(st.sampled_from(KEYS)).address
            world.apply(RecordDeposit(who, data.draw(st.integers(1, 10**18))))
        elif kind == "send":
            segment = data.draw(st.sampled_from(world.state.segments))
            start = data.draw(st.integers(segment.start, segment.end - 1))
            end = data.draw(st.integers(start + 1, segment.end))
            to = data.draw(st.sampled_from(KEYS)).address
            clash = any(p.transfer.start < end and start < p.transfer.end
                        for p in world.state.pending)  # fmt: skip
            event = world.send(BY_ADDRESS[segment.owner], start, end, to, segment.received)
            assert isinstance(event, Accepted) != clash, (event, step)
        else:
            world.apply(SealBlock())
    world.apply(SealBlock())
    segments = world.state.segments
    # Every deposited coin has exactly one owner.
    assert segments[0].start == 0
    assert all(a.end == b.start for a, b in pairwise(segments))
    assert segments[-1].end == world.state.coins == sum(d.end - d.start for d in world.deposits)
    # Each owner's coins check out from their deposits through every block, to the
    # owner the chain says, and so does any range across several owners.
    for segment in segments:
        assert world.history(segment.start, segment.end) == (segment,)
    assert world.history(0, world.state.coins) == segments


def test_the_operator_refuses_what_the_owner_did_not_sign() -> None:
    world = World()
    alice, bob, carol = KEYS[:3]
    world.apply(RecordDeposit(alice.address, 100))
    world.apply(RecordDeposit(bob.address, 50))
    assert world.send(alice, 0, 40, bob.address, 0) == Accepted(world.state.pending[0].leaf)
    cases = [
        (carol, 40, 60, carol.address, 0, "does not own"),  # not the owner
        (alice, 40, 60, carol.address, 7, "received in block 0, not 7"),  # wrong parent
        (alice, 10, 60, carol.address, 0, "moves some of these coins"),  # moved already
        (alice, 90, 120, carol.address, 0, "does not own"),  # into bob's deposit
        (bob, 100, 151, carol.address, 0, "never deposited"),
    ]
    for key, start, end, to, prev, reason in cases:
        event = world.send(key, start, end, to, prev)
        assert isinstance(event, Refused)
        assert reason in event.reason
    garbled = SignedTransfer(Transfer(40, 60, carol.address, 0), b"\x01" * 65)
    assert "signature" in world.apply(SubmitTransfer(garbled))[0].reason
    world.apply(SealBlock())
    # Coins of two parents (alice's deposit rest, then a received transfer) go in one
    # transfer each.
    world.send(bob, 100, 150, alice.address, 0)
    world.apply(SealBlock())
    assert "separate deposits or transfers" in world.send(alice, 90, 110, carol.address, 0).reason


def _dishonest_block(world: World, transfers: list[SignedTransfer]) -> None:
    """The operator posts a root over transfers its rules would refuse."""
    tree = SumTree([Moved(s.transfer.start, s.transfer.end, s.leaf) for s in transfers])
    number = world.state.height + 1
    world.state = dataclasses.replace(world.state, height=number,
                                      roots=(*world.state.roots, tree.root))  # fmt: skip
    world.blocks[number] = tuple(transfers)


def test_a_history_through_a_forged_or_withheld_block_does_not_hold() -> None:
    world = World()
    alice, bob, mallory = KEYS[:3]
    world.apply(RecordDeposit(alice.address, 100))
    world.send(alice, 0, 100, bob.address, 0)
    world.apply(SealBlock())
    assert world.history(0, 100)[0].owner == bob.address
    # The operator includes mallory's "transfer" of bob's coins to herself.
    forged = sign_transfer(mallory, DOMAIN, Transfer(0, 100, mallory.address, 1))
    _dishonest_block(world, [forged])
    with pytest.raises(HistoryError, match="block 2: a transfer moves coins its signer"):
        world.history(0, 100)
    # Bob's history up to the block before still holds: he exits with it.
    proofs = [block_proof(1, world.blocks[1], 0, 100)]
    owned = check_history(DOMAIN, world.state.roots[:1], world.deposits, 0, 100, proofs)
    assert owned[0].owner == bob.address
    # A block whose contents are withheld cannot be shown, and a gap claimed where a
    # transfer sits does not verify.
    with pytest.raises(HistoryError, match="a proof is needed for each of blocks 1 to 2"):
        check_history(DOMAIN, world.state.roots, world.deposits, 0, 100, proofs)
    real = block_proof(2, world.blocks[2], 0, 100)
    as_gap = BlockProof(2, ((None, real.leaves[0][1]),))
    with pytest.raises(HistoryError, match="path does not lead"):
        check_history(DOMAIN, world.state.roots, world.deposits, 0, 100, [proofs[0], as_gap])


def test_a_history_must_cover_the_coins_in_every_block() -> None:
    world = World()
    alice, bob = KEYS[:2]
    world.apply(RecordDeposit(alice.address, 100))
    world.send(alice, 10, 20, bob.address, 0)
    world.apply(SealBlock())
    full = block_proof(1, world.blocks[1], 0, 100)
    assert len(full.leaves) == 3  # gap, transfer, gap
    for leaves in (full.leaves[:2], full.leaves[1:], (full.leaves[0], full.leaves[2])):
        with pytest.raises(HistoryError, match="do not (cover|start)|one after another"):
            check_history(DOMAIN, world.state.roots, world.deposits, 0, 100,
                          [BlockProof(1, leaves)])  # fmt: skip
    owned = check_history(DOMAIN, world.state.roots, world.deposits, 0, 100, [full])
    assert [(s.start, s.end, s.owner) for s in owned] == [
        (0, 10, alice.address), (10, 20, bob.address), (20, 100, alice.address)]  # fmt: skip
    assert full.leaves[0][0] is None
    assert full.size > 0
    assert bytes(32) == EMPTY


def test_deposits_from_l1_must_be_well_formed() -> None:
    world = World()
    alice, bob = KEYS[:2]
    world.apply(RecordDeposit(alice.address, 100))
    world.send(alice, 0, 100, bob.address, 0)
    world.apply(SealBlock())
    # A negative height would make block "0" be checked against the last root.
    shifted = [Deposit(0, 100, alice.address, -1)]
    proofs = [block_proof(b, world.blocks.get(b, ()), 0, 100) for b in (0, 1)]
    with pytest.raises(HistoryError, match="negative height"):
        check_history(DOMAIN, world.state.roots, shifted, 0, 100, proofs)
    with pytest.raises(HistoryError, match="empty range"):
        check_history(DOMAIN, world.state.roots, [Deposit(5, 5, alice.address, 0)], 5, 5, [])


def test_a_lease_lock_lets_the_coins_move_only_to_the_provider_prefix_first() -> None:
    from l2gpu.core.plasma.chain import LockCoins, Locked, LockRefused, RecordExit
    from l2gpu.core.plasma.transactions import Lock, sign_claim, sign_lock

    world = World()
    renter, provider, other = KEYS[0], KEYS[1], KEYS[2]
    world.apply(RecordDeposit(renter.address, 1000))
    lock = sign_lock(renter, DOMAIN, Lock(0, 600, provider.address, until=100))
    assert isinstance(world.apply(LockCoins(lock, now=10))[0], Locked)
    # Someone else's lock on these coins, or a second lock, is refused.
    forged = sign_lock(other, DOMAIN, Lock(600, 700, other.address, until=100))
    assert isinstance(world.apply(LockCoins(forged, now=10))[0], LockRefused)
    again = sign_lock(renter, DOMAIN, Lock(500, 700, other.address, until=100))
    assert "another lease" in world.apply(LockCoins(again, now=10))[0].reason

    def send(key, start, end, to, now, prev=0, claimed_by=None):
        signed = sign_transfer(key, DOMAIN, Transfer(start, end, to, prev))
        claim = sign_claim(claimed_by, DOMAIN, signed) if claimed_by else b""
        return world.apply(SubmitTransfer(signed, now=now, claim=claim))[0]

    # The renter cannot spend the locked coins elsewhere; coins outside the lock, yes.
    assert isinstance(send(renter, 0, 600, other.address, 20), Refused)
    assert isinstance(send(renter, 100, 200, provider.address, 20), Refused)  # not a prefix
    assert isinstance(send(renter, 600, 1000, other.address, 20), Accepted)
    # Only the provider sends the lease's transfer: the renter sending its own smallest
    # voucher would end the lease at that price.
    refused = send(renter, 0, 250, provider.address, 20)
    assert "only its provider sends" in refused.reason
    assert isinstance(send(renter, 0, 250, provider.address, 20, claimed_by=other), Refused)
    assert isinstance(send(renter, 0, 250, provider.address, 20, claimed_by=provider), Accepted)
    world.apply(SealBlock())
    # The rest stays locked, from coin 250 up, and the lock ends at its time.
    assert world.state.locks[0].start == 250
    assert isinstance(send(renter, 250, 600, other.address, 50), Refused)
    assert isinstance(send(renter, 250, 600, other.address, 100), Accepted)
    world.apply(SealBlock())
    # An exit on L1 takes coins out of the child chain: they can no longer move.
    assert isinstance(send(provider, 0, 100, other.address, 200, prev=1), Accepted)
    world.apply(SealBlock())
    world.apply(RecordExit(100, 250))
    refused = send(provider, 100, 250, other.address, 200, prev=1)
    assert refused.reason == "some of these coins left the child chain through an exit on L1"
    assert [(s.start, s.end) for s in world.state.segments] == [(0, 100), (250, 600), (600, 1000)]
