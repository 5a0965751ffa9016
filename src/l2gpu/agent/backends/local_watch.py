"""Watching the local backend's jobs once started, mixed into
:class:`~l2gpu.agent.backends.local.LocalBackend` (whose fields these are): each job's
status, with its memory and disk limits enforced when the status is asked for; pause,
resume and stop; a renter's shell in the job; its output; re-attaching to the jobs of an
earlier agent, with the dead-man switch's watcher; forgetting an ended lease. Kept apart
from :mod:`.local`, which sets jobs up and starts them, so that each module stays short.

Pause and resume send SIGSTOP and SIGCONT to every process of the job (found as the
descendants of the sandbox's init, which adopts every orphan of the namespace). Stopping
a sandboxed job kills the sandbox's init, the job's PID namespace's pid 1: every process
of the job dies with it, detached or double-forked ones included.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from l2gpu.agent.backends import deadman
from l2gpu.agent.backends.base import (
    SENT_NAME,
    JobSpec,
    JobStartError,
    JobStatus,
    load_sent_offset,
    save_sent_offset,
)
from l2gpu.agent.backends.checks import LOG_NAME, size_text
from l2gpu.agent.backends.deadman import alive as _alive
from l2gpu.agent.backends.deadman import descendants as _descendants
from l2gpu.agent.backends.deadman import group as _group
from l2gpu.agent.backends.deadman import send as _kill
from l2gpu.agent.backends.deadman import start_time as _start_time
from l2gpu.agent.backends.deadman import state_of as _state
from l2gpu.agent.backends.local_files import NOFOLLOW, disk_usage, json_field, read_log, wipe
from l2gpu.agent.backends.local_job import EXIT_FILE, JobLimits, JobRecord, memory_reason
from l2gpu.agent.backends.local_shell import ShellProcess, oldest_process, start_shell
from l2gpu.agent.sandbox import JOB_HOME

STOP_WAIT_S = 3.0
LOG_CHUNK = 16 * 1024
MAX_FOLDER_ENTRIES = 200_000
"""A job may hold at most this many files and folders (the disk check counts them)."""


class JobWatching:
    """The local backend's status, pause, resume, stop, shells, output and re-attaching."""

    root: Path
    disk_check_s: float
    keep_frozen_s: float
    _jobs: dict[int, JobRecord]
    _offsets: dict[int, int]
    _watcher: subprocess.Popen[bytes] | None

    def workdir(self, lease_id: int) -> Path:
        """The job's folder (the backend's)."""
        raise NotImplementedError  # the backend's

    def _agent_dir(self, lease_id: int) -> Path:
        raise NotImplementedError  # the backend's

    def _check(self, spec: JobSpec) -> JobLimits:
        raise NotImplementedError  # the backend's

    def _config(self, spec: JobSpec, limits: JobLimits) -> dict[str, Any]:
        raise NotImplementedError  # the backend's

    # -- status, pause, resume, stop --------------------------------------------------------

    def status(self, lease_id: int) -> JobStatus:
        """Running, paused or exited (with the code when known, and the reason when the
        backend stopped it for a limit). A job past its memory or disk limit is stopped
        here."""
        job = self._jobs.get(lease_id)
        if job is None:
            return JobStatus("exited", None)
        if job.final is not None:
            return job.final
        done, _ = self._exit(job)
        if done:
            return self._finish(job)
        breach = self._breach(job)
        if breach is not None:
            return self._finish(job, breach)
        return JobStatus("paused" if job.paused else "running")

    def pause(self, lease_id: int) -> None:
        """SIGSTOP every process of the job."""
        job = self._live(lease_id)
        if job is None:
            return
        for _ in range(50):  # bounded: until every process is stopped at once
            running = [p for p in self._pids(job) if _state(p) not in "TtZX"]
            if not running:
                break
            for pid in running:
                _kill(pid, signal.SIGSTOP)
            time.sleep(0.005)
        job.paused = True

    def resume(self, lease_id: int) -> None:
        """SIGCONT every process of the job."""
        job = self._live(lease_id)
        if job is None:
            return
        for pid in self._pids(job):
            _kill(pid, signal.SIGCONT)
        job.paused = False

    def stop(self, lease_id: int) -> None:
        """SIGTERM every process of the job, then, after a few seconds, kill them all."""
        job = self._live(lease_id)
        if job is None:
            return
        pids = self._pids(job)
        for sig in (signal.SIGCONT, signal.SIGTERM):
            for pid in pids:
                _kill(pid, sig)
        job.paused = False
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and not self._exit(job)[0]:
            time.sleep(0.02)  # bounded wait for a real process to exit
        self._finish(job)

    def open_shell(
        self, spec: JobSpec, argv: list[str], env: dict[str, str], tty: tuple[int, int] | None
    ) -> ShellProcess:
        """A renter's shell (``l2gpu ssh``) running ``argv`` inside the lease's running
        job's sandbox, cgroup and limits, with the job's environment and ``env`` (see
        :mod:`.local_shell`); ``tty`` = (rows, columns) for a terminal, None for pipes."""
        job = self._live(lease_id := spec.lease_id)
        if job is None or (job.sandboxed and not _alive(job.init, job.init_start)):
            raise JobStartError(f"lease {lease_id} has no job running", "rent again")
        limits = self._check(spec)
        config = self._config(spec, limits)
        sandboxed = job.sandboxed and job.init is not None
        return start_shell(
            target=(job.init, oldest_process(job.init)) if sandboxed and job.init else None,
            cwd=JOB_HOME if sandboxed else str(self.workdir(lease_id)),
            launch_from=self._agent_dir(lease_id),
            argv=argv,
            env={**config["env"], **env},
            rlimits=config["rlimits"],
            cpus=config["cpus"],
            cgroup_procs=job.cgroup.procs_files() if job.cgroup is not None else [],
            tty=tty,
        )

    def read_logs(self, lease_id: int) -> list[str]:
        """New output since the last call, in chunks of at most 16 KiB."""
        offset = self._offsets.get(lease_id, 0)
        data = read_log(self.workdir(lease_id) / LOG_NAME, offset, LOG_CHUNK * 16)
        self._offsets[lease_id] = offset + len(data)
        text = data.decode("utf-8", errors="replace")
        return [text[i : i + LOG_CHUNK] for i in range(0, len(text), LOG_CHUNK)]

    def logs_sent(self, lease_id: int) -> None:
        """Keep, in the agent's own folder, how much output reached the market."""
        if lease_id in self._offsets:
            save_sent_offset(self._agent_dir(lease_id) / SENT_NAME, self._offsets[lease_id])

    def recover(self, lease_id: int) -> bool:
        """Re-attach to a job started by an earlier agent; False if it is gone (any
        process it left behind is killed)."""
        state = self._agent_dir(lease_id) / "job.json"
        try:
            job = JobRecord.from_state(lease_id, json.loads(state.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return False
        self._jobs[lease_id] = job
        # From what reached the market: output written while no agent ran is sent too.
        self._offsets[lease_id] = load_sent_offset(self._agent_dir(lease_id) / SENT_NAME)
        self._ensure_watcher()  # this agent owns the job now (the old watcher stands down)
        frozen = self._agent_dir(lease_id) / deadman.FROZEN_MARK
        if frozen.exists():  # the dead-man switch froze it when its agent died
            job.paused = True
            frozen.unlink()
        if self._exit(job)[0]:
            self._finish(job)
            return False
        return True

    def _ensure_watcher(self) -> None:
        """Run the dead-man switch for this agent's jobs (see :mod:`.deadman`): one
        watcher per agent process, respawned after it went idle."""
        if self._watcher is not None and self._watcher.poll() is None:
            return
        agents = self.root / ".agent"
        me = os.getpid()
        owner = {"pid": me, "start": _start_time(me)}
        (agents / deadman.AGENT_FILE).write_text(json.dumps(owner))
        with open(agents / "deadman.log", "ab") as log_file:
            self._watcher = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
                [sys.executable, "-I", "-S", deadman.__file__, str(agents), str(me),
                 str(owner["start"]), str(self.keep_frozen_s)],
                env={}, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the agent: that is its purpose
            )  # fmt: skip

    def found(self) -> list[int]:
        """Leases whose job an earlier agent started (its ``job.json`` is still here);
        each is either adopted with :meth:`recover` or stopped."""
        leases = []
        for state in (self.root / ".agent").glob("lease-*/job.json"):
            with contextlib.suppress(ValueError):
                leases.append(int(state.parent.name.removeprefix("lease-")))
        return sorted(leases)

    def forget(self, lease_id: int) -> None:
        """Remove an ended lease's folders (its files and what the job wrote, its
        ``/tmp``); a lease whose job still runs keeps them."""
        job = self._jobs.get(lease_id)
        if job is not None and job.final is None:
            return
        self._jobs.pop(lease_id, None)
        self._offsets.pop(lease_id, None)
        for folder in (self.workdir(lease_id), self._agent_dir(lease_id)):
            wipe(folder)

    # -- internals ----------------------------------------------------------------------

    def _live(self, lease_id: int) -> JobRecord | None:
        job = self._jobs.get(lease_id)
        return job if job is not None and job.final is None else None

    def _exit(self, job: JobRecord) -> tuple[bool, int | None]:
        """Whether the job's main command has exited, and its code when known."""
        recorded = self._recorded_exit(job)
        if job.proc is not None:
            code = job.proc.poll()
            if code is None:
                return False, None
            if recorded is not None:
                return True, recorded
            return True, 128 - code if code < 0 else code
        if recorded is not None:
            return True, recorded
        if not _alive(job.pid, job.pid_start):
            return True, None
        if job.sandboxed and not _alive(job.init, job.init_start):
            return True, None
        return False, None

    def _recorded_exit(self, job: JobRecord) -> int | None:
        folder = self._agent_dir(job.lease_id)
        if job.sandboxed:
            return json_field(folder / "status.json", "exit-code")
        try:
            return int((folder / EXIT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    def _pids(self, job: JobRecord) -> set[int]:
        """Every process of the job now (the sandbox's init itself excepted)."""
        if job.sandboxed:
            if not _alive(job.init, job.init_start):
                return set()
            assert job.init is not None
            return _descendants(job.init)
        found = _descendants(job.pid) | _group(job.pid)
        if _alive(job.pid, job.pid_start):
            found.add(job.pid)
        if job.cgroup is not None:
            found |= job.cgroup.pids()
        return found

    def _breach(self, job: JobRecord) -> str | None:
        """Why the job must be stopped now, if it must: memory or disk."""
        if job.cgroup is not None and job.cgroup.oom_kills() > 0:
            return memory_reason(job.limits)
        now = time.monotonic()
        if now - job.disk_checked < self.disk_check_s:
            return None
        job.disk_checked = now
        return self._disk_breach(job)

    def _disk_breach(self, job: JobRecord) -> str | None:
        used, entries = disk_usage(
            [self.workdir(job.lease_id), self._agent_dir(job.lease_id) / "tmp"],
            MAX_FOLDER_ENTRIES,
        )
        if entries > MAX_FOLDER_ENTRIES:
            return f"the job created more than {MAX_FOLDER_ENTRIES:,} files and folders"
        if used >= job.limits.disk_bytes:
            return f"the job wrote more than its disk limit of {size_text(job.limits.disk_bytes)}"
        return None

    def _finish(self, job: JobRecord, reason: str | None = None) -> JobStatus:
        """Kill whatever is left of the job, note why it ended, free its cgroup."""
        if job.sandboxed:
            if _alive(job.init, job.init_start):
                assert job.init is not None
                _kill(job.init, signal.SIGKILL)  # the namespace dies with its init
            elif job.init is None and job.proc is not None and job.proc.poll() is None:
                for pid in {job.pid} | _descendants(job.pid):  # a sandbox that never came up
                    _kill(pid, signal.SIGKILL)
        else:
            for pid in self._pids(job):
                _kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and not self._gone(job):
            time.sleep(0.01)  # bounded wait for the kernel to take the processes down
        if job.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                job.proc.wait(timeout=STOP_WAIT_S)
        code = self._exit(job)[1]
        if reason is None:
            reason = self._reason_at_exit(job, code)
        if job.cgroup is not None:
            job.cgroup.remove()
        if reason is not None:
            note = f"\n[l2gpu] {reason}; the job was stopped\n".encode()
            with contextlib.suppress(OSError):
                fd = os.open(
                    self.workdir(job.lease_id) / LOG_NAME, os.O_WRONLY | os.O_APPEND | NOFOLLOW
                )
                try:
                    os.write(fd, note)
                finally:
                    os.close(fd)
        job.paused = False
        job.final = JobStatus("exited", code, reason)
        with contextlib.suppress(OSError):  # nothing left to recover after a restart
            (self._agent_dir(job.lease_id) / "job.json").unlink()
        return job.final

    def _gone(self, job: JobRecord) -> bool:
        if job.sandboxed and _alive(job.init, job.init_start):
            return False
        if job.proc is not None and job.proc.poll() is None:
            return False
        return not (job.cgroup is not None and job.cgroup.pids())

    def _reason_at_exit(self, job: JobRecord, code: int | None) -> str | None:
        if job.cgroup is not None and job.cgroup.oom_kills() > 0:
            return memory_reason(job.limits)
        if code == 128 + signal.SIGXFSZ:
            return f"the job wrote more than its disk limit of {size_text(job.limits.disk_bytes)}"
        return self._disk_breach(job)

    def _tail(self, lease_id: int) -> str:
        size = 0
        with contextlib.suppress(OSError):
            size = os.lstat(self.workdir(lease_id) / LOG_NAME).st_size
        tail = read_log(self.workdir(lease_id) / LOG_NAME, max(0, size - 4096), 4096)
        text = tail.decode("utf-8", errors="replace")
        lines = text.strip().splitlines()
        return lines[-1][:300] if lines else "no output"
