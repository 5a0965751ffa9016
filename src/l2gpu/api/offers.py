"""The offer book: publish, search, withdraw; providers' heartbeats and records.

Search runs on an :class:`~l2gpu.core.market.index.OfferIndex` of the active
offers, rebuilt only when the book changes (publish, withdraw, a lease taking or
returning an offer, a provider's reliability moving), so a search costs a parse
and a few vector operations however many searches come in between.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from l2gpu.api.records import offer_row, offer_values, record_of, view_of_row
from l2gpu.core.market.fields import fold
from l2gpu.core.market.index import OfferIndex
from l2gpu.core.market.offers import OfferError, SignedOffer, validate_offer
from l2gpu.core.market.query import Condition, parse_filter, parse_sort
from l2gpu.core.market.reputation import ProviderRecord
from l2gpu.core.market.view import OfferView
from l2gpu.core.types import Address, Timestamp
from l2gpu.db.market_models import OfferRow, Provider
from l2gpu.serving.errors import Conflict, Forbidden, NotFound

MAX_LIMIT = 1000
MAX_OWN_OFFERS = 200
"""The most of a provider's own offers one page lists."""
OFFLINE_AFTER = 3
"""Seconds between heartbeats beyond which the agent counts as having been down."""


class OfferBook:
    """Offers and providers in the database, with a cached search index."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], int],
        chain_id: int,
        hide_after: int | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.chain_id = chain_id
        # Offers of a provider not heard from for this many seconds are not listed: its
        # agent is not running (stopped, crashed, cut off), and a lease would be refused.
        self.hide_after = hide_after
        self._version = 0
        self._index: tuple[int, OfferIndex] | None = None
        self._silent: tuple[int, frozenset[str]] = (-1, frozenset())
        self._lock = threading.Lock()

    def changed(self) -> None:
        """Mark the index stale (called by whoever changes offers or records)."""
        with self._lock:
            self._version += 1

    # -- providers ---------------------------------------------------------------

    def heartbeat(self, provider: Address, inventory: dict[str, Any]) -> dict[str, Any]:
        """Record that ``provider``'s agent is alive, and its inventory."""
        try:
            return self._heartbeat(provider, inventory)
        except IntegrityError:  # a first heartbeat raced another: the row exists now
            return self._heartbeat(provider, inventory)

    def _heartbeat(self, provider: Address, inventory: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            row = session.get(Provider, bytes(provider), with_for_update=True)
            if row is None:
                row = _new_provider(provider, now, inventory)
                session.add(row)
            else:
                # Uptime in seconds: a gap of up to OFFLINE_AFTER seconds between two
                # heartbeats counts as up; a longer one counts only its last second.
                gap = max(1, now - row.last_heartbeat)
                row.heartbeats_expected += gap
                row.heartbeats_seen += gap if gap <= OFFLINE_AFTER else 1
                row.last_heartbeat = now
                row.inventory = inventory
        with self._lock:  # this provider may be listed again at once
            self._silent = (-1, frozenset())
            return {"address": provider.checksum, "last_heartbeat": now}

    def provider(self, address: Address) -> dict[str, Any]:
        """A provider's public record."""
        with Session(self.engine) as session:
            row = session.get(Provider, bytes(address))
            if row is None:
                raise NotFound(f"no provider {address}", "check the address")
            return _provider_json(row)

    def providers(self) -> list[dict[str, Any]]:
        """Every provider's public record."""
        with Session(self.engine) as session:
            return [_provider_json(r) for r in session.scalars(select(Provider)).all()]

    def last_heartbeat(self, address: Address) -> int | None:
        """When ``address``'s agent last sent a heartbeat."""
        with Session(self.engine) as session:
            row = session.get(Provider, bytes(address))
            return None if row is None else row.last_heartbeat

    # -- offers ------------------------------------------------------------------

    def publish(self, caller: Address, offer: SignedOffer) -> OfferView:
        """Publish a signed offer of ``caller``'s."""
        now = self.clock()
        if offer.terms.provider != caller:
            raise Forbidden(
                f"you are {caller}; the offer is {offer.terms.provider}'s",
                "publish only offers for your own address",
            )
        if offer.chain_id != self.chain_id:
            raise OfferError(
                f"the offer is signed for chain {offer.chain_id}",
                f"sign it for this market's chain {self.chain_id}",
            )
        validate_offer(offer, Timestamp(now))
        try:
            self._insert(caller, offer, now)
        except IntegrityError:
            # A concurrent request published the same offer (or registered the provider)
            # first; a second attempt sees its row and answers accordingly.
            self._insert(caller, offer, now)
        self.changed()
        return self.view(offer.offer_id)

    def _insert(self, caller: Address, offer: SignedOffer, now: int) -> None:
        with Session(self.engine) as session, session.begin():
            record = session.get(Provider, bytes(caller))
            if record is None:  # publishing registers the provider
                record = _new_provider(caller, now, {})
                session.add(record)
            gpus = (record.inventory or {}).get("gpus")
            if isinstance(gpus, int) and offer.terms.num_gpus > gpus:
                raise OfferError(
                    f"the offer holds {offer.terms.num_gpus} GPUs; your machine reported {gpus}",
                    "offer at most the GPUs the machine has",
                )
            if session.get(OfferRow, offer.offer_id) is not None:
                raise Conflict(
                    f"offer {offer.offer_id} is already published",
                    "sign new terms (change the nonce) to publish another",
                )
            session.add(offer_row(offer, now))

    def withdraw(self, caller: Address, offer_id: int) -> None:
        """Withdraw an offer; only its provider may."""
        with Session(self.engine) as session, session.begin():
            row = session.get(OfferRow, offer_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no offer {offer_id}", "search offers with 'l2gpu offers search'")
            if row.provider != bytes(caller):
                raise Forbidden(f"offer {offer_id} is not yours", "withdraw only your own offers")
            row.status = "withdrawn"
        self.changed()

    def view(self, offer_id: int) -> OfferView:
        """One offer's view, in any status."""
        with Session(self.engine) as session:
            row = session.get(OfferRow, offer_id)
            if row is None:
                raise NotFound(f"no offer {offer_id}", "search offers with 'l2gpu offers search'")
            record = session.get(Provider, row.provider)
            rel = record_of(record).reliability if record else ProviderRecord().reliability
            return view_of_row(row, rel)

    def offers_of(
        self, provider: Address, *, limit: int = 100, offset: int = 0
    ) -> list[tuple[OfferView, str, int]]:
        """``provider``'s offers in any status (active, leased, withdrawn), newest first:
        each with its status and when it was published."""
        limit = max(1, min(limit, MAX_OWN_OFFERS))
        with Session(self.engine) as session:
            record = session.get(Provider, bytes(provider))
            rel = record_of(record).reliability if record else ProviderRecord().reliability
            rows = session.scalars(
                select(OfferRow)
                .where(OfferRow.provider == bytes(provider))
                .order_by(OfferRow.created_at.desc(), OfferRow.offer_id.desc())
                .limit(limit)
                .offset(max(0, offset))
            ).all()
            return [(view_of_row(r, rel), r.status, r.created_at) for r in rows]

    def set_status(self, session: Session, offer_id: int, status: str) -> None:
        """Move an offer to ``status`` inside the caller's transaction."""
        session.execute(update(OfferRow).where(OfferRow.offer_id == offer_id).values(status=status))
        self.changed()

    def take(self, session: Session, offer_id: int) -> bool:
        """Mark an active offer leased inside the caller's transaction; False if it was not
        active any more (one conditional UPDATE: of two racing leases, one changes it)."""
        taken = session.execute(
            update(OfferRow)
            .where(OfferRow.offer_id == offer_id, OfferRow.status == "active")
            .values(status="leased")
        )
        self.changed()
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    def search(self, query: str = "", sort: str = "", limit: int = 50) -> list[OfferView]:
        """Active, unexpired offers meeting ``query``, ordered by ``sort`` (default: price)."""
        conditions = parse_filter(query)
        keys = parse_sort(sort or "price")
        limit = max(1, min(limit, MAX_LIMIT))
        now = self.clock()
        silent = self.silent_providers(now)
        if silent:
            conditions = [*conditions, Condition("provider", "notin", silent)]
        return self.index().search(conditions, keys, limit=limit, now=now)

    def silent_providers(self, now: int) -> frozenset[str]:
        """Providers (folded addresses, as the filter compares them) whose last heartbeat
        is older than ``hide_after``; read from the database at most once a second, so
        that every market process sharing it agrees."""
        if self.hide_after is None:
            return frozenset()
        with self._lock:
            if self._silent[0] == now:
                return self._silent[1]
        with Session(self.engine) as session:
            rows = session.scalars(
                select(Provider.address).where(Provider.last_heartbeat < now - self.hide_after)
            ).all()
        silent = frozenset(fold(Address(bytes(a)).checksum) for a in rows)
        with self._lock:
            self._silent = (now, silent)
        return silent

    def index_is_current(self) -> bool:
        """True if the cached index reflects every change (a search will not rebuild it)."""
        with self._lock:
            return self._index is not None and self._index[0] == self._version

    def index(self) -> OfferIndex:
        """The search index of active offers, rebuilt if the book changed."""
        with self._lock:
            version = self._version
            if self._index is not None and self._index[0] == version:
                return self._index[1]
        with Session(self.engine) as session:
            reliability = {
                r.address: record_of(r).reliability for r in session.scalars(select(Provider))
            }
            rows = session.scalars(select(OfferRow).where(OfferRow.status == "active")).all()
            views = [view_of_row(r, reliability.get(r.provider, 1.0)) for r in rows]
        index = OfferIndex(views)
        with self._lock:
            self._index = (version, index)
        return index

    def load(self, offers: list[SignedOffer]) -> None:
        """Bulk-publish already validated offers (benchmarks and imports)."""
        now = self.clock()
        if not offers:
            return
        # One executemany of plain values: building a mapped object per offer costs
        # several times the insert itself at 100,000 offers.
        with Session(self.engine) as session, session.begin():
            session.execute(insert(OfferRow), [offer_values(o, now) for o in offers])
        self.changed()


_COUNTERS = (
    "leases",
    "failed_starts",
    "preempted",
    "seconds_promised",
    "seconds_delivered",
    "heartbeats_expected",
    "heartbeats_seen",
)


def _new_provider(address: Address, now: int, inventory: dict[str, Any]) -> Provider:
    return Provider(
        address=bytes(address),
        first_seen=now,
        last_heartbeat=now,
        inventory=inventory,
        **dict.fromkeys(_COUNTERS, 0),
    )


def _provider_json(row: Provider) -> dict[str, Any]:
    record = record_of(row)
    return {
        "address": Address(row.address).checksum,
        "first_seen": row.first_seen,
        "last_heartbeat": row.last_heartbeat,
        "inventory": row.inventory,
        "reliability": round(record.reliability, 6),
        "uptime": round(record.uptime, 6),
        **{k: getattr(row, k) for k in _COUNTERS},
    }
