"""Attacks on the zk rollup's lease channels, each a test that fails if it works:
forged and replayed vouchers and closes, hostile bodies on the node's channel routes,
a silent provider, one account filling the channel slots and the mempool, and money
conservation over random sequences of the ledger's operations.

No circuit: the node is test_zk_node_channels's, over an in-memory rollup and a
placeholder prover; the conservation property runs ``core/zk``'s spec alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.zk.batch import apply_batch
from l2gpu.core.zk.channel import (
    CloseChannelTx,
    OpenChannelTx,
    ReclaimTx,
    sign_close,
    sign_open,
    sign_voucher,
)
from l2gpu.core.zk.deposit import apply_deposit
from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.core.zk.state import ZkError, ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer
from l2gpu.core.zk.withdrawal import WithdrawalTx, sign_withdrawal
from l2gpu.node.zk.api import create_zk_app
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.records import SignedTx
from l2gpu.node.zk.sequencer import ZkSequencer
from tests.zk.test_zk_node_channels import (
    BASE,
    ETH,
    SECRETS,
    T0,
    World,
    balance,
    close_body,
    close_tx,
    deposit_slot,
    open_body,
    open_tx,
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    """test_zk_node_channels's world: accounts 1, 2 and 3 deposit 1 ETH each."""
    world = World(tmp_path)
    for who in (1, 2, 3):
        world.rollup.deposit(who, ETH)
    return world


@pytest.fixture
def node(world: World) -> ZkNode:
    """A node whose first batch took the three deposits."""
    node = world.node()
    assert node.seal() == 0
    return node


def _close(index: int, amount: int, voucher: eddsa.Signature, close: eddsa.Signature) -> SignedTx:
    return SignedTx(CloseChannelTx(index, amount, voucher, close))


def _refused(node: ZkNode, signed: SignedTx, reason: str) -> None:
    """``signed`` is refused with ``reason`` and leaves the node as it was."""
    assert node.sequencer.pending_state is not None
    before = (node.sequencer.pending_state.root(), len(node.sequencer.pending), len(node.outcomes))
    with pytest.raises(ZkError) as refused:
        node.submit(signed)
    assert refused.value.reason == reason
    assert refused.value.fix
    after = (node.sequencer.pending_state.root(), len(node.sequencer.pending), len(node.outcomes))
    assert after == before


def test_a_voucher_pays_only_its_own_channel(node: ZkNode) -> None:
    a = node.channel_of(node.submit(open_tx(2, 3, 10**17, T0 + 3600, 0)))
    b = node.channel_of(node.submit(open_tx(2, 3, 10**17, T0 + 3600, 1)))
    node.seal()
    paid = 5 * 10**16
    voucher_a = sign_voucher(SECRETS[2], 2, 0, paid)
    # Channel A's voucher on channel B (same renter, same provider, another open nonce).
    _refused(
        node,
        _close(b, paid, voucher_a, sign_close(SECRETS[3], 2, 1, paid)),
        "zk: bad voucher signature",
    )
    # A voucher for the right amount and channel, signed by the provider's own key.
    by_provider = sign_voucher(SECRETS[3], 2, 0, paid)
    _refused(
        node,
        _close(a, paid, by_provider, sign_close(SECRETS[3], 2, 0, paid)),
        "zk: bad voucher signature",
    )
    # The renter's voucher passed off as the provider's close (the tags differ).
    _refused(node, _close(a, paid, voucher_a, voucher_a), "zk: bad close signature")
    # The provider's close of one amount with the renter's voucher of another.
    more = 10**17
    _refused(
        node,
        _close(a, more, sign_voucher(SECRETS[2], 2, 0, more), sign_close(SECRETS[3], 2, 0, paid)),
        "zk: bad close signature",
    )
    # An old, smaller voucher with a close signed for the larger amount.
    _refused(
        node,
        _close(a, paid, sign_voucher(SECRETS[2], 2, 0, 10**16), sign_close(SECRETS[3], 2, 0, paid)),
        "zk: bad voucher signature",
    )
    # Closed honestly, A's slot goes to another renter's channel (3, 0): A's signed
    # close, replayed there, names the old channel.
    honest = _close(a, paid, voucher_a, sign_close(SECRETS[3], 2, 0, paid))
    node.submit(honest)
    node.seal()
    assert node.channel_of(node.submit(open_tx(3, 1, 10**17, T0 + 3600, 0))) == a
    node.seal()
    _refused(node, honest, "zk: bad voucher signature")
    # Renter 2's voucher with a close by the new channel's provider, at the same slot.
    _refused(
        node,
        _close(a, paid, voucher_a, sign_close(SECRETS[1], 3, 0, paid)),
        "zk: bad voucher signature",
    )
    assert balance(node, 3) == ETH + paid - 10**17
    assert balance(node, 2) == ETH - paid - 10**17


