"""The local backend: each job is a real process group on this machine.

- a working folder per lease (``<root>/lease-<id>``) holding the job's files, its
  output (``output.log``) and a state file, so a restarted agent can re-attach;
- the leased GPUs through ``CUDA_VISIBLE_DEVICES`` (empty when none: the job sees
  no GPU), secrets and variables in the environment, never on the command line;
- memory capped with ``RLIMIT_AS`` and CPU cores pinned with ``sched_setaffinity``
  in the child before it runs the command;
- pause and resume with SIGSTOP and SIGCONT to the whole group; stop with
  SIGTERM, then SIGKILL after a short wait.

The command runs under ``/bin/sh -c`` inside a wrapper shell that records its exit
code in the folder, so the code is known even for a job the agent re-attached to.
A command the shell cannot run (exit 126 or 127 at once) is a failed start.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath

from l2gpu.agent.backends import JobSpec, JobStartError, JobStatus

START_CHECK_S = 0.3
"""How long a fresh job is watched for an immediate 'command not found' (bounded)."""
STOP_WAIT_S = 3.0
LOG_CHUNK = 16 * 1024
_WRAPPER = '/bin/sh -c "$1"; code=$?; echo $code > .l2gpu-exit; exit $code'


class LocalBackend:
    """Jobs as local process groups under ``root``."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._pids: dict[int, int] = {}
        self._paused: set[int] = set()
        self._offsets: dict[int, int] = {}

    def workdir(self, lease_id: int) -> Path:
        """The working folder of a lease's job."""
        return self.root / f"lease-{lease_id}"

    def start(self, spec: JobSpec) -> None:
        """Start ``spec`` as a new process group; raise JobStartError if it cannot run."""
        folder = self.workdir(spec.lease_id)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in spec.files.items():
            _safe_path(folder, name).write_text(text)
        log = open(folder / "output.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(  # noqa: S603 - the renter's command is the point
                ["/bin/sh", "-c", _WRAPPER, "l2gpu-job", spec.command],
                cwd=folder,
                env=_environment(spec, folder),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_limits(spec),
            )
        except OSError as exc:
            raise JobStartError(f"the job could not start: {exc}", "check the command") from exc
        finally:
            log.close()
        self._procs[spec.lease_id] = proc
        self._pids[spec.lease_id] = proc.pid
        (folder / "job.json").write_text(json.dumps({"pid": proc.pid, "command": spec.command}))
        deadline = time.monotonic() + START_CHECK_S
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)  # bounded wait for a real process, not simulated time
        if proc.poll() in (126, 127):
            tail = (folder / "output.log").read_text(errors="replace").strip().splitlines()[-1:]
            raise JobStartError(
                f"the job's command could not run (exit {proc.returncode}): "
                f"{tail[0] if tail else 'no output'}",
                "check the command and the files it needs",
            )

    def status(self, lease_id: int) -> JobStatus:
        """Running, paused or exited (with the code when known)."""
        proc = self._procs.get(lease_id)
        if proc is not None:
            code = proc.poll()
            if code is not None:
                return JobStatus("exited", code)
        elif not _alive(self._pids.get(lease_id)):
            return JobStatus("exited", self._recorded_exit(lease_id))
        return JobStatus("paused" if lease_id in self._paused else "running")

    def pause(self, lease_id: int) -> None:
        """SIGSTOP the job's process group."""
        if self._signal(lease_id, signal.SIGSTOP):
            self._paused.add(lease_id)

    def resume(self, lease_id: int) -> None:
        """SIGCONT the job's process group."""
        self._signal(lease_id, signal.SIGCONT)
        self._paused.discard(lease_id)

    def stop(self, lease_id: int) -> None:
        """SIGTERM the group, then SIGKILL whatever is left after a few seconds."""
        self._signal(lease_id, signal.SIGCONT)
        self._signal(lease_id, signal.SIGTERM)
        self._paused.discard(lease_id)
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline and self.status(lease_id).state != "exited":
            time.sleep(0.02)  # bounded wait for a real process to exit
        self._signal(lease_id, signal.SIGKILL)
        proc = self._procs.get(lease_id)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_WAIT_S)

    def read_logs(self, lease_id: int) -> list[str]:
        """New output since the last call, in chunks of at most 16 KiB."""
        path = self.workdir(lease_id) / "output.log"
        if not path.exists():
            return []
        offset = self._offsets.get(lease_id, 0)
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read(LOG_CHUNK * 16)
        self._offsets[lease_id] = offset + len(data)
        text = data.decode("utf-8", errors="replace")
        return [text[i : i + LOG_CHUNK] for i in range(0, len(text), LOG_CHUNK)]

    def recover(self, lease_id: int) -> bool:
        """Re-attach to a job started by an earlier agent; False if it is gone."""
        state = self.workdir(lease_id) / "job.json"
        if not state.exists():
            return False
        pid = int(json.loads(state.read_text())["pid"])
        self._pids[lease_id] = pid
        log = self.workdir(lease_id) / "output.log"
        self._offsets[lease_id] = log.stat().st_size if log.exists() else 0
        return _alive(pid)

    def _recorded_exit(self, lease_id: int) -> int | None:
        path = self.workdir(lease_id) / ".l2gpu-exit"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def _signal(self, lease_id: int, sig: signal.Signals) -> bool:
        pid = self._pids.get(lease_id)
        if pid is None:
            return False
        try:
            os.killpg(pid, sig)  # the job is its own session: pgid == pid
            return True
        except (ProcessLookupError, PermissionError):
            return False


def _environment(spec: JobSpec, folder: Path) -> dict[str, str]:
    # A clean environment: the agent's own variables (its keys, tokens) never leak
    # into a renter's job. The agent's Python comes first on PATH, so 'python' works.
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    return {
        "PATH": path,
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "L2GPU_LEASE_ID": str(spec.lease_id),
        **spec.env,
        **spec.secrets,
        "CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in spec.gpu_indices),
    }


def _limits(spec: JobSpec):  # type: ignore[no-untyped-def]
    def apply() -> None:
        if spec.memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (spec.memory_bytes, spec.memory_bytes))
        if spec.cpu_cores and hasattr(os, "sched_setaffinity"):
            allowed = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, set(allowed[: max(1, spec.cpu_cores)]))

    return apply


def _safe_path(folder: Path, name: str) -> Path:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise JobStartError(
            f"job file name '{name}' leaves the working folder", "use a relative path without '..'"
        )
    path = folder.joinpath(*relative.parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; only its parent's wait is missing
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
