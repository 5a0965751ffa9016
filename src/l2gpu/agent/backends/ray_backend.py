"""The Ray backend: each job runs in a Ray actor that holds the GPUs of the lease.

The actor drives the job with the local backend on whichever node Ray placed it,
so limits, working folder, logs and exit codes behave exactly as locally; Ray
adds placement on a cluster and sets ``CUDA_VISIBLE_DEVICES`` to the GPUs it
assigned. Actors are named and detached, so a restarted agent finds its jobs
again with ``ray.get_actor``. A renter's shell (``l2gpu ssh``) opens through the job's
actor, in the job's sandbox on its node (:mod:`.ray_shell`).

Detached actors outlive the agent, so the backend has a dead-man switch of its own:
a thread of the agent's process sends every job's actor a beat each ``BEAT_S``; an
actor that hears none for ``deadman_s`` (10 s: the market's agent timeout) pauses its
job (SIGSTOP of every process, as the local backend pauses), and, still unheard
after ``keep_frozen_s`` (an hour), stops the job and ends itself, freeing its GPUs.
A restarted agent's beats reach the actor again; it finds the job paused and resumes
it (its vouchers current) or stops it. Each backend beats with its own token: beats
that come back with the token of the agent that froze the job (it never died, Ray
lost its beats a while) thaw the job at once, as that agent never paused it. The
agent killed (-9), a job runs unmetered for at most ``deadman_s`` plus one watchdog
tick.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from l2gpu.agent.backends.base import JobSpec, JobStartError, JobStatus
from l2gpu.agent.backends.checks import refuse_image
from l2gpu.agent.backends.ray_shell import ActorShells, RayShell
from l2gpu.core.errors import L2gpuError

NAMESPACE = "l2gpu"
BEAT_S = 1.0
DEADMAN_S = 10.0
KEEP_FROZEN_S = 3600.0
WATCHDOG_TICK_S = 0.25


class RayBackend:
    """Jobs as detached Ray actors, one per lease."""

    name = "ray"

    def __init__(
        self,
        root: Path,
        *,
        address: str | None = None,
        deadman_s: float = DEADMAN_S,
        keep_frozen_s: float = KEEP_FROZEN_S,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise L2gpuError(
                "the Ray backend needs the ray package", "install it with: pip install 'l2gpu[ray]'"
            ) from exc
        self.ray: Any = ray
        self.root = Path(root)
        if not ray.is_initialized():
            try:
                ray.init(
                    address=address,
                    namespace=NAMESPACE,
                    include_dashboard=False,
                    log_to_driver=False,
                    ignore_reinit_error=True,
                )
            except Exception as exc:  # Ray raises several types when no cluster answers
                raise L2gpuError(
                    f"cannot connect to Ray at {address or 'a new local cluster'}: {exc}",
                    "check --ray-address (ray://host:10001 or auto)",
                ) from exc
        self._actors: dict[int, Any] = {}
        self.deadman_s, self.keep_frozen_s = deadman_s, keep_frozen_s
        self._beating: threading.Thread | None = None
        self._token = uuid.uuid4().hex
        self._actor_class: Any = ray.remote(_JobActor)
        self._cluster = ray.get_runtime_context().gcs_address  # where its actors live

    def start(self, spec: JobSpec) -> None:
        """Start the job in a new actor holding ``len(spec.gpu_indices)`` GPUs."""
        refuse_image(spec, self.name)
        gpus = len(spec.gpu_indices) if self._cluster_gpus() else 0
        actor = self._actor_class.options(
            name=_name(spec.lease_id),
            lifetime="detached",
            num_gpus=gpus,
            num_cpus=0,
        ).remote(str(self.root), self.deadman_s, self.keep_frozen_s)
        self._actors[spec.lease_id] = actor
        self._ensure_beats()
        error = self.ray.get(actor.start.remote(_as_dict(spec), gpus > 0))
        if error is not None:
            raise JobStartError(error[0], error[1])

    def status(self, lease_id: int) -> JobStatus:
        """The job's state, as the actor sees it (exited if the actor is gone)."""
        try:
            state, code = self.ray.get(self._actor(lease_id).status.remote())
        except Exception:  # the actor died with its node: the job is gone
            return JobStatus("exited", None)
        return JobStatus(state, code)

    def pause(self, lease_id: int) -> None:
        """Suspend the job's processes."""
        self.ray.get(self._actor(lease_id).pause.remote())

    def resume(self, lease_id: int) -> None:
        """Resume the job's processes."""
        self.ray.get(self._actor(lease_id).resume.remote())

    def stop(self, lease_id: int) -> None:
        """Stop the job, then end its actor (freeing its GPUs)."""
        actor = self._actors.pop(lease_id, None) or self._lookup(lease_id)
        if actor is None:
            return
        try:
            self.ray.get(actor.stop.remote())
        finally:
            self.ray.kill(actor)

    def open_shell(
        self, spec: JobSpec, argv: list[str], env: dict[str, str], tty: tuple[int, int] | None
    ) -> RayShell:
        """A renter's shell (``l2gpu ssh``) in the job's sandbox, on its node, opened by
        the job's actor (see :mod:`.ray_shell`); JobStartError if it cannot open."""
        try:
            actor = self._actor(spec.lease_id)
            session = uuid.uuid4().hex
            error = self.ray.get(actor.open_shell.remote(session, argv, env, tty), timeout=60)
        except Exception as exc:  # the actor is gone (with its node), or does not answer
            raise JobStartError(f"lease {spec.lease_id} has no job running: {exc}",
                                "rent again") from exc  # fmt: skip
        if error is not None:
            raise JobStartError(error[0], error[1])
        return RayShell(self.ray, actor, session, tty is not None)

    def read_logs(self, lease_id: int) -> list[str]:
        """New output of the job."""
        try:
            return list(self.ray.get(self._actor(lease_id).read_logs.remote()))
        except Exception:  # gone actors have no more output
            return []

    def logs_sent(self, lease_id: int) -> None:
        """Nothing to keep: the job's actor holds its unread output, which outlives the
        agent, and hands each line out once."""

    def recover(self, lease_id: int) -> bool:
        """Find the job's actor again after an agent restart."""
        actor = self._lookup(lease_id)
        if actor is None:
            return False
        self._actors[lease_id] = actor
        actor.beat.remote(self._token)
        self._ensure_beats()
        return self.status(lease_id).state != "exited"

    def workdir(self, lease_id: int) -> Path | None:
        """The job's folder on the node that runs it (the same path on a one-node cluster)."""
        return self.root / f"lease-{lease_id}"

    def found(self) -> list[int]:
        """Leases whose job actor is alive in the cluster (started by any agent)."""
        from ray.util import list_named_actors

        names = list_named_actors(all_namespaces=True)
        return sorted(int(n["name"].removeprefix("lease-")) for n in names
                      if n.get("namespace") == NAMESPACE
                      and n["name"].removeprefix("lease-").isdigit())  # fmt: skip

    def _ensure_beats(self) -> None:
        """Beat every job's actor each ``BEAT_S`` from a thread of this process, apart
        from the agent's loop: only this process's end stops the beats."""
        if self._beating is not None and self._beating.is_alive():
            return
        self._beating = threading.Thread(target=self._beat_forever, name="ray-deadman-beats",
                                         daemon=True)  # fmt: skip
        self._beating.start()

    def _beat_forever(self) -> None:
        while True:
            # Beat only while this process is connected: after ray.shutdown() an actor
            # handle's .remote() would start a new local cluster, once a second. Then the
            # actors hear nothing, which is what the dead-man switch is for.
            if self._connected():
                for actor in list(self._actors.values()):
                    try:
                        actor.beat.remote(self._token)  # fire and forget: no error if gone
                    except Exception:  # noqa: S112 - a dead actor; the agent's loop sees it
                        continue
            time.sleep(BEAT_S)  # a real process's heartbeat

    def _connected(self) -> bool:
        """Whether this process is still a driver of the cluster the backend started on
        (not shut down, nor joined to another since: its actors' handles are stale)."""
        try:
            return bool(self.ray.is_initialized()) and (
                self.ray.get_runtime_context().gcs_address == self._cluster
            )
        except Exception:
            return False

    def _actor(self, lease_id: int) -> Any:
        actor = self._actors.get(lease_id) or self._lookup(lease_id)
        if actor is None:
            raise L2gpuError(f"no Ray actor for lease {lease_id}", "the job is gone")
        self._actors[lease_id] = actor
        return actor

    def _lookup(self, lease_id: int) -> Any:
        try:
            return self.ray.get_actor(_name(lease_id), namespace=NAMESPACE)
        except ValueError:
            return None

    def _cluster_gpus(self) -> float:
        resources: dict[str, float] = self.ray.cluster_resources()
        return float(resources.get("GPU", 0))


