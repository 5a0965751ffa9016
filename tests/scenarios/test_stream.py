"""The stream service: seconds delivered on a simulated clock, a voucher for each."""

from __future__ import annotations

from pathlib import Path

from l2gpu.clock import SimulatedClock
from l2gpu.core.channel.stream import PayeeState, ServiceState
from l2gpu.core.channel.vouchers import channel_domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address, ChainId, Hash32, Timestamp, Wei
from l2gpu.db import open_database
from l2gpu.payments.payee import Payee
from l2gpu.payments.payer import Payer
from l2gpu.payments.store import VoucherStore
from l2gpu.scenarios.stream import stream_service

RENTER = PrivateKey((2).to_bytes(32, "big"))
MANAGER = Address(b"\x09" * 20)
DOMAIN = channel_domain(ChainId(1), MANAGER)
CID = Hash32(b"\xaa" * 32)
PRICE = Wei(1_000)
T0 = Timestamp(1_800_000_000)


def test_each_second_is_metered_paid_and_checked(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    payer = Payer(RENTER, DOMAIN, CID, price_per_second=PRICE, cap=Wei(100_000),
                  started_at=T0, clock=clock)  # fmt: skip
    store = VoucherStore(open_database(f"sqlite:///{tmp_path / 'vouchers.db'}"))
    payee = Payee(PayeeState(CID, RENTER.address, DOMAIN, Wei(100_000), PRICE), store,
                  manager=MANAGER)  # fmt: skip
    assert stream_service(payer, payee, clock, 30) == 30
    assert clock() == T0 + 30
    assert payee.state.best_amount == 30 * PRICE
    assert payee.service == ServiceState.RUNNING
    best = store.best(CID)
    assert best is not None
    assert best.amount == 30 * PRICE  # kept durably, not only in memory
