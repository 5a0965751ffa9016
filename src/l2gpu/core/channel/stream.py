"""Streaming payments over one channel: what the renter owes and what the provider checks.

The renter's payer signs, every ``interval`` seconds, a voucher for everything
delivered so far (price x seconds, capped at the deposit): the amount is a pure
function of time, so a restarted payer signs exactly what it signed before.

The provider's payee is a state machine. It accepts a voucher only if the renter
signed it for this channel, chain and contract and it is higher than the best so
far; it compares the best voucher with the value of the service delivered and,
when payments lag by more than the grace period, asks to pause the job, and after
a further grace period to stop it. Neither side ever risks more than about
``grace_seconds`` of work or money.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from l2gpu.core.channel.vouchers import Voucher, VoucherDomain
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address, Hash32, Seconds, Timestamp, Wei


def amount_due(price_per_second: Wei, started_at: Timestamp, now: Timestamp, cap: Wei) -> Wei:
    """What a renter owes at ``now``: whole seconds since start times the price, capped."""
    elapsed = max(0, now - started_at)
    return Wei(min(cap, price_per_second * elapsed))


class ServiceState(Enum):
    """What the payee wants the job to do."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PayeeState:
    """The provider's view of one paid stream."""

    channel_id: Hash32
    renter: Address
    domain: Eip712Domain | VoucherDomain
    deposit: Wei
    price_per_second: Wei
    grace_seconds: Seconds = Seconds(5)
    delivered_seconds: int = 0
    best: Voucher | None = None
    service: ServiceState = ServiceState.RUNNING
    lagging_since: Timestamp | None = None

    @property
    def best_amount(self) -> Wei:
        """The highest accepted voucher amount (0 before the first)."""
        return self.best.amount if self.best else Wei(0)

    @property
    def delivered_value(self) -> Wei:
        """Value of the service delivered so far, capped at the deposit."""
        return Wei(min(self.deposit, self.delivered_seconds * self.price_per_second))

    @property
    def lag(self) -> Wei:
        """How much delivered service is not yet covered by a voucher."""
        return Wei(max(0, self.delivered_value - self.best_amount))

    @property
    def lag_seconds(self) -> int:
        """The lag in seconds of service (rounded up)."""
        if self.price_per_second == 0:
            return 0
        return -(-self.lag // self.price_per_second)


@dataclass(frozen=True, slots=True)
class VoucherReceived:
    """A voucher arrived from the renter."""

    voucher: Voucher
    now: Timestamp


@dataclass(frozen=True, slots=True)
class ServiceDelivered:
    """The meter says ``seconds`` more seconds of service were delivered."""

    seconds: int
    now: Timestamp


@dataclass(frozen=True, slots=True)
class VoucherTaken:
    """A new best voucher: store it durably before acknowledging."""

    voucher: Voucher


@dataclass(frozen=True, slots=True)
class VoucherRefused:
    """A voucher was not taken, and why."""

    amount: Wei
    reason: str


@dataclass(frozen=True, slots=True)
class ServiceChange:
    """The job should now run, pause or stop; ``lag_seconds`` says why."""

    service: ServiceState
    lag_seconds: int


PayeeInput = VoucherReceived | ServiceDelivered
PayeeEvent = VoucherTaken | VoucherRefused | ServiceChange


def payee_transition(
    state: PayeeState, inp: PayeeInput
) -> TransitionResult[PayeeState, PayeeEvent]:
    """Apply one input to the payee; return the new state and events."""
    events: list[PayeeEvent] = []
    if isinstance(inp, VoucherReceived):
        state, events = _take_voucher(state, inp.voucher)
    elif isinstance(inp, ServiceDelivered):
        if inp.seconds < 0:
            events.append(VoucherRefused(Wei(0), "negative service seconds ignored"))
        else:
            state = replace(state, delivered_seconds=state.delivered_seconds + inp.seconds)
    return _review_service(state, inp.now, events)


def _take_voucher(state: PayeeState, voucher: Voucher) -> TransitionResult[PayeeState, PayeeEvent]:
    if voucher.channel_id != state.channel_id:
        return TransitionResult(
            state, [VoucherRefused(voucher.amount, "voucher is for another channel")]
        )
    if voucher.amount <= state.best_amount:
        return TransitionResult(
            state, [VoucherRefused(voucher.amount, "voucher is not above the best one")]
        )
    if voucher.signer(state.domain) != state.renter:
        return TransitionResult(
            state, [VoucherRefused(voucher.amount, "voucher is not signed by the renter")]
        )
    return TransitionResult(replace(state, best=voucher), [VoucherTaken(voucher)])


def _review_service(
    state: PayeeState, now: Timestamp, events: list[PayeeEvent]
) -> TransitionResult[PayeeState, PayeeEvent]:
    if state.service == ServiceState.STOPPED:
        return TransitionResult(state, events)
    lag_seconds = state.lag_seconds
    if lag_seconds <= state.grace_seconds:
        if state.service == ServiceState.PAUSED:
            events.append(ServiceChange(ServiceState.RUNNING, lag_seconds))
        return TransitionResult(
            replace(state, service=ServiceState.RUNNING, lagging_since=None), events
        )
    since = state.lagging_since if state.lagging_since is not None else now
    if state.service == ServiceState.RUNNING:
        events.append(ServiceChange(ServiceState.PAUSED, lag_seconds))
        return TransitionResult(
            replace(state, service=ServiceState.PAUSED, lagging_since=since), events
        )
    if now - since >= state.grace_seconds:
        events.append(ServiceChange(ServiceState.STOPPED, lag_seconds))
        return TransitionResult(
            replace(state, service=ServiceState.STOPPED, lagging_since=since), events
        )
    return TransitionResult(replace(state, lagging_since=since), events)
