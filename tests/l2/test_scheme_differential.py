"""core/l2 under the zk scheme against core/zk's own functions: the same random
histories of deposits, transfers and withdrawals (each possibly broken in one way)
give the same refusals, balances, nonces, withdrawals and state root after every
step; and whole valid batches through core/zk's ``apply_batch`` end at core/l2's root.

The two sides share nothing but the users' keys: the core/zk side assigns leaf indices
as its L1 does (in deposit order, from 1), signs with core/zk's ``sign_transfer`` and
``sign_withdrawal``, and credits each transfer's fee with core/zk's ``credit_fees`` (a
batch of one transfer); the core/l2 side runs ``stf.state_transition`` on an
``L2State`` of ``PoseidonEddsa(8)`` with the packed signatures as ``Authorization``,
and ends each transfer's batch of one with ``stf.credit_held_fees``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.errors import RuleViolation
from l2gpu.core.l2.scheme import Authorization
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import credit_held_fees, state_transition
from l2gpu.core.l2.transactions import BlockContext, Deposit, Transfer, Withdraw
from l2gpu.core.l2.zk_scheme import PoseidonEddsa, key_bytes
from l2gpu.core.types import Address, ChainId, Timestamp, Wei
from l2gpu.core.zk.batch import apply_batch, credit_fees
from l2gpu.core.zk.deposit import apply_deposit
from l2gpu.core.zk.pubdata import FEE_UNIT_WEI, BatchShape, DepositSlot
from l2gpu.core.zk.state import ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer, transfer_steps
from l2gpu.core.zk.withdrawal import WithdrawalTx, apply_withdrawal, sign_withdrawal

CHAIN, ROLLUP = ChainId(31337), Address(b"\x11" * 20)
DEPTH = 8
USERS = 5
STEPS = 10
OPERATOR = 0
"""User 0 deposits first and collects the fees on both sides."""

# core/l2's own reasons for the rules both ledgers have; the zk scheme's other
# refusals carry core/zk's reason itself.
SAME_RULE = {
    "l2: unknown sender": "zk: unknown sender",
    "l2: unknown recipient": "zk: unknown recipient",
    "l2: zero amount": "zk: zero amount",
    "l2: insufficient balance": "zk: insufficient balance",
    "l2: balance overflow": "zk: balance overflow",
}


@cache
def private_key(user: int) -> bytes:
    return bytes([user + 1]) * 32


@cache
def public_key(user: int) -> tuple[int, int]:
    point = eddsa.public_key(private_key(user))
    return point.x, point.y


def address(user: int) -> Address:
    return Address(bytes([0xA0 + user]) * 20)


@dataclass
class Twins:
    """The two ledgers and what the core/zk side knows of its leaves."""

    l2: L2State = field(default_factory=lambda: L2State(CHAIN, ROLLUP, PoseidonEddsa(DEPTH)))
    zk: ZkState = field(default_factory=lambda: ZkState.empty(DEPTH))
    leaf: dict[int, int] = field(default_factory=dict)
    """User -> its core/zk leaf, assigned when a deposit creates it."""
    paid: list[tuple[bytes, int]] = field(default_factory=list)
    """core/zk's withdrawal slots: (L1 address, amount)."""

    def next_leaf(self) -> int:
        return len(self.leaf) + 1

    def balance(self, user: int) -> int:
        account = self.zk.account(self.leaf[user]) if user in self.leaf else None
        return account.balance if account is not None else 0

    def nonce(self, user: int) -> int:
        account = self.zk.account(self.leaf[user]) if user in self.leaf else None
        return account.nonce if account is not None else 0

    def block(self) -> BlockContext:
        return BlockContext(Timestamp(1_800_000_000), self.leaf[OPERATOR] - 1)


def outcome(run: Callable[[], object]) -> str | None:
    """Run ``run()``; the refusal's reason (core/l2's mapped onto core/zk's), or None."""
    try:
        run()
    except RuleViolation as exc:
        return SAME_RULE.get(exc.reason, exc.reason)
    return None


def deposit(t: Twins, rng: random.Random) -> None:
    user = rng.randrange(USERS) if t.leaf else OPERATOR
    amount = rng.randrange(1, 10**19)
    ax, ay = public_key(user)
    if user in t.leaf and rng.random() < 0.2:
        ax, ay = public_key((user + 1) % USERS)  # another owner's key: skipped on both
    index = t.leaf.get(user, t.next_leaf())
    step = apply_deposit(t.zk, DepositSlot(index, ax, ay, address(user), amount))
    if step.outcome.value == "created":
        t.leaf[user] = index
    t.zk = step.after
    tx = Deposit(t.l2.deposits_processed, address(user), Wei(amount), key_bytes(ax, ay), b"")
    assert outcome(lambda: state_transition(t.l2, tx, t.block())) is None


