"""The renter's side of a lease: pay every second for what was metered.

The channel is opened through a rail (:mod:`l2gpu.payments.rails`: on L1 or inside
the rollup) before the lease is requested.

:class:`LeasePayer` is the loop that pays: each step it reads the lease, and if
the job runs it signs a voucher for the seconds the provider metered, capped by
the wall time since the job started, the duration bought and the deposit
(:func:`l2gpu.core.market.billing.amount_to_sign`). If the provider's agent
vanishes, its meter stops and so do the payments: the renter pays only for
seconds delivered.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from l2gpu.client import ApiRequestError, MarketClient
from l2gpu.core.channel.vouchers import Voucher, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.billing import amount_to_sign
from l2gpu.core.types import Hash32, Timestamp, Wei
from l2gpu.wire import LeasePublic

log = logging.getLogger(__name__)


class LeasePayer:
    """Pays one lease, second by second, for what was metered."""

    def __init__(
        self,
        client: MarketClient,
        key: PrivateKey,
        lease: LeasePublic,
        domain: Any,
        *,
        clock: Callable[[], int],
        signer: Callable[[Hash32, Wei], Voucher] | None = None,
    ) -> None:
        self.client = client
        self.key = key
        self.lease_id = lease.id
        self.domain = domain
        channel = lease.channel.to_core()
        self.channel_id = channel.channel_id
        self.deposit = channel.deposit
        self.clock = clock
        self.last: Voucher | None = None
        self.delivered = Wei(0)  # the highest amount the market took
        self.info = lease
        self.signing = True
        # How long each voucher took to reach the market and be checked there (the
        # last few thousand; the demo and `bench shards` quote their median).
        self.pay_seconds: deque[float] = deque(maxlen=4096)
        # A routed lease's voucher is the hub's, traded for the renter's own (the
        # ``sharded`` rail's ``sign``); otherwise the renter signs it here.
        self.signer = signer or (lambda cid, amount: sign_voucher(key, domain, cid, amount))

    @property
    def paid(self) -> Wei:
        """The highest amount signed so far."""
        return self.last.amount if self.last else Wei(0)

    def step(self) -> LeasePublic:
        """Read the lease; pay what is due; return the lease as read."""
        self.info = self.client.lease(self.lease_id)
        if not self.signing:
            return self.info
        lease = self.info.to_core()
        due = amount_to_sign(lease, lease.metered_seconds, Timestamp(self.clock()), self.deposit)
        if due > self.paid:
            try:
                self.last = self.signer(self.channel_id, due)
            except L2gpuError as exc:  # a hub that does not answer: the provider stops
                log.warning("lease %s: no voucher for %s wei: %s", self.lease_id, due, exc.what)
        if self.last is not None and self.last.amount > self.delivered:
            # sent again after a failed try (the market takes a voucher twice harmlessly)
            started = time.perf_counter()
            self.client.pay(self.lease_id, self.last)
            self.pay_seconds.append(time.perf_counter() - started)
            self.delivered = self.last.amount
        return self.info

    @property
    def done(self) -> bool:
        """True once the lease is over."""
        return self.info.status.is_final


LOOKUP_TRIES = 5


def lease_taken_despite(
    client: MarketClient, exc: L2gpuError, channel_id: Hash32, *, fix: str
) -> LeasePublic | None:
    """The lease on ``channel_id`` when the market took a rent although its answer was
    lost (a dropped connection, a server error); None when the market refused it (a
    status below 500), so that no lease uses the channel and it may be closed. While
    the market cannot be asked, the channel may pay a live lease and must not be
    closed: that is an error whose ``fix`` says what to do instead."""
    if isinstance(exc, ApiRequestError) and exc.status < 500:
        return None  # refused: nothing was taken
    wanted = str(channel_id).lower()
    for _ in range(LOOKUP_TRIES):
        try:
            live = client.jobs(live=True)
        except L2gpuError:
            time.sleep(1)  # waiting for the market to answer again
            continue
        mine = [j for j in live if j.channel.channel_id.lower() == wanted]
        return mine[0] if mine else None
    raise L2gpuError(
        f"{exc.what}; and the market cannot say whether it took the lease",
        f"channel {channel_id} stays open, as a lease may use it: {fix}",
    ) from exc
