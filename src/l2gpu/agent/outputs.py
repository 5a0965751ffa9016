"""What a provider's agent keeps of a lease's folder after the lease, and how it sends
files from it to the lease's renter (``l2gpu jobs download``).

:class:`Retention` records, for each lease this agent started, its renter and when it
ended (``<folder>/lease-<id>.json``, so a restarted agent still knows whose folder
is whose), and removes folders as :func:`~l2gpu.core.market.workdir.folders_to_remove`
says: ``keep_s`` after the lease's end, and the oldest first while all of them hold
more than ``max_bytes``. A live lease's folder is never removed.

:class:`JobOutputs`, a part of :class:`~l2gpu.agent.agent.ProviderAgent`, answers the
download requests the market relays: only those signed by the renter this agent
recorded for the lease, and fresh; the path is packed from the lease's folder without
following any link (a job may plant links to the provider's files), leaving out the
job's ``output.log``, at most 64 MiB packed. Packing and sending run off the loop that
meters (a worker thread) when the agent runs as a daemon.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l2gpu.agent.backends import Backend
from l2gpu.agent.backends.local_files import disk_usage
from l2gpu.archive import Layer, pack
from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.workdir import (
    RESERVED_NAMES,
    ArchiveError,
    KeptFolder,
    download_problem,
    folders_to_remove,
    path_parts,
    size_text,
)
from l2gpu.core.types import Address
from l2gpu.wire import AgentDownload

log = logging.getLogger(__name__)
KEEP_S = 86_400
"""A lease's folder is kept this long after the lease ends (``provider up --keep-folders``)."""
KEEP_BYTES = 20 * 2**30
"""All kept folders together, at most (``provider up --keep-folders-gib``)."""
DOWNLOAD_POLL_S = 2
_POLL = 0  # the key of the download poll in flight
RETENTION_EVERY_S = 60


