"""The lease book: leases, their jobs and logs, vouchers relayed to the agent, sweeps.

Every change to a lease goes through the core machine
(:func:`l2gpu.core.market.lease.state_transition`) inside one database
transaction: the row is read and locked, the input applied, and the events that
come back carried out (:mod:`l2gpu.api.lease_effects`: the lease's status, bill and
voucher, the offer back on the market, the provider's record, the job's status)
before the transaction commits. A request is turned into an input here; what it
changes follows from the events alone.

Concurrent requests: a transaction that changes a lease locks its row first
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's writers are serialised by
``BEGIN IMMEDIATE``), the sweep skips rows another transaction holds, and what must
be unique (a lease's channel, a log chunk's sequence number) has a unique index,
so that a race ends in one success and a 409, never in two leases on one channel.

A lease counts in its provider's record only if the provider's agent verified its
channel on its rail (``channel_verified``): a renter cannot lower a provider's
reliability with leases on channels that do not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from l2gpu.api.blobs import BlobBook
from l2gpu.api.lease_agent import LIVE, AgentReports
from l2gpu.api.lease_effects import LeaseEffects
from l2gpu.api.offers import OfferBook
from l2gpu.api.records import (
    lease_json,
    lease_of,
    terms_of,
)
from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market import lease as lm
from l2gpu.core.market.channel_description import voucher_domain
from l2gpu.core.market.images import image_refusal
from l2gpu.core.market.settlement import (
    ONE_CHANNEL_PER_LEASE,
    ChannelDescription,
    check_lease_channel,
    reuse_problem,
)
from l2gpu.core.types import Address, Hash32, LeaseId, OfferId, Seconds, Timestamp, Wei
from l2gpu.db.market_models import JobLog, JobRow, LeaseRow, OfferRow, Provider
from l2gpu.db.models import encode_wei
from l2gpu.payments.channel_check import ChannelCheck, ChannelUnverifiable
from l2gpu.serving.errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    Unavailable,
)

MAX_LEASES_LISTED = 500
"""The most leases one listing returns (the newest)."""


class LeaseBook(AgentReports):
    """Leases and jobs in the database."""

    def __init__(
        self,
        engine: Engine,
        offers: OfferBook,
        *,
        clock: Callable[[], int],
        agent_timeout: int,
        channels: ChannelCheck | None = None,
        blobs: BlobBook | None = None,
    ) -> None:
        self.engine = engine
        self.blobs = blobs or BlobBook(engine, clock=clock)
        self.offers = offers
        self.effects = LeaseEffects(offers)
        self.clock = clock
        self.agent_timeout = agent_timeout
        # Reads a lease's channel on its rail before the lease takes the offer (None:
        # only the provider's agent checks it, after the offer is taken).
        self.channels = channels
        # No heartbeat reached a market that was down: its agents get the full timeout
        # from its start before any of their leases counts as abandoned.
        self.started_at = clock()

    # -- renter ------------------------------------------------------------------

    def quote(
        self,
        renter: Address,
        *,
        offer_id: int,
        duration: int,
        max_price_per_gpu_second: int | None = None,
        image: str | None = None,
    ) -> dict[str, Any]:
        """Every check :meth:`create` makes that does not need the channel, and what the
        channel must hold: a renter asks before it locks a deposit."""
        now = self.clock()
        with Session(self.engine) as session:
            offer = session.get(OfferRow, offer_id)
            lease = self._checked_lease(session, offer, offer_id, renter, duration,
                                        max_price_per_gpu_second, now, image)  # fmt: skip
            seen = session.get(Provider, bytes(lease.provider))
        return {
            "offer_id": str(offer_id),
            "provider": lease.provider.checksum,
            "num_gpus": lease.num_gpus,
            "price_per_gpu_second": str(lease.price_per_gpu_second),
            "duration": duration,
            "max_cost": str(lease.max_cost),
            "provider_seen_seconds_ago": None if seen is None else now - seen.last_heartbeat,
        }

    def _checked_lease(
        self,
        session: Session,
        offer: OfferRow | None,
        offer_id: int,
        renter: Address,
        duration: int,
        max_price_per_gpu_second: int | None,
        now: int,
        image: str | None = None,
    ) -> lm.Lease:
        if offer is None:
            raise NotFound(f"no offer {offer_id}", "search offers with 'l2gpu offers search'")
        if offer.status != "active":
            raise Conflict(f"offer {offer_id} is {offer.status}", "choose another offer")
        terms = terms_of(offer)
        refused = image_refusal(offer_id, terms.backend, terms.images, image)
        if refused is not None:
            raise ApiError(refused.what, refused.fix)
        # Read in the caller's session: a second connection would wait on its write lock.
        provider = session.get(Provider, bytes(terms.provider))
        seen = None if provider is None else provider.last_heartbeat
        if seen is not None and now - seen > self.agent_timeout:
            raise Conflict(
                f"the provider of offer {offer_id} has not been heard from for {now - seen} s: "
                "its agent is not running",
                "choose another offer (search shows each provider's reliability)",
            )
        limit = None if max_price_per_gpu_second is None else Wei(max_price_per_gpu_second)
        return lm.open_lease(LeaseId(0), OfferId(offer_id), terms, renter, Seconds(duration),
                             Timestamp(now), max_price_per_gpu_second=limit)  # fmt: skip

    def create(
        self,
        renter: Address,
        *,
        offer_id: int,
        duration: int,
        job: dict[str, Any],
        channel: ChannelDescription,
        max_price_per_gpu_second: int | None = None,
    ) -> dict[str, Any]:
        """Rent the whole offer ``offer_id`` for ``duration`` s and queue ``job`` on it."""
        now = self.clock()
        if self.channels is not None:
            self._channel_pays(renter, offer_id, duration, channel, max_price_per_gpu_second, now,
                               job.get("image"))  # fmt: skip
        try:
            lease_id = self._create(
                renter, offer_id, duration, job, channel, max_price_per_gpu_second, now
            )
        except IntegrityError as exc:
            # Another request took the channel between our check and our insert: the
            # unique index let only one of them commit.
            raise self._channel_taken(channel.channel_id) from exc
        return self.get(renter, lease_id)

    def _channel_pays(self, renter: Address, offer_id: int, duration: int,
                      channel: ChannelDescription, max_price_per_gpu_second: int | None,
                      now: int, image: str | None) -> None:  # fmt: skip
        """Refuse a lease whose channel is not open and funded for it on its rail: a
        lease takes the offer, so a made-up channel must not (read outside any
        database transaction: the rail is a network call)."""
        assert self.channels is not None
        with Session(self.engine) as session:
            offer = session.get(OfferRow, offer_id)
            lease = self._checked_lease(session, offer, offer_id, renter, duration,
                                        max_price_per_gpu_second, now, image)  # fmt: skip
        checked = check_lease_channel(channel, lease)
        try:
            problem = self.channels(checked, max_cost=int(lease.max_cost), ends_by=now + duration)
        except ChannelUnverifiable as exc:
            raise Unavailable(f"cannot read the lease's channel now: {exc.what}",
                              "retry in a minute") from exc  # fmt: skip
        if problem is not None:
            raise ApiError(
                f"the lease's channel cannot pay for it: {problem}",
                "open and fund the channel first ('l2gpu rent' does), then rent",
            )

    def _create(
        self,
        renter: Address,
        offer_id: int,
        duration: int,
        job: dict[str, Any],
        channel: ChannelDescription,
        max_price_per_gpu_second: int | None,
        now: int,
    ) -> int:
        with Session(self.engine) as session, session.begin():
            query = select(OfferRow).where(OfferRow.offer_id == offer_id).with_for_update()
            offer = session.scalars(query).first()
            lease = self._checked_lease(session, offer, offer_id, renter, duration,
                                        max_price_per_gpu_second, now,
                                        job.get("image"))  # fmt: skip
            assert offer is not None  # _checked_lease refused a missing offer
            terms = terms_of(offer)
            checked = check_lease_channel(channel, lease)
            channel_id = str(checked.channel_id)
            earlier = session.scalar(
                select(LeaseRow.lease_id).where(LeaseRow.channel_id == channel_id)
            )
            _refuse_reuse(checked.channel_id, earlier)
            row = LeaseRow(
                offer_id=offer_id,
                renter=bytes(renter),
                provider=bytes(terms.provider),
                num_gpus=lease.num_gpus,
                price_per_gpu_second=encode_wei(lease.price_per_gpu_second),
                max_seconds=duration,
                requested_at=now,
                status="requested",
                metered_seconds=0,
                paid=encode_wei(0),
                reason="",
                channel=checked.to_json(),
                channel_id=channel_id,
                channel_verified=False,
                voucher_amount=encode_wei(0),
            )
            session.add(row)
            session.flush()
            archive = job.get("archive") or None
            if archive is not None:  # the folder the job starts in: uploaded, whole, checked
                self.blobs.workdir(session, renter, archive["sha256"], archive["size"])
            session.add(
                JobRow(
                    lease_id=row.lease_id,
                    command=str(job.get("command", "")),
                    env=dict(job.get("env") or {}),
                    secrets=dict(job.get("secrets") or {}),
                    files=dict(job.get("files") or {}),
                    status="pending",
                    created_at=now,
                    archive=archive["sha256"] if archive else None,
                    archive_size=archive["size"] if archive else None,
                    image=job.get("image"),
                )
            )
            if not self.offers.take(session, offer_id):
                raise Conflict(f"offer {offer_id} was leased just now", "choose another offer")
            return row.lease_id

    def _channel_taken(self, channel_id: Hash32) -> Conflict:
        with Session(self.engine) as session:
            earlier = session.scalar(
                select(LeaseRow.lease_id).where(LeaseRow.channel_id == str(channel_id))
            )
        problem = reuse_problem(channel_id, pays_for=earlier)
        if problem is None:  # not the channel: the offer, taken by a concurrent lease
            return Conflict("the offer was leased just now", "choose another offer")
        return Conflict(problem, ONE_CHANNEL_PER_LEASE)

    def get(self, caller: Address, lease_id: int) -> dict[str, Any]:
        """A lease as its renter or provider sees it."""
        self.sweep(lease_id)
        with Session(self.engine) as session:
            row = self._row(session, caller, lease_id)
            return lease_json(row, session.get(JobRow, lease_id))

    def list_for(
        self,
        caller: Address,
        *,
        live_only: bool = False,
        role: str = "any",
        since: int | None = None,
        limit: int = MAX_LEASES_LISTED,
    ) -> list[dict[str, Any]]:
        """Leases where ``caller`` is the renter or the provider (``role``: ``renter`` or
        ``provider`` for one side only), newest first; with ``since``, only those live
        or ended at or after it (what a provider's earnings since then come from)."""
        who = bytes(caller)
        sides = {"renter": LeaseRow.renter == who, "provider": LeaseRow.provider == who}
        with Session(self.engine) as session:
            query = select(LeaseRow).where(
                sides.get(role, (LeaseRow.renter == who) | (LeaseRow.provider == who))
            )
            if live_only:
                query = query.where(LeaseRow.status.in_(LIVE))
            if since is not None:
                query = query.where(LeaseRow.ended_at.is_(None) | (LeaseRow.ended_at >= since))
            limit = max(1, min(limit, MAX_LEASES_LISTED))
            rows = session.scalars(query.order_by(LeaseRow.lease_id.desc()).limit(limit)).all()
            return [lease_json(r, session.get(JobRow, r.lease_id)) for r in rows]

    def voucher(
        self, renter: Address, lease_id: int, amount: int, signature: bytes
    ) -> dict[str, Any]:
        """Relay a voucher to the provider, after checking that the renter signed it."""
        with Session(self.engine) as session, session.begin():
            row = self._row(session, renter, lease_id, lock=True)
            if row.renter != bytes(renter):
                raise Forbidden(f"lease {lease_id} is not yours to pay", "pay only your own leases")
            ch = ChannelDescription.from_json(row.channel)
            domain = voucher_domain(ch)
            voucher = Voucher(ch.channel_id, Wei(amount), signature)
            if amount > ch.deposit:
                raise L2gpuError(
                    f"the voucher pays {amount} wei, more than the channel's deposit of "
                    f"{int(ch.deposit)} wei",
                    "sign at most the deposit: the channel cannot pay more",
                )
            # The channel's payer: the renter, or for a routed lease the hub it trades with
            # (the channel's route names this renter: checked when the lease was made);
            # on one end of a virtual channel, its signer (the renter).
            if voucher.signer(domain) != ch.voucher_signer:
                raise L2gpuError(
                    "the voucher is not signed by the lease's renter for its channel",
                    "sign it with the renter's key over this lease's channel",
                )
            now = Timestamp(self.clock())
            self._apply(session, row, lm.VoucherRecorded(now, Wei(amount), signature))
            return {"lease_id": lease_id, "best": str(int(row.voucher_amount))}

    def stop(self, caller: Address, lease_id: int, reason: str = "") -> dict[str, Any]:
        """The renter (or the provider) ends the lease now."""
        with Session(self.engine) as session, session.begin():
            row = self._row(session, caller, lease_id, lock=True)
            by = "renter" if row.renter == bytes(caller) else "provider"
            self._apply(session, row, lm.StopRequested(Timestamp(self.clock()), by, reason))
        return self.get(caller, lease_id)

    def logs(
        self, caller: Address, lease_id: int, after: int = 0, limit: int = 500
    ) -> tuple[list[dict[str, Any]], bool]:
        """Log chunks after ``after`` (by seq); and whether the lease is over."""
        with Session(self.engine) as session:
            row = self._row(session, caller, lease_id)
            chunks = session.scalars(
                select(JobLog)
                .where(JobLog.lease_id == lease_id, JobLog.seq > after)
                .order_by(JobLog.seq)
                .limit(limit)
            ).all()
            return [
                {"seq": c.seq, "at": c.at, "text": c.text} for c in chunks
            ], row.status not in LIVE

    # -- time ----------------------------------------------------------------------

    def sweep(self, lease_id: int | None = None) -> int:
        """Apply time to live leases: their end, their start timeout, a silent agent."""
        now = Timestamp(self.clock())
        changed = 0
        with Session(self.engine) as session, session.begin():
            query = select(LeaseRow).where(LeaseRow.status.in_(LIVE))
            if lease_id is not None:
                query = query.where(LeaseRow.lease_id == lease_id)
            # A lease another transaction is changing is skipped: the next sweep sees it.
            query = query.order_by(LeaseRow.lease_id).with_for_update(skip_locked=True)
            for row in session.scalars(query).all():
                seen = session.get(Provider, row.provider)
                last = seen.last_heartbeat if seen is not None else row.requested_at
                silent_since = max(last, row.requested_at, self.started_at)
                silent = now - silent_since > self.agent_timeout
                inp = lm.AgentLost(now) if silent else lm.Tick(now)
                lease, events = lm.state_transition(lease_of(row), inp)
                self.effects.carry_out(session, row, lease, events)
                changed += any(isinstance(e, lm.StatusChanged) for e in events)
        return changed

    # -- helpers -------------------------------------------------------------------

    def _row(
        self, session: Session, caller: Address, lease_id: int, *, lock: bool = False
    ) -> LeaseRow:
        return lease_of_party(session, caller, lease_id, lock=lock)

    def _apply(self, session: Session, row: LeaseRow, inp: lm.LeaseInput) -> list[str]:
        """Apply ``inp`` to the lease in ``row`` and carry out its events in ``session``'s
        transaction; return the reasons of the inputs the machine ignored."""
        lease, events = lm.state_transition(lease_of(row), inp)
        return self.effects.carry_out(session, row, lease, events)


def _refuse_reuse(channel_id: Hash32, earlier: int | None) -> None:
    """The one-channel-per-lease rule (:func:`reuse_problem`) as a 409."""
    problem = reuse_problem(channel_id, pays_for=earlier)
    if problem is not None:
        raise Conflict(problem, ONE_CHANNEL_PER_LEASE)


def lease_of_party(
    session: Session, caller: Address, lease_id: int, *, lock: bool = False
) -> LeaseRow:
    """Lease ``lease_id`` (locked for update with ``lock``), refused unless ``caller`` is
    its renter or its provider."""
    row = session.get(LeaseRow, lease_id, with_for_update=lock or None)
    if row is None:
        raise NotFound(f"no lease {lease_id}", "list yours with 'l2gpu jobs list'")
    if bytes(caller) not in (row.renter, row.provider):
        raise Forbidden(
            f"lease {lease_id} belongs to another account",
            "use the token of the lease's renter or provider",
        )
    return row
