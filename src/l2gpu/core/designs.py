"""The seam every settlement design plugs into: what a design must answer.

l2gpu pays for GPU-seconds over several Layer-2 designs (channels on L1, a rollup
paying plain transfers, channels inside the rollup, and later zk, Plasma, shards).
Each is a *mode* of one system: the market, the renter and the provider reach a
design only through :class:`SettlementDesign`, and ``l2gpu bench designs`` drives
every design through the same workload through this same interface.

A design answers, for its two parties:

* ``fund``: put money where the design can spend it (nothing to do on L1; a deposit
  into the rollup);
* ``open_lease``: make the lease payable (a channel, or nothing for plain transfers);
* ``pay``: pay the lease's next second (a voucher off chain, or an L2 transfer);
* ``close``: end the lease's payment (a cooperative close where the design has one);
* ``withdraw``: move the provider's earnings to where it can spend them on L1;
* ``powers``: what the operator could freeze or take, as data read from the
  deployment (:class:`OperatorPowers`), and how a user gets out without it.

Every step returns a :class:`Step`: the L1 transactions it sent itself (their bytes
and gas are read back from L1 by whoever measures) and the bytes of L2 transactions
it added to batches (whose L1 cost is read from the node's batch transactions).
This module holds only the types; the designs live in :mod:`l2gpu.designs`.

A channel design also shows the market a :class:`ChannelRail`: what the renter's
client, the provider's agent and the market's channel check call for one lease's
channel (open, check, close, status). :func:`l2gpu.designs.lease_rail` makes the
rail of the design that the ``settlement`` setting names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.types import Address, Hash32, Wei


@dataclass(frozen=True)
class Step:
    """What one step of a design did: ``l1_txs`` the L1 transaction hashes it sent
    itself; ``l2_bytes`` the bytes it added to rollup batches; ``messages`` the
    off-chain messages it signed (vouchers)."""

    l1_txs: tuple[bytes, ...] = ()
    l2_bytes: int = 0
    messages: int = 0

    def __add__(self, other: Step) -> Step:
        return Step(self.l1_txs + other.l1_txs, self.l2_bytes + other.l2_bytes,
                    self.messages + other.messages)  # fmt: skip


@dataclass(frozen=True)
class OperatorPower:
    """One thing an operator could do to a user's money: ``action`` is ``freeze`` or
    ``take``; ``what`` the money concerned; ``for_s`` how long at most (None: as long
    as it likes); ``escape`` the user's way out without the operator."""

    action: str
    what: str
    for_s: int | None
    escape: str


@dataclass(frozen=True)
class OperatorPowers:
    """Everything the operator of one deployed design could do to users' money."""

    powers: tuple[OperatorPower, ...]

    def can_take(self) -> bool:
        """Whether the operator could take any user's money at all."""
        return any(p.action == "take" for p in self.powers)

    def longest_freeze_s(self) -> int | None:
        """The longest the operator could freeze money (0: never; None: unbounded)."""
        freezes = [p.for_s for p in self.powers if p.action == "freeze"]
        if not freezes:
            return 0
        return None if None in freezes else max(f for f in freezes if f is not None)

    def to_json(self) -> dict[str, Any]:
        """As the benchmark prints it."""
        return {"can_take": self.can_take(), "longest_freeze_s": self.longest_freeze_s(),
                "powers": [p.__dict__ for p in self.powers]}  # fmt: skip


@dataclass(frozen=True)
class Clocks:
    """How long a provider's money takes, after the close, to become ``soft`` (the
    operator promised it), ``final`` (no one can undo it) and ``withdrawable`` (spendable
    on L1), in seconds; read from the deployment (challenge windows, L1 finality)."""

    soft_s: float
    final_s: float
    withdrawable_s: float


class LeasePayment(Protocol):
    """A lease made payable by a design (a channel, or the parties of plain transfers)."""

    renter: Address
    provider: Address
    deposit: Wei


LeaseT = TypeVar("LeaseT", bound=LeasePayment)


