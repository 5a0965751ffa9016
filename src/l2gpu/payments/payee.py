"""The provider's payee: verifies vouchers, keeps the best one durably, reports lag.

It wraps :func:`l2gpu.core.channel.stream.payee_transition`. A new best voucher is
written to the :class:`VoucherStore` before ``receive`` returns, and a restarted
payee starts from the stored voucher, so a restart loses nothing.
"""

from __future__ import annotations

from dataclasses import replace

from l2gpu.core.channel.stream import (
    PayeeEvent,
    PayeeState,
    ServiceDelivered,
    ServiceState,
    VoucherReceived,
    VoucherTaken,
    payee_transition,
)
from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.types import Address, ChainId, Timestamp
from l2gpu.payments.store import VoucherStore


class Payee:
    """One paid stream on the provider's side."""

    def __init__(self, state: PayeeState, store: VoucherStore, *, manager: Address) -> None:
        stored = store.best(state.channel_id)
        if stored is not None and stored.amount > state.best_amount:
            state = replace(state, best=stored)
        self.state = state
        self.store = store
        self.manager = manager

    def receive(self, voucher: Voucher, now: Timestamp) -> list[PayeeEvent]:
        """Check a voucher from the renter; store it if it is the new best."""
        return self._apply(VoucherReceived(voucher, now))

    def delivered(self, seconds: int, now: Timestamp) -> list[PayeeEvent]:
        """Record metered service; may ask to pause or stop the job."""
        return self._apply(ServiceDelivered(seconds, now))

    @property
    def service(self) -> ServiceState:
        """Whether the job should run, pause or stop."""
        return self.state.service

    def _apply(self, inp: VoucherReceived | ServiceDelivered) -> list[PayeeEvent]:
        state, events = payee_transition(self.state, inp)
        for event in events:
            if isinstance(event, VoucherTaken):
                self.store.offer(event.voucher, chain_id=_chain_id(state), manager=self.manager)
        self.state = state  # only after the store holds the voucher
        return events


def _chain_id(state: PayeeState) -> ChainId:
    return ChainId(state.domain.chain_id or 0)