def test_hostile_open_and_close_bodies_are_4xx_and_change_nothing(node: ZkNode) -> None:
    api = TestClient(create_zk_app(node))
    slot = api.post("/zk/channels", json=open_body(open_tx(2, 3, 10**17, T0 + 3600, 0)))
    assert slot.status_code == 200, slot.json()
    assert node.sequencer.pending_state is not None
    before = (node.sequencer.pending_state.root(), len(node.outcomes))

    def signed_open(**fields: Any) -> dict[str, Any]:
        terms = {
            "renter": 2,
            "provider": 3,
            "deposit": 10**16,
            "expiry": T0 + 3600,
            "nonce": 1,
        } | fields
        tx = OpenChannelTx(0, **terms)
        return open_body(SignedTx(tx, sign_open(SECRETS[2], replace_ranges(tx))))

    opens = [
        (signed_open(renter=BASE), 400, "zk: index out of range"),
        (signed_open(provider=BASE + 1), 400, "zk: index out of range"),
        (signed_open(provider=0), 400, "zk: index 0 is not an account"),
        (signed_open(renter=0), 400, "zk: index 0 is not an account"),
        (signed_open(renter=7), 400, "zk: unknown sender"),
        (signed_open(deposit=0), 400, "zk: zero amount"),
        (signed_open(deposit=ETH), 400, "zk: insufficient balance"),  # 10^17 is locked
        (signed_open(deposit=2**128), 400, "zk: amount out of range"),
        (signed_open(expiry=T0), 400, "zk: channel already expired"),
        (signed_open(expiry=T0 - 1), 400, "zk: channel already expired"),
        (signed_open(expiry=2**32), 400, "zk: expiry out of range"),
        (signed_open(nonce=2), 400, "zk: wrong nonce"),  # a gap
        (signed_open(nonce=0), 400, "zk: wrong nonce"),  # a replay
        (signed_open(nonce=2**32), 400, "zk: nonce out of range"),
        (signed_open() | {"deposit": str(2**255)}, 400, "zk: amount out of range"),
        (signed_open() | {"deposit": "1" * 81}, 422, "deposit"),
        (signed_open() | {"deposit": -1}, 422, "deposit"),
        (signed_open() | {"deposit": "-1"}, 422, "deposit"),
        (signed_open() | {"deposit": "1e18"}, 422, "deposit"),
        (signed_open() | {"expiry": 2**64}, 422, "expiry"),
        (signed_open() | {"renter": 2**32}, 422, "renter"),
        (signed_open() | {"nonce": True}, 422, "nonce"),
        (signed_open() | {"channel_index": BASE + 5}, 422, "channel_index"),
        (signed_open() | {"signature": "0x" + "ab" * 63}, 422, "signature"),
        (signed_open() | {"signature": "ab" * 65}, 422, "signature"),
        (signed_open() | {"deposit": str(10**16 + 1)}, 400, "zk: bad signature"),
    ]
    for body, status, word in opens:
        answer = api.post("/zk/channels", json=body)
        assert answer.status_code == status, (body, answer.json())
        assert word in answer.json()["error"], (word, answer.json())
        assert answer.json()["fix"]
    good = close_body(close_tx(BASE, 2, 0, 3, 10**16))
    closes = [
        (0, good, 400, "zk: not a channel index"),
        (3, good, 400, "zk: not a channel index"),  # an account's slot
        (BASE - 1, good, 400, "zk: not a channel index"),
        (2 * BASE, good, 400, "zk: not a channel index"),  # past the tree
        (BASE + 9, good, 400, "zk: unknown channel"),
        (BASE, good | {"amount": str(2**200)}, 400, "zk: amount above the deposit"),
        (BASE, good | {"amount": str(10**17 + 1)}, 400, "zk: amount above the deposit"),
        (BASE, good | {"amount": "2"}, 400, "zk: bad voucher signature"),
        (BASE, good | {"extra": 1}, 422, "extra"),
        (BASE, good | {"voucher": "00" * 64}, 400, "voucher"),
        (2**32, good, 422, "index"),
        (-1, good, 422, "index"),
    ]
    for index, body, status, word in closes:
        answer = api.post(f"/zk/channels/{index}/close", json=body)
        assert answer.status_code == status, (index, body, answer.json())
        assert word in answer.json()["error"], (word, answer.json())
        assert answer.json()["fix"]
    for path, status in (
        (f"/zk/accounts/{BASE}", 404),  # a channel's slot holds no account
        (f"/zk/accounts/{2**32}", 422),
        ("/zk/accounts?address=0x12", 422),
        (f"/zk/channels/{2**40}", 422),
        ("/zk/channels?renter=2&open_nonce=-1", 422),
        (f"/zk/channels?renter={2**40}&open_nonce=0", 422),
        ("/zk/channels?renter=2&open_nonce=9", 404),
        (f"/zk/transactions/{2**63}", 422),
    ):
        answer = api.get(path)
        assert answer.status_code == status, (path, answer.json())
        assert answer.json()["fix"]
    after = (node.sequencer.pending_state.root(), len(node.outcomes))
    assert after == before


