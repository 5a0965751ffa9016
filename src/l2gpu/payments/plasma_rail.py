"""The ``plasma`` rail: a lease paid in coins of a Plasma child chain, through the
operator's API.

Opening, the renter picks ``deposit`` of its coins that no lease holds and locks
them for the provider with the operator (a signed ``PlasmaLock``; nothing on L1):
until the lock's time they move only to the provider, first coin first. Each
second's voucher is the renter's signed transfer of the first ``amount`` of them
(``core/plasma/vouchers.py``), so the provider's close is that transfer, sent to the
operator, which puts it in its next block; the coins not paid stay the renter's.

The channel is ``open`` while the lock holds its first coin, ``settled`` once the
provider holds that coin (its transfer is in a block) or the lock ended, and
``missing`` if the operator never held the lock. A lock expires
:data:`~l2gpu.payments.rails.CHALLENGE_PERIOD` after the lease's longest end, so
that the provider has that long to send its transfer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from l2gpu.clock import format_timestamp
from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.vouchers import Voucher, channel_domain
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import ChannelAlreadyClosed, ClosedChannel, OpenedChannel
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription, PlasmaCoins, voucher_domain
from l2gpu.core.market.settlement import funding_problem, rail_problem, terms_problem
from l2gpu.core.plasma.transactions import (
    ENCODED_SIZE,
    Lock,
    plasma_domain,
    sign_claim,
    sign_lock,
)
from l2gpu.core.plasma.vouchers import PlasmaVoucherDomain
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Hash32, Wei
from l2gpu.payments.rails import CHALLENGE_PERIOD, STATUS_TIMEOUT

POLL_SECONDS = 0.25  # how often a party looks whether the operator sealed a block
TRANSFER_BYTES = ENCODED_SIZE + 65


class PlasmaChannelRail:
    """Leases in a Plasma child chain, through its operator's API (``client``, a
    :class:`~l2gpu.node.plasma.client.PlasmaNodeClient`). ``key`` is the party's L1 key
    (None for a rail that only reads: the market's check); ``clock`` the time locks
    expire by (default: the operator's L1 time)."""

    settlement = "plasma"
    pending_needs_renter = False

    def __init__(
        self,
        client: Any,
        key: PrivateKey | None,
        *,
        clock: Callable[[], int] | None = None,
        wait: float = 120.0,
    ) -> None:
        self.client = client
        self.key = key
        self.wait = wait
        status = client.status()
        self.chain_id = int(status["chain_id"])
        self.plasma = Address.from_hex(status["plasma"])
        self.clock = clock or (lambda: int(client.status()["time"]))
        self._reserved: dict[Address, int] = {}  # coins this process set aside already

    @property
    def domain(self) -> Eip712Domain:
        """The contract's channel domain (a Plasma voucher verifies under the lease's
        transfer instead: see ``channel_description.voucher_domain``)."""
        return channel_domain(ChainId(self.chain_id), self.plasma)

    def now(self) -> int:
        """The time locks expire by."""
        return int(self.clock())

    # -- the renter's side ---------------------------------------------------------

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """Lock ``deposit`` of the renter's free coins for ``provider``; return once the
        operator holds the lock (logged), with the channel's description."""
        key = self._signer()
        start, received = self._set_aside(key.address, int(deposit))
        until = self.now() + lifetime + CHALLENGE_PERIOD
        domain = plasma_domain(ChainId(self.chain_id), self.plasma)
        self.client.lock(sign_lock(key, domain, Lock(start, start + int(deposit), provider, until)))
        coins = PlasmaCoins(start, received, until)
        params = ChannelParams(key.address, provider, ZERO_ADDRESS, CHALLENGE_PERIOD, coins.salt)
        description = ChannelDescription(
            self.settlement, ChainId(self.chain_id), self.plasma, params, deposit, plasma=coins
        )
        return OpenedChannel(params, deposit, description, 0, 0)

    def _set_aside(self, renter: Address, amount: int) -> tuple[int, int]:
        floor = self._reserved.get(renter, 0)
        for start, end, received in self.client.coins(renter, free=True):
            first = max(start, floor)
            if end - first >= amount:
                self._reserved[renter] = first + amount
                return first, received
        raise L2gpuError(
            f"you hold no {amount} free coins in one range on the child chain",
            "deposit more into the Plasma contract ('l2gpu up --design plasma' "
            "prints it), or wait for a lease's lock to end",
        )

    def confirmed(self, channel_id: Hash32) -> str:
        """The operator logged the lock before answering: the channel is open."""
        return "open"

    def cosign_close(self, channel: ChannelDescription, paid: Wei) -> str:
        """Nothing to co-sign: the provider sends the renter's best transfer. Wait for it
        (up to the rail's wait) and return the channel's status."""
        deadline = time.monotonic() + self.wait
        while True:
            state = self.status(channel)
            if state != "open" or time.monotonic() > deadline:
                return state
            time.sleep(POLL_SECONDS)  # the operator seals on its own clock

    def abandon(self, channel: ChannelDescription, conceded: Wei = Wei(0)) -> str:
        """A lock needs no renter's close: say when the coins are free again."""
        coins = self._coins(channel)
        return (
            f"the provider can send your best transfer for channel {channel.channel_id} "
            f"until {format_timestamp(coins.until)} (L1 time); the coins it does not "
            "take are yours again then"
        )

    # -- the provider's side -------------------------------------------------------

    def check(self, channel: ChannelDescription, *, max_cost: int, ends_by: int) -> str | None:
        """Read the lease's lock from the operator and check it against the description:
        parties, coins, deposit, expiry, and that the renter received them there."""
        wrong = rail_problem(
            channel, self.settlement, self.chain_id, self.plasma, "in the Plasma contract"
        )
        wrong = wrong or terms_problem(channel)
        if wrong:
            return wrong
        coins = self._coins(channel)
        lock = self.client.lock_at(coins.start)
        if lock is None:
            return "the operator holds no lock of the lease's coins"
        found = (
            Address.from_hex(lock["owner"]),
            int(lock["start"]),
            int(lock["end"]),
            Address.from_hex(lock["provider"]),
            int(lock["until"]),
        )
        wanted = (
            channel.renter,
            coins.start,
            coins.start + int(channel.deposit),
            channel.provider,
            coins.until,
        )
        if found != wanted:
            return "the operator's lock of the lease's coins is not the one described"
        holder = self.client.owner_of(coins.start)
        if holder is None or int(holder["received"]) != coins.received:
            return "the renter did not receive the lease's coins in the block described"
        pays_until = coins.until - int(channel.params.challenge_period)
        return funding_problem(int(channel.deposit), pays_until, max_cost, ends_by)

    def close(self, channel: ChannelDescription, best: Voucher) -> ClosedChannel:
        """Send the renter's best transfer to the operator; return once a block holds
        it (the provider then holds the coins, and their history)."""
        coins = self._coins(channel)
        amount, deposit = int(best.amount), int(channel.deposit)
        if amount == 0:
            return ClosedChannel(Wei(0), 0, deposit, 0, 0, "provider")
        if self.status(channel) == "settled":
            raise ChannelAlreadyClosed(f"channel {channel.channel_id} is settled already")
        domain = voucher_domain(channel)
        assert isinstance(domain, PlasmaVoucherDomain)
        signed = domain.signed_transfer(best)
        claim = sign_claim(
            self._signer(), plasma_domain(ChainId(self.chain_id), self.plasma), signed
        )
        self.client.submit(signed, claim)
        deadline = time.monotonic() + self.wait
        while not self._paid(channel, coins):
            if time.monotonic() > deadline:
                raise L2gpuError(
                    f"the transfer is still waiting after {self.wait:.0f} s",
                    "it stays queued at the operator: check its log",
                )
            time.sleep(POLL_SECONDS)  # the operator seals on its own clock
        return ClosedChannel(best.amount, amount, deposit - amount, 0, TRANSFER_BYTES, "provider")

    def status(self, channel: ChannelDescription) -> str:
        """``open``, ``settled`` or ``missing`` (see the module's docstring)."""
        coins = self._coins(channel)
        lock = self.client.lock_at(coins.start)
        if lock is not None and int(lock["start"]) == coins.start:
            return "open"
        if self._paid(channel, coins) or coins.until <= self.now():
            return "settled"
        return "missing"

    # -- helpers -------------------------------------------------------------------

    def _paid(self, channel: ChannelDescription, coins: PlasmaCoins) -> bool:
        holder = self.client.owner_of(coins.start)
        return holder is not None and Address.from_hex(holder["owner"]) == channel.provider

    def _signer(self) -> PrivateKey:
        if self.key is None:
            raise L2gpuError("this Plasma rail only reads leases", "pass a signing key")
        return self.key

    def _coins(self, channel: ChannelDescription) -> PlasmaCoins:
        if channel.plasma is None:
            raise L2gpuError(
                "the channel's description has no plasma part",
                "send the description that 'l2gpu rent' wrote",
            )
        return channel.plasma


def plasma_rail_reader(url: str) -> PlasmaChannelRail:
    """A rail that only reads leases (the market's check): no key."""
    from l2gpu.node.plasma.client import PlasmaNodeClient

    return PlasmaChannelRail(PlasmaNodeClient(url, timeout=STATUS_TIMEOUT * 5), None)