class SettlementDesign(Protocol[LeaseT]):
    """One settlement design, as both parties of a lease use it; ``LeaseT`` is what
    the design keeps per lease (a channel, or the parties' accounts)."""

    name: str

    def fund(self, party: Any, amount: Wei) -> Step:
        """Put ``amount`` where ``party`` can pay with it on this design."""
        ...

    def open_lease(self, renter: Any, provider: Any, deposit: Wei, *, lifetime: int
                   ) -> tuple[LeaseT, Step]:  # fmt: skip
        """Make a lease payable from ``renter`` to ``provider``, ``deposit`` at most."""
        ...

    def pay(self, lease: LeaseT, cumulative: Wei) -> Step:
        """The renter pays up to ``cumulative`` wei in all (its next second)."""
        ...

    def close(self, lease: LeaseT, paid: Wei) -> Step:
        """End the lease's payment at ``paid`` wei; the rest goes back to the renter."""
        ...

    def withdraw(self, party: Any) -> Step:
        """Start moving ``party``'s earnings to L1 (what it can do alone, now)."""
        ...

    def clocks(self) -> Clocks:
        """How long money takes to become soft, final and withdrawable here."""
        ...

    def powers(self) -> OperatorPowers:
        """What the operator of this deployment could freeze or take."""
        ...


# -- the market's face of a channel design --------------------------------------------


class ChannelAlreadyClosed(L2gpuError):
    """The channel was closed already (an earlier close went through)."""


class ChannelNotDue(L2gpuError):
    """The channel cannot be settled before ``deadline`` (unix seconds, the rail's clock)."""

    def __init__(self, what: str, fix: str, deadline: int) -> None:
        self.deadline = deadline
        super().__init__(what, fix)


@dataclass(frozen=True)
class OpenedChannel:
    """A channel the renter opened for one lease, and what opening it cost on L1."""

    params: ChannelParams
    deposit: Wei
    description: ChannelDescription
    gas_used: int
    tx_bytes: int
    tx_hash: bytes | None = None  # the L1 transaction (None: the rail sent none on L1)


@dataclass(frozen=True)
class ClosedChannel:
    """How the provider closed a lease's channel."""

    amount: Wei
    provider_payout: int
    renter_payout: int
    gas_used: int
    tx_bytes: int
    how: str = "provider"  # "provider": closed alone with the best voucher; or "cooperative"
    tx_hash: bytes | None = None  # the L1 transaction (None: the rail sent none on L1)


class ChannelRail(Protocol):
    """Open, check and close a lease's channel on one settlement design."""

    settlement: str
    pending_needs_renter: bool
    """A channel the node shows ``pending`` still needs an act of its renter (a
    co-signature) to open: the provider serves it no longer than the grace."""

    @property
    def domain(self) -> Eip712Domain:
        """The EIP-712 domain the renter's vouchers are signed under."""
        ...

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """Open a channel from this rail's account to ``provider`` holding ``deposit``."""
        ...

    def now(self) -> int:
        """The time that channel expiries and deadlines count in (the rail's clock)."""
        ...

    def check(self, channel: ChannelDescription, *, max_cost: int, ends_by: int) -> str | None:
        """Why the described channel cannot pay for the lease, or None when it can."""
        ...

    def close(self, channel: ChannelDescription, best: Voucher) -> ClosedChannel:
        """Close the described channel at once with the renter's best voucher."""
        ...

    def abandon(self, channel: ChannelDescription, conceded: Wei = Wei(0)) -> str:
        """The renter starts closing a channel (conceding ``conceded``: nothing for one no
        lease used, the best voucher it signed for a lease that ended without the
        provider's close); says how and when the deposit comes back."""
        ...

    def status(self, channel: ChannelDescription) -> str:
        """``pending`` (soft-confirmed), ``open``, ``closing``, ``settled`` or ``missing``;
        raises L2gpuError when the rail cannot be read (not the same as a missing channel)."""
        ...

    def confirmed(self, channel_id: Hash32) -> str:
        """Wait until a channel this rail opened is final on its rail (``open``), or
        known never to open (``missing``)."""
        ...

    def cosign_close(self, channel: ChannelDescription, paid: Wei) -> str:
        """The renter's side of a lease's end: agree to a cooperative close paying at
        most ``paid``, where the rail has one; return the channel's status."""
        ...