def replace_ranges(tx: OpenChannelTx) -> OpenChannelTx:
    """``tx`` with its fields brought into the ranges a signature can cover (an open
    out of range is refused before its signature is looked at)."""
    return OpenChannelTx(
        0,
        tx.renter % 2**24,
        tx.provider % 2**24,
        tx.deposit % 2**128,
        tx.expiry % 2**32,
        tx.nonce % 2**32,
    )


def test_a_silent_providers_channel_returns_whole_and_cannot_be_closed_late(
    world: World, node: ZkNode
) -> None:
    api = TestClient(create_zk_app(node))
    slot = node.channel_of(node.submit(open_tx(2, 3, 3 * 10**17, T0 + 600, 0)))
    node.seal()
    node.prove_and_post()
    assert node.channel(2, 0)["status"] == "open"  # type: ignore[index]
    world.clock.now = T0 + 599
    assert node.seal() is None  # a second early: nothing to reclaim
    world.clock.now = T0 + 600
    assert node.seal() == 2
    assert node.batches[2].reclaims == (slot,)
    assert balance(node, 2) == ETH
    assert balance(node, 3) == ETH
    assert node.channel(2, 0)["status"] == "closed"  # type: ignore[index]
    # The provider wakes up with the renter's best voucher: too late.
    late = close_tx(slot, 2, 0, 3, 2 * 10**17)
    refused = api.post(f"/zk/channels/{slot}/close", json=close_body(late))
    assert refused.status_code == 400
    assert refused.json()["error"] == "zk: unknown channel"
    _refused(node, late, "zk: unknown channel")
    assert node.seal() is None
    assert balance(node, 3) == ETH


def test_one_account_cannot_queue_without_bound(node: ZkNode) -> None:
    api = TestClient(create_zk_app(node))
    node.sequencer.max_pending_per_account = 4
    for nonce in range(4):  # 1-wei channels: an open pays no fee
        node.submit(open_tx(2, 3, 1, T0 + 3600, nonce))
    refused = api.post("/zk/channels", json=open_body(open_tx(2, 3, 1, T0 + 3600, 4)))
    assert refused.status_code == 400
    assert refused.json()["error"] == "zk: too many pending"
    assert "next batch" in refused.json()["fix"]
    _refused(node, open_tx(2, 3, 1, T0 + 3600, 4), "zk: too many pending")
    # Others still get in, up to the mempool's bound.
    node.sequencer.max_pending = 5
    node.submit(open_tx(3, 2, 1, T0 + 3600, 0))
    _refused(node, open_tx(1, 2, 1, T0 + 3600, 0), "zk: mempool full")
    assert node.status()["pending"] == 5
    # A full mempool never keeps a provider from closing before the expiry.
    node.submit(close_tx(BASE + 4, 3, 0, 2, 1))
    assert node.status()["pending"] == 6
    node.seal()  # two opens a batch in this shape
    node.submit(open_tx(2, 3, 1, T0 + 3600, 4))


