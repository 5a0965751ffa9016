"""A lease paid across shards through an intermediary (a *hub*), one hop.

A renter on shard A and a provider on shard B have no channel in common. A hub with
an account on both shards joins them with two ordinary rollup channels: the renter's
channel to the hub on A, and the hub's channel to the provider on B. Every second
the renter signs a cumulative voucher to the hub for what the provider is owed plus
the hub's fee (parts per million), and the hub, on checking it, signs its own
cumulative voucher to the provider for what that pays onward. Nothing reaches L1 per lease or per
payment: both channels live inside their rollups.

This is a *mediated* pair of channels (Raiden's mediated transfers, without locks:
a voucher pays for seconds already delivered, so there is nothing to lock), not a
Nitro virtual channel: the hub forwards every voucher, so it must be online, and
what that costs each party is bounded here:

- **The hub can lose nothing**: it signs to the provider only for seconds the
  renter has paid it for (:func:`handle_renter_voucher`), so whatever the
  provider can claim on B, the hub can claim more on A (the fee).
- **The hub can block nothing beyond a stated delay**: if it goes silent, the
  provider's agent pauses the job after its grace period (as with a silent renter)
  and closes on B with the hub's best voucher, paid for every second the renter
  paid; the renter closes on A conceding its best voucher, and the rest returns to
  it after the channel's challenge period.
- **The renter** pays the hub at most one voucher ahead of what the provider sees
  (a voucher in flight when the hub vanished): one second's price and fee.
- **The hub forwards only against a final inbound channel**: a soft-confirmed
  channel could still be dropped, and with it every voucher on it
  (:func:`route_problem`).

State transitions are pure; the shells (an HTTP hub service, the agents) carry the
vouchers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.channel.state import PPM as PPM  # fees: parts per million
from l2gpu.core.channel.state import fee_on as fee_on  # the hub's fee, rounded up
from l2gpu.core.channel.vouchers import Voucher, VoucherDomain, sign_voucher
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address, Hash32, Wei


def renter_owes(amount: int, fee_ppm: int) -> int:
    """The renter's cumulative voucher to the hub for ``amount`` to the provider."""
    return amount + fee_on(amount, fee_ppm)


def forwardable_of(received: int, fee_ppm: int) -> int:
    """The most the hub may pay onward having received ``received``: the largest
    ``x`` with ``x + fee_on(x) <= received`` (so that ``renter_owes(x)`` forwards
    exactly ``x``)."""
    x = received * PPM // (PPM + fee_ppm)
    while x > 0 and renter_owes(x, fee_ppm) > received:  # at most one step: the fee rounds up
        x -= 1
    return x


@dataclass(frozen=True, slots=True)
class HopTerms:
    """One lease's hop: the two channels, their domains, the renter and the hub's fee."""

    inbound: Hash32  # the renter's channel to the hub, on the renter's shard
    inbound_domain: Eip712Domain | VoucherDomain
    inbound_deposit: int
    renter: Address
    outbound: Hash32  # the hub's channel to the provider, on the provider's shard
    outbound_domain: Eip712Domain
    outbound_deposit: int
    fee_ppm: int  # what the hub keeps, per million wei paid onward

    def renter_owes(self, amount: int) -> int:
        """The renter's cumulative voucher for ``amount`` to the provider."""
        return renter_owes(amount, self.fee_ppm)

    def forwardable(self, received: int) -> int:
        """What the hub may sign to the provider having received ``received``, capped
        by the outbound deposit."""
        return min(forwardable_of(received, self.fee_ppm), self.outbound_deposit)


@dataclass(frozen=True, slots=True)
class HopState:
    """The best renter voucher the hub holds, and the most it has signed onward."""

    terms: HopTerms
    received: int = 0
    best_inbound: Voucher | None = None
    forwarded: int = 0


@dataclass(frozen=True, slots=True)
class RenterVoucher:
    """A voucher the renter sent the hub."""

    voucher: Voucher


@dataclass(frozen=True, slots=True)
class Forward:
    """The hub's voucher for the provider (sign it with the hub's key)."""

    amount: int


@dataclass(frozen=True, slots=True)
class Refused:
    """A renter voucher the hub does not take, and why."""

    reason: str


HopEvent = Forward | Refused


def handle_renter_voucher(
    state: HopState, voucher: Voucher
) -> TransitionResult[HopState, HopEvent]:
    """Take a renter voucher that pays more; forward what it newly pays for."""
    terms = state.terms
    if voucher.channel_id != terms.inbound:
        return TransitionResult(state, [Refused("the voucher is for another channel")])
    if voucher.signer(terms.inbound_domain) != terms.renter:
        return TransitionResult(state, [Refused("the voucher is not signed by the renter")])
    if voucher.amount > terms.inbound_deposit:
        return TransitionResult(state, [Refused("the voucher pays more than the channel holds")])
    if voucher.amount <= state.received:
        return TransitionResult(state, [])  # old news: the hub keeps its best
    after = replace(state, received=voucher.amount, best_inbound=voucher)
    onward = terms.forwardable(voucher.amount)
    if onward <= state.forwarded:
        return TransitionResult(after, [])
    return TransitionResult(replace(after, forwarded=onward), [Forward(onward)])


def state_transition(state: HopState, event: RenterVoucher) -> TransitionResult[HopState, HopEvent]:
    """The hub's one input: a renter voucher."""
    return handle_renter_voucher(state, event.voucher)


def sign_forward(key: PrivateKey, terms: HopTerms, forward: Forward) -> Voucher:
    """The hub's voucher to the provider for ``forward``."""
    return sign_voucher(key, terms.outbound_domain, terms.outbound, Wei(forward.amount))