class _JobActor(ActorShells):
    """Runs one job with the local backend on the node Ray chose, and pauses it when the
    agent's beats stop (the dead-man switch: see the module); opens the renter's shells
    in the job's sandbox (:class:`~.ray_shell.ActorShells`)."""

    def __init__(
        self, root: str, deadman_s: float = DEADMAN_S, keep_frozen_s: float = KEEP_FROZEN_S
    ) -> None:
        from l2gpu.agent.backends.local import LocalBackend

        self.backend = LocalBackend(Path(root))
        self.lease_id = 0
        self.spec = None
        self.shell_sessions = {}
        self.deadman_s, self.keep_frozen_s = deadman_s, keep_frozen_s
        self.heard = time.monotonic()
        self.frozen_at: float | None = None
        self.token: str | None = None  # the beating agent's
        self.frozen_by: str | None = None  # the agent whose silence froze the job
        self.ended = False
        self.lock = threading.Lock()
        threading.Thread(target=self._watchdog, name="deadman", daemon=True).start()

    def beat(self, token: str | None = None) -> None:
        """The agent ``token`` is alive: its beats keep the job running. The agent whose
        silence froze the job beating again never paused it: thaw the job. Another agent
        beating (a restarted one) ends the shells of the one before: no one drives them."""
        with self.lock:
            self.heard = time.monotonic()
            if self.frozen_at is not None and token is not None and token == self.frozen_by:
                self.backend.resume(self.lease_id)
                self.frozen_at = self.frozen_by = None
            another = token is not None and self.token is not None and token != self.token
            orphans = self._take_shells() if another else []
            self.token = token
        for shell in orphans:
            shell.kill()

    def _watchdog(self) -> None:
        while True:
            time.sleep(WATCHDOG_TICK_S)  # the agent's beats: a real process's liveness
            with self.lock:
                if self.ended:
                    return
                if self.lease_id == 0:
                    continue
                at = time.monotonic()
                if at - self.heard <= self.deadman_s:
                    self.frozen_at = self.frozen_by = None  # an agent is back: it decides
                    continue
                if self.frozen_at is None:
                    self.frozen_at, self.frozen_by = at, self.token
                    self.backend.pause(self.lease_id)
                elif at - self.frozen_at > self.keep_frozen_s:
                    for shell in self._take_shells():
                        shell.kill()
                    self.backend.stop(self.lease_id)
                    break
        # No agent came back: end this actor's process (Ray then frees its GPUs); an
        # exit raised in this thread would end the thread only.
        os._exit(0)

    def start(self, spec: dict[str, Any], ray_assigned_gpus: bool) -> tuple[str, str] | None:
        import ray

        self.lease_id = int(spec["lease_id"])
        if ray_assigned_gpus:  # use the GPUs Ray gave this actor, not the agent's numbering
            spec["gpu_indices"] = tuple(int(i) for i in ray.get_gpu_ids())
        try:
            with self.lock:
                self.spec = JobSpec(**spec)
                self.backend.start(self.spec)
                self.heard = time.monotonic()  # a long start is no silence of the agent
        except JobStartError as exc:
            return exc.what, exc.fix
        return None

    def status(self) -> tuple[str, int | None]:
        with self.lock:
            status = self.backend.status(self.lease_id)
            return status.state, status.exit_code

    def pause(self) -> None:
        with self.lock:
            self.backend.pause(self.lease_id)

    def resume(self) -> None:
        with self.lock:
            self.backend.resume(self.lease_id)

    def stop(self) -> None:
        with self.lock:
            for shell in self._take_shells():
                shell.kill()
            self.backend.stop(self.lease_id)
            self.ended = True

    def read_logs(self) -> list[str]:
        with self.lock:
            return self.backend.read_logs(self.lease_id)


def _name(lease_id: int) -> str:
    return f"lease-{lease_id}"


def _as_dict(spec: JobSpec) -> dict[str, Any]:
    return {
        "lease_id": spec.lease_id,
        "command": spec.command,
        "env": dict(spec.env),
        "secrets": dict(spec.secrets),
        "files": dict(spec.files),
        "archive": spec.archive,
        "gpu_indices": tuple(spec.gpu_indices),
        "cpu_cores": spec.cpu_cores,
        "memory_bytes": spec.memory_bytes,
    }
