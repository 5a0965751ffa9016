"""The local backend: each job is a real process on this machine, sandboxed by default.

Folders, under the backend's ``root``:

- ``lease-<id>/``: the job's folder, its files and what it writes; in the sandbox it is
  ``/job``, the job's working folder and HOME. ``output.log`` in it holds what the job
  writes to stdout and stderr; the sandbox covers that name with an empty read-only
  file, so the job can neither rewrite its log nor swap it for a link;
- ``.agent/lease-<id>/``: the agent's, never in the sandbox: ``job.json`` (what a
  restarted agent needs to re-attach: pids, cgroup, limits), ``status.json``
  (bubblewrap's report: the sandbox's init, then the exit code), ``etc/`` (the job's
  ``passwd``, ``group``, ``hosts``) and ``tmp/`` (the job's ``/tmp``).

A job runs in the bubblewrap sandbox of :mod:`l2gpu.agent.sandbox` unless the backend
is built with ``SandboxPolicy.NONE_I_TRUST_EVERY_RENTER``. Inside the sandbox a small
launcher (the agent's Python, ``-I -S``) reads the job's environment and limits from a
file descriptor (never the command line, which every user of the host can read),
sets the limits, says it is ready, and runs the command under ``/bin/sh -c``.

Limits, from the :class:`JobSpec` (the lease's terms), each enforced by the kernel:

- memory: the job's cgroup (``memory.max`` / ``memory.limit_in_bytes``); a job the
  out-of-memory killer hits is stopped and its status says so. Without a cgroup,
  ``RLIMIT_AS`` (address space, not memory in use);
- processes: the cgroup's ``pids.max``, and ``RLIMIT_NPROC`` inside the job's own
  user namespace (threads count);
- CPU cores: the cgroup's CPU quota; without one, CPU affinity;
- open files: ``RLIMIT_NOFILE``;
- disk: ``RLIMIT_FSIZE`` caps each file, and the backend measures the job's folders
  (its folder with its log, and its ``/tmp``) at most once per ``disk_check_s`` when asked
  for the job's status: past the limit the job is stopped and its status says so.

The sandbox's init is the job's PID namespace's pid 1: killing it kills every process
of the job, detached or double-forked ones included, so :meth:`LocalBackend.stop`
leaves nothing behind, and a job whose main command exits takes its strays with it.

Pause and resume send SIGSTOP and SIGCONT to every process of the job (found as the
descendants of the sandbox's init, which adopts every orphan of the namespace).
``start`` raises :class:`JobStartError` and nothing else, whatever the spec holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
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
from l2gpu.agent.backends.cgroups import Cgroups, JobCgroup, find_cgroups, join
from l2gpu.agent.backends.checks import (
    LOG_NAME,
    MIN_DISK,
    check_spec,
    refuse_image,
    size_text,
    unpack_folder,
)
from l2gpu.agent.backends.deadman import alive as _alive
from l2gpu.agent.backends.deadman import descendants as _descendants
from l2gpu.agent.backends.deadman import group as _group
from l2gpu.agent.backends.deadman import send as _kill
from l2gpu.agent.backends.deadman import start_time as _start_time
from l2gpu.agent.backends.deadman import state_of as _state
from l2gpu.agent.backends.local_files import (
    NOFOLLOW,
    await_ready,
    disk_usage,
    json_field,
    read_log,
    sandbox_init,
    wipe,
    write_files,
)
from l2gpu.agent.backends.local_shell import ShellProcess, oldest_process, start_shell
from l2gpu.agent.backends.local_shell import memfd as _memfd
from l2gpu.agent.sandbox import (
    DEFAULT_NETWORK,
    JOB_HOME,
    JOB_TMP,
    NETWORKS,
    SandboxMounts,
    SandboxPolicy,
    bwrap_args,
    gpu_device_nodes,
    require_bwrap,
    write_identity,
)

log = logging.getLogger(__name__)

START_CHECK_S = 0.3
"""How long a fresh job is watched for an immediate 'command not found' (bounded)."""
STOP_WAIT_S = 3.0
DISK_CHECK_S = 1.0
LOG_CHUNK = 16 * 1024

DEFAULT_PROCESSES = 4096
DEFAULT_OPEN_FILES = 4096
DEFAULT_DISK_SHARE = 0.5
"""Without a disk limit in the spec, a job may use half the free space under the root."""
MAX_FOLDER_ENTRIES = 200_000
"""A job may hold at most this many files and folders (the disk check counts them)."""

SANDBOX_PROCESSES = 2
"""bubblewrap's own processes in the job's cgroup (its monitor and the namespace's init)."""

_EXIT_FILE = "exit"
_UNSANDBOXED = '"$1" -I -S -c "$2" "$3" "$4"; code=$?; echo $code > "$5"; exit $code'
_LAUNCHER = """\
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
class _Limits:
    memory_bytes: int | None
    cpu_cores: int | None
    processes: int
    open_files: int
    disk_bytes: int


@dataclass
class _Job:
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
    limits: _Limits
    proc: subprocess.Popen[bytes] | None = None
    paused: bool = False
    final: JobStatus | None = None
    disk_checked: float = 0.0

    def state(self) -> dict[str, Any]:
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
    def from_state(cls, lease_id: int, data: dict[str, Any]) -> _Job:
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
            _Limits(**data["limits"]),
        )


class LocalBackend:
    """Jobs as local processes under ``root``, each in a bubblewrap sandbox by default.

    ``sandbox=SandboxPolicy.NONE_I_TRUST_EVERY_RENTER`` runs them as plain processes
    of the agent's user (they can read its keys); ``network`` ("none" or "host") is
    the provider's setting, which a lease may only narrow; ``cgroups=False`` or a
    machine without writable cgroups leaves the rlimit fallbacks; ``cgroup_parent``
    is a delegated cgroup v2 folder. ``dev`` and ``gpu_driver`` are where the GPUs'
    device files and the driver's GPU list are (tests point them elsewhere);
    ``hidden`` are more folders no job may see. ``keep_frozen_s``: how long the
    dead-man switch keeps the jobs of a dead agent frozen for a new one to adopt."""

    name = "local"

    def __init__(
        self,
        root: Path,
        *,
        sandbox: SandboxPolicy = SandboxPolicy.BWRAP,
        network: str = DEFAULT_NETWORK,
        cgroups: bool = True,
        cgroup_parent: Path | None = None,
        bwrap: str | None = None,
        dev: Path = Path("/dev"),
        gpu_driver: Path = Path("/proc/driver/nvidia/gpus"),
        hidden: tuple[Path, ...] = (),
        extra_read_only: tuple[Path, ...] = (),
        disk_check_s: float = DISK_CHECK_S,
        keep_frozen_s: float = deadman.KEEP_FROZEN_S,
    ) -> None:
        if not isinstance(sandbox, SandboxPolicy):
            raise TypeError("sandbox must be a SandboxPolicy")
        if network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, not {network!r}")
        self.root = Path(root)
        self.policy = sandbox
        self.network = network
        self.bwrap = require_bwrap(bwrap) if sandbox is SandboxPolicy.BWRAP else None
        if self.bwrap is None:
            log.warning(
                "jobs run UNSANDBOXED: every renter's job can read this agent's keys and files"
            )
        probe = find_cgroups(cgroup_parent) if cgroups else None
        self.cgroups: Cgroups | None = probe.cgroups if probe else None
        self.cgroup_problem = probe.problem if probe else "cgroups turned off"
        if self.cgroups is not None:
            self.cgroups.sweep()
        self.dev, self.gpu_driver = Path(dev), Path(gpu_driver)
        self.root.mkdir(parents=True, exist_ok=True)
        home: tuple[Path, ...] = ()
        with contextlib.suppress(RuntimeError, KeyError):
            home = (Path.home(),)
        self.hidden = (self.root.resolve(), self.root.resolve().parent, *home, *hidden)
        self.extra_read_only = extra_read_only
        self.disk_check_s = disk_check_s
        self._tag = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:10]
        self._jobs: dict[int, _Job] = {}
        self._offsets: dict[int, int] = {}
        self.keep_frozen_s = keep_frozen_s
        self._watcher: subprocess.Popen[bytes] | None = None

    def workdir(self, lease_id: int) -> Path:
        """The job's folder (``/job`` in its sandbox), with its output in ``output.log``."""
        return self.root / f"lease-{lease_id}"

    def _agent_dir(self, lease_id: int) -> Path:
        """The agent's own folder for a lease, which no job sees."""
        return self.root / ".agent" / f"lease-{lease_id}"

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

    # -- start -------------------------------------------------------------------------

    def start(self, spec: JobSpec) -> None:
        """Start ``spec`` in its sandbox; raise JobStartError (only) if it cannot run."""
        try:
            refuse_image(spec, self.name)
            limits = self._check(spec)
            self._start(spec, limits)
        except JobStartError:
            raise
        except Exception as exc:  # whatever it was, the lease fails once, cleanly
            log.warning("lease %s: the job could not start", spec.lease_id, exc_info=True)
            raise JobStartError(
                f"the job could not start: {type(exc).__name__}: {exc}",
                "check the job's command, files and variables",
            ) from exc

    def _start(self, spec: JobSpec, limits: _Limits) -> None:
        lease = spec.lease_id
        running = self._jobs.get(lease)
        if running is not None and running.final is None:
            raise JobStartError(f"lease {lease} already has a job running", "stop it first")
        work, folder = self.workdir(lease), self._agent_dir(lease)
        for made in (work, folder):
            made.mkdir(parents=True, exist_ok=True)
            made.chmod(0o700)
        (self.root / ".agent").chmod(0o700)
        for entry in work.iterdir():  # what an earlier job of this lease left; not its log
            if entry.name != LOG_NAME or entry.is_symlink() or not entry.is_file():
                wipe(entry)
        for stale in folder.iterdir():
            wipe(stale)
        tmp = folder / "tmp"
        tmp.mkdir()
        (folder / "empty").touch(mode=0o400)
        write_files(work, spec.files)
        unpack_folder(spec, work, limits.disk_bytes)
        cgroup = self._cgroup(lease, limits)
        gpu_nodes = gpu_device_nodes(spec.gpu_indices, self.dev, self.gpu_driver)
        config = json.dumps(self._config(spec, limits)).encode()
        config_fd = ready_r = ready_w = status_fd = log_fd = -1
        try:
            config_fd = _memfd(config)
            ready_r, ready_w = os.pipe()
            append = os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW
            log_fd = os.open(work / LOG_NAME, append, 0o600)
            if self.bwrap is not None:
                status_fd = os.open(folder / "status.json", os.O_WRONLY | os.O_CREAT, 0o600)
                network = self.network if spec.network in (None, "host") else "none"
                mounts = SandboxMounts(
                    work, tmp, folder / "etc", folder / "empty", masked=(LOG_NAME,)
                )
                write_identity(mounts.identity)
                argv = bwrap_args(
                    self.bwrap,
                    mounts,
                    network=network,
                    status_fd=status_fd,
                    gpu_nodes=gpu_nodes,
                    hidden=self.hidden,
                    extra_read_only=self.extra_read_only,
                    shm_bytes=limits.memory_bytes or limits.disk_bytes,
                )
                argv += [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(config_fd), str(ready_w)]
                fds: tuple[int, ...] = (config_fd, ready_w, status_fd)
            else:
                exit_file = str(folder / _EXIT_FILE)
                argv = ["/bin/sh", "-c", _UNSANDBOXED, "l2gpu-job", sys.executable, _LAUNCHER]
                argv += [str(config_fd), str(ready_w), exit_file]
                fds = (config_fd, ready_w)
            procs = cgroup.procs_files() if cgroup is not None else []
            proc = subprocess.Popen(  # noqa: S603 - the renter's command is the point
                argv,
                cwd=folder if self.bwrap is not None else work,
                env={},  # bwrap gets nothing of the renter's: LD_PRELOAD would run on the host
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=fds,
                preexec_fn=(lambda: join(procs)) if procs else None,
            )
        except BaseException:
            if ready_r >= 0:
                os.close(ready_r)
            if cgroup is not None:
                cgroup.remove()
            raise
        finally:
            for fd in (config_fd, ready_w, status_fd, log_fd):
                if fd >= 0:
                    os.close(fd)
        try:
            problem = await_ready(proc, ready_r)
        finally:
            os.close(ready_r)
        job = _Job(
            lease, self.bwrap is not None, proc.pid, _start_time(proc.pid), None, None,
            cgroup, limits, proc,
        )  # fmt: skip
        self._jobs[lease] = job
        if problem is None and job.sandboxed:
            job.init = sandbox_init(folder / "status.json", proc)
            job.init_start = _start_time(job.init) if job.init else None
            if job.init is None:
                problem = "the sandbox did not report its init process"
        if problem is not None:
            self._finish(job)
            raise JobStartError(
                f"the job's sandbox could not start: {problem}: {self._tail(lease)}",
                "run the provider's sandbox check (l2gpu.agent.sandbox.sandbox_check)",
            )
        (folder / "job.json").write_text(json.dumps(job.state()))
        self._ensure_watcher()
        deadline = time.monotonic() + START_CHECK_S
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)  # bounded wait for a real process, not simulated time
        code = proc.poll()
        if code in (126, 127):
            self._finish(job)
            raise JobStartError(
                f"the job's command could not run (exit {code}): {self._tail(lease)}",
                "check the command and the files it needs",
            )

    def _check(self, spec: JobSpec) -> _Limits:
        check_spec(spec)
        if spec.disk_bytes is not None:
            disk = spec.disk_bytes
        else:
            disk = max(MIN_DISK, int(shutil.disk_usage(self.root).free * DEFAULT_DISK_SHARE))
        return _Limits(
            spec.memory_bytes,
            spec.cpu_cores,
            spec.processes or DEFAULT_PROCESSES,
            spec.open_files or DEFAULT_OPEN_FILES,
            disk,
        )

    def _cgroup(self, lease_id: int, limits: _Limits) -> JobCgroup | None:
        if self.cgroups is None:
            return None
        cgroup = self.cgroups.job(f"lease-{lease_id}-{self._tag}")
        cgroup.create(
            memory_bytes=limits.memory_bytes,
            processes=limits.processes + SANDBOX_PROCESSES,
            cpu_cores=limits.cpu_cores,
        )
        return cgroup

    def _config(self, spec: JobSpec, limits: _Limits) -> dict[str, Any]:
        controllers = self.cgroups.controllers if self.cgroups else ()
        rlimits: list[tuple[str, int]] = [
            ("RLIMIT_NOFILE", limits.open_files),
            ("RLIMIT_FSIZE", limits.disk_bytes),
            ("RLIMIT_CORE", 0),
        ]
        if self.bwrap is not None:
            # Inside its own user namespace, the job's process count is its own. Outside
            # one it would count every process of the agent's user: unsandboxed, pids only.
            rlimits.append(("RLIMIT_NPROC", limits.processes))
        if limits.memory_bytes and "memory" not in controllers:
            rlimits.append(("RLIMIT_AS", limits.memory_bytes))
        cpus: list[int] = []
        if limits.cpu_cores and "cpu" not in controllers and hasattr(os, "sched_getaffinity"):
            cpus = sorted(os.sched_getaffinity(0))[: limits.cpu_cores]
        return {
            "rlimits": rlimits,
            "cpus": cpus,
            "env": self._environment(spec),
            "command": spec.command,
        }

    def _environment(self, spec: JobSpec) -> dict[str, str]:
        # A clean environment: the agent's own variables (its keys, tokens) never reach
        # a renter's job. The agent's Python comes first on PATH, so 'python' works.
        python_bin = str(Path(sys.executable).parent)
        path = os.pathsep.join([python_bin, "/usr/local/bin", "/usr/bin", "/bin"])
        if self.bwrap is not None:
            home, tmp = JOB_HOME, JOB_TMP
            # The sandbox shows the leased GPUs only, numbered from 0.
            gpus = ",".join(str(i) for i in range(len(spec.gpu_indices)))
        else:
            home = str(self.workdir(spec.lease_id))
            tmp = str(self._agent_dir(spec.lease_id) / "tmp")
            gpus = ",".join(str(i) for i in spec.gpu_indices)
        return {
            "PATH": path,
            "HOME": home,
            "USER": "job",
            "LOGNAME": "job",
            "SHELL": "/bin/sh",
            "TMPDIR": tmp,
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "L2GPU_LEASE_ID": str(spec.lease_id),
            **spec.env,
            **spec.secrets,
            "CUDA_VISIBLE_DEVICES": gpus,
        }

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
            job = _Job.from_state(lease_id, json.loads(state.read_text()))
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

    # -- internals ----------------------------------------------------------------------

    def _live(self, lease_id: int) -> _Job | None:
        job = self._jobs.get(lease_id)
        return job if job is not None and job.final is None else None

    def _exit(self, job: _Job) -> tuple[bool, int | None]:
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

    def _recorded_exit(self, job: _Job) -> int | None:
        folder = self._agent_dir(job.lease_id)
        if job.sandboxed:
            return json_field(folder / "status.json", "exit-code")
        try:
            return int((folder / _EXIT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    def _pids(self, job: _Job) -> set[int]:
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

    def _breach(self, job: _Job) -> str | None:
        """Why the job must be stopped now, if it must: memory or disk."""
        if job.cgroup is not None and job.cgroup.oom_kills() > 0:
            return _memory_reason(job.limits)
        now = time.monotonic()
        if now - job.disk_checked < self.disk_check_s:
            return None
        job.disk_checked = now
        return self._disk_breach(job)

    def _disk_breach(self, job: _Job) -> str | None:
        used, entries = disk_usage(
            [self.workdir(job.lease_id), self._agent_dir(job.lease_id) / "tmp"],
            MAX_FOLDER_ENTRIES,
        )
        if entries > MAX_FOLDER_ENTRIES:
            return f"the job created more than {MAX_FOLDER_ENTRIES:,} files and folders"
        if used >= job.limits.disk_bytes:
            return f"the job wrote more than its disk limit of {size_text(job.limits.disk_bytes)}"
        return None

    def _finish(self, job: _Job, reason: str | None = None) -> JobStatus:
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

    def _gone(self, job: _Job) -> bool:
        if job.sandboxed and _alive(job.init, job.init_start):
            return False
        if job.proc is not None and job.proc.poll() is None:
            return False
        return not (job.cgroup is not None and job.cgroup.pids())

    def _reason_at_exit(self, job: _Job, code: int | None) -> str | None:
        if job.cgroup is not None and job.cgroup.oom_kills() > 0:
            return _memory_reason(job.limits)
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


def _memory_reason(limits: _Limits) -> str:
    shown = size_text(limits.memory_bytes) if limits.memory_bytes else "the machine's memory"
    return f"the job exceeded its memory limit of {shown} (out of memory)"


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
