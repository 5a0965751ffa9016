"""Events of the channel machine; each mirrors a contract event of the same name."""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.channel.state import ChannelParams
from l2gpu.core.types import Address, Hash32, Timestamp, Wei


@dataclass(frozen=True, slots=True)
class ChannelOpened:
    """A channel exists and holds ``deposit``."""

    channel_id: Hash32
    params: ChannelParams
    deposit: Wei
    expires_at: Timestamp


@dataclass(frozen=True, slots=True)
class ChannelToppedUp:
    """The deposit grew (and expiry may have moved)."""

    channel_id: Hash32
    added: Wei
    deposit: Wei
    expires_at: Timestamp


@dataclass(frozen=True, slots=True)
class VoucherAccepted:
    """A higher voucher now counts for the provider."""

    channel_id: Hash32
    amount: Wei
    submitter: Address


@dataclass(frozen=True, slots=True)
class ChannelClosing:
    """The renter started a close; vouchers count until ``deadline``."""

    channel_id: Hash32
    amount: Wei
    deadline: Timestamp


@dataclass(frozen=True, slots=True)
class ChannelSettled:
    """The channel paid out and is final."""

    channel_id: Hash32
    provider_payout: Wei
    renter_payout: Wei


@dataclass(frozen=True, slots=True)
class Payout:
    """``amount`` of ``token`` goes to ``to`` (a push; the contract credits it if refused)."""

    to: Address
    token: Address
    amount: Wei


@dataclass(frozen=True, slots=True)
class RefundAssigned:
    """The channel's refund goes to ``assignee`` at settlement, to collect."""

    channel_id: Hash32
    assignee: Address


@dataclass(frozen=True, slots=True)
class PayoutAssigned:
    """The channel's payout goes to ``assignee`` at settlement, to collect."""

    channel_id: Hash32
    assignee: Address


@dataclass(frozen=True, slots=True)
class Collected:
    """An assignee collected ``amount`` that the settled channel owed it."""

    channel_id: Hash32
    assignee: Address
    amount: Wei


ChannelEvent = (
    ChannelOpened
    | ChannelToppedUp
    | VoucherAccepted
    | ChannelClosing
    | ChannelSettled
    | Payout
    | RefundAssigned
    | PayoutAssigned
    | Collected
)
