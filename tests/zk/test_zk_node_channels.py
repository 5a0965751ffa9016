"""Lease channels in the zk node, at the sequencer and API level: opens get distinct
slots, closes pay and refund, bad closes are refused with the spec's reason, expired
channels are reclaimed by the node at an injected clock, the log replays to the same
state, and a channel is followed by its name from pending to open to closed.

No circuit and no chain: the node runs over an in-memory rollup and a prover that
returns a placeholder, so batches are sealed, "proven" and "posted" at once. (The
end-to-end runs with real proofs are test_zk_node.py's and test_zk_node_api.py's.)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.zk.channel import (
    CloseChannelTx,
    OpenChannelTx,
    sign_close,
    sign_open,
    sign_voucher,
)
from l2gpu.core.zk.pubdata import (
    CLOSE_BYTES,
    FORCED_EXIT_BYTES,
    OPEN_BYTES,
    RECLAIM_BYTES,
    BatchShape,
    DepositSlot,
)
from l2gpu.core.zk.state import ZkError, ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer
from l2gpu.core.zk.withdrawal import WithdrawalTx, sign_withdrawal
from l2gpu.db import open_database
from l2gpu.l1.contracts.zk_rollup import QueuedDeposit, QueuedForcedExit
from l2gpu.node.zk import records
from l2gpu.node.zk.api import create_zk_app
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.records import SignedTx
from l2gpu.node.zk.recovery import open_node
from l2gpu.node.zk.sequencer import ZkSequencer

ETH = 10**18
DEPTH = 8
BASE = 2 ** (DEPTH - 1)  # the first channel slot
SHAPE = BatchShape(deposits=3, transfers=2, withdrawals=1, opens=2, closes=1, reclaims=1)
SECRETS = {i: bytes([i]) * 32 for i in (1, 2, 3, 4)}
T0 = 1_800_000_000
CIRCUIT = "ab" * 32


def deposit_slot(who: int, amount: int) -> DepositSlot:
    key = eddsa.public_key(SECRETS[who])
    return DepositSlot(who, key.x, key.y, bytes([who]) * 20, amount)


def transfer(who: int, to: int, amount: int, nonce: int) -> SignedTx:
    tx = TransferTx(who, to, amount, 0, nonce)
    return SignedTx(tx, sign_transfer(SECRETS[who], tx))


def withdrawal(who: int, amount: int, nonce: int) -> SignedTx:
    tx = WithdrawalTx(who, amount, nonce)
    return SignedTx(tx, sign_withdrawal(SECRETS[who], tx))


def open_tx(renter: int, provider: int, deposit: int, expiry: int, nonce: int) -> SignedTx:
    """An open as a renter sends it (the node gives the slot)."""
    tx = OpenChannelTx(0, renter, provider, deposit, expiry, nonce)
    return SignedTx(tx, sign_open(SECRETS[renter], tx))


def close_tx(
    index: int, renter: int, open_nonce: int, provider: int, amount: int, **forge: Any
) -> SignedTx:
    voucher = sign_voucher(SECRETS[forge.get("voucher_by", renter)], renter, open_nonce,
                           forge.get("voucher_amount", amount))  # fmt: skip
    close = sign_close(SECRETS[forge.get("close_by", provider)], renter, open_nonce, amount)
    return SignedTx(CloseChannelTx(index, amount, voucher, close))


def open_body(signed: SignedTx, **changes: Any) -> dict[str, Any]:
    tx = signed.tx
    assert isinstance(tx, OpenChannelTx)
    assert signed.signature is not None
    return {"renter": tx.renter, "provider": tx.provider, "deposit": str(tx.deposit),
            "expiry": tx.expiry, "nonce": tx.nonce,
            "signature": eddsa.pack_signature(signed.signature).hex()} | changes  # fmt: skip


def close_body(signed: SignedTx, **changes: Any) -> dict[str, Any]:
    tx = signed.tx
    assert isinstance(tx, CloseChannelTx)
    packed = eddsa.pack_signature(tx.provider_signature).hex()
    return {"amount": str(tx.amount), "voucher": eddsa.pack_signature(tx.voucher).hex(),
            "provider_signature": packed} | changes  # fmt: skip


@dataclass
class Clock:
    """L1's clock as the node reads it, moved by the test."""

    now: int = T0

    def __call__(self) -> int:
        return self.now


