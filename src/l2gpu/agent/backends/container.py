"""The container backend: each job in a Docker or Podman container of the provider's
image, for providers who run their jobs in images (CUDA, PyTorch) rather than on the
host.

The engine's command line is the interface (``docker`` or ``podman``: the same verbs
and flags for what is used here), so no engine SDK is needed and Podman's rootless
mode works as it is. A job's container:

- runs ``/bin/sh -c <command>`` in the provider's image, or in the image the renter
  asked for (``rent --image``) when it matches one of the patterns the provider
  allows (``provider up --allow-image``; the offer says them, the market refuses
  others before a channel opens, and the backend checks again here), in ``/job``
  (the lease's folder on the host, mounted read-write, the job's files written there
  first);
- gets the leased GPUs only (``--gpus device=0,1`` with the NVIDIA container toolkit
  on Docker, ``--device nvidia.com/gpu=N`` through CDI on Podman), no network unless
  the provider allows it and the lease asks, a read-only root file system, no added
  capabilities, ``no-new-privileges``, and the lease's limits: memory (and no swap),
  CPUs, processes and open files;
- receives its environment and secrets from a file readable by the agent only, never
  on a command line (which every user of the host can read); the file is removed
  once the container is created; a variable with a line break or named ``NVIDIA_*``
  is refused (:func:`env_file_text`);
- is named ``l2gpu-<tag>-lease-<id>`` and labelled with its lease, which is how a
  restarted agent finds it (:meth:`ContainerBackend.found`).

Pause and resume use the engine's cgroup freezer; stop gives the job 5 s after
SIGTERM (``--stop-timeout`` says the same to the engine, for a stop it makes itself),
then removes the container. A container outlives the agent, so the backend has the
local backend's dead-man switch (:func:`~l2gpu.agent.backends.deadman.watch_containers`):
a watcher process, started with the first job and outliving the agent, pauses every
container of the backend within a second of the agent's death (kill -9 included) and
removes them when no agent came back within an hour; a restarted agent adopts a
paused container (``recover``: its status says paused, and the agent resumes it when
its vouchers are current) or stops it, as with the local backend.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

from l2gpu.agent.backends import deadman
from l2gpu.agent.backends.base import (
    SENT_NAME,
    JobSpec,
    JobStartError,
    JobStatus,
    load_sent_offset,
    save_sent_offset,
)
from l2gpu.agent.backends.checks import LOG_NAME, check_spec, unpack_folder
from l2gpu.agent.backends.container_shell import JOB_DIR, open_exec_shell
from l2gpu.agent.backends.local_shell import ShellProcess
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.images import ImageError, check_image, is_allowed, policy_problem

ENGINES = ("docker", "podman")
ENGINE_TIMEOUT_S = 60.0
STOP_GRACE_S = 5
LOG_LIMIT = 16 * 4096  # at most this much new output per read_logs call
LABEL = "l2gpu.lease"
JOB_TMPFS = "/tmp:rw,size=1g"  # noqa: S108 - the container's own /tmp, not the host's


class ContainerEngineError(L2gpuError):
    """The container engine is missing, not running, or refused a command."""


def engine_problem(engine: str) -> str | None:
    """Why ``engine`` cannot run containers here (None: it can)."""
    if shutil.which(engine) is None:
        return f"{engine} is not installed"
    try:
        done = subprocess.run([engine, "info", "--format", "{{.ServerVersion}}"],  # noqa: S603
                              capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S,
                              check=False, env=_engine_env())  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{engine} info failed: {exc}"
    if done.returncode != 0:
        return f"no {engine} daemon answers: {done.stderr.strip()[:300]}"
    return None


def write_file(work: Path, relative: str, text: str) -> None:
    """Write a job's file under ``work``, following no link on the way.

    Attacked: the files were written with ``Path.write_text``, through whatever the
    folder held; a container (root inside) that left ``train.py`` as a link to a host
    file had the lease's next start (after a restart, or a market whose lease ids began
    again) write there as the agent. Each folder is now opened without following a
    link, and what an earlier job left under the file's name is replaced, not followed.
    """
    parts = PurePosixPath(relative).parts
    folder = os.open(work, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in parts[:-1]:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=folder)
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
        with contextlib.suppress(FileNotFoundError):
            os.unlink(parts[-1], dir_fd=folder)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(parts[-1], flags, 0o644, dir_fd=folder), "w") as out:
            out.write(text)
    finally:
        os.close(folder)


def env_file_text(spec: JobSpec) -> str:
    """The job's variables and secrets as the engine's ``--env-file``: a line each.

    Attacked: a value (or name) holding a line break wrote lines of its own, and a line
    with no ``=`` has the engine copy that variable from its own environment, which is
    the agent's: ``x\nL2GPU_PRIVATE_KEY`` put the provider's key in the renter's
    container. And ``NVIDIA_VISIBLE_DEVICES=all`` has the NVIDIA runtime give the
    container every GPU of the host, other leases' too. Both are refused.
    """
    lines = []
    for kind, variables in (("variable", spec.env), ("secret", spec.secrets)):
        for name, value in variables.items():
            if "\n" in name + value or "\r" in name + value:
                raise JobStartError(
                    f"the job's {kind} {name.splitlines()[0]!r} holds a line break, which "
                    "a container's variables cannot carry",
                    "remove the line break (put multi-line text in a file of the job)",
                )
            if name.upper().startswith("NVIDIA_"):
                raise JobStartError(
                    f"the job's {kind} {name} would choose the container's GPUs",
                    "drop it: the container gets the leased GPUs",
                )
            lines.append(f"{name}={value}\n")
    return "".join(lines)


def run_args(
    engine: str, image: str, name: str, spec: JobSpec, workdir: Path, env_file: Path,
    *, network: str,
) -> list[str]:  # fmt: skip
    """The ``<engine> run`` command line of a job: nothing of the renter's on it but the
    command itself, which runs inside the container."""
    args = [engine, "run", "--detach", "--name", name, "--label", f"{LABEL}={spec.lease_id}",
            "--env-file", str(env_file), "--workdir", JOB_DIR,
            "--volume", f"{workdir}:{JOB_DIR}:rw", "--read-only", "--tmpfs", JOB_TMPFS,
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--stop-timeout", str(STOP_GRACE_S),
            "--network", "host" if network == "host" and spec.network in (None, "host")
            else "none"]  # fmt: skip
    if spec.gpu_indices:
        devices = ",".join(str(i) for i in spec.gpu_indices)
        if engine == "docker":
            args += ["--gpus", f'"device={devices}"']
        else:  # Podman reaches NVIDIA GPUs through CDI
            for index in spec.gpu_indices:
                args += ["--device", f"nvidia.com/gpu={index}"]
    if spec.memory_bytes:
        args += ["--memory", str(spec.memory_bytes), "--memory-swap", str(spec.memory_bytes)]
    if spec.cpu_cores:
        args += ["--cpus", str(spec.cpu_cores)]
    args += ["--pids-limit", str(spec.processes or 4096)]
    nofile = spec.open_files or 4096
    args += ["--ulimit", f"nofile={nofile}:{nofile}"]
    return [*args, image, "/bin/sh", "-c", spec.command]


class ContainerBackend:
    """Jobs as containers of ``image`` under ``engine`` (docker or podman), or of an
    image the renter asked for that matches one of the ``allowed`` patterns; the lease
    folders live under ``root``; ``network`` is the provider's setting (none or host)."""

    name = "container"

    def __init__(
        self,
        root: Path,
        image: str,
        *,
        engine: str = "docker",
        network: str = "none",
        allowed: tuple[str, ...] = (),
        keep_frozen_s: float = deadman.KEEP_FROZEN_S,
    ) -> None:
        if engine not in ENGINES:
            raise L2gpuError(f"unknown container engine '{engine}'", "use docker or podman")
        self.images = ",".join((check_image(image, name="--image"), *allowed))
        policy = policy_problem("container", self.images)
        if policy is not None:
            raise L2gpuError(f"the container backend's {policy}",
                             "give --allow-image patterns such as pytorch/pytorch:*")  # fmt: skip
        problem = engine_problem(engine)
        if problem is not None:
            raise ContainerEngineError(
                f"the container backend cannot run: {problem}",
                f"install and start {engine} (with the NVIDIA container toolkit for GPUs), "
                "or use --backend local",
            )
        self.root, self.image, self.engine, self.network = Path(root), image, engine, network
        self.root.mkdir(parents=True, exist_ok=True)
        self._tag = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:10]
        self._offsets: dict[int, int] = {}
        self.keep_frozen_s = keep_frozen_s
        self._watcher: subprocess.Popen[bytes] | None = None

    def workdir(self, lease_id: int) -> Path:
        """The lease's folder on the host (``/job`` in the container)."""
        return self.root / f"lease-{lease_id}"

    def forget(self, lease_id: int) -> None:
        """Remove an ended lease's folder (its container is gone with the lease)."""
        shutil.rmtree(self.workdir(lease_id), ignore_errors=True)

    def _name(self, lease_id: int) -> str:
        return f"l2gpu-{self._tag}-lease-{lease_id}"

    def _engine(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            # the engine's own variables only: never the agent's key (an --env-file line
            # naming a variable copies it from this environment into the container)
            done = subprocess.run([self.engine, *args], capture_output=True, text=True,  # noqa: S603
                                  timeout=ENGINE_TIMEOUT_S, check=False,
                                  env=_engine_env())  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ContainerEngineError(f"{self.engine} {args[0]} failed: {exc}") from exc
        if check and done.returncode != 0:
            raise ContainerEngineError(
                f"{self.engine} {args[0]} failed: {done.stderr.strip()[:400]}",
                f"check that {self.engine} runs and the image {self.image} exists",
            )
        return done

    def start(self, spec: JobSpec) -> None:
        """Create and start the job's container; raise JobStartError (only) if it cannot."""
        try:
            check_spec(spec)
            image = self._image_of(spec)
            work = self.workdir(spec.lease_id)
            self._engine("rm", "--force", self._name(spec.lease_id), check=False)
            self.root.chmod(0o700)  # its containers may leave set-uid files: no one else in
            work.mkdir(parents=True, exist_ok=True)
            for relative, text in spec.files.items():
                write_file(work, relative, text)
            unpack_folder(spec, work, spec.disk_bytes)
            with tempfile.TemporaryDirectory(prefix="l2gpu-env-") as folder:
                env_file = Path(folder) / "env"
                fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(env_file_text(spec))
                args = run_args(self.engine, image, self._name(spec.lease_id), spec, work,
                                env_file, network=self.network)  # fmt: skip
                self._engine(*args[1:])
            self._ensure_watcher()
        except JobStartError:
            raise
        except Exception as exc:  # whatever it was, the lease fails once, cleanly
            raise JobStartError(f"the job's container could not start: {exc}",
                                "check the command, the image and the engine") from exc  # fmt: skip

    def _image_of(self, spec: JobSpec) -> str:
        """The image ``spec`` runs in: the renter's, only within the allowed patterns."""
        if spec.image is None:
            return self.image
        try:
            image = check_image(spec.image, name="the job's image")
        except ImageError as exc:
            raise JobStartError(exc.what, exc.fix) from exc
        if not is_allowed(self.images, image):
            raise JobStartError(
                f"this provider allows only the images {self.images}; {image} is not one of them",
                "ask for one of those images, or choose another offer",
            )
        return image

    def _inspect(self, lease_id: int) -> tuple[str, int | None, bool] | None:
        done = self._engine("inspect", "--format",
                            "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}",
                            self._name(lease_id), check=False)  # fmt: skip
        if done.returncode != 0:
            return None
        status, code, oom = [*done.stdout.split(), "", "", ""][:3]
        return status, int(code) if code.lstrip("-").isdigit() else None, oom == "true"

    def status(self, lease_id: int) -> JobStatus:
        """Running, paused or exited (with the code, and why when out of memory)."""
        seen = self._inspect(lease_id)
        if seen is None:
            return JobStatus("exited", None)
        status, code, oom = seen
        if status == "paused":
            return JobStatus("paused")
        if status in ("running", "created", "restarting"):
            return JobStatus("running")
        reason = "the job exceeded its memory limit (out of memory)" if oom else None
        return JobStatus("exited", code, reason)

    def pause(self, lease_id: int) -> None:
        """Freeze the container (cgroup freezer)."""
        self._engine("pause", self._name(lease_id), check=False)

    def resume(self, lease_id: int) -> None:
        """Thaw the container."""
        self._engine("unpause", self._name(lease_id), check=False)

    def stop(self, lease_id: int) -> None:
        """SIGTERM, then after a grace kill, then remove the container; its output is
        saved to the lease's ``output.log`` first."""
        name = self._name(lease_id)
        self._engine("unpause", name, check=False)
        self._engine("stop", "--time", str(STOP_GRACE_S), name, check=False)
        with contextlib.suppress(L2gpuError, OSError):
            logs = self._engine("logs", name, check=False)
            (self.workdir(lease_id) / LOG_NAME).write_text(logs.stdout + logs.stderr)
        self._engine("rm", "--force", name, check=False)

    def open_shell(
        self, spec: JobSpec, argv: list[str], env: dict[str, str], tty: tuple[int, int] | None
    ) -> ShellProcess:
        """A renter's shell (``l2gpu ssh``): ``argv`` run in the lease's running container
        by ``<engine> exec`` (see :mod:`.container_shell`); JobStartError if none runs."""
        seen = self._inspect(spec.lease_id)
        state = None if seen is None else seen[0]
        return open_exec_shell(self.engine, self._name(spec.lease_id), state, argv, env, tty,
                               engine_env=_engine_env(), cwd=self.root)  # fmt: skip

    def read_logs(self, lease_id: int) -> list[str]:
        """New output since the last call."""
        done = self._engine("logs", self._name(lease_id), check=False)
        text = done.stdout + done.stderr if done.returncode == 0 else ""
        offset = self._offsets.get(lease_id, 0)
        new = text[offset : offset + LOG_LIMIT]
        self._offsets[lease_id] = offset + len(new)
        return [new[i : i + 4096] for i in range(0, len(new), 4096)]

    def logs_sent(self, lease_id: int) -> None:
        """Keep, beside the lease's folder (out of the container's sight), how much
        output reached the market."""
        if lease_id in self._offsets:
            save_sent_offset(self._sent_path(lease_id), self._offsets[lease_id])

    def _sent_path(self, lease_id: int) -> Path:
        return self.root / ".agent" / f"lease-{lease_id}.{SENT_NAME}"

    def recover(self, lease_id: int) -> bool:
        """Whether the lease's container still runs (a restarted agent adopts it, its
        output resumed from what reached the market)."""
        seen = self._inspect(lease_id)
        if seen is None:
            return False
        self._ensure_watcher()  # this agent owns the container now (the old watcher stands down)
        (self.root / ".agent" / f"{self._name(lease_id)}.{deadman.FROZEN_MARK}").unlink(
            missing_ok=True
        )  # adopted: the old watcher must not remove it
        if seen[0] in ("exited", "dead"):
            self._engine("rm", "--force", self._name(lease_id), check=False)
            return False
        self._offsets[lease_id] = load_sent_offset(self._sent_path(lease_id))
        return True

    def _ensure_watcher(self) -> None:
        """Run the dead-man switch for this agent's containers: one watcher per agent
        process, respawned after it went idle (see :mod:`.deadman`)."""
        if self._watcher is not None and self._watcher.poll() is None:
            return
        agents = self.root / ".agent"
        agents.mkdir(parents=True, exist_ok=True)
        me = os.getpid()
        owner = {"pid": me, "start": deadman.start_time(me)}
        (agents / deadman.AGENT_FILE).write_text(json.dumps(owner))
        engine = shutil.which(self.engine) or self.engine
        with open(agents / "deadman.log", "ab") as log_file:
            self._watcher = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
                [sys.executable, "-I", "-S", deadman.__file__, "--containers", str(agents),
                 str(me), str(owner["start"]), str(self.keep_frozen_s), engine,
                 f"l2gpu-{self._tag}-lease-"],
                env=_engine_env(), stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the agent: that is its purpose
            )  # fmt: skip

    def found(self) -> list[int]:
        """Leases with a container of this backend (any state)."""
        done = self._engine("ps", "--all", "--filter", f"label={LABEL}",
                            "--format", "{{.Names}}", check=False)  # fmt: skip
        prefix = f"l2gpu-{self._tag}-lease-"
        return sorted(int(n.removeprefix(prefix)) for n in done.stdout.split()
                      if n.startswith(prefix) and n.removeprefix(prefix).isdigit())  # fmt: skip


_ENGINE_ENV_PREFIXES = ("DOCKER_", "CONTAINER_", "PODMAN_", "XDG_")


def _engine_env() -> dict[str, str]:
    """What the watcher's engine calls need of the agent's environment (where the
    engine is and how to reach its daemon), and nothing else: no key of the agent's."""
    return {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME") or k.startswith(_ENGINE_ENV_PREFIXES)}  # fmt: skip
