"""The job backends' shared vocabulary: the job spec, its status, and the interface."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from l2gpu.core.errors import L2gpuError

SENT_NAME = "log.sent"
"""The file that keeps how much of a job's output reached the market."""


class JobStartError(L2gpuError):
    """The job could not start: the renter pays nothing."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What to run for a lease, and within which limits."""

    lease_id: int
    command: str
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    gpu_indices: tuple[int, ...] = ()
    cpu_cores: int | None = None
    memory_bytes: int | None = None
    processes: int | None = None
    """Processes and threads at once (None: the backend's default, 4096 locally)."""
    open_files: int | None = None
    """Open files per process (None: the backend's default, 4096 locally)."""
    disk_bytes: int | None = None
    """What the job may write (None: locally, half the free space under the backend's root)."""
    network: str | None = None
    """"none" to refuse the job a network; None or "host": as the provider allows."""
    archive: bytes | None = None
    """The folder the job starts in: a gzip-compressed tar archive (checked against the
    digest the renter gave), unpacked into the job's folder after ``files``."""
    image: str | None = None
    """The container image the renter asked for (None: the backend's own); only the
    container backend runs one, within its provider's allowed images."""


@dataclass(frozen=True, slots=True)
class JobStatus:
    """``state`` is running, paused or exited; ``exit_code`` once exited (None if unknown);
    ``reason`` when the backend stopped the job itself, for the renter (e.g. "the job
    exceeded its memory limit of 8 GiB (out of memory)")."""

    state: str
    exit_code: int | None = None
    reason: str | None = None


class Backend(Protocol):
    """The interface every job backend implements."""

    name: str

    def start(self, spec: JobSpec) -> None:
        """Start the job; raise :class:`JobStartError` if it cannot start."""

    def status(self, lease_id: int) -> JobStatus:
        """The job's state now."""

    def pause(self, lease_id: int) -> None:
        """Suspend the job (it keeps its memory, uses no CPU or GPU time)."""

    def resume(self, lease_id: int) -> None:
        """Resume a paused job."""

    def stop(self, lease_id: int) -> None:
        """Stop the job: ask it to end, then end it."""

    def read_logs(self, lease_id: int) -> list[str]:
        """Output written since the last call."""

    def logs_sent(self, lease_id: int) -> None:
        """Everything :meth:`read_logs` returned so far reached the market: a restarted
        agent resumes the job's output after it, not after what was only read."""

    def recover(self, lease_id: int) -> bool:
        """Re-attach to a job started before the agent restarted; False if it is gone."""

    def workdir(self, lease_id: int) -> Path | None:
        """The job's folder (its files, what it writes, and ``output.log``), where the
        backend can see it."""

    def found(self) -> list[int]:
        """Leases with a job an earlier agent started that may still run (a restarted
        agent meters each of them or stops it)."""


def save_sent_offset(path: Path, offset: int) -> None:
    """Keep how much of a job's output reached the market (written whole, then renamed:
    a crash leaves the old number or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(offset))
    os.replace(tmp, path)


def load_sent_offset(path: Path) -> int:
    """The output offset :func:`save_sent_offset` kept; 0 (send it all again, rather
    than lose any) when there is none or it is unreadable."""
    try:
        return max(int(path.read_text()), 0)
    except (OSError, ValueError):
        return 0
