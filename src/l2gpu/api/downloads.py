"""Downloads: a renter's signed request for files of its lease's folder, relayed to the
provider's agent, answered with an archive the renter then reads in parts.

1. The renter asks (``POST /jobs/{id}/downloads``) with a path and its EIP-191
   signature of :func:`~l2gpu.core.market.workdir.download_message`: the market takes
   it only from the lease's renter, signed by it and fresh; the agent checks the
   signature again against the renter it recorded when the lease began, so a market
   cannot ask for a renter's files on its own.
2. The agent lists what is asked of it (``GET /agent/downloads``), packs the path
   from the lease's folder (kept after the lease ends, for a retention period) and
   answers with the archive's digest and size (or why it cannot), then its parts.
3. The renter polls the request until it is ``ready`` (or ``failed``, with the
   agent's reason), reads the parts and checks the digest.

Bounded: at most :data:`MAX_OPEN_PER_LEASE` requests of a lease wait at once; a
request the agent has not answered in :data:`ANSWER_WITHIN_S` fails (its agent is
away); an answered one is kept :data:`KEEP_S` and then deleted with its archive; the
archive counts in the renter's storage at the market (:mod:`l2gpu.api.blobs`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from l2gpu.api.blobs import DOWNLOAD, BlobBook
from l2gpu.api.leases import lease_of_party
from l2gpu.core.market.workdir import (
    PART_BYTES,
    ArchiveError,
    download_problem,
    parts_count,
    path_parts,
)
from l2gpu.core.types import Address
from l2gpu.db.market_models import Blob, DownloadRow, LeaseRow
from l2gpu.serving.errors import ApiError, Conflict, Forbidden, NotFound

MAX_OPEN_PER_LEASE = 4
ANSWER_WITHIN_S = 600
KEEP_S = 3600
OPEN = ("asked", "sending")


class DownloadBook:
    """Download requests and their answers in the market's database."""

    def __init__(self, engine: Engine, blobs: BlobBook, *, clock: Callable[[], int]) -> None:
        self.engine = engine
        self.blobs = blobs
        self.clock = clock

    # -- the renter ----------------------------------------------------------------------

    def ask(
        self, renter: Address, lease_id: int, path: str, issued_at: int, signature: bytes
    ) -> dict[str, Any]:
        """Record the lease's renter's signed request for ``path`` of its folder."""
        now = self.clock()
        try:
            path_parts(path)
        except ArchiveError as exc:
            raise ApiError(exc.what, exc.fix) from exc
        with Session(self.engine) as session, session.begin():
            lease = self._lease(session, renter, lease_id, lock=True)
            if lease.renter != bytes(renter):
                raise Forbidden(
                    f"only lease {lease_id}'s renter may download from its folder",
                    "download from your own leases",
                )
            problem = download_problem(
                lease_id, path, issued_at, signature, renter=Address(lease.renter), now=now
            )
            if problem is not None:
                raise ApiError(problem, "sign the request with the lease's renter key, now")
            waiting = int(
                session.scalar(
                    select(func.count())
                    .select_from(DownloadRow)
                    .where(DownloadRow.lease_id == lease_id, DownloadRow.status.in_(OPEN))
                )
                or 0
            )
            if waiting >= MAX_OPEN_PER_LEASE:
                raise Conflict(
                    f"lease {lease_id} has {waiting} downloads waiting for its provider",
                    "wait for them to be answered",
                )
            # A new request for a path supersedes the answers to earlier ones (a renter
            # that fetches checkpoints every minute holds one copy at the market, not 60).
            earlier = select(DownloadRow).where(
                DownloadRow.lease_id == lease_id,
                DownloadRow.path == path,
                DownloadRow.status.not_in(OPEN),
            )
            for old in session.scalars(earlier).all():
                if old.blob_id is not None:
                    self.blobs.drop(session, old.blob_id)
                session.delete(old)
            row = DownloadRow(
                lease_id=lease_id,
                provider=lease.provider,
                path=path,
                issued_at=issued_at,
                signature=signature,
                status="asked",
                error="",
                asked_at=now,
            )
            session.add(row)
            session.flush()
            return self._public(session, row)

    def get(self, caller: Address, lease_id: int, download_id: int) -> dict[str, Any]:
        """A download request as its lease's renter or provider sees it."""
        with Session(self.engine) as session:
            self._lease(session, caller, lease_id)
            return self._public(session, self._row(session, lease_id, download_id))

    def part(self, renter: Address, lease_id: int, download_id: int, index: int) -> bytes:
        """Part ``index`` of a ready download's archive; only for the lease's renter."""
        with Session(self.engine) as session, session.begin():
            lease = self._lease(session, renter, lease_id)
            if lease.renter != bytes(renter):
                raise Forbidden(
                    f"only lease {lease_id}'s renter may read its downloads",
                    "download from your own leases",
                )
            row = self._row(session, lease_id, download_id)
            blob = session.get(Blob, row.blob_id) if row.blob_id is not None else None
            if row.status != "ready" or blob is None:
                raise Conflict(
                    f"download {download_id} is {row.status}, not ready", "wait until it is ready"
                )
            return self.blobs.read(session, blob, index)

    # -- the provider's agent ----------------------------------------------------------

    def pending(self, provider: Address) -> list[dict[str, Any]]:
        """The requests waiting for the caller's agent, oldest first."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(DownloadRow)
                .where(DownloadRow.provider == bytes(provider), DownloadRow.status.in_(OPEN))
                .order_by(DownloadRow.download_id)
                .limit(64)
            ).all()
            out = []
            for row in rows:
                lease = session.get(LeaseRow, row.lease_id)
                out.append(
                    {
                        "id": row.download_id,
                        "lease_id": row.lease_id,
                        "path": row.path,
                        "issued_at": row.issued_at,
                        "signature": "0x" + row.signature.hex(),
                        "renter": Address(lease.renter).checksum if lease else "",
                    }
                )
            return out

    def answer(
        self,
        provider: Address,
        download_id: int,
        *,
        sha256: str | None,
        size: int | None,
        error: str,
    ) -> dict[str, Any]:
        """The agent's answer: the archive's digest and size (its parts follow), or why
        it cannot send the files."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            row = self._served(session, provider, download_id)
            if row.status not in OPEN:
                raise Conflict(
                    f"download {download_id} is {row.status} already", "answer only open requests"
                )
            if row.blob_id is not None:  # a new answer after a restart replaces the old
                self.blobs.drop(session, row.blob_id)
                row.blob_id = None
            if error or sha256 is None or size is None:
                row.status, row.error, row.done_at = "failed", error or "no archive", now
                return self._public(session, row)
            lease = session.get(LeaseRow, row.lease_id)
            assert lease is not None  # _served found it
            try:
                blob = self.blobs.open(
                    session,
                    owner=Address(lease.renter),
                    writer=provider,
                    kind=DOWNLOAD,
                    sha256=sha256,
                    size=size,
                    now=now,
                )
            except ApiError as exc:  # the renter's storage is full: the request fails
                row.status, row.error, row.done_at = "failed", exc.what, now
                return self._public(session, row)
            row.blob_id, row.status = blob.blob_id, "sending"
            if blob.complete:
                row.status, row.done_at = "ready", now
            return self._public(session, row)

    def put_part(
        self, provider: Address, download_id: int, index: int, data: bytes
    ) -> dict[str, Any]:
        """Store part ``index`` of the archive answering ``download_id``."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            row = self._served(session, provider, download_id)
            blob = session.get(Blob, row.blob_id, with_for_update=True) if row.blob_id else None
            if row.status != "sending" or blob is None:
                raise Conflict(
                    f"download {download_id} is {row.status}, not being sent",
                    "answer it with the archive's digest and size first",
                )
            problem = self.blobs.put(session, blob, index, data)
            if problem is not None:
                row.status, row.error, row.done_at = "failed", problem, now
            elif blob.complete:
                row.status, row.done_at = "ready", now
            return self._public(session, row)

    # -- time --------------------------------------------------------------------------

    def expire(self) -> None:
        """Fail requests their agent left unanswered; delete answers kept long enough
        (the market's sweeper calls it once a minute)."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            late = session.scalars(
                select(DownloadRow)
                .where(DownloadRow.status.in_(OPEN), DownloadRow.asked_at < now - ANSWER_WITHIN_S)
                .with_for_update(skip_locked=True)
            ).all()
            for row in late:
                row.status, row.done_at = "failed", now
                row.error = (
                    f"the provider's agent did not send the files within "
                    f"{ANSWER_WITHIN_S} s: it may be offline"
                )
                if row.blob_id is not None:
                    self.blobs.drop(session, row.blob_id)
                    row.blob_id = None
            old = session.scalars(
                select(DownloadRow)
                .where(DownloadRow.status.not_in(OPEN), DownloadRow.done_at < now - KEEP_S)
                .with_for_update(skip_locked=True)
            ).all()
            for row in old:
                if row.blob_id is not None:
                    self.blobs.drop(session, row.blob_id)
                session.delete(row)

    # -- helpers -----------------------------------------------------------------------

    def _lease(
        self, session: Session, caller: Address, lease_id: int, *, lock: bool = False
    ) -> LeaseRow:
        return lease_of_party(session, caller, lease_id, lock=lock)

    def _row(self, session: Session, lease_id: int, download_id: int) -> DownloadRow:
        row = session.get(DownloadRow, download_id)
        if row is None or row.lease_id != lease_id:
            raise NotFound(
                f"no download {download_id} of lease {lease_id}",
                "ask for one with 'l2gpu jobs download'",
            )
        return row

    def _served(self, session: Session, provider: Address, download_id: int) -> DownloadRow:
        row = session.get(DownloadRow, download_id, with_for_update=True)
        if row is None:
            raise NotFound(
                f"no download {download_id}", "answer the ones GET /agent/downloads lists"
            )
        if row.provider != bytes(provider):
            raise Forbidden(
                f"download {download_id} is asked of another provider",
                "answer only your own leases' downloads",
            )
        return row

    def _public(self, session: Session, row: DownloadRow) -> dict[str, Any]:
        blob = session.get(Blob, row.blob_id) if row.blob_id is not None else None
        return {
            "id": row.download_id,
            "lease_id": row.lease_id,
            "path": row.path,
            "status": row.status,
            "error": row.error,
            "sha256": blob.sha256 if blob else None,
            "size": blob.size if blob else None,
            "parts": parts_count(blob.size) if blob else None,
            "part_size": PART_BYTES,
            "asked_at": row.asked_at,
            "done_at": row.done_at,
        }
