"""Unit tests of the channel handlers: each asserts on the events returned."""

from __future__ import annotations

import pytest

from l2gpu.core.channel import ChannelError, ChannelParams, ChannelStatus, ManagerState
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.events import (
    ChannelClosing,
    ChannelOpened,
    ChannelSettled,
    ChannelToppedUp,
    Payout,
    VoucherAccepted,
)
from l2gpu.core.channel.machine import (
    handle_close_by_provider,
    handle_close_by_renter,
    handle_cooperative_close,
    handle_open,
    handle_settle,
    handle_submit_voucher,
    handle_top_up,
    state_transition,
)
from l2gpu.core.channel.vouchers import channel_domain, sign_cooperative_close, sign_voucher
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Seconds, Timestamp, Wei

from .runner import key

RENTER, PROVIDER, WATCHER = key("renter"), key("provider"), key("watcher")
T0 = Timestamp(1_800_000_000)
PARAMS = ChannelParams(RENTER.address, PROVIDER.address, challenge_period=Seconds(100))
EMPTY = ManagerState(ChainId(5), Address(b"\x44" * 20))
DOMAIN = channel_domain(EMPTY.chain_id, EMPTY.contract)


def opened(deposit: int = 1000) -> ManagerState:
    state, _ = handle_open(
        EMPTY,
        ci.Open(RENTER.address, T0, PARAMS, Wei(deposit), Timestamp(T0 + 3600), Wei(deposit)),
    )
    return state


def voucher(amount: int) -> bytes:
    return sign_voucher(RENTER, DOMAIN, PARAMS.id, Wei(amount)).signature


def test_open_emits_opened_and_stores_the_channel() -> None:
    inp = ci.Open(RENTER.address, T0, PARAMS, Wei(1000), Timestamp(T0 + 3600), Wei(1000))
    state, events = handle_open(EMPTY, inp)
    assert events == [ChannelOpened(PARAMS.id, PARAMS, Wei(1000), Timestamp(T0 + 3600))]
    assert state.get(PARAMS.id).status == ChannelStatus.OPEN
    assert EMPTY.channels == {}  # the input state is never changed


def test_top_up_emits_new_deposit_and_expiry() -> None:
    inp = ci.TopUp(RENTER.address, T0, PARAMS, Wei(5), Timestamp(T0 + 7200), Wei(5))
    state, events = handle_top_up(opened(), inp)
    assert events == [ChannelToppedUp(PARAMS.id, Wei(5), Wei(1005), Timestamp(T0 + 7200))]
    assert state.total_locked(ZERO_ADDRESS) == 1005


def test_a_stranger_cannot_top_up() -> None:
    inp = ci.TopUp(WATCHER.address, T0, PARAMS, Wei(5), Timestamp(T0 + 3600), Wei(5))
    with pytest.raises(ChannelError, match="only the renter may top up"):
        handle_top_up(opened(), inp)


def test_submit_voucher_by_anyone_raises_the_best_amount() -> None:
    inp = ci.SubmitVoucher(WATCHER.address, T0, PARAMS, Wei(300), voucher(300))
    state, events = handle_submit_voucher(opened(), inp)
    assert events == [VoucherAccepted(PARAMS.id, Wei(300), WATCHER.address)]
    assert state.get(PARAMS.id).best_amount == 300


def test_renter_close_starts_the_challenge_period() -> None:
    state, events = handle_close_by_renter(
        opened(), ci.CloseByRenter(RENTER.address, Timestamp(T0 + 10), PARAMS, Wei(40))
    )
    assert events == [ChannelClosing(PARAMS.id, Wei(40), Timestamp(T0 + 110))]
    assert state.get(PARAMS.id).deadline() == T0 + 110


def test_provider_close_pays_at_once() -> None:
    inp = ci.CloseByProvider(PROVIDER.address, T0, PARAMS, Wei(250), voucher(250))
    state, events = handle_close_by_provider(opened(), inp)
    assert events == [
        VoucherAccepted(PARAMS.id, Wei(250), PROVIDER.address),
        ChannelSettled(PARAMS.id, Wei(250), Wei(750)),
        Payout(PROVIDER.address, ZERO_ADDRESS, Wei(250)),
        Payout(RENTER.address, ZERO_ADDRESS, Wei(750)),
    ]
    assert state.get(PARAMS.id).status == ChannelStatus.SETTLED
    assert state.total_locked(ZERO_ADDRESS) == 0


def test_cooperative_close_pays_the_agreed_amount() -> None:
    sigs = [sign_cooperative_close(k, DOMAIN, PARAMS.id, Wei(1000)) for k in (RENTER, PROVIDER)]
    inp = ci.CooperativeClose(WATCHER.address, T0, PARAMS, Wei(1000), *sigs)
    _, events = handle_cooperative_close(opened(), inp)
    assert events == [
        ChannelSettled(PARAMS.id, Wei(1000), Wei(0)),
        Payout(PROVIDER.address, ZERO_ADDRESS, Wei(1000)),
    ]


def test_settle_after_expiry_pays_the_best_voucher_capped() -> None:
    state, _ = handle_submit_voucher(
        opened(500), ci.SubmitVoucher(PROVIDER.address, T0, PARAMS, Wei(900), voucher(900))
    )
    too_early = ci.Settle(WATCHER.address, Timestamp(T0 + 3600 + 99), PARAMS)
    with pytest.raises(ChannelError, match="challenge period not over"):
        handle_settle(state, too_early)
    _, events = handle_settle(state, ci.Settle(WATCHER.address, Timestamp(T0 + 3700), PARAMS))
    assert events[0] == ChannelSettled(PARAMS.id, Wei(500), Wei(0))


def test_state_transition_dispatches_and_rejects_unknown_inputs() -> None:
    state, events = state_transition(
        opened(), ci.SubmitVoucher(WATCHER.address, T0, PARAMS, Wei(1), voucher(1))
    )
    assert isinstance(events[0], VoucherAccepted)
    with pytest.raises(ChannelError, match="unknown input"):
        state_transition(state, object())  # type: ignore[arg-type]


def test_channel_id_matches_the_contract_encoding() -> None:
    other = ChannelParams(RENTER.address, PROVIDER.address, challenge_period=Seconds(101))
    assert PARAMS.id != other.id
    assert len(PARAMS.id) == 32
