"""Attacks on forced exits (``ZkRollup.force_exit``, the batch's seventh section, the
node that takes L1's queue). Each test asserts the SAFE behaviour: it fails if the
attack works.

They run test_zk_node_channels's node (an in-memory rollup whose queues the test
writes, a placeholder prover, a SQLite log). The attacks that need real proofs on L1
(a slot altered, reused or naming another index; an exit left out, then the freeze
and the escape) are in test_zk_forced_exits.py; a channel's deposit left locked is in
test_zk_batch.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy

from l2gpu.core.l2.zk_scheme import key_point, zk_index
from l2gpu.core.zk.pubdata import FORCED_EXIT_BYTES, sections_of
from l2gpu.core.zk.state import Account as ZkAccount
from l2gpu.core.zk.state import ZkError, ZkState
from l2gpu.l1.contracts.zk_rollup import QueuedForcedExit
from l2gpu.node.wal import DamagedRecord
from l2gpu.node.zk import records
from l2gpu.node.zk.node import ZkNode

from . import test_zk_node_channels as fake

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

ETH = 10**18
DELAY = 3600


# -- helpers ----------------------------------------------------------------------------


def queue_exit(world: fake.World, index: int, owner: int | None = None) -> None:
    """The in-memory L1 queues a full exit of account ``index`` to the address of
    account ``owner`` (its own unless given: a hostile L1 when not)."""
    who = index if owner is None else owner
    exits = world.rollup.exits
    exits.append(QueuedForcedExit(len(exits), index, bytes([who]) * 20))


def fake_balance(node: ZkNode, index: int) -> int:
    account = node.sequencer.state.account(index)
    assert account is not None
    return account.balance


def exit_section(shape, pubdata: bytes) -> list[tuple[int, int]]:
    """A batch's forced-exit slots as (index, paid)."""
    section = sections_of(shape, pubdata)[6]
    slots = []
    for k in range(len(section) // FORCED_EXIT_BYTES):
        raw = section[k * FORCED_EXIT_BYTES : (k + 1) * FORCED_EXIT_BYTES]
        slots.append((int.from_bytes(raw[:3], "big"), int.from_bytes(raw[3:], "big")))
    return slots


def ledger_matches_tree(node: ZkNode) -> None:
    """The node's ledger is its tree, nothing staged, and both L1 counters agree."""
    seq = node.sequencer
    assert not seq.ledger.recording, "a batch is left staged"
    ledger, tree = seq.ledger, seq.state
    assert ledger.held_fees == 0
    for account in ledger.accounts:
        ax, ay = key_point(account.bls_key)
        expected = ZkAccount(ax, ay, account.balance, account.nonce,
                             int.from_bytes(account.address, "big"))  # fmt: skip
        assert tree.account(zk_index(account.index)) == expected, account
    assert dict(tree.channels()) == ledger.zk_channels
    assert seq.ledger.deposits_processed == seq.deposits_taken + seq.forced_exits_taken


def sealed_records(database: Path) -> list[tuple[int, dict]]:
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        rows = connection.execute(sqlalchemy.text(
            "SELECT seq, payload FROM rollup_log WHERE kind = :k ORDER BY seq"),
            {"k": records.SEALED}).all()  # fmt: skip
    engine.dispose()
    return [(int(seq), json.loads(bytes(payload))) for seq, payload in rows]


def rewrite(database: Path, seq: int, body: dict) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        payload = json.dumps(body, separators=(",", ":")).encode()
        connection.execute(sqlalchemy.text("UPDATE rollup_log SET payload = :p WHERE seq = :s"),
                           {"p": payload, "s": seq})  # fmt: skip
    engine.dispose()


def l2_total(state: ZkState) -> int:
    """Every wei the L2 state holds: account balances and channel deposits."""
    accounts = sum(a.balance for i in range(1, state.channel_base)
                   if (a := state.account(i)) is not None)  # fmt: skip
    return accounts + sum(c.deposit for _, c in state.channels())


@pytest.fixture
def fworld(tmp_path: Path) -> fake.World:
    """test_zk_node_channels's world: accounts 1, 2 and 3 deposit 1 ETH each."""
    world = fake.World(tmp_path)
    for who in (1, 2, 3):
        world.rollup.deposit(who, ETH)
    return world


@pytest.fixture
def fnode(fworld: fake.World) -> ZkNode:
    node = fworld.node()
    assert node.seal() == 0
    return node


# -- 1. the node: a forced exit drains an account whose operations wait --------------------


def test_a_forced_exit_that_drains_an_account_with_pending_operations_drops_them_cleanly(
    fworld: fake.World, fnode: ZkNode
) -> None:
    node = fnode
    first = node.submit(fake.withdrawal(2, 3 * 10**17, 0))
    second = node.submit(fake.withdrawal(2, 10**17, 1))  # one withdrawal slot: waits
    pay = node.submit(fake.transfer(2, 3, 10**17, 2))  # after the waiting one: waits
    opened = node.submit(fake.open_tx(2, 3, 10**17, fake.T0 + 3600, 3))
    assert fake_balance(node, 2) == ETH
    queue_exit(fworld, 2)  # Bob asks L1 for everything
    assert node.seal() == 1
    batch = node.batches[1]
    assert batch.exit_count == 1
    [slot] = exit_section(fake.SHAPE, batch.result.pubdata)
    assert slot == (2, ETH - 3 * 10**17)  # after the withdrawal
    assert fake_balance(node, 2) == 0
    assert node.outcomes[first].status == "included"
    for position in (second, pay, opened):
        outcome = node.outcomes[position]
        assert outcome.status == "dropped", (position, outcome)
        assert outcome.reason, "a drop names its reason"
    assert node.sequencer.pending == []
    ledger_matches_tree(node)
    # The node neither crashes nor stalls: nothing left; new spending is refused.
    assert node.seal() is None
    with pytest.raises(ZkError):
        node.submit(fake.transfer(2, 3, 1, 1))
    # Bob can still receive, and the next seal works.
    node.submit(fake.transfer(3, 2, 10**17, 0))
    assert node.seal() == 2
    assert node.prove_and_post() == 3
    submitted = fworld.rollup.submitted
    assert [s["exit_count"] for s in submitted] == [0, 1, 0]
    assert fworld.rollup.state_root() == node.sequencer.state.root()
    # A restart agrees: same state, same outcomes, the exit not taken twice.
    restarted = fworld.node()
    assert restarted.sequencer.state.root() == node.sequencer.state.root()
    assert restarted.sequencer.forced_exits_taken == 1
    for position in (first, second, pay, opened):
        assert restarted.outcomes[position] == node.outcomes[position]
    assert restarted.seal() is None
    ledger_matches_tree(restarted)


# -- 2. more forced exits than slots, and a restart between them ------------------------


def test_more_forced_exits_than_slots_are_taken_in_queue_order_across_restarts(
    fworld: fake.World, fnode: ZkNode
) -> None:
    node = fnode
    assert fake.SHAPE.forced_exits == 1
    node.submit(fake.transfer(2, 3, 10**17, 0))  # account 3 has 1.1 ether at its exit
    for index in (3, 1, 2):
        queue_exit(fworld, index)
    assert node.seal() == 1
    # The node dies with batch 1 sealed and unposted; a restart replays it.
    root = node.sequencer.state.root()
    del node
    node = fworld.node()
    assert node.sequencer.state.root() == root
    assert node.sequencer.forced_exits_taken == 1
    assert node.seal() == 2
    assert node.prove_and_post() == 3
    node = fworld.node()  # again, now posted
    assert node.sequencer.forced_exits_taken == 2
    assert node.seal() == 3
    assert node.seal() is None  # three taken, none skipped, none twice
    assert node.prove_and_post() == 1
    taken = [exit_section(fake.SHAPE, b.result.pubdata)[0] for b in node.batches[1:]]
    assert taken == [(3, 11 * 10**17), (1, ETH), (2, 9 * 10**17)]
    assert [s["exit_count"] for s in fworld.rollup.submitted] == [0, 1, 1, 1]
    assert [fake_balance(node, i) for i in (1, 2, 3)] == [0, 0, 0]
    assert node.sequencer.forced_exits_taken == 3
    assert fworld.rollup.state_root() == node.sequencer.state.root()
    ledger_matches_tree(node)


# -- 3. a damaged zk_sealed record --------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "count"),
    [
        (1, 2),  # more forced exits than the batch has slots
        (1, 0),  # the forced exit it took counted out
        (0, 1),  # a batch with none claims one (its slot is a no-op)
        (0, -1),  # a negative count
        (0, "x"),  # not a number
    ],
)
def test_a_damaged_sealed_record_with_a_wrong_forced_exit_count_is_a_damaged_record(
    fworld: fake.World, fnode: ZkNode, batch: int, count: object
) -> None:
    queue_exit(fworld, 2)
    assert fnode.seal() == 1
    assert fnode.batches[1].exit_count == 1
    del fnode
    seq, body = sealed_records(fworld.database)[batch]
    assert body["batch"] == batch
    rewrite(fworld.database, seq, body | {"forced_exits": count})
    with pytest.raises(DamagedRecord):
        fworld.node()


