"""``core/l2/zk_batch.py`` against ``core/zk/batch.py``: a zk batch run by ``core/l2``
under ``PoseidonEddsa`` makes exactly what ``core/zk``'s ``apply_batch`` makes (the new
tree, the public data, the public input and every signal of the circuit's input,
intermediate roots included) on seeded random batches that mix every section:
deposits, transfers with fees, withdrawals, channel opens, closes, reclaims and L1's
forced exits. A refused batch leaves the ``L2State`` as it was.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.zk_batch import apply_zk_batch
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
from l2gpu.core.zk.forced_exit import ForcedExitRequest, apply_forced_exit
from l2gpu.core.zk.pubdata import FEE_UNIT_WEI, BatchShape, DepositSlot
from l2gpu.core.zk.state import ZkError, ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer, transfer_steps
from l2gpu.core.zk.withdrawal import WithdrawalTx, apply_withdrawal, sign_withdrawal

from .test_scheme_channels import START, ChannelTwins, free_slot
from .test_scheme_differential import (
    CHAIN,
    OPERATOR,
    ROLLUP,
    USERS,
    address,
    at_most,
    private_key,
    public_key,
)

SHAPE = BatchShape(2, 3, 2, 2, 1, 1, 2)
BATCHES = 6
HISTORIES = 8

Batch = dict[str, object]


def make_batch(t: ChannelTwins, rng: random.Random) -> Batch:
    """A valid batch over ``t.zk`` (simulated on core/zk's steps as it is drawn)."""
    t.now += rng.randrange(100, 700)
    scratch, deposits = t.zk, []
    for _ in range(rng.randrange(1, SHAPE.deposits + 1)):
        user = rng.randrange(USERS) if t.leaf else OPERATOR
        slot = DepositSlot(t.leaf.get(user, t.next_leaf()), *public_key(user), address(user),
                           rng.randrange(10**17, 10**19))  # fmt: skip
        step = apply_deposit(scratch, slot)
        t.leaf.setdefault(user, slot.index)
        scratch = step.after
        deposits.append(slot)
    users = sorted(t.leaf)
    transfers, withdrawals, signatures = [], [], []
    for _ in range(rng.randrange(0, SHAPE.transfers + 1)):
        user, to = rng.choice(users), rng.choice(users)
        sender = scratch.account(t.leaf[user])
        fee_code = rng.randrange(0, 4)
        if user == OPERATOR or sender is None or sender.balance <= fee_code * FEE_UNIT_WEI:
            continue  # the operator's fees arrive at the batch's end: it sends nothing
        amount = at_most(rng, sender.balance - fee_code * FEE_UNIT_WEI)
        ztx = TransferTx(t.leaf[user], t.leaf[to], amount, fee_code, sender.nonce)
        signatures.append(sign_transfer(private_key(user), ztx))
        scratch = transfer_steps(scratch, ztx, signatures[-1]).after
        transfers.append(ztx)
    for _ in range(rng.randrange(0, SHAPE.withdrawals + 1)):
        user = rng.choice(users)
        account = scratch.account(t.leaf[user])
        if user == OPERATOR or account is None or account.balance == 0:
            continue
        wtx = WithdrawalTx(t.leaf[user], at_most(rng, account.balance), account.nonce)
        signatures.append(sign_withdrawal(private_key(user), wtx))
        scratch = apply_withdrawal(scratch, wtx, signatures[-1]).after
        withdrawals.append(wtx)
    opens = []
    for _ in range(rng.randrange(0, SHAPE.opens + 1)):
        payer = rng.choice(users)
        renter = scratch.account(t.leaf[payer])
        if payer == OPERATOR or renter is None or renter.balance == 0:
            continue
        otx = OpenChannelTx(free_slot(scratch), t.leaf[payer], t.leaf[rng.choice(users)],
                            rng.randrange(1, renter.balance + 1),
                            t.now + rng.randrange(1, 900), renter.nonce)  # fmt: skip
        opens.append((otx, sign_open(private_key(payer), otx)))
        scratch = open_steps(scratch, *opens[-1], t.now).after
    closes, live = [], scratch.channels()
    if live and rng.random() < 0.7:
        slot, channel = rng.choice(live)
        name = (channel.renter, channel.open_nonce, rng.randrange(0, channel.deposit + 1))
        voucher = sign_voucher(private_key(t.user_at(channel.renter)), *name)
        consent = sign_close(private_key(t.user_at(channel.provider)), *name)
        closes.append(CloseChannelTx(slot, name[2], voucher, consent))
        scratch = close_steps(scratch, closes[-1]).after
    expired = [slot for slot, channel in scratch.channels() if channel.expiry <= t.now]
    reclaims = [ReclaimTx(rng.choice(expired))] if expired else []
    if reclaims:
        scratch = reclaim_steps(scratch, reclaims[0], t.now).after
    exits = []
    for _ in range(rng.randrange(0, SHAPE.forced_exits + 1)):
        user = rng.choice(users)  # the operator too: its fees arrive after the exits
        exits.append(ForcedExitRequest(t.leaf[user]))  # maybe twice, the second pays 0
        scratch = apply_forced_exit(scratch, exits[-1]).after
    return {
        "deposits": deposits, "transfers": transfers, "withdrawals": withdrawals,
        "signatures": signatures, "opens": opens, "closes": closes, "reclaims": reclaims,
        "forced_exits": exits, "timestamp": t.now,
    }  # fmt: skip


NAMED = ("opens", "closes", "reclaims", "forced_exits", "timestamp")


def run_zk(state: ZkState, fee_account: int, batch: Batch, validium: bool = False) -> object:
    """core/zk's ``apply_batch`` of ``batch``."""
    positional = [batch[k] for k in ("deposits", "transfers", "withdrawals", "signatures")]
    named = {k: batch[k] for k in NAMED if k in batch}
    return apply_batch(state, SHAPE, fee_account, *positional, **named, validium=validium)  # type: ignore[arg-type]


def run_l2(state: L2State, fee_account: int, batch: Batch, validium: bool = False) -> object:
    """core/l2's ``apply_zk_batch`` of ``batch``."""
    positional = [batch[k] for k in ("deposits", "transfers", "withdrawals", "signatures")]
    named = {k: batch[k] for k in NAMED if k in batch}
    return apply_zk_batch(state, SHAPE, fee_account, *positional, **named, validium=validium)  # type: ignore[arg-type]


def snapshot(state: L2State) -> tuple[object, ...]:
    """What a refused batch must leave as it was."""
    return (state.root(), list(state.accounts), dict(state.zk_channels), list(state.exits),
            state.deposits_processed, state.held_fees, state.recording)  # fmt: skip


def test_a_zk_batch_run_by_core_l2_is_core_zk_s_batch() -> None:
    seen: Counter[str] = Counter()
    queued_before = 0
    for seed in range(HISTORIES):
        rng = random.Random(seed)
        t = ChannelTwins()
        for number in range(BATCHES):
            batch = make_batch(t, rng)
            fee_account, validium = t.leaf[OPERATOR], number % 2 == 1
            expected: Any = run_zk(t.zk, fee_account, batch, validium)
            got: Any = run_l2(t.l2, fee_account, batch, validium)
            assert got.new_state.root() == expected.new_state.root()
            assert got.pubdata == expected.pubdata
            assert got.public_input == expected.public_input
            assert got.circuit_input == expected.circuit_input
            assert (t.l2.held_fees, t.l2.recording) == (0, False)
            t.zk = expected.new_state
            assert t.l2.root() == t.zk.root().to_bytes(32, "big")
            for kind in ("transfers", "withdrawals", "opens", "closes", "reclaims",
                         "forced_exits"):  # fmt: skip
                seen[kind] += len(batch[kind])  # type: ignore[arg-type]
            queued = sum(len(batch[k]) for k in ("deposits", "forced_exits"))  # type: ignore[misc,arg-type]
            seen["queued"] += queued
        # core/l2 counts L1's two queues in one counter under the zk scheme
        assert t.l2.deposits_processed == seen["queued"] - queued_before
        queued_before = seen["queued"]
    assert min(seen.values()) >= 3, seen  # every section was exercised


def funded_twins() -> ChannelTwins:
    """Twins after one batch of deposits for users 0, 1 and 2."""
    t = ChannelTwins()
    deposits = [
        DepositSlot(user + 1, *public_key(user), address(user), 10**18) for user in range(3)
    ]
    batch: Batch = {"deposits": deposits[:2], "transfers": [], "withdrawals": [],
                    "signatures": [], "opens": [], "closes": [], "reclaims": [],
                    "timestamp": START}  # fmt: skip
    t.zk = run_zk(t.zk, 1, batch).new_state  # type: ignore[attr-defined]
    run_l2(t.l2, 1, batch)
    t.leaf.update({0: 1, 1: 2})
    return t


def refused_on_both(t: ChannelTwins, batch: Batch, fee_account: int = 1) -> str:
    """Both refuse ``batch`` for the same reason; the L2 state is unchanged."""
    before = snapshot(t.l2)
    with pytest.raises(ZkError) as zk_refusal:
        run_zk(t.zk, fee_account, batch)
    with pytest.raises(ZkError) as l2_refusal:
        run_l2(t.l2, fee_account, batch)
    assert snapshot(t.l2) == before
    assert l2_refusal.value.reason == zk_refusal.value.reason
    return l2_refusal.value.reason


def test_a_batch_with_one_bad_operation_is_refused_whole() -> None:
    t = funded_twins()
    good = TransferTx(1, 2, 10**15, 3, 0)
    stale = TransferTx(2, 1, 10**15, 1, 5)  # a wrong nonce, after a good transfer
    opened = OpenChannelTx(t.zk.channel_base, 2, 1, 10**15, START + 60, 0)
    batch: Batch = {
        "deposits": [DepositSlot(3, *public_key(2), address(2), 10**18)],
        "transfers": [good, stale], "withdrawals": [],
        "signatures": [sign_transfer(private_key(0), good), sign_transfer(private_key(1), stale)],
        "opens": [(opened, sign_open(private_key(1), opened))], "closes": [], "reclaims": [],
        "timestamp": START + 10,
    }  # fmt: skip
    assert refused_on_both(t, batch) == "zk: wrong nonce"


def test_a_forced_exit_l1_could_not_have_queued_is_refused_alike() -> None:
    t = funded_twins()
    cases = {
        "zk: unknown sender": ForcedExitRequest(3),
        "zk: index 0 is not an account": ForcedExitRequest(0),
        "zk: not an account index": ForcedExitRequest(t.zk.channel_base),
    }
    for reason, request in cases.items():
        good = ForcedExitRequest(2)  # applied first, then undone
        batch: Batch = {"deposits": [], "transfers": [], "withdrawals": [], "signatures": [],
                        "opens": [], "closes": [], "reclaims": [],
                        "forced_exits": [good, request], "timestamp": START}  # fmt: skip
        assert refused_on_both(t, batch) == reason


def test_a_fee_account_without_an_account_is_refused() -> None:
    t = funded_twins()
    good = TransferTx(1, 2, 10**15, 3, 0)
    batch: Batch = {"deposits": [], "transfers": [good], "withdrawals": [],
                    "signatures": [sign_transfer(private_key(0), good)], "opens": [],
                    "closes": [], "reclaims": [], "timestamp": START}  # fmt: skip
    assert refused_on_both(t, batch, fee_account=7) == "zk: unknown fee account"


def test_a_deposit_at_another_leaf_than_the_ledger_s_is_refused() -> None:
    t = funded_twins()
    before = snapshot(t.l2)
    # user 2's address is new: the ledger puts it at leaf 3, L1 (wrongly) queued leaf 5
    batch: Batch = {"deposits": [DepositSlot(5, *public_key(2), address(2), 10**18)],
                    "transfers": [], "withdrawals": [], "signatures": [], "opens": [],
                    "closes": [], "reclaims": [], "timestamp": START}  # fmt: skip
    with pytest.raises(ZkError, match="deposit index is not the ledger's"):
        run_l2(t.l2, 1, batch)
    assert snapshot(t.l2) == before


def test_a_deposit_the_ledger_would_skip_is_refused() -> None:
    t = funded_twins()
    before = snapshot(t.l2)
    # user 1's address with user 2's key: core/zk proves it skipped; L1 never queues it
    batch: Batch = {"deposits": [DepositSlot(2, *public_key(2), address(1), 10**18)],
                    "transfers": [], "withdrawals": [], "signatures": [], "opens": [],
                    "closes": [], "reclaims": [], "timestamp": START}  # fmt: skip
    with pytest.raises(ZkError, match="deposit skipped by the ledger"):
        run_l2(t.l2, 1, batch)
    assert snapshot(t.l2) == before


def test_a_state_of_the_optimistic_scheme_is_refused() -> None:
    batch: Batch = {"deposits": [], "transfers": [], "withdrawals": [], "signatures": [],
                    "opens": [], "closes": [], "reclaims": [], "timestamp": START}  # fmt: skip
    with pytest.raises(ZkError, match="not a zk ledger"):
        run_l2(L2State(CHAIN, ROLLUP), 1, batch)


def test_a_batch_refused_by_its_public_data_changes_nothing() -> None:
    # The public data is encoded after every operation ran: a field that does not fit
    # it (a timestamp past 2^32) refuses the batch, and the deposits are undone too.
    t = funded_twins()
    before = snapshot(t.l2)
    batch: Batch = {"deposits": [DepositSlot(3, *public_key(2), address(2), 10**18)],
                    "transfers": [], "withdrawals": [], "signatures": [], "opens": [],
                    "closes": [], "reclaims": [], "timestamp": 2**40}  # fmt: skip
    with pytest.raises(ZkError, match="timestamp"):
        run_l2(t.l2, 1, batch)
    assert snapshot(t.l2) == before
