"""Attacks on the zk node's ledger (core/l2's L2State under the zk scheme, every batch
applied by ``core/l2/zk_batch.py: apply_zk_batch`` staged while the node logs it).

Each test fails if the attack works. The node is test_zk_node_channels's: an
in-memory rollup whose deposit queue the test writes (a hostile L1), a placeholder
prover, a SQLite write-ahead log; a restart is ``world.node()`` on the same database.

1. a hostile L1 queue (a deposit at another leaf than the ledger's, an unusable key,
   another key for a known address): the seal refuses with a clear ZkError, stages
   nothing, logs nothing, and seals once the deposit is gone; a restart agrees;
2. an exception at each point between the plan and the commit: the ledger is never
   left staged, and the next seal works;
3. conservation over random operations sealed through the node, the ledger equal to
   its tree leaf by leaf, and every sealed batch equal to core/zk's ``apply_batch``;
4. replays and forgeries through the HTTP API, float40 and fee-code edges: what is
   admitted seals, what is refused is refused at admission;
5. a restart rebuilds the same ledger.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.babyjubjub import P as FIELD
from l2gpu.core.l2 import zk_batch as zk_batch_module
from l2gpu.core.l2.records import MAX_BALANCE
from l2gpu.core.l2.zk_batch import apply_zk_batch
from l2gpu.core.l2.zk_scheme import key_point, zk_index
from l2gpu.core.zk.batch import apply_batch
from l2gpu.core.zk.channel import CloseChannelTx, OpenChannelTx, ReclaimTx
from l2gpu.core.zk.pubdata import DepositSlot
from l2gpu.core.zk.state import Account as ZkAccount
from l2gpu.core.zk.state import ZkError
from l2gpu.core.zk.transfer import TransferTx, sign_transfer
from l2gpu.core.zk.withdrawal import WithdrawalTx
from l2gpu.l1.contracts.zk_rollup import QueuedDeposit
from l2gpu.node.zk import records
from l2gpu.node.zk import sequencer as sequencer_module
from l2gpu.node.zk.api import create_zk_app
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.records import SignedTx
from l2gpu.node.zk.sequencer import ZkSequencer

from .test_zk_node_channels import (
    BASE,
    DEPTH,
    ETH,
    SECRETS,
    SHAPE,
    T0,
    World,
    close_tx,
    deposit_slot,
    open_tx,
    transfer,
    withdrawal,
)

FEE_UNIT = 10**12
MAX_MANTISSA = 2**35 - 1


@pytest.fixture
def world(tmp_path: Path) -> World:
    """test_zk_node_channels's world: accounts 1, 2 and 3 deposit 1 ETH each."""
    world = World(tmp_path)
    for who in (1, 2, 3):
        world.rollup.deposit(who, ETH)
    return world


@pytest.fixture
def node(world: World) -> ZkNode:
    """test_zk_node_channels's node: accounts 1, 2 and 3 hold 1 ETH in batch 0."""
    node = world.node()
    assert node.seal() == 0
    return node


# -- helpers ----------------------------------------------------------------------------


def paying(who: int, to: int, amount: int, fee_code: int, nonce: int) -> SignedTx:
    """A transfer that pays a fee (``transfer`` pays none)."""
    tx = TransferTx(who, to, amount, fee_code, nonce)
    return SignedTx(tx, sign_transfer(SECRETS[who], tx))


def key(who: int) -> Any:
    return eddsa.public_key(SECRETS[who])


def queue(world: World, slot: DepositSlot) -> None:
    """L1 queues ``slot`` as it is (a hostile or buggy L1: no check)."""
    world.rollup.queue.append(QueuedDeposit(len(world.rollup.queue), slot))


def ledger_view(node: ZkNode) -> dict[str, Any]:
    """Everything the ledger and the sequencer's sealed side hold."""
    seq = node.sequencer
    ledger = seq.ledger
    return {
        "accounts": list(ledger.accounts),
        "by_address": dict(ledger.by_address),
        "zk_channels": dict(ledger.zk_channels),
        "exits": list(ledger.exits),
        "deposits_processed": ledger.deposits_processed,
        "held_fees": ledger.held_fees,
        "root": seq.state.root(),
        "ledger_root": ledger.root(),
        "deposits_taken": seq.deposits_taken,
        "channel_slots": set(seq.channel_slots),
        "timestamp": seq.timestamp,
        "batches": len(node.batches),
    }


def log_of(node: ZkNode) -> list[tuple[int, str, bytes]]:
    return list(node.wal.records())