# -- 4. a hostile L1 queue entry ----------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "owner", "reason"),
    [
        (2, 3, "zk: forced exit of another owner"),  # account 2 paid to 3's address
        (9, 9, "zk: unknown sender"),  # no account there
        (0, 0, "zk: index 0 is not an account"),
        (fake.BASE, 2, "zk: not an account index"),  # a channel's leaf
    ],
)
def test_a_forced_exit_l1_could_not_queue_seals_nothing_and_goes_away_cleanly(
    fworld: fake.World, fnode: ZkNode, index: int, owner: int, reason: str
) -> None:
    node = fnode
    pay = node.submit(fake.transfer(3, 1, 10**17, 0))
    log_before = list(node.wal.records())
    root = node.sequencer.state.root()
    queue_exit(fworld, index, owner)
    with pytest.raises(ZkError, match=reason):
        node.seal()
    assert not node.sequencer.ledger.recording
    assert node.sequencer.state.root() == root
    assert list(node.wal.records()) == log_before
    assert node.sequencer.forced_exits_taken == 0
    assert node.outcomes[pay].status == "pending"
    fworld.rollup.exits.clear()  # the hostile entry is gone
    assert node.seal() == 1
    assert node.outcomes[pay].status == "included"
    ledger_matches_tree(node)
    assert fworld.node().sequencer.state.root() == node.sequencer.state.root()