SIGNED_FAULTS = ("bad signature", "wrong nonce", "insufficient", "zero amount", "unknown sender")
"""The one rule a transfer or withdrawal breaks, if any (a transfer may also name an
unknown recipient)."""


def pick_fault(rng: random.Random, kinds: tuple[str, ...]) -> str:
    return rng.choice(("none", "none", *kinds))


def above(balance: int) -> int:
    """An amount just above ``balance`` that still has a float40 form."""
    scale = 10 ** max(0, len(str(balance)) - 9)
    return (balance // scale + 1) * scale


def at_most(rng: random.Random, room: int) -> int:
    """A random amount in [1, room] that has a float40 form (at most 9 digits of mantissa)."""
    amount = rng.randrange(1, room + 1)
    scale = 10 ** max(0, len(str(amount)) - 9)
    return amount // scale * scale


def amount_for(t: Twins, rng: random.Random, user: int, fee: int, fault: str) -> tuple[str, int]:
    """The fault, and an amount that breaks no other rule: only one rule is broken at a
    time, because the two ledgers check the rules in different orders."""
    room = t.balance(user) - fee
    if fault == "insufficient" or (room < 1 and fault != "zero amount"):
        return "insufficient", above(t.balance(user))
    if fault == "zero amount":
        return fault, 0
    return fault, at_most(rng, room)


def transfer(t: Twins, rng: random.Random) -> None:
    fault = pick_fault(rng, (*SIGNED_FAULTS, "unknown recipient"))
    user, to = rng.choice(sorted(t.leaf)), rng.choice(sorted(t.leaf))
    fee_code = rng.randrange(0, 4)
    fault, amount = amount_for(t, rng, user, fee_code * FEE_UNIT_WEI, fault)
    signer = (user + 1) % USERS if fault == "bad signature" else user
    nonce = t.nonce(user) + (fault == "wrong nonce")
    source, target = t.leaf[user], t.leaf[to]
    if fault == "unknown sender":
        source = t.next_leaf() + 2
    if fault == "unknown recipient":
        target = t.next_leaf() + 3
    ztx = TransferTx(source, target, amount, fee_code, nonce)
    signature = sign_transfer(private_key(signer), ztx)

    def zk_side() -> None:
        after = transfer_steps(t.zk, ztx, signature).after
        t.zk = credit_fees(after, t.leaf[OPERATOR], ztx.fee)

    tx = Transfer(source - 1, target - 1, Wei(amount), Wei(fee_code * FEE_UNIT_WEI))
    auth = Authorization(nonce, eddsa.pack_signature(signature))

    def l2_side() -> None:
        state_transition(t.l2, tx, t.block(), auth)
        credit_held_fees(t.l2, t.block().fee_recipient)

    expected = outcome(zk_side)
    assert outcome(l2_side) == expected, fault


def withdraw(t: Twins, rng: random.Random) -> None:
    fault = pick_fault(rng, SIGNED_FAULTS)
    user = rng.choice(sorted(t.leaf))
    fault, amount = amount_for(t, rng, user, 0, fault)
    signer = (user + 1) % USERS if fault == "bad signature" else user
    nonce = t.nonce(user) + (fault == "wrong nonce")
    source = t.next_leaf() + 2 if fault == "unknown sender" else t.leaf[user]
    wtx = WithdrawalTx(source, amount, nonce)
    signature = sign_withdrawal(private_key(signer), wtx)

    def zk_side() -> None:
        step = apply_withdrawal(t.zk, wtx, signature)
        t.zk = step.after
        t.paid.append((step.slot.eth_address, step.slot.amount))

    tx = Withdraw(source - 1, Wei(amount), Wei(0))
    auth = Authorization(nonce, eddsa.pack_signature(signature))
    expected = outcome(zk_side)
    assert outcome(lambda: state_transition(t.l2, tx, t.block(), auth)) == expected, fault


def assert_same(t: Twins) -> None:
    """Same root, and the same balance and nonce at every leaf; the same withdrawals."""
    assert int.from_bytes(t.l2.root(), "big") == t.zk.root()
    assert len(t.l2.accounts) == len(t.leaf)
    for user, leaf in t.leaf.items():
        account, twin = t.l2.accounts[leaf - 1], t.zk.account(leaf)
        assert twin is not None
        assert account.address == address(user)
        assert (account.balance, account.nonce) == (twin.balance, twin.nonce)
    assert [(bytes(e.address), e.amount) for e in t.l2.exits] == t.paid


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_core_l2_under_the_zk_scheme_matches_core_zk(seed: int) -> None:
    rng = random.Random(seed)
    t = Twins()
    deposit(t, rng)
    assert_same(t)
    for _ in range(STEPS):
        rng.choice((deposit, transfer, transfer, withdraw))(t, rng)
        assert_same(t)


def fundable(t: Twins, scratch: ZkState, fee: int) -> list[int]:
    """Users other than the operator who can pay ``fee`` and 1 wei on ``scratch``."""
    users = [u for u in sorted(t.leaf) if u != OPERATOR]
    return [u for u in users if (a := scratch.account(t.leaf[u])) and a.balance > fee]


def batch(t: Twins, rng: random.Random) -> None:
    """One valid batch: core/zk's ``apply_batch`` (its fees credited once, at the end)
    against core/l2 applying the same transactions one by one, its held fees credited
    at the end. The operator sends nothing: in a batch, its fees arrive only at the end."""
    scratch, deposits = t.zk, []
    for _ in range(rng.randrange(1, 3)):
        user = rng.randrange(USERS)
        ax, ay = public_key(user)
        amount = rng.randrange(1, 10**19)
        slot = DepositSlot(t.leaf.get(user, t.next_leaf()), ax, ay, address(user), amount)
        step = apply_deposit(scratch, slot)
        if step.outcome.value == "created":
            t.leaf[user] = slot.index
        scratch = step.after
        deposits.append(slot)
    transfers, withdrawals, signatures, paid = [], [], [], []
    for _ in range(rng.randrange(1, 4)):
        fee_code = rng.randrange(0, 4)
        if not (senders := fundable(t, scratch, fee_code * FEE_UNIT_WEI)):
            break
        user, to = rng.choice(senders), rng.choice(sorted(t.leaf))
        sender = scratch.account(t.leaf[user])
        assert sender is not None
        amount = at_most(rng, sender.balance - fee_code * FEE_UNIT_WEI)
        ztx = TransferTx(t.leaf[user], t.leaf[to], amount, fee_code, sender.nonce)
        signatures.append(sign_transfer(private_key(user), ztx))
        scratch = transfer_steps(scratch, ztx, signatures[-1]).after
        transfers.append(ztx)
    for _ in range(rng.randrange(1, 3)):
        if not (senders := fundable(t, scratch, 0)):
            break
        user = rng.choice(senders)
        account = scratch.account(t.leaf[user])
        assert account is not None
        wtx = WithdrawalTx(t.leaf[user], at_most(rng, account.balance), account.nonce)
        signatures.append(sign_withdrawal(private_key(user), wtx))
        scratch = apply_withdrawal(scratch, wtx, signatures[-1]).after
        withdrawals.append(wtx)
        paid.append((bytes(address(user)), wtx.amount))
    shape = BatchShape(2, 3, 2)
    fee_account = t.leaf[OPERATOR]
    result = apply_batch(t.zk, shape, fee_account, deposits, transfers, withdrawals, signatures)
    for slot in deposits:
        key = key_bytes(slot.ax, slot.ay)
        tx = Deposit(t.l2.deposits_processed, Address(slot.eth_address), Wei(slot.amount), key, b"")
        state_transition(t.l2, tx, t.block())
    for ztx, signature in zip(transfers, signatures, strict=False):
        tx = Transfer(ztx.from_index - 1, ztx.to_index - 1, Wei(ztx.amount), Wei(ztx.fee))
        auth = Authorization(ztx.nonce, eddsa.pack_signature(signature))
        state_transition(t.l2, tx, t.block(), auth)
    for wtx, signature in zip(withdrawals, signatures[len(transfers) :], strict=True):
        auth = Authorization(wtx.nonce, eddsa.pack_signature(signature))
        tx = Withdraw(wtx.from_index - 1, Wei(wtx.amount), Wei(0))
        state_transition(t.l2, tx, t.block(), auth)
    credit_held_fees(t.l2, t.block().fee_recipient)
    t.zk = result.new_state
    t.paid.extend(paid)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_a_batch_ends_at_core_zk_s_root(seed: int) -> None:
    rng = random.Random(seed)
    t = Twins()
    for _ in range(4):
        deposit(t, rng)
    for _ in range(2):
        batch(t, rng)
        assert_same(t)
