"""The lease book's side for providers' agents: a provider's live leases with their
jobs, a job's starting folder part by part, the events an agent reports (accepted,
started, metered seconds, exited, stopped, preempted) and its job's output. Each
refuses a lease its caller does not serve (403), and the output is bounded (413)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from l2gpu.api.blobs import BlobBook
from l2gpu.api.inputs import storable
from l2gpu.api.records import lease_json
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market import lease as lm
from l2gpu.core.types import Address, Timestamp
from l2gpu.db.market_models import JobLog, JobRow, LeaseRow
from l2gpu.serving.errors import Conflict, Forbidden, NotFound, TooLarge

LIVE = ("requested", "starting", "running")
"""The statuses of a lease that has not ended."""
MAX_LOG_CHUNK = 64 * 1024
MAX_LOG_BYTES = 16 * 1024 * 1024
"""A lease's job output kept in all: uploads past it are refused (413)."""
LOG_AFTER_END_S = 120
"""How long after its end a lease still takes its job's last output."""


class AgentReports:
    """What a provider's agent asks of the lease book and tells it (mixed into
    :class:`~l2gpu.api.leases.LeaseBook`, whose fields and helpers these are)."""

    engine: Engine
    blobs: BlobBook
    clock: Callable[[], int]

    def _row(
        self, session: Session, caller: Address, lease_id: int, *, lock: bool = False
    ) -> LeaseRow:
        raise NotImplementedError  # the lease book's

    def _apply(self, session: Session, row: LeaseRow, inp: lm.LeaseInput) -> list[str]:
        raise NotImplementedError  # the lease book's

    def agent_work(self, provider: Address) -> list[dict[str, Any]]:
        """The provider's live leases with their jobs (secrets included) and best vouchers."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(LeaseRow).where(
                    LeaseRow.provider == bytes(provider), LeaseRow.status.in_(LIVE)
                )
            ).all()
            out = []
            for row in rows:
                job = session.get(JobRow, row.lease_id)
                item = lease_json(row, job)
                item["job"] = {
                    **item["job"],
                    "env": job.env if job else {},
                    "secrets": job.secrets if job else {},
                    "files": job.files if job else {},
                }
                out.append(item)
            return out

    def archive_part(self, provider: Address, lease_id: int, index: int) -> bytes:
        """Part ``index`` of the folder a live lease's job starts in, for its provider."""
        with Session(self.engine) as session, session.begin():
            row = self._row(session, provider, lease_id)
            if row.provider != bytes(provider):
                raise Forbidden(f"lease {lease_id} is not served by you",
                                "fetch only your leases' folders")  # fmt: skip
            job = session.get(JobRow, lease_id)
            if job is None or job.archive is None or job.archive_size is None:
                raise NotFound(f"lease {lease_id}'s job has no folder", "start it without one")
            if row.status not in LIVE:
                raise Conflict(f"lease {lease_id} is {row.status}: its folder is not sent any more",
                               "fetch a lease's folder before its job starts")  # fmt: skip
            blob = self.blobs.workdir(session, Address(row.renter), job.archive, job.archive_size)
            return self.blobs.read(session, blob, index)

    def agent_event(
        self,
        provider: Address,
        lease_id: int,
        kind: str,
        *,
        seconds: int = 0,
        exit_code: int = 0,
        reason: str = "",
        channel_verified: bool = False,
        gpu_active: bool = False,
    ) -> dict[str, Any]:
        """Apply an event reported by the provider's agent. ``channel_verified`` with
        ``accepted``: the agent found the lease's channel open and funded on its rail;
        ``gpu_active`` with ``usage``: the job used its GPUs in those seconds."""
        now = Timestamp(self.clock())
        inputs: dict[str, Callable[[], lm.LeaseInput]] = {
            "accepted": lambda: lm.AgentAccepted(now, channel_verified),
            "started": lambda: lm.JobStarted(now),
            "start_failed": lambda: lm.StartFailed(now, reason or "unknown"),
            "usage": lambda: lm.UsageMetered(now, seconds, gpu_active),
            "exited": lambda: lm.JobExited(now, exit_code),
            "stopped": lambda: lm.StopRequested(now, "provider", reason),
            "preempted": lambda: lm.ProviderPreempted(now, reason or lm.AGENT_SHUT_DOWN),
        }
        if kind not in inputs:
            raise L2gpuError(f"unknown agent event {kind!r}", f"send one of: {', '.join(inputs)}")
        with Session(self.engine) as session, session.begin():
            row = self._row(session, provider, lease_id, lock=True)
            if row.provider != bytes(provider):
                raise Forbidden(f"lease {lease_id} is not served by you", "report only your leases")
            ignored = self._apply(session, row, inputs[kind]())
            return {
                "lease_id": lease_id,
                "status": row.status,
                "ignored": ignored,
                "metered_seconds": row.metered_seconds,
            }

    def agent_logs(self, provider: Address, lease_id: int, chunks: list[str]) -> int:
        """Append log chunks of a lease's job; return the last seq."""
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            # The lease's row lock orders concurrent appends; the unique index on
            # (lease_id, seq) would refuse a duplicate if anything slipped past it.
            row = self._row(session, provider, lease_id, lock=True)
            if row.provider != bytes(provider):
                raise Forbidden(f"lease {lease_id} is not served by you", "report only your leases")
            if row.status not in LIVE and now - int(row.ended_at or now) > LOG_AFTER_END_S:
                raise Conflict(f"lease {lease_id} ended at {row.ended_at}: it takes no more output",
                               "upload a job's output while it runs")  # fmt: skip
            stored = session.scalar(select(func.coalesce(func.sum(func.length(JobLog.text)), 0))
                                    .where(JobLog.lease_id == lease_id))  # fmt: skip
            adding = sum(min(len(c), MAX_LOG_CHUNK) for c in chunks)
            if int(stored or 0) + adding > MAX_LOG_BYTES:
                raise TooLarge(f"lease {lease_id}'s output would pass {MAX_LOG_BYTES} bytes",
                               "keep the job's output smaller; the rest is not stored")  # fmt: skip
            last = session.scalar(select(func.max(JobLog.seq)).where(JobLog.lease_id == lease_id))
            seq = int(last or 0)
            for chunk in chunks:
                seq += 1
                text = storable(chunk[:MAX_LOG_CHUNK])
                session.add(JobLog(lease_id=lease_id, seq=seq, at=now, text=text))
            return seq
