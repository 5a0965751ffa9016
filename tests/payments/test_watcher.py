"""The watcher answers a stale close for an offline provider, within the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.core.channel import ChannelParams, ChannelStatus
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.stream import PayeeState
from l2gpu.core.channel.vouchers import sign_voucher
from l2gpu.core.channel.watch import (
    Answer,
    ClosingSeen,
    SettledSeen,
    Tick,
    VoucherHeld,
    WatchState,
    watch_transition,
)
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Hash32, Seconds, Timestamp, Wei
from l2gpu.db import open_database
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.payments.payee import Payee
from l2gpu.payments.store import VoucherStore
from l2gpu.payments.watcher import ChannelWatcher

RENTER, PROVIDER = PrivateKey((2).to_bytes(32, "big")), PrivateKey((3).to_bytes(32, "big"))


def test_watch_logic_answers_only_below_the_held_voucher_and_before_the_deadline() -> None:
    cid = Hash32(b"\x01" * 32)
    from l2gpu.core.channel.vouchers import Voucher

    held = Voucher(cid, Wei(500), b"sig")
    state, _ = watch_transition(WatchState(), VoucherHeld(held))
    state, _ = watch_transition(state, ClosingSeen(cid, Wei(100), Timestamp(1_000)))
    state, answers = watch_transition(state, Tick(Timestamp(999)))
    assert answers == [Answer(held)]
    state, answers = watch_transition(state, Tick(Timestamp(999)))
    assert answers == []  # answered once
    late, _ = watch_transition(WatchState(), VoucherHeld(held))
    late, _ = watch_transition(late, ClosingSeen(cid, Wei(100), Timestamp(1_000)))
    assert watch_transition(late, Tick(Timestamp(1_000)))[1] == []  # too late
    done, _ = watch_transition(late, SettledSeen(cid))
    assert watch_transition(done, Tick(Timestamp(10)))[1] == []


@pytest.fixture
def setup(tmp_path: Path):
    chain = start_embedded_chain()
    manager = ChannelManagerClient.deploy(chain, chain.accounts[0])
    store = VoucherStore(open_database(f"sqlite:///{tmp_path / 'provider.db'}"))
    return chain, manager, store


def test_offline_provider_is_paid_the_best_voucher_thanks_to_the_watcher(setup) -> None:
    chain, manager, store = setup
    renter_account, watcher_account = chain.accounts[1], chain.accounts[4]
    params = ChannelParams(RENTER.address, PROVIDER.address, challenge_period=Seconds(600))
    now = chain.timestamp()
    manager.apply(
        ci.Open(RENTER.address, now, params, Wei(10**18), Timestamp(now + 3600), Wei(10**18)),
        renter_account,
    )
    # While online, the provider's payee took vouchers for 90 s of service.
    payee = Payee(
        PayeeState(params.id, RENTER.address, manager.domain, Wei(10**18), Wei(10**15)),
        store,
        manager=manager.address,
    )
    for second in range(1, 91):
        payee.delivered(1, Timestamp(now + second))
        payee.receive(
            sign_voucher(RENTER, manager.domain, params.id, Wei(second * 10**15)),
            Timestamp(now + second),
        )
    # The provider goes offline; the renter closes conceding only 10 s.
    manager.apply(
        ci.CloseByRenter(RENTER.address, Timestamp(0), params, Wei(10 * 10**15)), renter_account
    )
    watcher = ChannelWatcher(manager, store, watcher_account)
    receipts = watcher.run_once()
    assert [e.name for r in receipts for e in r.events] == ["VoucherAccepted"]
    assert watcher.run_once() == []  # nothing more to answer
    chain.time_travel(601)
    settle = manager.apply(ci.Settle(RENTER.address, Timestamp(0), params), renter_account)
    assert settle.event("ChannelSettled").args["provider_payout"] == 90 * 10**15
    assert manager.channel(params).status == ChannelStatus.SETTLED


def test_without_a_watcher_the_stale_close_would_stand(setup) -> None:
    chain, manager, _ = setup
    renter_account = chain.accounts[1]
    params = ChannelParams(RENTER.address, PROVIDER.address, challenge_period=Seconds(600))
    now = chain.timestamp()
    manager.apply(
        ci.Open(RENTER.address, now, params, Wei(10**18), Timestamp(now + 3600), Wei(10**18)),
        renter_account,
    )
    manager.apply(
        ci.CloseByRenter(RENTER.address, Timestamp(0), params, Wei(10**16)), renter_account
    )
    chain.time_travel(601)
    settle = manager.apply(ci.Settle(RENTER.address, Timestamp(0), params), renter_account)
    assert settle.event("ChannelSettled").args["provider_payout"] == 10**16
