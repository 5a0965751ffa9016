"""Proposer bonds on the embedded L1: a bond is locked while any batch it backs may be reverted.

A fraud proof against batch ``i`` reverts ``i`` and every later batch, whoever
posted them. So a proposer's newest batch can be reverted by a game it never lost,
while an earlier batch of the same proposer is still inside its challenge window.
The bond must stay locked for that earlier batch, or the proposer takes it back
and the proof that later reverts the earlier batch finds nothing to slash.

Batches here are framed but carry no real L2 state (L1 checks only the framing);
a proposer that does not reveal its roots in time loses its game, which stands in
for a fraud proof.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from eth_account.signers.local import LocalAccount

from l2gpu.core.l2.segments import segments_of_data
from l2gpu.l1 import Chain, ContractRevert
from l2gpu.l1.contracts.dispute_game import CHALLENGER_WON, DisputeClient
from l2gpu.l1.contracts.rollup import SEVEN_DAYS, RollupClient, address_of
from l2gpu.l1.embedded import start_embedded_chain

ETH = 10**18
GENESIS = b"\x0a" * 32
ROOT = b"\x0b" * 32
WINDOW = SEVEN_DAYS
LOCKED = "a batch of yours is not final"


def batch_data(timestamp: int) -> bytes:
    """A batch of one transfer commitment: L1 reads the framing only."""
    head = bytes((1,)) + bytes(3) + bytes(4)  # version 1, fee recipient 0, no deposits
    commitment = bytes((1, 1)) + timestamp.to_bytes(8, "big") + bytes(11) + bytes(48) + ROOT
    return head + commitment


@dataclass
class Bonds:
    """A deployed rollup and its dispute game; ``data`` holds each live batch's bytes."""

    chain: Chain
    client: RollupClient
    data: dict[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.game = DisputeClient(self.chain, self.client.game)
        self.contract = self.client.contract
        accounts = self.chain.accounts
        # P and its accomplice Q propose; C is P's challenger; W an honest watcher.
        self.p, self.q, self.c, self.w = accounts[1], accounts[2], accounts[3], accounts[4]

    def post(self, proposer: LocalAccount) -> int:
        data = batch_data(int(self.chain.timestamp()))
        receipt = self.contract.transact("submit_batch", data, ROOT, 0, sender=proposer)
        index = int(receipt.event("BatchPosted").args["index"])
        self.data[index] = data
        return index

    def challenge(self, index: int, challenger: LocalAccount) -> int:
        pre = bytes(self.contract.call("batch_root", index - 1))
        segments = segments_of_data(self.data[index], pre)
        challenge, _ = self.game.challenge(index, segments, 1, challenger)
        return challenge

    def win_by_silence(self, challenge: int, sender: LocalAccount) -> None:
        """The proposer never reveals its roots: the challenger wins at the deadline."""
        deadline = int(self.game.status(challenge)["deadline"])
        now = int(self.chain.timestamp())
        if now < deadline:
            self.chain.time_travel(deadline - now)
        self.game.timeout(challenge, sender)
        assert self.game.status(challenge)["status"] == CHALLENGER_WON

    def bond(self, proposer: LocalAccount) -> int:
        return int(self.contract.call("bond", address_of(proposer)))

    def count(self) -> int:
        return int(self.contract.call("batch_count"))

    def is_final(self, index: int) -> bool:
        return bool(self.contract.call("is_final", index))

    def time_of(self, index: int) -> int:
        return int(self.contract.call("batch_time", index))

    def travel_to(self, timestamp: int) -> None:
        now = int(self.chain.timestamp())
        if timestamp > now:
            self.chain.time_travel(timestamp - now)

    def unstake(self, proposer: LocalAccount, amount: int) -> None:
        self.contract.transact("unstake", amount, sender=proposer)


@pytest.fixture(scope="module")
def deployed() -> tuple[Chain, RollupClient]:
    chain = start_embedded_chain()
    client = RollupClient.deploy(chain, chain.accounts[0], genesis_root=GENESIS)
    return chain, client


@pytest.fixture
def bonds(deployed: tuple[Chain, RollupClient]) -> Iterator[Bonds]:
    chain, client = deployed
    snapshot = chain.snapshot()
    world = Bonds(chain, RollupClient(chain, client.contract))
    world.client.stake(world.p, 5 * ETH)
    world.client.stake(world.q, ETH)  # the minimum bond
    yield world
    chain.revert(snapshot)


@pytest.mark.parametrize("challenged_first", [False, True], ids=["unchallenged", "challenged"])
def test_a_later_reverted_batch_does_not_free_the_bond_of_an_earlier_one(
    bonds: Bonds, challenged_first: bool
) -> None:
    # P posts batch 1 (the one a watcher will prove wrong), its accomplice Q batch 2
    # with the minimum bond, then P batch 3: P's newest batch now lies past Q's.
    p, q, c, w = bonds.p, bonds.q, bonds.c, bonds.w
    bad = bonds.post(p)
    bait = bonds.post(q)
    newest = bonds.post(p)
    assert (bad, bait, newest) == (1, 2, 3)
    # P's own address C challenges Q's batch (Q stays silent); variant: the watcher
    # has already challenged batch 1, and P still races its game to the end.
    own = bonds.challenge(bait, c)
    watcher_game = bonds.challenge(bad, w) if challenged_first else None
    bonds.win_by_silence(own, c)
    # Batches 2 and 3 are reverted: Q lost its minimum bond (half back to P's C).
    assert bonds.count() == 2
    assert bonds.bond(q) == 0
    # P's batch 1 is still inside its window (or held by the open game).
    assert not bonds.is_final(bad)
    assert int(bonds.chain.timestamp()) < bonds.time_of(bad) + WINDOW
    # The escape: P's last batch (3) is past the count, yet batch 1 backs the bond.
    with pytest.raises(ContractRevert, match=LOCKED):
        bonds.unstake(p, 5 * ETH)
    assert bonds.bond(p) == 5 * ETH
    # The watcher proves batch 1 wrong: the slash reaches P's whole bond.
    if watcher_game is None:
        watcher_game = bonds.challenge(bad, w)
    before = bonds.chain.balance(address_of(w))
    bonds.win_by_silence(watcher_game, c)  # anyone may close the game
    assert bonds.count() == 1
    assert bonds.bond(p) == 0
    bond_back = int(bonds.game.contract.call("CHALLENGE_BOND"))
    assert bonds.chain.balance(address_of(w)) - before == 5 * ETH // 2 + bond_back


def test_an_honest_proposer_gets_its_bond_back_once_its_batches_are_final(bonds: Bonds) -> None:
    # P's batch 3 is reverted with Q's batch 2; P's batch 1 alone backs the bond,
    # and from the moment batch 1 is final the bond is free: no later batch gates it.
    p, q, c = bonds.p, bonds.q, bonds.c
    first = bonds.post(p)
    bonds.chain.time_travel(3600)
    bonds.post(q)
    bonds.post(p)
    bonds.win_by_silence(bonds.challenge(2, c), c)
    assert bonds.count() == 2
    bonds.travel_to(bonds.time_of(first) + WINDOW - 2)
    with pytest.raises(ContractRevert, match=LOCKED):
        bonds.unstake(p, ETH)
    bonds.travel_to(bonds.time_of(first) + WINDOW)
    assert bonds.is_final(first)
    before = bonds.chain.balance(address_of(p))
    bonds.unstake(p, 5 * ETH)
    assert bonds.bond(p) == 0
    assert bonds.chain.balance(address_of(p)) > before + 5 * ETH - ETH // 100


def test_batches_posted_after_a_revert_do_not_keep_an_honest_bond_locked(bonds: Bonds) -> None:
    # P's batch 3 is reverted; others post new batches 2 to 4 at the same indices and
    # beyond. P's bond waits one window from P's own newest batch, not for the new ones.
    p, q, c = bonds.p, bonds.q, bonds.c
    bonds.post(p)
    bonds.post(q)
    newest = bonds.post(p)
    posted_at = bonds.time_of(newest)
    bonds.win_by_silence(bonds.challenge(2, c), c)
    bonds.client.stake(q, ETH)
    bonds.travel_to(posted_at + WINDOW - 3600)
    for _ in range(3):
        bonds.post(q)
    assert bonds.count() == 5
    assert not bonds.is_final(newest)  # index 3 holds Q's new batch now
    with pytest.raises(ContractRevert, match=LOCKED):
        bonds.unstake(p, ETH)
    assert bonds.contract.call("bond_locked", address_of(p)) is True
    bonds.travel_to(posted_at + WINDOW)
    assert bonds.contract.call("bond_locked", address_of(p)) is False
    bonds.unstake(p, 5 * ETH)
    assert bonds.bond(p) == 0
    assert not bonds.is_final(bonds.count() - 1)  # the new batches are still pending


def test_the_newest_live_batch_locks_the_bond_until_it_is_final(bonds: Bonds) -> None:
    p = bonds.p
    bonds.unstake(p, ETH)  # nothing posted yet: free
    first = bonds.post(p)
    bonds.travel_to(bonds.time_of(first) + WINDOW // 2)
    second = bonds.post(p)
    bonds.travel_to(bonds.time_of(first) + WINDOW)
    assert bonds.is_final(first)
    with pytest.raises(ContractRevert, match=LOCKED):
        bonds.unstake(p, ETH)
    bonds.travel_to(bonds.time_of(second) + WINDOW)
    bonds.unstake(p, ETH)
    with pytest.raises(ContractRevert, match="bond too small"):
        bonds.unstake(p, 3 * ETH + 1)


def test_an_open_challenge_on_an_earlier_batch_keeps_the_bond_locked(bonds: Bonds) -> None:
    # Past P's window, a challenge still open on an earlier batch holds P's batch too.
    p, q, w = bonds.p, bonds.q, bonds.w
    earlier = bonds.post(q)
    mine = bonds.post(p)
    challenge = bonds.challenge(earlier, w)
    bonds.travel_to(bonds.time_of(mine) + WINDOW)
    with pytest.raises(ContractRevert, match=LOCKED):
        bonds.unstake(p, ETH)
    # Q answers nothing: batch 1 and P's batch 2 are reverted; P lost no game.
    bonds.win_by_silence(challenge, w)
    assert bonds.bond(q) == 0
    assert bonds.bond(p) == 5 * ETH
    bonds.unstake(p, 5 * ETH)


def test_a_slashed_proposer_that_stakes_again_is_locked_only_by_live_batches(
    bonds: Bonds,
) -> None:
    # P loses a game on its batch 2; its batch 1 is still live and not final.
    p, c = bonds.p, bonds.c
    first = bonds.post(p)
    lost = bonds.post(p)
    bonds.win_by_silence(bonds.challenge(lost, c), c)
    assert bonds.bond(p) == 0
    bonds.client.stake(p, ETH)
    with pytest.raises(ContractRevert, match=LOCKED):
        bonds.unstake(p, ETH)
    bonds.travel_to(bonds.time_of(first) + WINDOW)
    bonds.unstake(p, ETH)
