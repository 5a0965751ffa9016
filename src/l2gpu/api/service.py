"""The market service: accounts, the offer book and the lease book over one database."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import Engine

from l2gpu.api.accounts import Accounts
from l2gpu.api.blobs import BlobBook
from l2gpu.api.downloads import DownloadBook
from l2gpu.api.leases import LeaseBook
from l2gpu.api.offers import OfferBook
from l2gpu.core.credit.price_index import IndexValue, NoIndex
from l2gpu.db.price_index import market_index
from l2gpu.payments.channel_check import ChannelCheck
from l2gpu.serving.errors import NotFound

DEFAULT_ORIGIN = "http://127.0.0.1:8600"
"""The origin sign-in messages name when none is given: the API's default address
(``l2gpu market serve`` passes the origin it serves, or the ``api_origin`` setting)."""
AGENT_TIMEOUT = 10
"""Seconds without a heartbeat after which a provider's running leases are preempted."""


def wall_clock() -> int:
    """Whole seconds since the epoch: the production clock."""
    return int(time.time())


class MarketService:
    """Everything the API does, without HTTP: tests and the demo call it directly too.

    ``origin`` (``scheme://host[:port]``) is where clients reach the API: sign-in
    messages name it, and a message signed for any other origin is refused.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        chain_id: int,
        origin: str = DEFAULT_ORIGIN,
        clock: Callable[[], int] = wall_clock,
        agent_timeout: int = AGENT_TIMEOUT,
        channels: ChannelCheck | None = None,
    ) -> None:
        self.engine = engine
        self.chain_id = chain_id
        self.clock = clock
        self.accounts = Accounts(engine, origin=origin, chain_id=chain_id, clock=clock)
        self.offers = OfferBook(engine, clock=clock, chain_id=chain_id, hide_after=agent_timeout)
        self.blobs = BlobBook(engine, clock=clock)
        self.leases = LeaseBook(engine, self.offers, clock=clock, agent_timeout=agent_timeout,
                                channels=channels, blobs=self.blobs)  # fmt: skip
        self.downloads = DownloadBook(engine, self.blobs, clock=clock)
        self._expired_at = 0

    def expire(self) -> None:
        """Delete what the market keeps for a while only (uploads, downloads), at most
        once a minute."""
        now = self.clock()
        if now - self._expired_at < 60:
            return
        self._expired_at = now
        self.blobs.expire()
        self.downloads.expire()

    def gpu_index(self, gpu: str) -> IndexValue:
        """The GPU-hour index of ``gpu`` now, from the market's verified leases; a thin
        market answers :class:`NotFound` with the hours it has."""
        try:
            return market_index(self.engine, gpu, self.clock())
        except NoIndex as exc:
            raise NotFound(exc.what, exc.fix) from exc
