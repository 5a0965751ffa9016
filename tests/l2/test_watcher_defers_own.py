"""The proposer's own watcher (``l2gpu up``) replays its own batches only when it must.

Its node computed every root it posted, so the watcher defers their replay until the
live honest state is needed: an open game or a batch by someone else. It must still
defend its batch when challenged, and a watcher of anyone else checks at once.
"""

from __future__ import annotations

import pytest

from l2gpu.core.l2.segments import segments_of_data
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Wei
from l2gpu.fraud.watcher import Watcher
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key
from l2gpu.scenarios.arena import Arena

from .restart_world import ANVIL_KEYS_ALL


@pytest.fixture(scope="module")
def arena(anvil_url: str) -> Arena:
    chain = connect_jsonrpc(anvil_url, [account_from_private_key(k) for k in ANVIL_KEYS_ALL])
    return Arena(chain)


def _two_honest_batches(arena: Arena) -> int:
    arena.reset()
    arena.post(arena.seal())  # the deposits
    arena.send(1, Transfer(1, 2, Wei(10**15), Wei(0)))
    index, _ = arena.post(arena.seal())
    return index


def test_own_batches_wait_until_a_challenge_needs_them_and_are_defended(arena: Arena) -> None:
    index = _two_honest_batches(arena)
    own = Watcher(RollupClient(arena.chain, arena.client.contract), arena.game,
                  arena.proposer, defer_own=True)  # fmt: skip
    own.poll()
    assert own.unchecked_own == 2
    assert own.accepted == []
    assert own.replayed_txs == 0
    # A griefer challenges the honest batch: the game needs the state, so the watcher
    # replays both batches, accepts them, and reveals the true roots.
    raw = next(b for i, b, _ in arena.posted if i == index)
    segments = segments_of_data(raw.encode(), arena.replica_before(index).root())
    gid, _ = arena.game.challenge(index, segments, 0, arena.users[0])
    own.poll()
    assert [b.index for b in own.accepted] == [1, index]
    assert own.unchecked_own == 0
    assert own.replayed_txs > 0
    assert arena.game.status(gid)["status"] == 2, own.log  # roots revealed


def test_a_watcher_of_anyone_else_checks_every_batch_at_once(arena: Arena) -> None:
    index = _two_honest_batches(arena)
    other = Watcher(RollupClient(arena.chain, arena.client.contract), arena.game,
                    arena.users[0], defer_own=True)  # fmt: skip
    other.poll()
    assert [b.index for b in other.accepted] == [1, index]
    assert other.unchecked_own == 0


def test_an_own_batch_that_does_not_decode_is_logged_not_raised(arena: Arena) -> None:
    # Own batches are decoded only when replayed: one that the codec cannot read (the
    # codec and L1 disagreeing, as after a bad upgrade) must not end the watcher's
    # round with an exception when a challenge needs it.
    index = _two_honest_batches(arena)
    own = Watcher(RollupClient(arena.chain, arena.client.contract), arena.game,
                  arena.proposer, defer_own=True)  # fmt: skip
    own.poll()
    raw = next(b for i, b, _ in arena.posted if i == index)
    segments = segments_of_data(raw.encode(), arena.replica_before(index).root())
    own.posted[index].data = b"\xff" * 40  # what this codec reads as no batch
    arena.game.challenge(index, segments, 0, arena.users[0])
    lines = own.poll()
    assert any("does not decode" in line for line in lines), lines
    assert own.blocked_at == index