@dataclass
class FakeRollup:
    """What the node asks of its ZkRollupClient, in memory: a deposit queue, the
    accepted batches, and every submit_batch call's keywords."""

    clock: Clock
    queue: list[QueuedDeposit] = field(default_factory=list)
    exits: list[QueuedForcedExit] = field(default_factory=list)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    root: int = ZkState.empty(DEPTH).root()

    def __post_init__(self) -> None:
        self.address = SimpleNamespace(checksum="0x" + "00" * 20)
        self.chain = SimpleNamespace(chain_id=31337, timestamp=self.clock)

    def deposit(self, who: int, amount: int) -> None:
        self.queue.append(QueuedDeposit(len(self.queue), deposit_slot(who, amount)))

    def queued_deposits(self) -> list[QueuedDeposit]:
        return list(self.queue)

    def queued_forced_exits(self) -> list[QueuedForcedExit]:
        return list(self.exits)

    def queues(self) -> tuple[list[QueuedDeposit], list[QueuedForcedExit]]:
        return list(self.queue), list(self.exits)

    def shape(self) -> BatchShape:
        return SHAPE

    def depth(self) -> int:
        return DEPTH

    def validium(self) -> bool:
        return False

    def circuit_hash(self) -> bytes:
        return bytes.fromhex(CIRCUIT)

    def batch_count(self) -> int:
        return len(self.submitted)

    def state_root(self) -> int:
        return self.root

    def submit_batch(self, **kwargs: Any) -> Any:
        assert kwargs["timestamp"] <= self.clock.now  # L1's block is not before the batch
        self.submitted.append(kwargs)
        self.root = kwargs["new_root"]
        return SimpleNamespace(tx_hash=f"0x{len(self.submitted):064x}")


class PlaceholderProof:
    def calldata(self) -> Any:
        return (0, 0), ((0, 0), (0, 0)), (0, 0), []


@dataclass
class World:
    tmp: Path
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.rollup = FakeRollup(self.clock)
        self.database = self.tmp / "zk.db"

    def node(self) -> ZkNode:
        """A node on the world's database (a new one is a restart)."""
        circuit = SimpleNamespace(name="fake", key=CIRCUIT)
        keys = SimpleNamespace(circuit_name="fake", circuit_key=CIRCUIT, origin="development",
                               label="none: a placeholder prover")  # fmt: skip
        return open_node(
            self.rollup, open_database(f"sqlite:///{self.database}"),  # type: ignore[arg-type]
            SimpleNamespace(address="0x" + "11" * 20), circuit, keys,  # type: ignore[arg-type]
            fee_account=1, prover=lambda _inputs: PlaceholderProof(),  # type: ignore[arg-type, return-value]
            clock=self.clock,
        )  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = World(tmp_path)
    for who in (1, 2, 3):
        world.rollup.deposit(who, ETH)
    return world


@pytest.fixture
def node(world: World) -> ZkNode:
    """A node whose accounts 1, 2 and 3 hold 1 ETH each in the sealed state."""
    node = world.node()
    assert node.seal() == 0
    return node


def balance(node: ZkNode, index: int) -> int:
    account = node.sequencer.state.account(index)
    assert account is not None
    return account.balance


def test_concurrent_opens_get_distinct_slots(node: ZkNode) -> None:
    opens = [open_tx(2, 3, 10**17, T0 + 3600, 0), open_tx(3, 2, 10**17, T0 + 3600, 0),
             open_tx(1, 2, 10**17, T0 + 3600, 0), open_tx(2, 1, 10**16, T0 + 60, 1)]  # fmt: skip
    # Renter 2's two opens go in nonce order; the others race it.
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = list(pool.map(node.submit, opens[:3]))
    positions = [*first, node.submit(opens[3])]
    slots = [node.channel_of(p) for p in positions]
    assert sorted(slots) == [BASE, BASE + 1, BASE + 2, BASE + 3]
    # Two open slots a batch: two batches, the same slots in the state.
    assert node.seal() == 1
    assert node.seal() == 2
    for position, slot in zip(positions, slots, strict=True):
        assert node.outcomes[position].status == "included"
        assert node.sequencer.state.channel(slot) is not None
    assert balance(node, 2) == ETH - 10**17 - 10**16


