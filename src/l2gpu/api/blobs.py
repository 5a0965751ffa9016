"""Archives stored in parts: a renter's folder for its jobs, and files a provider's agent
sends from a lease's folder (:mod:`l2gpu.api.downloads`).

An archive crosses HTTP in parts of :data:`~l2gpu.core.market.workdir.PART_BYTES`
(base64 in JSON, under the API's limit on a request body), so that a folder of up to
:data:`~l2gpu.core.market.workdir.MAX_ARCHIVE_BYTES` travels without a larger body
limit anywhere. A blob is declared first with its SHA-256 and size; its parts are
then written in any order, each of exactly the size its index implies, and the last
one makes the market hash the whole: a blob is ``complete`` only if its parts hash to
the digest declared. So the digest in a rent request (or in a download's answer)
names exactly the bytes the agent (or the renter) will read, and each checks it again.

Bounded: each account stores at most :data:`MAX_STORED_PER_ACCOUNT` bytes of blobs
(its uploads and the downloads it asked for); an upload not used for
:data:`UPLOAD_KEEP_S` is deleted (``rent`` uploads again, at no cost when the same
folder is still there: the digest names it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from l2gpu.core.market.workdir import MAX_ARCHIVE_BYTES, PART_BYTES, parts_count, size_text
from l2gpu.core.types import Address
from l2gpu.db.market_models import Blob, BlobPart
from l2gpu.serving.errors import ApiError, Conflict, NotFound

MAX_STORED_PER_ACCOUNT = 256 * 2**20
"""Bytes of blobs one account may hold at the market at once."""
UPLOAD_KEEP_S = 3600
"""An uploaded folder unused for this long is deleted."""
WORKDIR, DOWNLOAD = "workdir", "download"


class BlobBook:
    """Blobs and their parts in the market's database."""

    def __init__(
        self, engine: Engine, *, clock: Callable[[], int], max_stored: int = MAX_STORED_PER_ACCOUNT
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.max_stored = max_stored

    # -- a renter's uploads ------------------------------------------------------------

    def open_upload(self, owner: Address, sha256: str, size: int) -> dict[str, Any]:
        """Declare a folder's archive for upload; the same digest again answers the blob
        already there (complete, or with the parts still missing: an upload resumes)."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            blob = self._upload(session, owner, sha256)
            if blob is None:
                blob = self.open(
                    session,
                    owner=owner,
                    writer=owner,
                    kind=WORKDIR,
                    sha256=sha256,
                    size=size,
                    now=now,
                )
            elif blob.size != size:
                raise ApiError(
                    f"an upload with digest {sha256} was declared with {blob.size} bytes, "
                    f"not {size}",
                    "declare the archive's own size",
                )
            blob.used_at = now
            return self.public(session, blob)

    def put_upload_part(
        self, owner: Address, sha256: str, index: int, data: bytes
    ) -> dict[str, Any]:
        """Store one part of the caller's upload ``sha256``."""
        with Session(self.engine) as session, session.begin():
            blob = self._upload(session, owner, sha256, lock=True)
            if blob is None:
                raise NotFound(f"no upload {sha256} of yours", "declare it first: POST /uploads")
            problem = self.put(session, blob, index, data)
            shown = self.public(session, blob)
        if problem is not None:  # raised once the dropped parts are committed
            raise ApiError(problem, "send the parts of the archive whose digest was declared")
        return shown

    def workdir(self, session: Session, owner: Address, sha256: str, size: int) -> Blob:
        """The owner's complete upload ``sha256`` of ``size`` bytes, for a job to start in;
        a 400 naming what is missing otherwise."""
        blob = self._upload(session, owner, sha256)
        if blob is None or not blob.complete or blob.size != size:
            state = (
                "missing"
                if blob is None
                else ("incomplete" if not blob.complete else f"of {blob.size} bytes, not {size}")
            )
            raise ApiError(
                f"the job's folder {sha256} is {state} at the market",
                "upload it first ('l2gpu rent --dir' does)",
            )
        blob.used_at = self.clock()
        return blob

    def _upload(
        self, session: Session, owner: Address, sha256: str, *, lock: bool = False
    ) -> Blob | None:
        query = select(Blob).where(
            Blob.owner == bytes(owner), Blob.kind == WORKDIR, Blob.sha256 == sha256
        )
        return session.scalars(query.with_for_update() if lock else query).first()

    # -- any blob ----------------------------------------------------------------------

    def open(
        self,
        session: Session,
        *,
        owner: Address,
        writer: Address,
        kind: str,
        sha256: str,
        size: int,
        now: int,
    ) -> Blob:
        """A new blob of ``size`` bytes, counted in ``owner``'s storage (409 past it)."""
        if not 0 <= size <= MAX_ARCHIVE_BYTES:
            raise ApiError(
                f"an archive of {size_text(size)} is above the limit of "
                f"{size_text(MAX_ARCHIVE_BYTES)}",
                "send a smaller archive",
            )
        stored = int(
            session.scalar(
                select(func.coalesce(func.sum(Blob.size), 0)).where(Blob.owner == bytes(owner))
            )
            or 0
        )
        if stored + size > self.max_stored:
            raise Conflict(
                f"{owner.checksum} stores {size_text(stored)} at the market; "
                f"{size_text(size)} more would pass the limit of {size_text(self.max_stored)}",
                "fetch or wait for earlier downloads (kept an hour), or upload a smaller folder",
            )
        blob = Blob(
            owner=bytes(owner),
            writer=bytes(writer),
            kind=kind,
            sha256=sha256,
            size=size,
            parts=parts_count(size),
            complete=size == 0 and sha256 == hashlib.sha256(b"").hexdigest(),
            created_at=now,
            used_at=now,
        )
        session.add(blob)
        session.flush()
        return blob

    def put(self, session: Session, blob: Blob, index: int, data: bytes) -> str | None:
        """Store part ``index`` of ``blob`` (its row locked by the caller); the last one
        missing makes the blob complete if its parts hash to its digest, else drops them
        all and says so (the caller commits the drop, then refuses)."""
        if blob.complete:
            return None  # a part sent again after the answer was lost
        if not 0 <= index < blob.parts:
            raise ApiError(
                f"part {index} is out of range: the archive has {blob.parts} part(s)",
                f"send parts 0 to {blob.parts - 1}",
            )
        expected = min(PART_BYTES, blob.size - index * PART_BYTES)
        if len(data) != expected:
            raise ApiError(
                f"part {index} holds {len(data)} bytes, not {expected}",
                f"cut the archive into parts of {PART_BYTES} bytes",
            )
        session.merge(BlobPart(blob_id=blob.blob_id, idx=index, data=data))
        session.flush()
        if self._received(session, blob) < blob.parts:
            return None
        digest = hashlib.sha256()
        for part in session.scalars(
            select(BlobPart.data).where(BlobPart.blob_id == blob.blob_id).order_by(BlobPart.idx)
        ):
            digest.update(part)
        if digest.hexdigest() != blob.sha256:
            session.execute(delete(BlobPart).where(BlobPart.blob_id == blob.blob_id))
            return (
                f"the archive's parts hash to {digest.hexdigest()}, not {blob.sha256}: "
                "they were dropped"
            )
        blob.complete = True
        return None

    def read(self, session: Session, blob: Blob, index: int) -> bytes:
        """Part ``index`` of a complete blob."""
        if not blob.complete:
            raise Conflict("the archive is not complete at the market yet", "try again later")
        part = session.get(BlobPart, (blob.blob_id, index))
        if part is None:
            raise NotFound(
                f"no part {index}: the archive has {blob.parts} part(s)",
                f"read parts 0 to {blob.parts - 1}",
            )
        blob.used_at = self.clock()
        return part.data

    def drop(self, session: Session, blob_id: int) -> None:
        """Delete a blob and its parts."""
        session.execute(delete(BlobPart).where(BlobPart.blob_id == blob_id))
        session.execute(delete(Blob).where(Blob.blob_id == blob_id))

    def expire(self) -> int:
        """Delete uploads unused for :data:`UPLOAD_KEEP_S`; return how many."""
        before = self.clock() - UPLOAD_KEEP_S
        with Session(self.engine) as session, session.begin():
            stale = session.scalars(
                select(Blob.blob_id).where(Blob.kind == WORKDIR, Blob.used_at < before)
            ).all()
            for blob_id in stale:
                self.drop(session, blob_id)
            return len(stale)

    def _received(self, session: Session, blob: Blob) -> int:
        return int(
            session.scalar(
                select(func.count()).select_from(BlobPart).where(BlobPart.blob_id == blob.blob_id)
            )
            or 0
        )

    def public(self, session: Session, blob: Blob) -> dict[str, Any]:
        """A blob as the API shows it, with the parts still missing."""
        have = set(session.scalars(select(BlobPart.idx).where(BlobPart.blob_id == blob.blob_id)))
        return {
            "sha256": blob.sha256,
            "size": blob.size,
            "parts": blob.parts,
            "part_size": PART_BYTES,
            "complete": bool(blob.complete),
            "missing": [] if blob.complete else [i for i in range(blob.parts) if i not in have],
        }
