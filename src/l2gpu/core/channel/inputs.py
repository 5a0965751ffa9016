"""Inputs of the channel machine: one frozen dataclass per contract entry point.

Every input carries ``sender`` (the caller) and ``now`` (the block time); ether
inputs carry ``value`` (the ether sent along). Names match the contract's
functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.channel.state import ChannelParams
from l2gpu.core.types import Address, Timestamp, Wei


@dataclass(frozen=True, slots=True)
class Open:
    """The renter opens a channel and deposits ``amount``."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    amount: Wei
    expires_at: Timestamp
    value: Wei = Wei(0)


@dataclass(frozen=True, slots=True)
class TopUp:
    """The renter adds ``amount`` and may push expiry later."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    amount: Wei
    expires_at: Timestamp
    value: Wei = Wei(0)


@dataclass(frozen=True, slots=True)
class SubmitVoucher:
    """Anyone (provider, watcher) proves a higher voucher before the deadline."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    amount: Wei
    signature: bytes


@dataclass(frozen=True, slots=True)
class CloseByRenter:
    """The renter starts a close, conceding ``amount``; a challenge period follows."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    amount: Wei


@dataclass(frozen=True, slots=True)
class CloseByProvider:
    """The provider closes with its best voucher; settles at once."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    amount: Wei
    signature: bytes


@dataclass(frozen=True, slots=True)
class CooperativeClose:
    """Both parties signed ``amount``; settles at once. Anyone may submit it."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    amount: Wei
    renter_signature: bytes
    provider_signature: bytes


@dataclass(frozen=True, slots=True)
class ApprovedCooperativeClose:
    """A cooperative close whose two approvals the caller has already checked.

    Only the rollup uses it: there, renter and provider approve by co-signing the
    commitment that carries the close (one aggregate BLS signature), instead of the
    two EIP-712 signatures that the L1 contract checks. The rules are otherwise those
    of :class:`CooperativeClose`.
    """

    sender: Address
    now: Timestamp
    params: ChannelParams
    amount: Wei


@dataclass(frozen=True, slots=True)
class Settle:
    """Anyone pays out a channel whose deadline has passed."""

    sender: Address
    now: Timestamp
    params: ChannelParams


@dataclass(frozen=True, slots=True)
class OpenFor:
    """A lender opens a channel for ``params.renter`` with its own deposit; the
    channel's refund is assigned to the lender."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    amount: Wei
    expires_at: Timestamp
    value: Wei = Wei(0)


@dataclass(frozen=True, slots=True)
class AssignRefund:
    """The refund's owner (the renter, then its assignee) hands it to ``to``."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    to: Address


@dataclass(frozen=True, slots=True)
class AssignPayout:
    """The payout's owner (the provider, then its assignee) hands it to ``to``."""

    sender: Address
    now: Timestamp
    params: ChannelParams
    to: Address


@dataclass(frozen=True, slots=True)
class Collect:
    """An assignee takes what a settled channel owes it."""

    sender: Address
    now: Timestamp
    params: ChannelParams


ChannelInput = (
    Open
    | OpenFor
    | AssignRefund
    | AssignPayout
    | Collect
    | TopUp
    | SubmitVoucher
    | CloseByRenter
    | CloseByProvider
    | CooperativeClose
    | ApprovedCooperativeClose
    | Settle
)