def assert_tree_is_ledger(node: ZkNode) -> None:
    """The ledger's accounts and channels are its tree's leaves, leaf by leaf."""
    seq = node.sequencer
    ledger, tree = seq.ledger, seq.state
    assert ledger.held_fees == 0, f"fees held between batches: {ledger.held_fees}"
    assert not ledger.recording, "a batch is left staged between seals"
    for account in ledger.accounts:
        ax, ay = key_point(account.bls_key)
        address = int.from_bytes(account.address, "big")
        expected = ZkAccount(ax, ay, account.balance, account.nonce, address)
        assert tree.account(zk_index(account.index)) == expected, account
        assert ledger.by_address[account.address] == account.index
    for leaf in range(0, tree.channel_base):
        if not 1 <= leaf <= len(ledger.accounts):
            assert tree.leaf(leaf) == 0, f"leaf {leaf} is set but the ledger has no account there"
    assert dict(tree.channels()) == ledger.zk_channels
    for slot in range(tree.channel_base, tree.capacity):
        if slot not in ledger.zk_channels:
            assert tree.leaf(slot) == 0, f"channel leaf {slot} set, not in the ledger"
    assert seq.channel_slots == set(ledger.zk_channels), "the sequencer's slots are the ledger's"
    assert ledger.deposits_processed == seq.deposits_taken


def assert_conserved(world: World, node: ZkNode) -> None:
    """What L1 took in, less what the batches paid out, is what the ledger holds."""
    ledger = node.sequencer.ledger
    deposited = sum(q.slot.amount for q in world.rollup.queue[: node.sequencer.deposits_taken])
    withdrawn = sum(e.amount for e in ledger.exits)
    assert ledger.total_value() == deposited - withdrawn, (
        f"value {ledger.total_value()} != deposits {deposited} - exits {withdrawn}"
    )
    tree = node.sequencer.state
    in_tree = sum(a.balance for i in range(1, tree.channel_base) if (a := tree.account(i)))
    in_tree += sum(c.deposit for _, c in tree.channels())
    assert in_tree == deposited - withdrawn, "the tree does not hold what L1 took in"


def seal_and_compare(world: World, node: ZkNode) -> int | None:
    """``node.seal()``, and the batch it sealed compared with core/zk's ``apply_batch``
    run on the tree before it (state, public data, public input, circuit input). A
    batch in doubt is settled first, as the seal itself would."""
    with node.lock:
        node._settle_in_doubt()
    before = node.sequencer.state
    taken = node.sequencer.deposits_taken
    pending = {p.position: p.signed for p in node.sequencer.pending}
    number = node.seal()
    assert_tree_is_ledger(node)
    assert_conserved(world, node)
    if number is None:
        assert node.sequencer.state.root() == before.root()
        return None
    batch = node.batches[number]
    signed = [pending[p] for p in batch.positions]
    deposits = records.deposit_slots(batch.result.pubdata, batch.deposit_count)
    assert deposits == [q.slot for q in world.rollup.queue[taken : taken + batch.deposit_count]]
    moves = [s for s in signed if isinstance(s.tx, TransferTx | WithdrawalTx)]
    expected = apply_batch(
        before, SHAPE, node.sequencer.fee_account, deposits,
        [s.tx for s in signed if isinstance(s.tx, TransferTx)],
        [s.tx for s in signed if isinstance(s.tx, WithdrawalTx)],
        [s.owner_signature for s in moves],
        opens=[(s.tx, s.owner_signature) for s in signed if isinstance(s.tx, OpenChannelTx)],
        closes=[s.tx for s in signed if isinstance(s.tx, CloseChannelTx)],
        reclaims=[ReclaimTx(i) for i in batch.reclaims], timestamp=batch.timestamp,
    )  # fmt: skip
    assert expected.new_state.root() == node.sequencer.state.root(), "core/l2 != core/zk: root"
    assert expected.pubdata == batch.result.pubdata, "core/l2 != core/zk: public data"
    assert expected.public_input == batch.result.public_input
    assert expected.circuit_input == batch.result.circuit_input, "circuit input differs"
    return number


def assert_restart_agrees(world: World, node: ZkNode) -> ZkNode:
    again = world.node()
    assert ledger_view(again) == ledger_view(node), "a restart rebuilt another ledger"
    assert [p.position for p in again.sequencer.pending] == [
        p.position for p in node.sequencer.pending
    ]
    assert again.sequencer.pending_state.root() == node.sequencer.pending_state.root()  # type: ignore[union-attr]
    assert again.outcomes == node.outcomes
    assert_tree_is_ledger(again)
    return again


# -- 1. a hostile L1 queue -----------------------------------------------------------------

