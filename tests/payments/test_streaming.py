"""Payer and payee: per-second vouchers, verification, lag, pause and stop, restart."""

from __future__ import annotations

from pathlib import Path

from l2gpu.clock import SimulatedClock
from l2gpu.core.channel.stream import (
    PayeeState,
    ServiceChange,
    ServiceState,
    VoucherRefused,
    VoucherTaken,
    amount_due,
)
from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address, ChainId, Hash32, Seconds, Timestamp, Wei
from l2gpu.db import open_database
from l2gpu.payments.payee import Payee
from l2gpu.payments.payer import Payer
from l2gpu.payments.store import VoucherStore

RENTER, STRANGER = PrivateKey((2).to_bytes(32, "big")), PrivateKey((4).to_bytes(32, "big"))
DOMAIN = channel_domain(ChainId(1), Address(b"\x09" * 20))
CID = Hash32(b"\xaa" * 32)
PRICE = Wei(1_000)
T0 = Timestamp(1_800_000_000)


def payer(clock: SimulatedClock, interval: int = 1, cap: int = 10_000) -> Payer:
    return Payer(RENTER, DOMAIN, CID, price_per_second=PRICE, cap=Wei(cap), started_at=T0,
                 interval=Seconds(interval), clock=clock)  # fmt: skip


def payee_state(**changes) -> PayeeState:
    base = dict(channel_id=CID, renter=RENTER.address, domain=DOMAIN, deposit=Wei(10_000),
                price_per_second=PRICE, grace_seconds=Seconds(5))  # fmt: skip
    return PayeeState(**{**base, **changes})


def test_amount_due_is_price_times_seconds_capped() -> None:
    assert amount_due(PRICE, T0, Timestamp(T0 + 3), Wei(10_000)) == 3_000
    assert amount_due(PRICE, T0, Timestamp(T0 + 30), Wei(10_000)) == 10_000
    assert amount_due(PRICE, T0, Timestamp(T0 - 5), Wei(10_000)) == 0


def test_payer_signs_every_interval_up_to_the_cap() -> None:
    clock = SimulatedClock(T0)
    p = payer(clock, interval=2)
    assert p.poll() is None  # nothing owed yet
    signed = []
    for _ in range(14):
        clock.advance(1)
        if (v := p.poll()) is not None:
            signed.append(v.amount)
    assert signed == [1_000, 3_000, 5_000, 7_000, 9_000, 10_000]
    assert p.finished


def test_payee_takes_only_good_vouchers_and_stores_them(tmp_path: Path) -> None:
    store = VoucherStore(open_database(f"sqlite:///{tmp_path / 'p.db'}"))
    payee = Payee(payee_state(), store, manager=Address(b"\x09" * 20))
    good = sign_voucher(RENTER, DOMAIN, CID, Wei(2_000))
    assert payee.receive(good, T0) == [VoucherTaken(good)]
    assert store.best(CID) == good
    forged = sign_voucher(STRANGER, DOMAIN, CID, Wei(5_000))
    other_channel = sign_voucher(RENTER, DOMAIN, Hash32(b"\xbb" * 32), Wei(5_000))
    other_chain = sign_voucher(
        RENTER, channel_domain(ChainId(2), DOMAIN.verifying_contract), CID, Wei(5_000)
    )
    older = sign_voucher(RENTER, DOMAIN, CID, Wei(1_000))
    reasons = [payee.receive(v, T0)[0].reason for v in (forged, other_channel, other_chain, older)]
    assert reasons == [
        "voucher is not signed by the renter",
        "voucher is for another channel",
        "voucher is not signed by the renter",
        "voucher is not above the best one",
    ]
    assert store.best(CID) == good


def test_lagging_payments_pause_then_stop_the_job(tmp_path: Path) -> None:
    store = VoucherStore(open_database(f"sqlite:///{tmp_path / 'p.db'}"))
    payee = Payee(payee_state(), store, manager=Address(b"\x09" * 20))
    now = T0
    changes = []
    for second in range(1, 15):
        now = Timestamp(T0 + second)
        events = payee.delivered(1, now) if payee.service == ServiceState.RUNNING else []
        if second <= 3:  # the renter pays for the first three seconds, then goes silent
            events += payee.receive(sign_voucher(RENTER, DOMAIN, CID, Wei(second * 1_000)), now)
        if payee.service == ServiceState.PAUSED:
            events += payee.delivered(0, now)
        changes += [(second, e.service) for e in events if isinstance(e, ServiceChange)]
    # 6 s of lag > 5 s grace pauses at second 9; another 5 s of silence stops it.
    assert changes == [(9, ServiceState.PAUSED), (14, ServiceState.STOPPED)]
    assert payee.state.lag_seconds == 6  # at most grace + 1 seconds of unpaid work


def test_a_late_voucher_resumes_a_paused_job(tmp_path: Path) -> None:
    store = VoucherStore(open_database(f"sqlite:///{tmp_path / 'p.db'}"))
    payee = Payee(payee_state(), store, manager=Address(b"\x09" * 20))
    events = payee.delivered(7, Timestamp(T0 + 7))
    assert events == [ServiceChange(ServiceState.PAUSED, 7)]
    events = payee.receive(sign_voucher(RENTER, DOMAIN, CID, Wei(7_000)), Timestamp(T0 + 8))
    assert events[-1] == ServiceChange(ServiceState.RUNNING, 0)


def test_a_restarted_payee_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    first = Payee(payee_state(), VoucherStore(open_database(url)), manager=Address(b"\x09" * 20))
    best = sign_voucher(RENTER, DOMAIN, CID, Wei(4_000))
    first.receive(best, T0)
    del first  # the process dies
    second = Payee(payee_state(), VoucherStore(open_database(url)), manager=Address(b"\x09" * 20))
    assert second.state.best == best
    replay = sign_voucher(RENTER, DOMAIN, CID, Wei(3_000))
    assert isinstance(second.receive(replay, T0)[0], VoucherRefused)


def test_negative_service_is_refused_not_counted() -> None:
    from l2gpu.core.channel.stream import ServiceDelivered, payee_transition

    state, events = payee_transition(payee_state(), ServiceDelivered(-3, T0))
    assert state.delivered_seconds == 0
    assert isinstance(events[0], VoucherRefused)