def test_full_channel_slots_refuse_an_open_with_a_clear_reason() -> None:
    shape = BatchShape(deposits=2, transfers=1, withdrawals=1, opens=1, closes=1, reclaims=1)
    sequencer = ZkSequencer.empty(shape, 1, 4)  # 8 channel slots
    deposits = sequencer.plan([deposit_slot(who, ETH) for who in (1, 2)], T0)
    assert deposits is not None
    sequencer.commit(deposits)
    for nonce in range(8):
        signed = sequencer.assign(open_tx(2, 1, 1, T0 + 3600, nonce))
        sequencer.add(nonce, signed, sequencer.check(signed, T0))
    with pytest.raises(ZkError) as full:
        sequencer.assign(open_tx(2, 1, 1, T0 + 3600, 8))
    assert full.value.reason == "zk: no free channel slot"
    assert "wait for channels to close" in full.value.fix


# -- money conservation over random sequences of the spec's operations -------------------

DEPTH = 5
CHANNEL_BASE = 2 ** (DEPTH - 1)
ONE = BatchShape(deposits=1, transfers=1, withdrawals=1, opens=1, closes=1, reclaims=1)
ACCOUNT = st.sampled_from([1, 2, 3])
AMOUNT = st.sampled_from([0, 1, 7, 10**9, 10**17, ETH, ETH + 1, 2**128])
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("open"), ACCOUNT, ACCOUNT, AMOUNT, st.integers(-5, 50)),
        st.tuples(st.just("close"), st.integers(0, 3), AMOUNT, st.booleans()),
        st.tuples(st.just("reclaim"), st.integers(0, 3)),
        st.tuples(st.just("transfer"), ACCOUNT, ACCOUNT, AMOUNT),
        st.tuples(st.just("withdraw"), ACCOUNT, AMOUNT),
        st.tuples(st.just("wait"), st.integers(0, 60)),
    ),
    max_size=8,
)


def _held(state: ZkState) -> int:
    accounts = sum(a.balance for i in range(1, CHANNEL_BASE) if (a := state.account(i)))
    channels = sum(
        c.deposit for i in range(CHANNEL_BASE, 2 * CHANNEL_BASE) if (c := state.channel(i))
    )
    return accounts + channels


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_money_is_conserved_by_any_sequence_of_operations(operations: list[Any]) -> None:
    state = ZkState.empty(DEPTH)
    for who in (1, 2, 3):
        state = apply_deposit(state, deposit_slot(who, ETH)).after
    deposited, withdrawn, now = 3 * ETH, 0, T0
    for op in operations:
        batch: dict[str, Any] = {}
        transfers: list[TransferTx] = []
        withdrawals: list[WithdrawalTx] = []
        signatures: list[eddsa.Signature] = []
        kind = op[0]
        channels = [i for i in range(CHANNEL_BASE, 2 * CHANNEL_BASE) if state.channel(i)]
        if kind == "open":
            _, renter, provider, amount, life = op
            nonce = state.account(renter).nonce  # type: ignore[union-attr]
            free = next(i for i in range(CHANNEL_BASE, 2 * CHANNEL_BASE) if not state.leaf(i))
            tx = OpenChannelTx(free, renter, provider, amount % 2**129, now + life, nonce)
            batch["opens"] = [(tx, sign_open(SECRETS[renter], replace_ranges(tx)))]
        elif kind in ("close", "reclaim") and channels:
            index = channels[op[1] % len(channels)]
            if kind == "reclaim":
                batch["reclaims"] = [ReclaimTx(index)]
            else:
                c = state.channel(index)
                assert c is not None
                amount = op[2] if op[3] else c.deposit // 2
                signer = amount % 2**128
                batch["closes"] = [
                    CloseChannelTx(
                        index,
                        amount,
                        sign_voucher(SECRETS[c.renter], c.renter, c.open_nonce, signer),
                        sign_close(SECRETS[c.provider], c.renter, c.open_nonce, signer),
                    )
                ]
        elif kind == "transfer":
            _, sender, to, amount = op
            nonce = state.account(sender).nonce  # type: ignore[union-attr]
            transfers = [TransferTx(sender, to, amount % 2**35, 0, nonce)]
            signatures = [sign_transfer(SECRETS[sender], transfers[0])]
        elif kind == "withdraw":
            _, sender, amount = op
            nonce = state.account(sender).nonce  # type: ignore[union-attr]
            withdrawals = [WithdrawalTx(sender, amount % 2**128, nonce)]
            signatures = [sign_withdrawal(SECRETS[sender], withdrawals[0])]
        elif kind == "wait":
            now += op[1]
            continue
        try:
            result = apply_batch(
                state, ONE, 1, [], transfers, withdrawals, signatures, timestamp=now, **batch
            )
        except ZkError as exc:
            event(f"{kind} refused: {exc.reason}")
            continue  # refused whole: the state is unchanged
        event(f"{kind} applied")
        if withdrawals:
            withdrawn += withdrawals[0].amount
        state = result.new_state
        assert _held(state) + withdrawn == deposited, (op, _held(state), withdrawn)