K4 = key(4)
ADDR4 = bytes([4]) * 20
HOSTILE = {
    # A new address at a leaf another account holds: core/zk would skip it (other owner).
    "new address at a used leaf": (DepositSlot(2, K4.x, K4.y, ADDR4, ETH),
                                   "zk: deposit index is not the ledger's"),
    # An index L1 skipped: core/zk would create the account at 5.
    "skipped index": (DepositSlot(5, K4.x, K4.y, ADDR4, ETH),
                      "zk: deposit index is not the ledger's"),
    # The channels' half: core/zk would create an "account" at a channel slot.
    "channel half": (DepositSlot(BASE, K4.x, K4.y, ADDR4, ETH),
                     "zk: deposit index is not the ledger's"),
    "off-curve key": (DepositSlot(4, 1, 2, ADDR4, ETH), "zk: deposit skipped by the ledger"),
    "non-canonical key": (DepositSlot(4, K4.x + FIELD, K4.y, ADDR4, ETH),
                          "zk: deposit skipped by the ledger"),
    "another key for a known address": (DepositSlot(2, K4.x, K4.y, bytes([2]) * 20, ETH),
                                        "zk: deposit skipped by the ledger"),
    "index 0": (DepositSlot(0, K4.x, K4.y, ADDR4, ETH), "index 0"),
    "beyond the tree": (DepositSlot(2**DEPTH, K4.x, K4.y, ADDR4, ETH), "out of range"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_deposit_seals_nothing_and_goes_away_cleanly(
    world: World, node: ZkNode, name: str
) -> None:
    slot, reason = HOSTILE[name]
    paid = node.submit(paying(2, 3, 10**17, 7, 0))
    view, log = ledger_view(node), log_of(node)
    queue(world, deposit_slot(4, ETH))  # a good deposit before it: the batch takes both or none
    queue(world, slot)
    for _ in range(2):  # every seal refuses, and leaves nothing behind
        with pytest.raises(ZkError, match=reason) as refused:
            node.seal()
        if reason.startswith("zk: deposit"):  # the ledger's refusals (core/zk's own: none)
            assert refused.value.fix, "the refusal says what to do"
        assert not node.sequencer.ledger.recording, "the refused batch is left staged"
        assert ledger_view(node) == view, "the refused batch changed the ledger"
        assert log_of(node) == log, "the refused batch wrote to the log"
        assert node.outcomes[paid].status == "pending"
        assert_tree_is_ledger(node)
    restarted = world.node()  # a restart over the same hostile queue agrees
    assert ledger_view(restarted) == view
    with pytest.raises(ZkError, match=reason):
        restarted.seal()
    assert not restarted.sequencer.ledger.recording
    # L1 fixed (the bad deposit gone): both nodes seal the good deposit and the transfer.
    world.rollup.queue.pop()
    assert seal_and_compare(world, node) == 1
    assert node.outcomes[paid].batch == 1
    assert node.sequencer.state.account(4) is not None
    assert node.sequencer.ledger.account(0).balance == ETH + 7 * FEE_UNIT  # type: ignore[union-attr]
    assert_restart_agrees(world, node)


def test_a_hostile_deposit_after_the_batch_does_not_block_it(world: World, node: ZkNode) -> None:
    """Only the batch that takes the bad deposit is refused."""
    for who in (1, 2, 3):  # three good ones fill the next batch's deposit slots
        queue(world, deposit_slot(who, 10**15))
    queue(world, HOSTILE["new address at a used leaf"][0])
    assert seal_and_compare(world, node) == 1
    with pytest.raises(ZkError, match="not the ledger's"):
        node.seal()
    assert not node.sequencer.ledger.recording
    assert_restart_agrees(world, node)


# -- 2. an exception at each point between the plan and the commit ----------------------


class Boom(RuntimeError):
    pass


def _raiser(*_args: object, **_kwargs: object) -> Any:
    raise Boom("injected")


def _nth_call_raises(original: Any, n: int) -> Any:
    calls = {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == n:
            raise Boom(f"injected at call {n}")
        return original(*args, **kwargs)

    return wrapped


def _inject(where: str, node: ZkNode, monkeypatch: pytest.MonkeyPatch) -> None:
    if where == "encode_sealed":
        monkeypatch.setattr(records, "encode_sealed", _raiser)
    elif where == "encode_dropped":
        monkeypatch.setattr(records, "encode_dropped", _raiser)
    elif where == "append_many":
        monkeypatch.setattr(node.wal, "append_many", _raiser)
    elif where == "recheck":  # node/zk/pending.py's, as the sequencer calls it
        name = "recheck" if hasattr(sequencer_module, "recheck") else "_recheck"
        monkeypatch.setattr(sequencer_module, name, _raiser)
    elif where.startswith("state_transition#"):
        n = int(where.split("#")[1])
        wrapped = _nth_call_raises(getattr(zk_batch_module, "state_transition"), n)  # noqa: B009
        monkeypatch.setattr(zk_batch_module, "state_transition", wrapped)
    elif where == "credit_held_fees":
        monkeypatch.setattr(zk_batch_module, "credit_held_fees", _raiser)
    elif where == "batch_signals":  # after the ledger ran every operation
        monkeypatch.setattr(zk_batch_module, "batch_signals", _raiser)
    elif where == "apply_deposit(core/zk)":
        monkeypatch.setattr(sequencer_module, "apply_deposit", _raiser)
    else:  # pragma: no cover
        raise AssertionError(where)


POINTS = ["encode_sealed", "encode_dropped", "append_many", "recheck", "state_transition#1",
          "state_transition#3", "state_transition#6", "credit_held_fees", "batch_signals",
          "apply_deposit(core/zk)"]  # fmt: skip


@pytest.mark.parametrize("where", POINTS)
def test_a_failure_before_the_log_stages_nothing(
    world: World, node: ZkNode, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # A batch of every kind: a deposit, two fee-paying transfers, a withdrawal, an
    # open, a close of a sealed channel, a reclaim of an expired one, and a drop.
    slot = node.channel_of(node.submit(open_tx(3, 2, 10**17, T0 + 3600, 0)))
    short = node.channel_of(node.submit(open_tx(2, 3, 10**17, T0 + 50, 0)))
    assert seal_and_compare(world, node) == 1
    world.clock.now = T0 + 60  # `short` expired: this seal reclaims it
    queue(world, deposit_slot(4, ETH))
    positions = [
        node.submit(paying(2, 3, 10**16, 200, 1)),
        node.submit(paying(3, 1, 10**16, 1, 1)),
        node.submit(withdrawal(1, 10**17, 0)),
        node.submit(open_tx(1, 3, 10**16, T0 + 3600, 1)),
        node.submit(close_tx(slot, 3, 0, 2, 4 * 10**16)),
    ]
    late = node.submit(open_tx(2, 1, 10**16, T0 + 61, 2))  # expires before the seal: dropped
    world.clock.now = T0 + 61
    view, log = ledger_view(node), log_of(node)
    pending_root = node.sequencer.pending_state.root()  # type: ignore[union-attr]
    _inject(where, node, monkeypatch)
    with pytest.raises(Boom):
        node.seal()
    in_doubt = where == "append_many"  # the write may have landed: the next seal reads
    assert node.sequencer.ledger.recording == in_doubt, f"a failure at {where}: staged?"
    if not in_doubt:
        assert ledger_view(node) == view, f"a failure at {where} changed the ledger"
        assert_tree_is_ledger(node)
    assert log_of(node) == log, f"a failure at {where} wrote to the log"
    assert node.sequencer.pending_state.root() == pending_root  # type: ignore[union-attr]
    assert all(node.outcomes[p].status == "pending" for p in [*positions, late])
    monkeypatch.undo()
    assert seal_and_compare(world, node) == 2
    assert [node.outcomes[p].batch for p in positions] == [2] * len(positions)
    assert node.outcomes[late].status == "dropped"
    assert node.batches[2].reclaims == (short,)
    assert_restart_agrees(world, node)


def test_a_failure_after_apply_in_the_plan_stages_nothing(
    world: World, node: ZkNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ZkSequencer.plan`` stages the batch (``apply``), then builds its plan: an
    exception in what follows (here the SealPlan's construction; in life a MemoryError
    or KeyboardInterrupt) undoes it. It used to leave the batch staged: the API showed
    a batch never logged, and every later seal failed on ``assert not
    self.ledger.recording``."""
    paid = node.submit(paying(2, 3, 10**17, 9, 0))
    view = ledger_view(node)
    monkeypatch.setattr(sequencer_module, "SealPlan", _raiser)
    with pytest.raises(Boom):
        node.seal()
    monkeypatch.undo()
    staged = node.sequencer.ledger.recording
    shown = ledger_view(node)
    node.sequencer.discard()  # (so that the rest of the session is not disturbed)
    assert not staged, (
        "an exception in ZkSequencer.plan after self.apply(...) (outside the "
        "recheck try) leaves the batch staged in the ledger: the node shows an unlogged "
        "batch and every later seal raises AssertionError('one batch is staged at a time')"
    )
    assert shown == view
    assert seal_and_compare(world, node) == 1
    assert node.outcomes[paid].batch == 1


def test_a_failure_after_the_log_write_is_recovered_by_a_restart(
    world: World, node: ZkNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log is the truth: a batch logged, then an error before the node took it in
    memory, is in the restarted node."""
    paid = node.submit(paying(2, 3, 10**17, 3, 0))
    monkeypatch.setattr(ZkSequencer, "commit", _raiser)
    with pytest.raises(Boom):
        node.seal()
    monkeypatch.undo()
    again = world.node()
    assert again.outcomes[paid] == records_outcome_included(1)
    assert again.sequencer.ledger.account(0).balance == ETH + 3 * FEE_UNIT  # type: ignore[union-attr]
    assert_tree_is_ledger(again)
    assert seal_and_compare(world, again) is None


def records_outcome_included(batch: int) -> Any:
    from l2gpu.node.zk.tracking import Outcome

    return Outcome("included", batch=batch)


def sealed_numbers(node: ZkNode) -> list[int]:
    """The batch numbers of the log's SEALED records, in order."""
    return [records.decode_sealed(p).number for _, k, p in log_of(node) if k == records.SEALED]


def lands_then_fails(node: ZkNode, monkeypatch: pytest.MonkeyPatch, *, landed: bool,
                     posted_between: bool = False) -> None:  # fmt: skip
    """The node's next log write raises after landing (or not); with
    ``posted_between``, a POSTED record of the prover thread lands just before it."""
    original = node.wal.append_many

    def write(writes: Any) -> list[int]:
        if posted_between:
            node.wal.append(records.POSTED, records.encode_posted(0, "0x" + "ab" * 32))
        if landed:
            original(writes)
        raise OSError("server closed the connection unexpectedly (during COMMIT)")

    monkeypatch.setattr(node.wal, "append_many", write)


@pytest.mark.parametrize("posted_between", [False, True])
def test_a_log_write_that_landed_but_raised_is_not_sealed_twice(
    world: World, node: ZkNode, monkeypatch: pytest.MonkeyPatch, posted_between: bool
) -> None:
    """An in-doubt commit (a PostgreSQL connection lost during COMMIT): the batch is in
    the log, but ``append_many`` raised. The next seal reads the log back and seals it
    once, also when the prover thread's POSTED record (logged without the node's
    lock) landed between (the node used to discard it and log the same batch number
    again, which every restart then refused)."""
    paid = node.submit(paying(2, 3, 10**17, 3, 0))
    lands_then_fails(node, monkeypatch, landed=True, posted_between=posted_between)
    with pytest.raises(OSError, match="during COMMIT"):
        node.seal()
    monkeypatch.undo()
    assert node.seal() == 1  # settled: found in the log, sealed; nothing new to seal
    assert node.outcomes[paid] == records_outcome_included(1)
    assert not node.sequencer.ledger.recording
    assert node.seal() is None
    assert sealed_numbers(node) == [0, 1]
    again = world.node()
    assert again.outcomes[paid] == node.outcomes[paid]
    assert ledger_view(again) == ledger_view(node)


@pytest.mark.parametrize("landed", [False, True])
def test_a_submission_after_a_write_in_doubt_waits_for_the_log(
    world: World, node: ZkNode, monkeypatch: pytest.MonkeyPatch, landed: bool
) -> None:
    """A transaction submitted after a batch's write raised is admitted only once the
    log says whether that batch landed: sealing it then must not lose the new one (it
    used to drop out of the pending list, yet a restart found it pending)."""
    first = node.submit(paying(2, 3, 10**17, 3, 0))
    lands_then_fails(node, monkeypatch, landed=landed)
    with pytest.raises(OSError, match="during COMMIT"):
        node.seal()
    monkeypatch.undo()

    def unreadable(*_args: object) -> Any:
        raise OSError("the database is unreachable")

    monkeypatch.setattr(node.wal, "records_after", unreadable)
    with pytest.raises(OSError, match="unreachable"):
        node.submit(paying(3, 1, 10**16, 1, 0))  # refused: the log is unknown
    monkeypatch.undo()
    second = node.submit(paying(3, 1, 10**16, 1, 0))  # settles first, then is admitted
    assert node.outcomes[first].status == ("included" if landed else "pending")
    assert node.seal() == (2 if landed else 1)
    assert node.outcomes[second].status == "included"
    assert node.outcomes[first].status == "included"
    assert sealed_numbers(node) == ([0, 1, 2] if landed else [0, 1])
    again = world.node()
    assert ledger_view(again) == ledger_view(node)
    assert again.outcomes[second] == node.outcomes[second]


def test_a_log_that_cannot_be_read_after_a_failed_write_holds_the_batch_in_doubt(
    world: World, node: ZkNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write raised and the log cannot be read either (the database is gone): the
    node cannot know whether the batch is logged, so it seals nothing until it can
    read the log; then the batch is sealed if it landed, and sealed afresh if not."""
    paid = node.submit(paying(2, 3, 10**17, 3, 0))

    def down(*_args: object) -> Any:
        raise OSError("the database is unreachable")

    for landed in (False, True):
        if landed:
            paid = node.submit(paying(2, 3, 10**17, 3, 1))
        lands_then_fails(node, monkeypatch, landed=landed)
        monkeypatch.setattr(node.wal, "records_after", down)
        with pytest.raises(OSError, match="during COMMIT"):
            node.seal()
        for _ in range(2):  # still in doubt: nothing sealed on an unknown log
            with pytest.raises(OSError, match="unreachable"):
                node.seal()
        assert node.outcomes[paid].status == "pending"
        monkeypatch.undo()
        number = node.seal()  # the log is back: settled, then sealed (again) if needed
        assert number == (2 if landed else 1)
        assert node.outcomes[paid].batch == number
        assert not node.sequencer.ledger.recording
    assert sealed_numbers(node) == [0, 1, 2]
    assert ledger_view(world.node()) == ledger_view(node)


# -- 3. conservation over random operations ------------------------------------------------


def _nonce(node: ZkNode, who: int) -> int:
    account = node.sequencer.pending_state.account(who)  # type: ignore[union-attr]
    return account.nonce if account is not None else 0


def _amount(rng: random.Random) -> int:
    """A float40-representable amount, from 1 wei to about 0.7 ETH (some refused)."""
    return int(rng.randrange(1, 70_000) * 10 ** rng.randrange(0, 14))


def _random_op(world: World, node: ZkNode, rng: random.Random) -> SignedTx | None:
    accounts = [i for i in range(1, 6) if node.sequencer.pending_state.account(i) is not None]  # type: ignore[union-attr]
    kind = rng.choice(["transfer", "transfer", "withdrawal", "open", "open", "close",
                       "deposit", "tick", "seal", "seal"])  # fmt: skip
    who, to = rng.choice(accounts), rng.choice(accounts)
    if kind == "transfer":
        return paying(who, to, _amount(rng), rng.choice([0, 1, 255, rng.randrange(256)]),
                      _nonce(node, who))  # fmt: skip
    if kind == "withdrawal":
        return withdrawal(who, rng.randrange(1, 3 * 10**17), _nonce(node, who))
    if kind == "open":
        expiry = world.clock.now + rng.choice([1, 20, 90, 3600])
        return open_tx(who, to, _amount(rng), expiry, _nonce(node, who))
    if kind == "close":
        channels = node.sequencer.pending_state.channels()  # type: ignore[union-attr]
        if not channels:
            return None
        slot, channel = rng.choice(channels)
        amount = rng.choice([0, channel.deposit, rng.randrange(channel.deposit + 1)])
        return close_tx(slot, channel.renter, channel.open_nonce, channel.provider, amount)
    if kind == "deposit":
        queue(world, deposit_slot(rng.choice([1, 2, 3, 4]), rng.randrange(1, 10**18)))
    elif kind == "tick":
        world.clock.now += rng.choice([1, 15, 60])
    else:
        seal_and_compare(world, node)
    return None


@pytest.mark.parametrize("seed", range(4))
def test_random_operations_conserve_value_and_match_core_zk(
    world: World, node: ZkNode, seed: int
) -> None:
    rng = random.Random(seed)
    admitted = refused = 0
    for _ in range(45):
        signed = _random_op(world, node, rng)
        if signed is None:
            continue
        try:
            node.submit(signed)
            admitted += 1
        except ZkError:
            refused += 1
    for _ in range(60):
        if seal_and_compare(world, node) is None and not node.sequencer.pending:
            break
    assert not node.sequencer.pending, "admitted operations never sealed"
    world.clock.now += 4000  # every channel expires: the seals reclaim them all
    while seal_and_compare(world, node) is not None:
        pass
    assert node.sequencer.ledger.zk_channels == {}
    assert admitted > 5, (admitted, refused)
    dropped = [o for o in node.outcomes.values() if o.status == "dropped"]
    for outcome in dropped:  # only the clock may make an admitted operation fail
        assert outcome.reason in (
            "zk: channel already expired",
            "zk: wrong nonce",
            "zk: insufficient balance",
            "zk: unknown channel",
        ), outcome
    assert_restart_agrees(world, node)


# -- 4. the HTTP API -----------------------------------------------------------------------


def body(signed: SignedTx, **changes: Any) -> dict[str, Any]:
    tx = signed.tx
    assert signed.signature is not None
    signature = eddsa.pack_signature(signed.signature).hex()
    if isinstance(tx, TransferTx):
        fields = {"type": "transfer", "from_index": tx.from_index, "to_index": tx.to_index,
                  "amount": str(tx.amount), "fee_code": tx.fee_code, "nonce": tx.nonce}  # fmt: skip
    else:
        assert isinstance(tx, WithdrawalTx)
        fields = {"type": "withdrawal", "from_index": tx.from_index, "amount": str(tx.amount),
                  "nonce": tx.nonce}  # fmt: skip
    return fields | {"signature": signature} | changes


def test_replays_forgeries_and_edges_through_the_api(world: World, node: ZkNode) -> None:
    api = TestClient(create_zk_app(node))
    accepted: list[int] = []

    def post(payload: dict[str, Any], reason: str | None = None) -> None:
        answer = api.post("/zk/transactions", json=payload)
        if reason is None:
            assert answer.status_code == 200, answer.json()
            accepted.append(answer.json()["position"])
        else:
            assert answer.status_code == 400, (payload, answer.json())
            assert answer.json()["error"] == reason, answer.json()
            assert answer.json()["fix"]

    first = paying(2, 3, MAX_MANTISSA, 255, 0)  # the float40 mantissa's top, the top fee
    post(body(first))
    post(body(first), "zk: wrong nonce")  # replayed while pending
    post(body(first, from_index=3), "zk: bad signature")  # 2's signature, sent as 3's
    post(body(first, to_index=1, nonce=1), "zk: bad signature")  # another receiver
    post(body(first, fee_code=0, nonce=1), "zk: bad signature")  # a fee lowered
    drain = withdrawal(2, 10**16, 1)
    post(body(drain, type="transfer", to_index=3, fee_code=0), "zk: bad signature")  # tag
    post(body(paying(2, 3, 1, 0, 1), fee_code=256), "zk: fee code out of range")
    post(body(paying(2, 3, 1, 0, 1), amount=str(2**35)), "zk: amount not representable")
    post(body(paying(2, 3, 1, 0, 1), amount=str(10**50)), "zk: amount not representable")
    post(body(paying(2, 3, 1, 0, 1), amount=str(2**256 - 1)), "zk: amount not representable")
    post(body(paying(2, 3, 1, 0, 1), amount="0"), "zk: zero amount")
    post(body(paying(2, 3, MAX_MANTISSA * 10**31, 0, 1)), "zk: insufficient balance")
    post(body(paying(2, 3, 1, 0, 1), nonce=2**32), "zk: nonce out of range")
    post(body(paying(2, 3, 1, 0, 2)), "zk: wrong nonce")  # a nonce ahead
    post(body(paying(2, BASE, 1, 0, 1)), "zk: unknown recipient")  # a channel slot
    post(body(paying(2, 3, 1, 0, 1), to_index=2**DEPTH), "zk: index out of range")
    post(body(paying(2, 3, 1, 0, 1), from_index=0), "zk: index 0 is not an account")
    post(body(paying(2, 9, 1, 0, 1)), "zk: unknown recipient")  # an empty account leaf
    # 3's whole balance with the receipt above has no float40 form: refused at admission.
    everything = ETH + MAX_MANTISSA - 255 * FEE_UNIT
    post(body(paying(3, 2, 1, 255, 0), amount=str(everything)), "zk: amount not representable")
    post(body(paying(3, 2, ETH - 255 * FEE_UNIT, 255, 0)))  # float40: 999745 * 10^12
    post(body(withdrawal(3, MAX_MANTISSA + 1, 1)), "zk: insufficient balance")
    post(body(withdrawal(3, MAX_MANTISSA, 1)))  # what is left: 3 is empty after it
    post(body(paying(3, 2, 1, 0, 2)), "zk: insufficient balance")
    post(body(withdrawal(2, 10**16, 1), amount=str(2**128)), "zk: amount out of range")
    assert seal_and_compare(world, node) == 1
    assert [node.outcomes[p].batch for p in accepted] == [1] * len(accepted), node.outcomes
    assert node.sequencer.state.account(3).balance == 0  # type: ignore[union-attr]
    assert node.sequencer.ledger.account(0).balance == ETH + 2 * 255 * FEE_UNIT  # type: ignore[union-attr]
    post(body(first), "zk: wrong nonce")  # replayed after its batch
    answer = api.get("/zk/accounts/3")
    assert answer.json()["balance"] == "0"
    assert_restart_agrees(world, node)


def test_a_fee_the_fee_account_cannot_hold_does_not_halt_the_node(
    world: World, node: ZkNode
) -> None:
    """A fee account at the top of the balance range (L1 queues deposits of up to
    2^128 - 1 wei each) cannot take the batch's fees (``stf.credit_held_fees``: ``l2:
    balance overflow``). The plan's simulation credits the fees last and drops the
    last fee-paying transfer instead; it used to check operations only, so every seal
    raised and nothing sealed again. (Needs 2^128 wei: a test chain's.)"""
    queue(world, deposit_slot(1, MAX_BALANCE - ETH))  # the fee account, full
    assert seal_and_compare(world, node) == 1
    greedy = node.submit(paying(2, 3, 10**16, 1, 0))
    other = node.submit(transfer(3, 2, 10**16, 0))
    try:
        seal_and_compare(world, node)
    except ZkError as exc:
        assert not node.sequencer.ledger.recording
        pytest.fail(
            "an admitted transfer whose fee the fee account cannot hold makes every "
            f"seal raise ({exc.reason}); it is never dropped, so the node seals nothing "
            "again: ZkSequencer.plan (_first_failure) does not simulate the batch-end fee "
            "credit, and a ZkError from self.apply is not turned into a drop"
        )
    assert node.outcomes[other].status == "included"
    assert node.outcomes[greedy].status in ("dropped", "pending")


def test_a_deposit_core_zk_skips_for_overflow_is_refused_by_core_l2() -> None:
    """``apply_zk_batch`` must equal ``apply_batch``. A deposit that would take an
    account to 2^128 wei or more is one L1 queues (ZkRollup.vy bounds each deposit's
    msg.value, not the account's total) and core/zk proves skipped
    (SKIPPED_OVERFLOW); core/l2 under the zk scheme skips it too. It used to refuse
    the whole batch (``l2: balance overflow``), so the node never sealed again.
    (Needs 2^128 wei: a test chain's.)"""
    seq = ZkSequencer.empty(SHAPE, 1, DEPTH)
    first = [deposit_slot(who, ETH) for who in (1, 2, 3)]
    apply_zk_batch(seq.ledger, SHAPE, 1, first, [], [], [], timestamp=T0)
    before = seq.state
    overflow = [deposit_slot(2, MAX_BALANCE)]
    expected = apply_batch(before, SHAPE, 1, overflow, [], [], [], timestamp=T0)
    assert expected.new_state.root() == before.root()  # core/zk: skipped
    try:
        got = apply_zk_batch(seq.ledger, SHAPE, 1, overflow, [], [], [], timestamp=T0)
    except ZkError as exc:
        pytest.fail(
            "core/l2's apply_zk_batch refuses a deposit L1 can queue that core/zk's "
            f"apply_batch applies as skipped ({exc.reason}): they are not equal, and a node "
            "whose queue holds it never seals again"
        )
    assert got.pubdata == expected.pubdata


def test_concurrent_api_submissions_during_seals_keep_the_ledger_whole(
    world: World, node: ZkNode
) -> None:
    """Seals and admissions from several threads: the ledger is never seen staged by
    an admission, and what is admitted seals."""
    from concurrent.futures import ThreadPoolExecutor

    def sender(who: int) -> list[int]:
        positions = []
        for nonce in range(4):
            positions.append(node.submit(paying(who, 1 + who % 3, 10**15, 2, nonce)))
            node.seal()
        return positions

    with ThreadPoolExecutor(max_workers=3) as pool:
        done = [p for ps in pool.map(sender, (1, 2, 3)) for p in ps]
    while node.sequencer.pending:
        assert seal_and_compare(world, node) is not None
    assert all(node.outcomes[p].status == "included" for p in done)
    assert_tree_is_ledger(node)
    assert_conserved(world, node)
    assert_restart_agrees(world, node)


# -- 5. restart equivalence ----------------------------------------------------------------


def test_a_restart_rebuilds_the_same_ledger(
    world: World, node: ZkNode, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a = node.channel_of(node.submit(open_tx(2, 3, 2 * 10**17, T0 + 100, 0)))
    b = node.channel_of(node.submit(open_tx(3, 1, 10**17, T0 + 3600, 0)))
    node.submit(paying(1, 2, 5 * 10**16, 17, 0))
    node.submit(withdrawal(1, 10**16, 1))
    assert seal_and_compare(world, node) == 1
    node.submit(close_tx(b, 3, 0, 1, 3 * 10**16))
    queue(world, deposit_slot(4, 2 * ETH))
    node.submit(paying(2, 1, 10**15, 255, 1))
    # A failed write, then a refused hostile deposit, between the seals.
    monkeypatch.setattr(node.wal, "append_many", _raiser)
    with pytest.raises(Boom):
        node.seal()
    monkeypatch.undo()
    queue(world, HOSTILE["off-curve key"][0])
    world.clock.now = T0 + 100  # a expires
    with pytest.raises(ZkError, match="skipped by the ledger"):
        node.seal()  # the batch takes the good deposit and the bad one: refused
    world.rollup.queue.pop()
    assert seal_and_compare(world, node) == 2
    assert node.batches[2].reclaims == (a,)
    node.submit(withdrawal(4, ETH, 0))
    node.submit(open_tx(4, 2, 10**17, T0 + 3600, 1))
    assert seal_and_compare(world, node) == 3
    node.submit(paying(4, 3, 10**16, 3, 2))  # pending at the restart
    view = ledger_view(node)
    assert view["exits"]
    assert view["zk_channels"]
    assert view["held_fees"] == 0
    again = assert_restart_agrees(world, node)
    assert seal_and_compare(world, again) == 4
    assert seal_and_compare(world, node) == 4
    assert ledger_view(again) == ledger_view(node)
    assert again.batches[4].result.pubdata == node.batches[4].result.pubdata
