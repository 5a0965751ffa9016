"""The local backend's job record and the launcher a job starts with, shared by
:mod:`.local` (which starts jobs) and :mod:`.local_watch` (which watches and ends them);
kept apart from both so that each module stays short.

- :class:`JobRecord`: a job the backend started or re-attached to, with what a restarted
  agent needs to find it again (its ``job.json``) and its :class:`JobLimits`;
- :data:`LAUNCHER`: the small program (the agent's Python, ``-I -S``) that reads the job's
  environment and limits from a file descriptor, sets the limits, says it is ready and
  runs the command under ``/bin/sh -c``; :data:`UNSANDBOXED` runs it outside the sandbox
  and writes the command's exit code to the file :data:`EXIT_FILE`.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from l2gpu.agent.backends.base import JobStatus
from l2gpu.agent.backends.cgroups import JobCgroup
from l2gpu.agent.backends.checks import size_text

EXIT_FILE = "exit"
UNSANDBOXED = '"$1" -I -S -c "$2" "$3" "$4"; code=$?; echo $code > "$5"; exit $code'
LAUNCHER = """\
import json, os, resource, sys
config, ready = int(sys.argv[1]), int(sys.argv[2])
try:
    data = b""
    while True:
        chunk = os.read(config, 1 << 20)
        if not chunk:
            break
        data += chunk
    os.close(config)
    job = json.loads(data)
    for name, value in job["rlimits"]:
        which = getattr(resource, name)
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY and value > hard:
            value = hard
        resource.setrlimit(which, (value, value))
    if job["cpus"]:
        os.sched_setaffinity(0, job["cpus"])
except BaseException as exc:
    os.write(ready, ("error: " + repr(exc)).encode()[:500])
    os._exit(125)
os.write(ready, b"ok")
os.close(ready)
os.execve("/bin/sh", ["/bin/sh", "-c", job["command"]], job["env"])
"""


@dataclass(frozen=True)
class JobLimits:
    """The limits a job runs under: its spec's, or the backend's defaults."""

    memory_bytes: int | None
    cpu_cores: int | None
    processes: int
    open_files: int
    disk_bytes: int


@dataclass
class JobRecord:
    """A job this backend started or re-attached to."""

    lease_id: int
    sandboxed: bool
    pid: int
    """The process the agent started: bwrap, or (unsandboxed) the wrapper shell."""
    pid_start: int | None
    init: int | None
    """Sandboxed: the PID namespace's init; killing it kills every process of the job."""
    init_start: int | None
    cgroup: JobCgroup | None
    limits: JobLimits
    proc: subprocess.Popen[bytes] | None = None
    paused: bool = False
    final: JobStatus | None = None
    disk_checked: float = 0.0

    def state(self) -> dict[str, Any]:
        """What ``job.json`` keeps, for :meth:`from_state` after a restart."""
        cg = self.cgroup
        return {
            "sandboxed": self.sandboxed,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "init": self.init,
            "init_start": self.init_start,
            "cgroup": None
            if cg is None
            else {"version": cg.version, "paths": {k: str(v) for k, v in cg.paths.items()}},
            "limits": asdict(self.limits),
        }

    @classmethod
    def from_state(cls, lease_id: int, data: dict[str, Any]) -> JobRecord:
        """The job that ``job.json`` describes (from :meth:`state`)."""
        cg = data.get("cgroup")
        return cls(
            lease_id,
            bool(data["sandboxed"]),
            int(data["pid"]),
            _int_or_none(data.get("pid_start")),
            _int_or_none(data.get("init")),
            _int_or_none(data.get("init_start")),
            None
            if not cg
            else JobCgroup(int(cg["version"]), {k: Path(v) for k, v in cg["paths"].items()}),
            JobLimits(**data["limits"]),
        )


def memory_reason(limits: JobLimits) -> str:
    """Why a job the out-of-memory killer hit was stopped."""
    shown = size_text(limits.memory_bytes) if limits.memory_bytes else "the machine's memory"
    return f"the job exceeded its memory limit of {shown} (out of memory)"


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