# -- descriptions that lie, and vouchers above the deposit --------------------------------


def _reader(node: ZkNode) -> Any:
    from l2gpu.node.zk.client import ZkNodeClient
    from l2gpu.payments.zk_rail import ZkChannelRail

    client = ZkNodeClient("http://zk")
    client.http = TestClient(create_zk_app(node))
    return ZkChannelRail(client, None)


def _described(
    node: ZkNode,
    slot: int,
    renter: int,
    open_nonce: int,
    provider: int,
    deposit: int,
    key_of: int | None = None,
) -> Any:
    """The description a renter would send of channel ``(renter, open_nonce)``."""
    from l2gpu.core.channel import ChannelParams
    from l2gpu.core.market.channel_description import ChannelDescription, ZkChannelName
    from l2gpu.core.types import Address, ChainId, Wei
    from l2gpu.payments.rails import CHALLENGE_PERIOD

    key = eddsa.public_key(SECRETS[key_of or renter])
    name = ZkChannelName(slot, renter, open_nonce, key.x, key.y)
    params = ChannelParams(
        Address(bytes([renter]) * 20),
        Address(bytes([provider]) * 20),
        challenge_period=CHALLENGE_PERIOD,
        salt=name.salt,
    )
    return ChannelDescription("zk", ChainId(31337), Address(bytes(20)), params, Wei(deposit), name)


def test_the_check_refuses_descriptions_that_lie(world: World, node: ZkNode) -> None:
    from dataclasses import replace

    from l2gpu.payments.rails import CHALLENGE_PERIOD

    reader = _reader(node)
    deposit, ends = 10**17, T0 + 600
    mine = node.channel_of(node.submit(open_tx(2, 3, deposit, ends + CHALLENGE_PERIOD, 0)))
    theirs = node.channel_of(node.submit(open_tx(1, 3, deposit, ends + CHALLENGE_PERIOD, 0)))
    node.seal()
    honest = _described(node, mine, 2, 0, 3, deposit)
    theirs_told = _described(node, theirs, 1, 0, 3, deposit)
    assert reader.check(honest, max_cost=deposit, ends_by=ends) is None
    lies = [
        # Renter 2 passes off account 1's channel (its slot, name and key) as its own.
        (
            replace(theirs_told, params=replace(theirs_told.params, renter=honest.renter)),
            "renter account is not",
        ),
        # Its own channel, with another account's key (whose vouchers it could forge).
        (_described(node, mine, 2, 0, 3, deposit, key_of=1), "another key"),
        (_described(node, theirs, 2, 0, 3, deposit), "another slot"),
        (_described(node, mine, 2, 0, 1, deposit), "provider"),
        (_described(node, mine, 2, 0, 3, 10 * deposit), "not the"),  # a larger deposit
        (_described(node, mine, 2, 0, 3, deposit - 1), "not the"),
    ]
    for lie, words in lies:
        found = reader.check(lie, max_cost=1, ends_by=T0)
        assert words in str(found), (words, found)
    assert "expires" in reader.check(honest, max_cost=1, ends_by=ends + 1)
    # Closed, reclaimed, or dropped: not open.
    node.submit(close_tx(mine, 2, 0, 3, 10**16))
    node.seal()
    assert "closed" in reader.check(honest, max_cost=1, ends_by=T0)
    world.clock.now = ends + CHALLENGE_PERIOD
    node.seal()  # reclaims account 1's channel
    assert node.sequencer.state.leaf(theirs) == 0
    reclaimed = _described(node, theirs, 1, 0, 3, deposit)
    assert "closed" in reader.check(reclaimed, max_cost=1, ends_by=T0)
    late = node.channel_of(node.submit(open_tx(2, 3, deposit, world.clock.now + 5, 1)))
    world.clock.now += 5
    node.seal()
    dropped = _described(node, late, 2, 1, 3, deposit)
    assert "dropped" in reader.check(dropped, max_cost=1, ends_by=T0)


