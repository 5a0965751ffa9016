"""The lending pool's calls and events (``core/credit/pool`` is their machine).

One input per call of ``LendingPool.vy``, one event per effect that moves ether or
tokens, or that its contract logs and the tests compare.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.channel.state import ChannelParams
from l2gpu.core.types import Address, Hash32


@dataclass(frozen=True, slots=True)
class Supply:
    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class AddCollateral:
    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class RemoveCollateral:
    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Borrow:
    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Repay:
    """``sender`` pays ``amount`` wei towards ``borrower``'s debt; any excess returns."""

    sender: Address
    borrower: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Liquidate:
    """``sender`` repays up to ``amount`` wei of ``borrower``'s debt for collateral."""

    sender: Address
    borrower: Address
    amount: int


@dataclass(frozen=True, slots=True)
class SetPrice:
    """The feed posts a price in wei per whole collateral token."""

    sender: Address
    price: int


@dataclass(frozen=True, slots=True)
class CollectReserves:
    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class BorrowForLease:
    """``sender`` borrows ``amount`` wei as :class:`Borrow` does, straight into a new
    ether channel of ``params`` (its renter must be ``sender``) that the pool opens
    for it with its refund assigned to the pool; ``expires_at`` is the channel's."""

    sender: Address
    amount: int
    params: ChannelParams
    expires_at: int


@dataclass(frozen=True, slots=True)
class SettleLease:
    """Anyone settles a credit lease whose channel has settled: ``refund`` is what
    the channel owes the pool (its refund, and a payout its provider assigned to the
    pool), which the contract collects from the ChannelManager. It repays the
    renter's debt first; the rest goes to the renter."""

    sender: Address
    params: ChannelParams
    refund: int


Input = (
    Supply | Withdraw | AddCollateral | RemoveCollateral | Borrow | Repay | Liquidate
    | SetPrice | CollectReserves | BorrowForLease | SettleLease
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rejected:
    """The call reverted with ``reason``; nothing changed."""

    reason: str


@dataclass(frozen=True, slots=True)
class Paid:
    """``amount`` wei went to ``to``."""

    to: Address
    amount: int


@dataclass(frozen=True, slots=True)
class CollateralPaid:
    """``amount`` base units of the collateral token went to ``to``."""

    to: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Liquidated:
    borrower: Address
    liquidator: Address
    repaid: int
    seized: int


@dataclass(frozen=True, slots=True)
class BadDebt:
    """``amount`` of ``borrower``'s debt written off, ``from_reserves`` of it by the
    reserves and the rest by the suppliers."""

    borrower: Address
    amount: int
    from_reserves: int


@dataclass(frozen=True, slots=True)
class PriceSet:
    """The price now in force, and the one the feed asked for (they differ when the
    step bound clamped it)."""

    price: int
    requested: int


@dataclass(frozen=True, slots=True)
class LeaseFunded:
    """``amount`` wei of ``borrower``'s loan went into channel ``channel_id``."""

    borrower: Address
    channel_id: Hash32
    amount: int


@dataclass(frozen=True, slots=True)
class LeaseSettled:
    """A credit lease's channel refunded ``refund`` wei; ``repaid`` of it went to
    ``borrower``'s debt (the rest was paid to the borrower)."""

    borrower: Address
    channel_id: Hash32
    refund: int
    repaid: int


Event = (
    Rejected | Paid | CollateralPaid | Liquidated | BadDebt | PriceSet | LeaseFunded
    | LeaseSettled
)  # fmt: skip
