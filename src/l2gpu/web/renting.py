"""Renting from the console with its development wallet (demo only).

A lease is paid by a voucher every second, signed by the renter's key: a browser
wallet that asks its user to confirm each signature cannot do that. So the console
rents only for a *development wallet*: a key the console itself holds, given at
start (``l2gpu web --dev-wallet``), which every page marks as such. It rents as
``l2gpu rent`` does: every check the market can make (price cap, duration, the
offer's liveness: the market's quote) before any deposit is locked; the channel
opened through the console's rail; the lease requested; and, if the market refuses
it after all, the channel's close started at once. A thread per lease pays it
every second (:class:`~l2gpu.renter.LeasePayer`) until it ends. Bounded: at most
``max_leases`` leases paid at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from l2gpu.client import MarketClient
from l2gpu.core.designs import ChannelRail
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import voucher_domain
from l2gpu.core.types import Address, Wei, format_wei
from l2gpu.renter import LeasePayer, lease_taken_despite
from l2gpu.wire import LeasePublic

log = logging.getLogger(__name__)

MAX_LEASES = 16
CHANNEL_SLACK_S = 3600  # a channel outlives its lease by this, as rent's do


@dataclass
class DevWallet:
    """The console's own key, its rail and the payers of its leases."""

    client: MarketClient
    rail: ChannelRail
    clock: Callable[[], int] = lambda: int(time.time())
    max_leases: int = MAX_LEASES
    interval: float = 1.0
    threads: bool = True
    """Pay from a thread per lease (tests step the payers themselves)."""
    payers: dict[int, LeasePayer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reserved: int = 0

    @property
    def address(self) -> Address:
        """The development wallet's address."""
        return self.client.key.address

    def rent(self, offer_id: str, *, command: str, hours: float, max_price: Wei | None) -> int:
        """Rent ``offer_id`` as ``l2gpu rent`` does; return the lease id."""
        duration = round(hours * 3600)
        if duration < 1:
            raise L2gpuError(f"{hours} hours is less than a second", "rent for longer")
        with self._lock:  # a slot is taken before the first call, so racing rents count
            if sum(1 for p in self.payers.values() if not p.done) + self._reserved >= (
                self.max_leases
            ):
                raise L2gpuError(f"the development wallet pays {self.max_leases} leases already",
                                 "stop one first")  # fmt: skip
            self._reserved += 1
        try:
            return self._rent(offer_id, command, duration, max_price)
        finally:
            with self._lock:
                self._reserved -= 1

    def _rent(self, offer_id: str, command: str, duration: int, max_price: Wei | None) -> int:
        offer = self.client.offer(offer_id)
        price = Wei(int(offer.price_per_gpu_second))
        if max_price is not None and price > max_price:
            raise L2gpuError(
                f"offer {offer_id} costs {format_wei(price)} per "
                f"GPU-second, above your cap of {format_wei(max_price)}",
                "raise the cap or choose another offer",
            )
        # Everything the market could refuse, asked before any deposit is locked.
        quote = self.client.quote(offer_id, duration=duration,
                                  max_price_per_gpu_second=max_price)  # fmt: skip
        opened = self.rail.open(Address.from_hex(offer.provider), Wei(quote.max_cost),
                                lifetime=duration + CHANNEL_SLACK_S)  # fmt: skip
        try:
            lease = self.client.rent(offer_id, command=command, duration=duration,
                                     channel=opened.description,
                                     max_price_per_gpu_second=max_price)  # fmt: skip
        except L2gpuError as exc:
            fix = "look at your leases when the market is back"
            taken = lease_taken_despite(self.client, exc, opened.params.id, fix=fix)
            if taken is None:
                note = self.rail.abandon(opened.description)  # no lease uses it: deposit back
                raise L2gpuError(exc.what, f"{exc.fix}; {note}") from exc
            lease = taken  # the market took it; only its answer was lost
        self._pay(lease)
        return lease.id

    def _pay(self, lease: LeasePublic) -> None:
        payer = LeasePayer(self.client, self.client.key, lease,
                           voucher_domain(lease.channel.to_core()), clock=self.clock)  # fmt: skip
        with self._lock:
            self.payers[lease.id] = payer
        if not self.threads:
            return
        threading.Thread(target=self._loop, args=(payer,), daemon=True,
                         name=f"console-payer-{lease.id}").start()  # fmt: skip

    def _loop(self, payer: LeasePayer) -> None:
        """Pay every second until the lease is over; a market that is away is retried."""
        while not payer.done:
            try:
                payer.step()
            except L2gpuError as exc:
                log.warning("lease %s: paying failed, retrying: %s", payer.lease_id, exc.what)
            time.sleep(self.interval)  # paying once a second, in real time

    def paid(self, lease_id: int) -> Wei | None:
        """What the wallet signed for ``lease_id`` so far (None: not one of its leases)."""
        payer = self.payers.get(lease_id)
        return None if payer is None else payer.paid
