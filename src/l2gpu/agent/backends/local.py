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

This module sets a job up and starts it; watching, pausing, stopping and re-attaching to
it are :mod:`.local_watch`'s (a mixin of :class:`LocalBackend`), and the job's record and
launcher are in :mod:`.local_job`: split so that each module stays short.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from l2gpu.agent.backends import deadman
from l2gpu.agent.backends.base import JobSpec, JobStartError
from l2gpu.agent.backends.cgroups import Cgroups, JobCgroup, find_cgroups, join
from l2gpu.agent.backends.checks import (
    LOG_NAME,
    MIN_DISK,
    check_spec,
    refuse_image,
    unpack_folder,
)
from l2gpu.agent.backends.deadman import start_time as _start_time
from l2gpu.agent.backends.local_files import (
    NOFOLLOW,
    await_ready,
    sandbox_init,
    wipe,
    write_files,
)
from l2gpu.agent.backends.local_job import (
    EXIT_FILE,
    LAUNCHER,
    UNSANDBOXED,
    JobLimits,
    JobRecord,
)
from l2gpu.agent.backends.local_shell import memfd as _memfd
from l2gpu.agent.backends.local_watch import JobWatching
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
DISK_CHECK_S = 1.0

DEFAULT_PROCESSES = 4096
DEFAULT_OPEN_FILES = 4096
DEFAULT_DISK_SHARE = 0.5
"""Without a disk limit in the spec, a job may use half the free space under the root."""

SANDBOX_PROCESSES = 2
"""bubblewrap's own processes in the job's cgroup (its monitor and the namespace's init)."""


class LocalBackend(JobWatching):
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
        self._jobs: dict[int, JobRecord] = {}
        self._offsets: dict[int, int] = {}
        self.keep_frozen_s = keep_frozen_s
        self._watcher: subprocess.Popen[bytes] | None = None

    def workdir(self, lease_id: int) -> Path:
        """The job's folder (``/job`` in its sandbox), with its output in ``output.log``."""
        return self.root / f"lease-{lease_id}"

    def _agent_dir(self, lease_id: int) -> Path:
        """The agent's own folder for a lease, which no job sees."""
        return self.root / ".agent" / f"lease-{lease_id}"

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

    def _start(self, spec: JobSpec, limits: JobLimits) -> None:
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
                argv += [sys.executable, "-I", "-S", "-c", LAUNCHER, str(config_fd), str(ready_w)]
                fds: tuple[int, ...] = (config_fd, ready_w, status_fd)
            else:
                exit_file = str(folder / EXIT_FILE)
                argv = ["/bin/sh", "-c", UNSANDBOXED, "l2gpu-job", sys.executable, LAUNCHER]
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
        job = JobRecord(
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
                "run the provider's sandbox check (l2gpu.agent.sandbox_check.sandbox_check)",
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

    def _check(self, spec: JobSpec) -> JobLimits:
        check_spec(spec)
        if spec.disk_bytes is not None:
            disk = spec.disk_bytes
        else:
            disk = max(MIN_DISK, int(shutil.disk_usage(self.root).free * DEFAULT_DISK_SHARE))
        return JobLimits(
            spec.memory_bytes,
            spec.cpu_cores,
            spec.processes or DEFAULT_PROCESSES,
            spec.open_files or DEFAULT_OPEN_FILES,
            disk,
        )

    def _cgroup(self, lease_id: int, limits: JobLimits) -> JobCgroup | None:
        if self.cgroups is None:
            return None
        cgroup = self.cgroups.job(f"lease-{lease_id}-{self._tag}")
        cgroup.create(
            memory_bytes=limits.memory_bytes,
            processes=limits.processes + SANDBOX_PROCESSES,
            cpu_cores=limits.cpu_cores,
        )
        return cgroup

    def _config(self, spec: JobSpec, limits: JobLimits) -> dict[str, Any]:
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