def test_a_close_pays_the_provider_and_refunds_the_renter(node: ZkNode) -> None:
    opened = node.submit(open_tx(2, 3, 4 * 10**17, T0 + 3600, 0))
    slot = node.channel_of(opened)
    # The close may follow its open in the same batch: closes come after opens.
    closed = node.submit(close_tx(slot, 2, 0, 3, 10**17))
    assert node.seal() == 1
    assert node.outcomes[closed].batch == 1
    assert balance(node, 3) == ETH + 10**17
    assert balance(node, 2) == ETH - 10**17
    assert node.sequencer.state.leaf(slot) == 0
    assert node.sequencer.state.account(2).nonce == 1  # type: ignore[union-attr]


def test_bad_closes_are_refused_with_the_spec_reason(node: ZkNode) -> None:
    api = TestClient(create_zk_app(node))
    answer = api.post("/zk/channels", json=open_body(open_tx(2, 3, 10**17, T0 + 3600, 0)))
    assert answer.status_code == 200, answer.json()
    slot = answer.json()["channel_index"]
    assert slot == BASE
    for forged, reason in (
        (close_tx(slot, 2, 0, 3, 10**16, voucher_by=3), "zk: bad voucher signature"),
        (close_tx(slot, 2, 0, 3, 10**16, voucher_amount=10**15), "zk: bad voucher signature"),
        (close_tx(slot, 2, 0, 3, 10**16, close_by=2), "zk: bad close signature"),
        (close_tx(slot, 2, 0, 3, 10**17 + 1), "zk: amount above the deposit"),
        (close_tx(slot + 1, 2, 0, 3, 10**16), "zk: unknown channel"),
        (close_tx(3, 2, 0, 3, 10**16), "zk: not a channel index"),
    ):
        refused = api.post(f"/zk/channels/{forged.tx.channel_index}/close",  # type: ignore[union-attr]
                           json=close_body(forged))  # fmt: skip
        assert refused.status_code == 400, refused.json()
        assert refused.json()["error"] == reason
        assert refused.json()["fix"]
    good = close_tx(slot, 2, 0, 3, 10**17)
    assert api.post(f"/zk/channels/{slot}/close", json=close_body(good)).status_code == 200
    assert node.status()["pending"] == 2


def test_a_replayed_close_is_refused(node: ZkNode) -> None:
    slot = node.channel_of(node.submit(open_tx(2, 3, 10**17, T0 + 3600, 0)))
    node.seal()
    close = close_tx(slot, 2, 0, 3, 5 * 10**16)
    node.submit(close)
    with pytest.raises(ZkError, match="zk: unknown channel"):
        node.submit(close)  # against the pending state: the slot is empty
    node.seal()
    with pytest.raises(ZkError, match="zk: unknown channel"):
        node.submit(close)
    # The slot reused by another channel: the old close's signatures name the old one.
    reopened = node.submit(open_tx(2, 3, 10**17, T0 + 3600, 1))
    assert node.channel_of(reopened) == slot
    with pytest.raises(ZkError, match="zk: bad voucher signature"):
        node.submit(close)


def test_an_expired_channel_is_reclaimed_by_the_node(world: World, node: ZkNode) -> None:
    slot = node.channel_of(node.submit(open_tx(2, 3, 3 * 10**17, T0 + 100, 0)))
    node.seal()
    world.clock.now = T0 + 99
    assert node.seal() is None  # not expired: nothing to seal
    world.clock.now = T0 + 100
    assert node.seal() == 2
    assert node.batches[2].reclaims == (slot,)
    assert node.batches[2].timestamp == T0 + 100
    assert node.sequencer.state.leaf(slot) == 0
    assert balance(node, 2) == ETH
    assert balance(node, 3) == ETH
    assert node.seal() is None  # reclaimed once
    # The open itself is checked against the clock: an expiry not after it is refused.
    with pytest.raises(ZkError, match="zk: channel already expired"):
        node.submit(open_tx(2, 3, 10**17, T0 + 100, 1))


