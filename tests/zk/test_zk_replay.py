"""Rebuilding the zk state from public data alone (``core/zk/replay.py``): every batch
of the batch circuit's tests replays to the spec's state, and public data that was
altered, reordered or cut is refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2gpu.core.zk import pubdata as pd
from l2gpu.core.zk.channel import CloseChannelTx, sign_close, sign_voucher
from l2gpu.core.zk.replay import decode_batch, rebuild_state, replay_batch
from l2gpu.core.zk.state import ZkError, ZkState
from l2gpu.core.zk.transfer import TransferTx
from l2gpu.core.zk.withdrawal import WithdrawalTx

from .test_zk_batch import (
    CHANNEL,
    CLOSED,
    FEE_ACCOUNT,
    KEYS,
    MIXED,
    OPENED,
    RECLAIMED,
    SHAPE,
    STATE,
    VALID,
    WHOLE_EXIT,
    batch,
    deposit,
)


def same_state(rebuilt: ZkState, expected: ZkState) -> None:
    assert rebuilt.root() == expected.root()
    for index in range(1, expected.capacity):
        assert rebuilt.leaf(index) == expected.leaf(index), index
        assert rebuilt.account(index) == expected.account(index), index
        assert rebuilt.channel(index) == expected.channel(index), index


@pytest.mark.parametrize("name", list(VALID))
def test_every_valid_batch_replays_to_the_specs_state(name: str) -> None:
    result = VALID[name]
    later = (CLOSED, RECLAIMED, VALID["an open and a close in one batch (another channel)"])
    before = OPENED.new_state if result in later else STATE
    if name == "a forced exit of an empty balance pays nothing":
        before = WHOLE_EXIT.new_state
    if name == "a forced exit leaves a channel's deposit locked":
        before = OPENED.new_state
    same_state(replay_batch(before, SHAPE, result.pubdata), result.new_state)


def test_a_channel_replays_through_open_then_close() -> None:
    opened = replay_batch(STATE, SHAPE, OPENED.pubdata)
    channel = opened.channel(130)
    assert channel is not None
    assert (channel.renter, channel.open_nonce, channel.deposit) == (1, 4, 10**17)
    same_state(replay_batch(opened, SHAPE, CLOSED.pubdata), CLOSED.new_state)


def test_the_decoded_batch_holds_only_the_real_slots() -> None:
    decoded = decode_batch(SHAPE, MIXED.pubdata)
    assert decoded.old_root == STATE.root()
    assert decoded.new_root == MIXED.new_state.root()
    assert [t.amount for t in decoded.transfers] == [10**17, 10**14]
    assert len(decoded.deposits) == len(decoded.withdrawals) == 1
    assert decoded.opens == decoded.closes == decoded.reclaims == ()


def test_altered_reordered_or_cut_public_data_is_refused() -> None:
    altered = bytearray(MIXED.pubdata)
    altered[pd.HEADER_BYTES + pd.DEPOSIT_BYTES + 10] ^= 1  # the first transfer's amount
    with pytest.raises(ZkError, match="not the batch's"):
        replay_batch(STATE, SHAPE, bytes(altered))
    with pytest.raises(ZkError, match="does not follow"):
        replay_batch(STATE, SHAPE, CLOSED.pubdata)  # before the batch that opened it
    with pytest.raises(ZkError, match="wrong length"):
        replay_batch(STATE, SHAPE, MIXED.pubdata[:-1])
    with pytest.raises(ZkError, match="does not follow"):
        rebuild_state(8, SHAPE, [MIXED.pubdata])  # STATE was not built by batches


def test_a_ledger_rebuilt_from_the_empty_tree_by_its_batches_alone() -> None:
    first = batch([deposit(FEE_ACCOUNT, 1, 10**16)], [], [], ZkState.empty(8))
    second = batch([deposit(1, 0, 10**18)], [], [], first.new_state)
    channel = replace(CHANNEL, nonce=1)  # transfers come first in a batch: the first nonce
    opened = batch([], [(TransferTx(1, FEE_ACCOUNT, 10**15, 1, 0), 0)], [], second.new_state,
                   opens=(channel,), timestamp=1_000)  # fmt: skip
    paid = 3 * 10**15
    close = CloseChannelTx(130, paid, sign_voucher(KEYS[0], 1, 1, paid),
                           sign_close(KEYS[1], 1, 1, paid))  # fmt: skip
    closed = batch([], [], [(WithdrawalTx(FEE_ACCOUNT, 10**15, 0), 1)], opened.new_state,
                   closes=(close,), timestamp=1_500)  # fmt: skip
    datas = [b.pubdata for b in (first, second, opened, closed)]
    same_state(rebuild_state(8, SHAPE, datas), closed.new_state)
    with pytest.raises(ZkError, match="does not follow"):
        rebuild_state(8, SHAPE, [datas[0], datas[2]])  # a batch is missing
