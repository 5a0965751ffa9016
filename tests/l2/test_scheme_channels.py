"""core/l2's zk channel transactions against core/zk's channel operations.

Seeded random histories mix deposits, transfers and withdrawals (the twins of
``test_scheme_differential.py``) with OPENs, CLOSEs and RECLAIMs, each valid or
breaking one rule, under a block clock that moves forward. core/zk's side runs
``open_steps``, ``close_steps`` and ``reclaim_steps`` with signatures from its own
``sign_open``, ``sign_voucher`` and ``sign_close``; core/l2's side runs
``stf.state_transition`` with ``OpenZkChannel``, ``CloseZkChannel`` and
``ReclaimZkChannel`` on an ``L2State`` of ``PoseidonEddsa(8)``. After every step:
the same refusal (or none), root, balances, nonces and channels. Over all the
histories every broken rule must have been refused for that rule, and every valid
operation accepted, so the histories do reach what they claim to test.

Whole valid batches (a deposit, opens, a close, a reclaim) through core/zk's
``apply_batch`` at the batch's timestamp end at the root core/l2 reaches applying
the same operations one at a time with that timestamp as the block's.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.errors import RuleViolation
from l2gpu.core.l2.scheme import Authorization
from l2gpu.core.l2.state import Account, L2State
from l2gpu.core.l2.stf import state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    CloseZkChannel,
    Deposit,
    L2Tx,
    OpenZkChannel,
    ReclaimZkChannel,
    ZkChannelTx,
)
from l2gpu.core.l2.zk_scheme import PoseidonEddsa, key_bytes
from l2gpu.core.types import Timestamp, Wei
from l2gpu.core.zk.batch import apply_batch
from l2gpu.core.zk.channel import (
    CloseChannelTx,
    OpenChannelTx,
    ReclaimTx,
    close_steps,
    open_steps,
    reclaim_steps,
    sign_close,
    sign_open,
    sign_voucher,
)
from l2gpu.core.zk.deposit import apply_deposit
from l2gpu.core.zk.pubdata import BatchShape, DepositSlot
from l2gpu.core.zk.state import ZkState
from tests.l2.test_scheme_differential import (
    CHAIN,
    ROLLUP,
    USERS,
    Twins,
    address,
    assert_same,
    deposit,
    outcome,
    private_key,
    public_key,
    transfer,
    withdraw,
)

START = 1_800_000_000
HISTORIES = 24
STEPS = 16
BATCH_HISTORIES = 6

EXPECTED = {
    "none": None,
    # OPEN
    "open: bad signature": "zk: bad signature",
    "open: wrong nonce": "zk: wrong nonce",
    "open: insufficient": "zk: insufficient balance",
    "open: zero deposit": "zk: zero amount",
    "open: expired": "zk: channel already expired",
    "open: slot taken": "zk: channel slot taken",
    "open: unknown sender": "zk: unknown sender",
    "open: account slot": "zk: not a channel index",
    # CLOSE
    "close: bad voucher": "zk: bad voucher signature",
    "close: bad close": "zk: bad close signature",
    "close: above deposit": "zk: amount above the deposit",
    "close: unknown channel": "zk: unknown channel",
    "close: double close": "zk: unknown channel",
    "close: no provider account": "zk: unknown provider",
    # RECLAIM
    "reclaim: early": "zk: channel not expired",
    "reclaim: unknown channel": "zk: unknown channel",
    "reclaim: double reclaim": "zk: unknown channel",
}
"""Each fault a history can inject, and the one refusal it must meet (None: accepted)."""


Replay = tuple[ZkChannelTx, Callable[[], object]]
"""An accepted operation on each side: core/l2's transaction, core/zk's call."""


@dataclass
class ChannelTwins(Twins):
    """The twins with a block clock and what each side needs to replay a close."""

    now: int = START
    closes: dict[int, Replay] = field(default_factory=dict)
    """Slot -> the last accepted close of it (both sides), to replay."""
    reclaims: dict[int, Replay] = field(default_factory=dict)
    """Slot -> the last accepted reclaim of it (both sides), to replay."""
    seen: dict[str, set[str | None]] = field(default_factory=lambda: defaultdict(set))

    def block(self) -> BlockContext:
        return BlockContext(Timestamp(self.now), self.leaf[OPERATOR_USER] - 1)

    def user_at(self, leaf: int) -> int:
        """The user whose account is at ``leaf``, or an arbitrary one (a key to sign with)."""
        return next((u for u, at in self.leaf.items() if at == leaf), 0)

    def free_slot(self) -> int:
        return free_slot(self.zk)


def free_slot(state: ZkState) -> int:
    """The lowest empty channel slot, as the zk node picks it."""
    taken = {slot for slot, _ in state.channels()}
    return next(s for s in range(state.channel_base, state.capacity) if s not in taken)


OPERATOR_USER = 0
BLOCK = BlockContext(Timestamp(START), 0)


def run_both(
    t: ChannelTwins,
    fault: str,
    zk_side: Callable[[], object],
    tx: ZkChannelTx,
    auth: Authorization | None = None,
) -> str | None:
    """core/zk's side, then core/l2's: the same outcome; record it under ``fault``."""
    expected = outcome(zk_side)
    got = outcome(lambda: state_transition(t.l2, tx, t.block(), auth))
    assert got == expected, fault
    t.seen[fault].add(got)
    return got


def open_channel(t: ChannelTwins, rng: random.Random) -> None:
    kinds = [k for k in EXPECTED if k.startswith("open: ")]
    # A taken slot needs a channel open: asked for twice as often, it is met often enough.
    fault = rng.choice(["none"] * 6 + kinds + ["open: slot taken"])
    user = rng.choice(sorted(t.leaf))
    renter = t.leaf[user]
    provider = t.leaf[rng.choice(sorted(t.leaf))]
    if rng.random() < 0.1:
        provider = t.next_leaf() + 1  # no account yet: the channel can only be reclaimed
    balance, nonce = t.balance(user), t.nonce(user)
    if balance == 0 and fault != "open: zero deposit":
        fault = "open: insufficient"
    deposit_ = rng.randrange(1, balance + 1) if balance else 1
    if fault == "open: insufficient":
        deposit_ = balance + rng.randrange(1, 10**18)
    if fault == "open: zero deposit":
        deposit_ = 0
    expiry = t.now + rng.randrange(1, 900)
    if fault == "open: expired":
        expiry = t.now - rng.randrange(0, 100)
    slot = t.free_slot()
    if fault == "open: slot taken":
        taken = [s for s, _ in t.zk.channels()]
        slot = rng.choice(taken) if taken else slot
        fault = fault if taken else "none"
    if fault == "open: account slot":
        slot = rng.randrange(1, t.zk.channel_base)
    if fault == "open: unknown sender":
        renter = t.next_leaf() + 2
    nonce += fault == "open: wrong nonce"
    signer = (user + 1) % USERS if fault == "open: bad signature" else user
    ztx = OpenChannelTx(slot, renter, provider, deposit_, expiry, nonce)
    signature = sign_open(private_key(signer), ztx)

    def zk_side() -> None:
        t.zk = open_steps(t.zk, ztx, signature, t.now).after

    tx = OpenZkChannel(slot, renter - 1, provider - 1, Wei(deposit_), Timestamp(expiry))
    run_both(t, fault, zk_side, tx, Authorization(nonce, eddsa.pack_signature(signature)))


def replay(t: ChannelTwins, rng: random.Random, fault: str, done: dict[int, Replay]) -> bool:
    """Run an accepted operation again on a slot still empty; False if there is none."""
    empty = [slot for slot in done if t.zk.leaf(slot) == 0]
    if empty:
        tx, zk_side = done[rng.choice(empty)]
        run_both(t, fault, zk_side, tx)
    return bool(empty)


def close_channel(t: ChannelTwins, rng: random.Random) -> None:
    kinds = [k for k in EXPECTED if k.startswith("close: ") and "provider" not in k]
    fault = rng.choice(["none"] * 4 + kinds)
    channels = t.zk.channels()
    if fault == "close: double close" and replay(t, rng, fault, t.closes):
        return
    if not channels and fault not in ("close: unknown channel", "close: double close"):
        open_channel(t, rng)  # nothing to close yet: make the step count
        return
    if not channels or fault in ("close: unknown channel", "close: double close"):
        fault, slot = "close: unknown channel", t.free_slot()
        channel_renter, open_nonce, provider, deposit_ = 1, 0, 1, 10
    else:
        slot, channel = rng.choice(channels)
        channel_renter, open_nonce = channel.renter, channel.open_nonce
        provider, deposit_ = channel.provider, channel.deposit
        if t.zk.account(provider) is None and fault in ("none", "close: bad close"):
            fault = "close: no provider account"
    amount = rng.randrange(0, deposit_ + 1)
    if fault == "close: above deposit":
        amount = deposit_ + rng.randrange(1, 10**6)
    renter_key = private_key(t.user_at(channel_renter))
    provider_key = private_key(t.user_at(provider))
    if fault == "close: bad voucher":
        renter_key = private_key((t.user_at(channel_renter) + 1) % USERS)
    if fault == "close: bad close":
        provider_key = private_key((t.user_at(provider) + 1) % USERS)
    voucher = sign_voucher(renter_key, channel_renter, open_nonce, amount)
    consent = sign_close(provider_key, channel_renter, open_nonce, amount)
    ztx = CloseChannelTx(slot, amount, voucher, consent)

    def zk_side() -> None:
        t.zk = close_steps(t.zk, ztx).after

    packed = eddsa.pack_signature
    tx = CloseZkChannel(slot, Wei(amount), packed(voucher), packed(consent))
    if run_both(t, fault, zk_side, tx) is None:
        t.closes[slot] = (tx, zk_side)
        if rng.random() < 0.3:  # at once, too: a replay is refused even in the same block
            run_both(t, "close: double close", zk_side, tx)


def reclaim_channel(t: ChannelTwins, rng: random.Random) -> None:
    kinds = [k for k in EXPECTED if k.startswith("reclaim: ")]
    fault = rng.choice(["none"] * 3 + kinds)
    channels = t.zk.channels()
    if fault == "reclaim: double reclaim" and replay(t, rng, fault, t.reclaims):
        return
    if not channels and fault not in ("reclaim: unknown channel", "reclaim: double reclaim"):
        open_channel(t, rng)  # nothing to reclaim yet: make the step count
        return
    if not channels or fault in ("reclaim: unknown channel", "reclaim: double reclaim"):
        fault, slot = "reclaim: unknown channel", t.free_slot()
    else:
        slot, channel = min(channels, key=lambda sc: sc[1].expiry)
        if fault == "none":
            t.now = max(t.now, channel.expiry + rng.randrange(0, 2))  # time passes to it
        elif channel.expiry <= t.now:
            slot, channel = max(channels, key=lambda sc: sc[1].expiry)
            fault = "reclaim: early" if channel.expiry > t.now else "none"
    ztx = ReclaimTx(slot)

    def zk_side() -> None:
        t.zk = reclaim_steps(t.zk, ztx, t.now).after

    tx = ReclaimZkChannel(slot)
    if run_both(t, fault, zk_side, tx) is None:
        t.reclaims[slot] = (tx, zk_side)
        if rng.random() < 0.3:
            run_both(t, "reclaim: double reclaim", zk_side, tx)


def assert_channels(t: ChannelTwins) -> None:
    """assert_same, and the same channels in the same leaves."""
    assert_same(t)
    assert t.l2.zk_channels == dict(t.zk.channels())


def history(seed: int) -> ChannelTwins:
    rng = random.Random(seed)
    t = ChannelTwins()
    for _ in range(3):
        deposit(t, rng)
    assert_channels(t)
    steps = [deposit, transfer, withdraw] + [open_channel, close_channel] * 2
    steps.append(reclaim_channel)
    for _ in range(STEPS):
        t.now += rng.randrange(0, 120)
        rng.choice(steps)(t, rng)
        assert_channels(t)
    return t


def test_zk_channels_in_core_l2_match_core_zk() -> None:
    seen: dict[str, set[str | None]] = defaultdict(set)
    for seed in range(HISTORIES):
        for fault, reasons in history(seed).seen.items():
            seen[fault] |= reasons
    assert {fault: seen.get(fault) for fault in EXPECTED} == {
        fault: {reason} for fault, reason in EXPECTED.items()
    }


def channel_batch(t: ChannelTwins, rng: random.Random, done: Counter[str]) -> None:
    """One valid batch of a deposit, opens, a close and a reclaim: core/zk's
    ``apply_batch`` at the batch's timestamp against core/l2 applying the same
    operations one by one, in the batch's order, with that timestamp as the block's."""
    t.now += rng.randrange(100, 700)
    user = rng.randrange(USERS)
    amount = rng.randrange(10**17, 10**19)
    index = t.leaf.get(user, t.next_leaf())
    deposit_slot = DepositSlot(index, *public_key(user), address(user), amount)
    step = apply_deposit(t.zk, deposit_slot)
    if step.outcome.value == "created":
        t.leaf[user] = deposit_slot.index
    scratch, opens = step.after, []
    for _ in range(rng.randrange(0, 3)):
        funded = [u for u in sorted(t.leaf) if (a := scratch.account(t.leaf[u])) and a.balance]
        payer = rng.choice(funded)
        renter = scratch.account(t.leaf[payer])
        assert renter is not None
        provider = t.leaf[rng.choice(sorted(t.leaf))]
        deposit_ = rng.randrange(1, renter.balance + 1)
        expiry = t.now + rng.randrange(1, 900)
        slot = free_slot(scratch)
        otx = OpenChannelTx(slot, t.leaf[payer], provider, deposit_, expiry, renter.nonce)
        opens.append((otx, sign_open(private_key(payer), otx)))
        scratch = open_steps(scratch, *opens[-1], t.now).after
    closes, live = [], scratch.channels()
    if live and rng.random() < 0.7:
        slot, channel = rng.choice(live)
        paid = rng.randrange(0, channel.deposit + 1)
        name = (channel.renter, channel.open_nonce, paid)
        voucher = sign_voucher(private_key(t.user_at(channel.renter)), *name)
        consent = sign_close(private_key(t.user_at(channel.provider)), *name)
        closes.append(CloseChannelTx(slot, paid, voucher, consent))
        scratch = close_steps(scratch, closes[-1]).after
    expired = [slot for slot, channel in scratch.channels() if channel.expiry <= t.now]
    reclaims = [ReclaimTx(rng.choice(expired))] if expired else []
    shape = BatchShape(1, 1, 1, 2, 1, 1)
    result = apply_batch(
        t.zk,
        shape,
        t.leaf[OPERATOR_USER],
        [deposit_slot],
        [],
        [],
        [],
        opens=opens,
        closes=closes,
        reclaims=reclaims,
        timestamp=t.now,
    )
    block, key = t.block(), key_bytes(deposit_slot.ax, deposit_slot.ay)
    txs: list[tuple[L2Tx | ZkChannelTx, Authorization | None]] = [
        (Deposit(t.l2.deposits_processed, address(user), Wei(amount), key, b""), None)
    ]
    for otx, signature in opens:
        renter_index, provider_index = otx.renter - 1, otx.provider - 1
        expiry = Timestamp(otx.expiry)
        opened = OpenZkChannel(
            otx.channel_index, renter_index, provider_index, Wei(otx.deposit), expiry
        )
        txs.append((opened, Authorization(otx.nonce, eddsa.pack_signature(signature))))
    packed = eddsa.pack_signature
    for ctx in closes:
        signed = packed(ctx.voucher), packed(ctx.provider_signature)
        txs.append((CloseZkChannel(ctx.channel_index, Wei(ctx.amount), *signed), None))
    txs += [(ReclaimZkChannel(rtx.channel_index), None) for rtx in reclaims]
    for one, auth in txs:
        state_transition(t.l2, one, block, auth)
    t.zk = result.new_state
    done.update(opens=len(opens), closes=len(closes), reclaims=len(reclaims))


def test_a_batch_with_channels_ends_at_core_zk_s_root() -> None:
    done: Counter[str] = Counter()
    for seed in range(BATCH_HISTORIES):
        rng = random.Random(seed)
        t = ChannelTwins()
        for _ in range(3):
            deposit(t, rng)
        for _ in range(4):
            channel_batch(t, rng, done)
            assert_channels(t)
    assert min(done[kind] for kind in ("opens", "closes", "reclaims")) > 0, done


def zk_state_with_channel() -> tuple[L2State, int]:
    """A zk-scheme state with two funded accounts and one open channel; its slot."""
    state = L2State(CHAIN, ROLLUP, PoseidonEddsa(8))
    for user in range(2):
        key = key_bytes(*public_key(user))
        state_transition(state, Deposit(user, address(user), Wei(10**18), key, b""), BLOCK)
    slot = 1 << 7
    ztx = OpenChannelTx(slot, 1, 2, 10**15, START + 100, 0)
    auth = Authorization(0, eddsa.pack_signature(sign_open(private_key(0), ztx)))
    tx = OpenZkChannel(slot, 0, 1, Wei(10**15), Timestamp(START + 100))
    state_transition(state, tx, BLOCK, auth)
    return state, slot


def test_a_rollback_undoes_opens_closes_and_reclaims() -> None:
    state, slot = zk_state_with_channel()
    root, value = state.root(), state.total_value()
    accounts, channels = list(state.accounts), dict(state.zk_channels)
    mark = state.checkpoint()
    late = BlockContext(Timestamp(START + 100), 0)
    state_transition(state, ReclaimZkChannel(slot), late)
    assert state.total_value() == value
    assert slot not in state.zk_channels
    ztx = OpenChannelTx(slot, 1, 1, 5, START + 500, 1)
    auth = Authorization(1, eddsa.pack_signature(sign_open(private_key(0), ztx)))
    state_transition(state, OpenZkChannel(slot, 0, 0, Wei(5), Timestamp(START + 500)), late, auth)
    assert state.root() != root
    state.rollback(mark)
    assert (state.root(), state.accounts, state.zk_channels) == (root, accounts, channels)


@pytest.mark.parametrize(
    "tx",
    [
        OpenZkChannel(1 << 23, 0, 0, Wei(1), Timestamp(START + 100)),
        CloseZkChannel(1 << 23, Wei(0), bytes(64), bytes(64)),
        ReclaimZkChannel(1 << 23),
    ],
)
def test_the_optimistic_scheme_refuses_zk_channels(tx: ZkChannelTx) -> None:
    state = L2State(CHAIN, ROLLUP)
    state.put_account(Account(0, address(0), Wei(10**18), 0, bytes([1]) * 96))
    root = state.root()
    with pytest.raises(RuleViolation) as refused:
        state_transition(state, tx, BLOCK, Authorization(0, bytes(64)))
    assert refused.value.reason == "l2: zk channels need the poseidon-eddsa scheme"
    assert state.root() == root
    assert not state.zk_channels