def test_a_pending_close_goes_before_the_reclaim(world: World, node: ZkNode) -> None:
    slot = node.channel_of(node.submit(open_tx(2, 3, 3 * 10**17, T0 + 100, 0)))
    node.seal()
    closed = node.submit(close_tx(slot, 2, 0, 3, 10**17))
    world.clock.now = T0 + 500
    assert node.seal() == 2
    assert node.outcomes[closed].batch == 2
    assert node.batches[2].reclaims == ()
    assert balance(node, 3) == ETH + 10**17


def test_an_open_that_expires_before_its_seal_is_dropped(world: World, node: ZkNode) -> None:
    late = node.submit(open_tx(2, 3, 10**17, T0 + 10, 0))
    after = node.submit(transfer(2, 1, 10**16, 1))  # relies on the open's nonce
    world.clock.now = T0 + 10
    assert node.seal() is None
    assert (node.outcomes[late].status, node.outcomes[late].reason) == (
        "dropped", "zk: channel already expired")  # fmt: skip
    assert node.outcomes[after].reason == "zk: wrong nonce"
    assert node.channel(2, 0)["status"] == "dropped"  # type: ignore[index]
    restarted = world.node()  # the drops were logged
    assert restarted.outcomes[late] == node.outcomes[late]
    assert restarted.outcomes[after] == node.outcomes[after]
    assert restarted.sequencer.pending == []
    assert restarted.channel_at(BASE) is None


def test_a_transfer_of_a_close_refund_waits_for_the_next_batch(node: ZkNode) -> None:
    slot = node.channel_of(node.submit(open_tx(2, 3, ETH, T0 + 3600, 0)))
    node.seal()
    assert balance(node, 2) == 0
    # The close refunds 0.9 ETH to 2, which 2 sends on at once; closes come after
    # transfers in a batch, so the transfer waits one batch instead of failing.
    close = node.submit(close_tx(slot, 2, 0, 3, 10**17))
    spend = node.submit(transfer(2, 1, 5 * 10**17, 1))
    # And what relies on the waiting one waits too (1 spends what 2 sends it).
    onward = node.submit(transfer(1, 3, 14 * 10**17, 0))
    other = node.submit(transfer(3, 1, 10**17, 0))  # 3's leaf: the close (later section) took it
    assert node.seal() == 2
    assert node.outcomes[close].batch == 2
    for waiting in (spend, onward, other):
        assert node.outcomes[waiting].status == "pending"
    assert node.seal() == 3
    assert [node.outcomes[p].batch for p in (spend, onward)] == [3, 3]
    assert node.outcomes[other].status == "pending"  # no transfer slot left in batch 3
    assert node.seal() == 4
    assert node.outcomes[other].batch == 4
    assert balance(node, 1) == ETH + 5 * 10**17 - 14 * 10**17 + 10**17


def test_a_withdrawal_then_transfers_that_rely_on_each_other_wait() -> None:
    # A batch applies transfers before withdrawals: 3's transfer after its withdrawal
    # waits, and so does 2's spending of what that transfer gives it (it used to be
    # dropped for the balance it did not have yet).
    seq = ZkSequencer.empty(SHAPE, 1, DEPTH)
    plan = seq.plan([deposit_slot(who, ETH) for who in (1, 2, 3)], T0)
    assert plan is not None
    seq.commit(plan)
    for position, signed in enumerate((withdrawal(3, 10**17, 0), transfer(3, 2, 9 * 10**17, 1),
                                       transfer(2, 1, 15 * 10**17, 0))):  # fmt: skip
        seq.add(position, signed, seq.check(signed, T0))
    first = seq.plan([], T0)
    assert first is not None
    assert (first.positions, first.dropped) == ((0,), ())
    seq.commit(first)
    second = seq.plan([], T0)
    assert second is not None
    assert (second.positions, second.dropped) == ((1, 2), ())