def test_a_voucher_above_the_deposit_is_not_taken(node: ZkNode) -> None:
    from dataclasses import replace

    from l2gpu.core.channel.stream import PayeeState, VoucherReceived, payee_transition
    from l2gpu.core.channel.vouchers import Voucher
    from l2gpu.core.market.channel_description import voucher_domain
    from l2gpu.core.types import Hash32, Seconds, Timestamp, Wei

    deposit = 10**17
    slot = node.channel_of(node.submit(open_tx(2, 3, deposit, T0 + 3600, 0)))
    channel = _described(node, slot, 2, 0, 3, deposit)
    domain = voucher_domain(channel)

    def voucher(amount: int) -> Voucher:
        signed = sign_voucher(SECRETS[2], 2, 0, amount)
        return Voucher(channel.channel_id, Wei(amount), eddsa.pack_signature(signed))

    assert voucher(deposit).signer(domain) == channel.renter
    # The renter "overpays": the ledger's CLOSE would refuse it, and a payee holding it
    # as its best would refuse every honest voucher after it.
    assert voucher(deposit + 1).signer(domain) is None
    for junk in (b"\x00" * 65, bytes(range(64)), voucher(deposit).signature[:63]):
        assert replace(voucher(deposit), signature=junk).signer(domain) is None
    with pytest.raises(ZkError, match="zk: amount above the deposit"):
        node.submit(close_tx(slot, 2, 0, 3, deposit + 1))
    state = PayeeState(
        Hash32(channel.channel_id),
        channel.renter,
        domain,
        Wei(deposit),
        Wei(1),
        grace_seconds=Seconds(5),
    )
    over = payee_transition(state, VoucherReceived(voucher(deposit + 1), Timestamp(T0)))
    assert over.state.best is None
    taken = payee_transition(over.state, VoucherReceived(voucher(deposit), Timestamp(T0)))
    assert taken.state.best == voucher(deposit)


def test_the_market_relay_refuses_foreign_and_junk_signatures(database_url: Any) -> None:
    from l2gpu.core.channel.vouchers import channel_domain
    from l2gpu.core.channel.vouchers import sign_voucher as sign_eip712
    from l2gpu.core.types import Hash32, Wei
    from l2gpu.core.zk.keys import zk_private_key
    from tests.api.helpers import MANAGER, login, market, publish, rent
    from tests.market.helpers import CHAIN, PROVIDER, RENTER

    client, _, _ = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    client.post("/providers/heartbeat", json={"inventory": {"gpus": 2}}, headers=provider)
    lease = rent(client, RENTER, renter, publish(client, PROVIDER, provider), PROVIDER.address)
    assert lease.status_code == 201, lease.json()
    lid, cid = lease.json()["id"], Hash32.from_hex(lease.json()["channel"]["channel_id"])
    # The renter's EdDSA voucher (its zk key, this channel's amount) on an EIP-712 lease,
    # 64 bytes of junk, and 64 bytes whose R8 does not unpack.
    zk_signed = sign_voucher(zk_private_key(RENTER, CHAIN, MANAGER), 2, 0, 10)
    for signature in (eddsa.pack_signature(zk_signed), bytes(range(64)), b"\xff" * 64):
        answer = client.post(
            f"/leases/{lid}/vouchers",
            headers=renter,
            json={"amount": "10", "signature": "0x" + signature.hex()},
        )
        assert answer.status_code == 400, answer.json()
        assert "not signed by the lease's renter" in answer.json()["error"]
        assert answer.json()["fix"]
    deposit = int(lease.json()["channel"]["deposit"])
    over = sign_eip712(RENTER, channel_domain(CHAIN, MANAGER), cid, Wei(deposit + 1))
    answer = client.post(
        f"/leases/{lid}/vouchers",
        headers=renter,
        json={"amount": str(deposit + 1), "signature": "0x" + over.signature.hex()},
    )
    assert answer.status_code == 400, answer.json()
    assert "more than the channel's deposit" in answer.json()["error"]
    good = sign_eip712(RENTER, channel_domain(CHAIN, MANAGER), cid, Wei(10))
    answer = client.post(
        f"/leases/{lid}/vouchers",
        headers=renter,
        json={"amount": "10", "signature": "0x" + good.signature.hex()},
    )
    assert answer.status_code == 200, answer.json()