@dataclass
class Retention:
    """The agent's record of the leases whose folders it keeps, and the bounds."""

    folder: Path
    keep_s: int = KEEP_S
    max_bytes: int = KEEP_BYTES

    def _path(self, lease_id: int) -> Path:
        return self.folder / f"lease-{lease_id}.json"

    def started(self, lease_id: int, renter: str) -> None:
        """Record that ``lease_id``'s job started for ``renter``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write(lease_id, {"lease_id": lease_id, "renter": renter, "ended_at": None})

    def ended(self, lease_id: int, at: int) -> None:
        """Record that the lease ended at ``at`` (its folder is kept from then)."""
        record = self.record(lease_id)
        if record is not None and record.get("ended_at") is None:
            self._write(lease_id, {**record, "ended_at": at})

    def record(self, lease_id: int) -> dict[str, Any] | None:
        """The lease's record, or None."""
        try:
            data = json.loads(self._path(lease_id).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def renter(self, lease_id: int) -> Address | None:
        """The renter recorded for the lease, or None."""
        record = self.record(lease_id)
        try:
            return Address.from_hex(str(record["renter"])) if record else None
        except (L2gpuError, KeyError):
            return None

    def leases(self) -> list[int]:
        """Every lease with a record."""
        out = []
        for path in self.folder.glob("lease-*.json"):
            number = path.stem.removeprefix("lease-")
            if number.isdigit():
                out.append(int(number))
        return sorted(out)

    def forget(self, lease_id: int) -> None:
        """Drop the lease's record (its folder is gone)."""
        self._path(lease_id).unlink(missing_ok=True)

    def _write(self, lease_id: int, record: dict[str, Any]) -> None:
        tmp = self._path(lease_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self._path(lease_id))


def folder_size(path: Path) -> int:
    """Bytes on disk under ``path`` (links not followed; a folder its job made
    unreadable is opened and counted, as the quota's walk does)."""
    return disk_usage([path], sys.maxsize)[0]


def pack_download(workdir: Path | None, lease_id: int, path: str) -> bytes:
    """``path`` of a lease's folder, packed for its renter; an :class:`ArchiveError`
    says why not (no such path, a link, too large)."""
    if workdir is None or not workdir.is_dir():
        raise ArchiveError(
            f"this provider no longer keeps lease {lease_id}'s folder",
            "download while the lease runs, or soon after it ends",
        )
    parts = path_parts(path)
    if parts and parts[0] in RESERVED_NAMES:
        raise ArchiveError(
            f"{parts[0]} is the job's output, not a file it wrote",
            f"read it with 'l2gpu jobs logs {lease_id}'",
        )
    layer = Layer(workdir, parts, links="skip", leave_out=RESERVED_NAMES)
    return pack([layer], what=f"lease {lease_id}'s {path or 'folder'}")


class JobOutputs:
    """Retention and downloads (mixed into ProviderAgent, whose fields these are)."""

    client: MarketClient
    backend: Backend
    clock: Callable[[], int]
    kept: Retention | None
    background_closes: bool
    _downloads_at: int
    _retained_at: int
    _sending: dict[int, Future[None]]
    _polls: dict[int, Future[list[Any]]]
    _sender: ThreadPoolExecutor | None

    def _kept_started(self, lease_id: int, renter: str) -> None:
        if self.kept is not None and self.kept.record(lease_id) is None:
            self.kept.started(lease_id, renter)

    def _kept_ended(self, lease_id: int) -> None:
        if self.kept is not None:
            self.kept.ended(lease_id, self.clock())

    def _read_downloads(self) -> list[Any]:
        """The market's download requests for this agent (none when it is away)."""
        try:
            return list(self.client.agent_downloads())
        except L2gpuError as exc:
            log.warning("download requests not read: %s", exc.what)
            return []

    def _answer_downloads(self, asked: list[Any], now: int) -> None:
        """Answer each request not already being answered."""
        for request in asked:
            if request.id in self._sending:
                continue
            if self.background_closes:
                self._sending[request.id] = self._workers().submit(self._answer, request, now)
            else:
                self._answer(request, now)

    def _tend_outputs(self, now: int, live: set[int]) -> None:
        """Answer download requests (every few seconds) and apply the retention bounds
        (every minute); a market that is away waits for the next time. An agent that
        keeps no folders answers too, with a refusal, so that a renter's fetch fails
        at once rather than after the market's wait."""
        if now - self._downloads_at >= DOWNLOAD_POLL_S:
            self._downloads_at = now
            for done in [i for i, f in self._sending.items() if f.done()]:
                del self._sending[done]
            if not self.background_closes:
                self._answer_downloads(self._read_downloads(), now)
            elif _POLL not in self._polls:
                # a market that is away or slow must not hold the metering loop (the
                # pause of an unpaid job waits for it): read the requests off the loop,
                # answer them here once read (this thread alone changes _sending)
                self._polls[_POLL] = self._workers().submit(self._read_downloads)
        read = self._polls.get(_POLL)
        if read is not None and read.done():
            del self._polls[_POLL]
            self._answer_downloads(read.result(), now)
        if self.kept is not None and now - self._retained_at >= RETENTION_EVERY_S:
            self._retained_at = now
            if self.background_closes:  # measuring folders takes a while: off the loop
                self._sending[-now] = self._workers().submit(self._retain, now, live)
            else:
                self._retain(now, live)

    def _workers(self) -> ThreadPoolExecutor:
        if self._sender is None:
            self._sender = ThreadPoolExecutor(1, thread_name_prefix="outputs")
        return self._sender

    def _answer(self, request: AgentDownload, now: int) -> None:
        """Pack and send what a download asks for, or say why not."""
        lease_id = request.lease_id
        renter = self.kept.renter(lease_id) if self.kept is not None else None
        data, error = None, ""
        if self.kept is None:
            error = (f"this provider keeps no folder of lease {lease_id}: its agent runs "
                     "without folder retention, so it serves no downloads")  # fmt: skip
        elif renter is None:
            error = f"this provider keeps no folder of lease {lease_id}"
        else:
            signature = bytes.fromhex(request.signature.removeprefix("0x"))
            error = (
                download_problem(
                    lease_id, request.path, request.issued_at, signature, renter=renter, now=now
                )
                or ""
            )
        if not error:
            try:
                data = pack_download(self.backend.workdir(lease_id), lease_id, request.path)
            except ArchiveError as exc:
                error = f"{exc.what}; {exc.fix}" if exc.fix else exc.what
        try:
            self.client.answer_download(request.id, data, error)
        except L2gpuError as exc:  # asked again at the next poll, while it is open
            log.warning("download %s of lease %s not sent: %s", request.id, lease_id, exc.what)
            return
        sent = f"{size_text(len(data))} sent" if data is not None else f"refused: {error}"
        log.info("download %s of lease %s (%r): %s", request.id, lease_id, request.path, sent)

    def _retain(self, now: int, live: set[int]) -> None:
        try:
            self._apply_retention(now, live)
        except Exception:  # a folder that cannot be measured or removed: next minute
            log.exception("applying the retention of leases' folders failed")

    def _apply_retention(self, now: int, live: set[int]) -> None:
        assert self.kept is not None
        folders = []
        for lease_id in self.kept.leases():
            record = self.kept.record(lease_id) or {}
            ended = record.get("ended_at")
            if ended is None and lease_id not in live:
                # it ended while this agent was away, or its end was not recorded
                self.kept.ended(lease_id, now)
                ended = now
            workdir = self.backend.workdir(lease_id)
            size = folder_size(workdir) if workdir is not None else 0
            folders.append(KeptFolder(lease_id, ended if isinstance(ended, int) else None, size))
        gone = folders_to_remove(
            folders, now=now, keep_s=self.kept.keep_s, max_bytes=self.kept.max_bytes
        )
        for lease_id in gone:
            forget = getattr(self.backend, "forget", None)
            if forget is not None:
                forget(lease_id)
            self.kept.forget(lease_id)
            log.info("lease %s: its folder is no longer kept", lease_id)