def test_the_batch_timestamp_never_goes_back_and_reaches_l1(world: World, node: ZkNode) -> None:
    node.submit(open_tx(2, 3, 10**17, T0 + 3600, 0))
    world.clock.now = T0 + 50
    assert node.seal() == 1
    world.clock.now = T0 + 20  # an L1 reorg, or another provider's clock
    node.submit(transfer(3, 1, 10**16, 0))
    assert node.seal() == 2
    assert [b.timestamp for b in node.batches] == [T0, T0 + 50, T0 + 50]
    world.clock.now = T0 + 60
    assert node.prove_and_post() == 3
    call = world.rollup.submitted[1]
    assert call["timestamp"] == T0 + 50
    sizes = (SHAPE.opens * OPEN_BYTES, SHAPE.closes * CLOSE_BYTES,
             SHAPE.reclaims * RECLAIM_BYTES, SHAPE.forced_exits * FORCED_EXIT_BYTES)  # fmt: skip
    assert tuple(len(part) for part in call["sections"][3:]) == sizes
    assert call["sections"][3][:3] == BASE.to_bytes(3, "big")
    assert len(call["sections"]) == 7
    assert call["exit_count"] == 0
    assert world.rollup.root == node.sequencer.state.root()


def test_a_channel_is_followed_by_its_name(world: World, node: ZkNode) -> None:
    api = TestClient(create_zk_app(node))

    def named(renter: int, nonce: int) -> dict[str, Any]:
        answer = api.get("/zk/channels", params={"renter": renter, "open_nonce": nonce})
        assert answer.status_code == 200, answer.json()
        return dict(answer.json())

    assert api.get("/zk/channels", params={"renter": 2, "open_nonce": 0}).status_code == 404
    assert api.get(f"/zk/channels/{BASE}").status_code == 404
    answer = api.post("/zk/channels", json=open_body(open_tx(2, 3, 10**17, T0 + 3600, 0)))
    assert answer.json()["channel_index"] == BASE
    assert named(2, 0) == {"index": BASE, "renter": 2, "open_nonce": 0, "provider": 3,
                           "deposit": str(10**17), "expiry": T0 + 3600,
                           "status": "pending"}  # fmt: skip
    node.seal()
    assert named(2, 0)["status"] == "pending"  # sealed, not proven
    assert node.prove_and_post() == 2
    assert named(2, 0)["status"] == "open"
    assert api.get(f"/zk/channels/{BASE}").json()["status"] == "open"
    close = close_tx(BASE, 2, 0, 3, 10**16)
    assert api.post(f"/zk/channels/{BASE}/close", json=close_body(close)).status_code == 200
    assert named(2, 0)["status"] == "open"  # the close is pending
    node.seal()
    assert named(2, 0)["status"] == "closed"
    # The slot reused: the index names the new channel, the old name stays closed.
    answer = api.post("/zk/channels", json=open_body(open_tx(2, 3, 10**17, T0 + 3600, 1)))
    assert answer.json()["channel_index"] == BASE
    assert api.get(f"/zk/channels/{BASE}").json()["open_nonce"] == 1
    node.seal()
    assert named(2, 0)["status"] == "closed"
    assert named(2, 1)["status"] == "pending"


def test_the_client_opens_closes_and_follows_a_channel(node: ZkNode) -> None:
    from l2gpu.node.zk.client import ZkNodeClient

    client = ZkNodeClient("http://zk")
    client.http = TestClient(create_zk_app(node))  # type: ignore[assignment]
    position, slot = client.open_channel(SECRETS[2], 2, 3, 10**17, T0 + 3600, 0)
    assert (node.channel_of(position), slot) == (BASE, BASE)
    assert client.channel(slot)["status"] == "pending"  # type: ignore[index]
    assert client.channel_by_name(2, 0)["index"] == BASE  # type: ignore[index]
    assert client.channel_by_name(2, 5) is None
    assert client.channel(BASE + 1) is None
    closed = client.close_channel(slot, 10**16, sign_voucher(SECRETS[2], 2, 0, 10**16),
                                  sign_close(SECRETS[3], 2, 0, 10**16))  # fmt: skip
    assert closed == position + 1
    node.seal()
    assert client.channel_by_name(2, 0)["status"] == "closed"  # type: ignore[index]


