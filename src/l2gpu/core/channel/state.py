"""State of a channel manager: immutable channel parameters and mutable channel state.

A channel's parameters (renter, provider, asset, challenge period, salt) never
change; their Keccak-256 hash is the channel id, so the contract stores none of
them and callers pass them with every call (cheap calldata instead of costly
storage). What changes is kept per channel: deposit, best voucher amount,
expiry, close deadline and status.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Final

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import RuleViolation
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Hash32, Seconds, Timestamp, Wei

MAX_DEPOSIT: Final = 2**128 - 1
"""Deposits and voucher amounts are stored in 128 bits on L1."""
MAX_TIMESTAMP: Final = 2**64 - 1
MIN_CHALLENGE_PERIOD: Final = Seconds(1)
"""The shortest challenge period a channel may have (ChannelManager.vy's floor, and the
rollup's). The market asks more of a lease's channel:
``l2gpu.core.market.settlement.MARKET_MIN_CHALLENGE_PERIOD``."""
MAX_CHALLENGE_PERIOD: Final = Seconds(365 * 24 * 3600)
PPM: Final = 1_000_000
"""A virtual channel's fee is in parts per million of what its voucher pays."""


class ChannelStatus(IntEnum):
    """Where a channel is in its life. NONE: never opened; SETTLED is final."""

    NONE = 0
    OPEN = 1
    CLOSING = 2
    SETTLED = 3


class ChannelError(RuleViolation):
    """An input the channel rules reject. ``reason`` equals the contract's revert string."""


def fee_on(amount: int, fee_ppm: int) -> int:
    """A fee of ``fee_ppm`` per million on ``amount``, rounded up (a hub's fee)."""
    return -(-amount * fee_ppm // PPM)


@dataclass(frozen=True, slots=True)
class VirtualTerms:
    """What makes a rollup channel one end of a virtual channel (Nitro-style).

    Its vouchers are ``signer``'s signatures over ``(virtual_id, amount)`` under the
    virtual domain (``vouchers.virtual_domain``), which names the chain but no contract,
    so one voucher counts on every channel that names the same virtual id and signer,
    on any shard. Each such voucher credits the payee ``amount`` plus ``fee_ppm`` per
    million of it, rounded up: an intermediary's channel from the renter carries its
    fee, its channel to the provider none. Only rollup channels have these terms
    (``ChannelManager.vy`` on L1 has none); the channel's id commits to them.
    """

    signer: Address
    virtual_id: Hash32
    fee_ppm: int = 0

    def credited(self, amount: int) -> int:
        """What a voucher for ``amount`` credits the payee: ``amount`` plus the fee,
        at most :data:`MAX_DEPOSIT`. Saturating, not refusing: a voucher good on one end
        is then good on every end (else a renter could sign an amount that its fee
        takes past the bound on the hub's end alone, and the hub could claim nothing
        for what the provider was paid); a payout is capped at the deposit anyway."""
        return min(amount + fee_on(amount, self.fee_ppm), MAX_DEPOSIT)


@dataclass(frozen=True, slots=True)
class ChannelParams:
    """The fixed terms of a channel; their hash is the channel id."""

    renter: Address
    provider: Address
    token: Address = ZERO_ADDRESS  # the zero address means ether
    challenge_period: Seconds = Seconds(3600)
    salt: bytes = bytes(32)
    virtual: VirtualTerms | None = None
    """Set only for one end of a virtual channel, inside a rollup (see VirtualTerms)."""

    @property
    def id(self) -> Hash32:
        """The channel id: ``keccak256(abi.encode(renter, provider, token, period, salt))``."""
        return channel_id(self)

    def credited(self, amount: int) -> int:
        """What a voucher for ``amount`` credits the provider on this channel."""
        return amount if self.virtual is None else self.virtual.credited(amount)

    @property
    def is_ether(self) -> bool:
        """True when the channel holds ether rather than an ERC-20 token."""
        return self.token == ZERO_ADDRESS


def channel_id(params: ChannelParams) -> Hash32:
    """Hash the parameters exactly as the contract does (``abi.encode`` of five words;
    a virtual channel's three terms follow as three more words, as the rollup's
    ``state_leaves.vy`` hashes them)."""
    words = (
        bytes(12)
        + params.renter
        + bytes(12)
        + params.provider
        + bytes(12)
        + params.token
        + params.challenge_period.to_bytes(32, "big")
        + params.salt
    )
    if params.virtual is not None:
        v = params.virtual
        words += bytes(12) + v.signer + v.virtual_id + v.fee_ppm.to_bytes(32, "big")
    return Hash32(keccak256(words))


@dataclass(frozen=True, slots=True)
class Channel:
    """The mutable state of one channel."""

    params: ChannelParams
    deposit: Wei
    expires_at: Timestamp
    best_amount: Wei = Wei(0)
    """Highest cumulative voucher amount proven so far (may exceed the deposit)."""
    close_deadline: Timestamp = Timestamp(0)
    """When a renter's close becomes final; 0 while the channel is open."""
    status: ChannelStatus = ChannelStatus.OPEN
    refund_to: Address = ZERO_ADDRESS
    """Who receives the refund instead of the renter (a lender); zero: the renter."""
    payout_to: Address = ZERO_ADDRESS
    """Who receives the payout instead of the provider (an advance); zero: the provider."""
    refund_owed: Wei = Wei(0)
    """Kept at settlement for the refund's assignee to collect."""
    payout_owed: Wei = Wei(0)
    """Kept at settlement for the payout's assignee to collect."""

    def deadline(self) -> Timestamp:
        """The moment after which the channel can be settled and no voucher counts.

        While closing: the close deadline. While open: expiry plus the challenge period
        (a provider has one challenge period after expiry to present its voucher).
        """
        if self.status == ChannelStatus.CLOSING:
            return self.close_deadline
        return Timestamp(self.expires_at + self.params.challenge_period)

    def provider_payout(self) -> Wei:
        """What the provider receives at settlement: the best voucher, capped at the deposit."""
        return Wei(min(self.best_amount, self.deposit))


@dataclass(frozen=True, slots=True)
class ManagerState:
    """All channels of one manager contract on one chain."""

    chain_id: ChainId
    contract: Address
    channels: dict[Hash32, Channel] = field(default_factory=dict)
    """Never mutated in place: transitions return a new mapping."""

    def get(self, cid: Hash32) -> Channel | None:
        """The channel with id ``cid``, if it was ever opened."""
        return self.channels.get(cid)

    def with_channel(self, channel: Channel) -> ManagerState:
        """A new state in which ``channel`` replaces the one with its id."""
        return replace(self, channels={**self.channels, channel.params.id: channel})

    def total_locked(self, token: Address) -> Wei:
        """Deposits of unsettled channels in ``token`` and what settled ones still owe
        their assignees: what the contract must hold."""
        return Wei(
            sum(
                c.refund_owed + c.payout_owed if c.status == ChannelStatus.SETTLED else c.deposit
                for c in self.channels.values()
                if c.params.token == token
            )
        )