def test_bad_channel_bodies_get_a_422(node: ZkNode) -> None:
    api = TestClient(create_zk_app(node))
    good = open_body(open_tx(2, 3, 10**17, T0 + 3600, 0))
    for bad, word in (
        (good | {"deposit": 1.5}, "deposit"), (good | {"expiry": -1}, "expiry"),
        (good | {"renter": "x"}, "renter"), (good | {"signature": "00"}, "signature"),
        (good | {"channel_index": BASE}, "channel_index"),
        ({k: v for k, v in good.items() if k != "provider"}, "provider"),
    ):  # fmt: skip
        answer = api.post("/zk/channels", json=bad)
        assert answer.status_code == 422, answer.json()
        assert word in answer.json()["error"]
    close = close_body(close_tx(BASE, 2, 0, 3, 1))
    for bad, word in ((close | {"amount": "-1"}, "amount"), (close | {"voucher": "zz"}, "voucher"),
                      ({"amount": "1"}, "voucher")):  # fmt: skip
        answer = api.post(f"/zk/channels/{BASE}/close", json=bad)
        assert answer.status_code == 422, answer.json()
        assert word in answer.json()["error"]
    assert api.post("/zk/channels/-1/close", json=close).status_code == 422
    assert api.post("/zk/channels", json=good | {"signature": "ff" * 64}).status_code == 400
    assert api.get("/zk/channels", params={"renter": 2}).status_code == 422
    assert api.post("/zk/channels", content=b"x" * 5000).status_code == 413
    assert node.status()["pending"] == 0


def test_a_restart_replays_channels_to_the_same_state(world: World, node: ZkNode) -> None:
    a = node.channel_of(node.submit(open_tx(2, 3, 2 * 10**17, T0 + 100, 0)))
    b = node.channel_of(node.submit(open_tx(3, 2, 10**17, T0 + 3600, 0)))
    node.seal()
    node.prove_and_post()
    node.submit(close_tx(b, 3, 0, 2, 4 * 10**16))
    world.clock.now = T0 + 100  # a expires: the next batch reclaims it
    node.seal()
    pending_open = node.submit(open_tx(2, 3, 10**17, T0 + 3600, 1))
    pending_close = node.submit(close_tx(node.channel_of(pending_open), 2, 1, 3, 10**16))
    views = {name: node.channel(*name) for name in ((2, 0), (3, 0), (2, 1))}
    root, pending_root = node.sequencer.state.root(), node.sequencer.pending_state.root()  # type: ignore[union-attr]
    assert node.batches[2].reclaims == (a,)
    # kill -9: the log is all that is left.
    del node
    again = world.node()
    assert again.sequencer.state.root() == root
    assert again.sequencer.pending_state.root() == pending_root  # type: ignore[union-attr]
    assert [p.position for p in again.sequencer.pending] == [pending_open, pending_close]
    assert again.batches[2].reclaims == (a,)
    assert again.sequencer.timestamp == T0 + 100
    assert {name: again.channel(*name) for name in views} == views
    assert again.channel_of(pending_open) == a  # the reclaimed slot, reused
    assert again.seal() == 3
    assert again.channel(2, 1)["status"] == "closed"  # type: ignore[index]
    assert again.prove_and_post() == 2
    assert world.rollup.root == again.sequencer.state.root()


def test_a_batch_its_log_refused_is_not_sealed(
    world: World, node: ZkNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ledger (core/l2's L2State) applies a batch staged while the node logs it: a
    # write that fails stays in doubt until the next seal reads the log, finds nothing
    # and undoes it; the node then seals the same batch again and a restart agrees.
    paid = node.submit(transfer(2, 3, 10**17, 0))
    opened = node.submit(open_tx(3, 2, 10**17, T0 + 3600, 0))

    def full_disk(*_args: object) -> list[int]:
        raise OSError("disk full")

    monkeypatch.setattr(node.wal, "append_many", full_disk)
    with pytest.raises(OSError, match="disk full"):
        node.seal()
    assert node.outcomes[paid].status == "pending"
    monkeypatch.undo()
    assert node.seal() == 1
    assert not node.sequencer.ledger.recording
    assert [node.outcomes[p].batch for p in (paid, opened)] == [1, 1]
    assert balance(node, 3) == ETH + 10**17 - 10**17
    assert world.node().sequencer.state.root() == node.sequencer.state.root()


def test_a_damaged_open_record_is_reported(world: World, node: ZkNode) -> None:
    node.submit(open_tx(2, 3, 10**17, T0 + 3600, 0))
    del node
    engine = sqlalchemy.create_engine(f"sqlite:///{world.database}")
    with engine.begin() as connection:
        cut = "UPDATE rollup_log SET payload = substr(payload, 1, 20) WHERE kind = 'zk_tx'"
        connection.execute(sqlalchemy.text(cut))
    engine.dispose()
    with pytest.raises(records.DamagedRecord, match="does not decode"):
        world.node()


def test_open_and_close_records_round_trip() -> None:
    opened = open_tx(2, 3, 10**17, T0, 7)
    opened = SignedTx(OpenChannelTx(BASE + 5, 2, 3, 10**17, T0, 7), opened.signature)
    closed = close_tx(BASE + 5, 2, 7, 3, 10**16)
    for signed in (opened, closed):
        assert records.decode_tx(records.encode_tx(signed)) == signed
    sealed = records.SealedRecord(4, (1, 2), 1, b"\x01\x02", T0, (BASE, BASE + 3))
    assert records.decode_sealed(records.encode_sealed(sealed)) == sealed


NUMBER = st.integers(-1, 2**130) | st.from_regex(r"[0-9]{0,90}", fullmatch=True) | st.none()
SIGNATURE = st.from_regex(r"[0-9a-f]{126,130}", fullmatch=True)
OPENS = st.fixed_dictionaries(
    {"renter": NUMBER, "provider": NUMBER, "deposit": NUMBER, "expiry": NUMBER,
     "nonce": NUMBER, "signature": SIGNATURE},
    optional={"extra": st.integers()},
)  # fmt: skip
CLOSES = st.fixed_dictionaries(
    {"amount": NUMBER, "voucher": SIGNATURE, "provider_signature": SIGNATURE},
    optional={"channel_index": st.integers()},
)  # fmt: skip


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(opened=OPENS, closed=CLOSES, index=st.integers(-1, 2**33))
def test_hostile_channel_bodies_get_a_4xx_never_a_500(
    node: ZkNode, opened: dict[str, Any], closed: dict[str, Any], index: int
) -> None:
    api = TestClient(create_zk_app(node))
    for answer in (api.post("/zk/channels", json=opened),
                   api.post(f"/zk/channels/{index}/close", json=closed)):  # fmt: skip
        assert 400 <= answer.status_code < 500, answer.json()
        assert answer.json()["error"]
        assert answer.json()["fix"]


def test_an_accounts_channels_are_listed_with_what_they_lock(node: ZkNode) -> None:
    """``GET /zk/accounts/{index}/channels``, which ``l2gpu account show`` sums: every
    channel the account opened as renter, newest first; a closed one locks nothing."""
    from l2gpu.core.channel.locked import compute_locked, zk_holdings
    from l2gpu.node.zk.client import ZkNodeClient

    client = ZkNodeClient("http://zk")
    client.http = TestClient(create_zk_app(node))  # type: ignore[assignment]
    assert client.channels_of(2) == []
    _, first = client.open_channel(SECRETS[2], 2, 3, 10**17, T0 + 3600, 0)
    client.open_channel(SECRETS[2], 2, 3, 2 * 10**17, T0 + 3600, 1)
    node.seal()
    assert node.prove_and_post() >= 1
    client.close_channel(first, 10**16, sign_voucher(SECRETS[2], 2, 0, 10**16),
                         sign_close(SECRETS[3], 2, 0, 10**16))  # fmt: skip
    node.seal()
    listed = client.channels_of(2)
    assert [(c["open_nonce"], c["status"]) for c in listed] == [(1, "open"), (0, "closed")]
    assert client.channels_of(3) == []  # the provider opened none
    locked = compute_locked(zk_holdings(2, listed))
    assert (locked.total, locked.channels) == (2 * 10**17, 1)
