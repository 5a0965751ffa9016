"""The Ray backend: each job runs in a Ray actor that holds the GPUs of the lease.

The actor drives the job with the local backend on whichever node Ray placed it,
so limits, working folder, logs and exit codes behave exactly as locally; Ray
adds placement on a cluster and sets ``CUDA_VISIBLE_DEVICES`` to the GPUs it
assigned. Actors are named and detached, so a restarted agent finds its jobs
again with ``ray.get_actor``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from l2gpu.agent.backends.base import JobSpec, JobStartError, JobStatus
from l2gpu.agent.backends.checks import refuse_image
from l2gpu.core.errors import L2gpuError

NAMESPACE = "l2gpu"


class RayBackend:
    """Jobs as detached Ray actors, one per lease."""

    name = "ray"

    def __init__(self, root: Path, *, address: str | None = None) -> None:
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
        self._actor_class: Any = ray.remote(_JobActor)

    def start(self, spec: JobSpec) -> None:
        """Start the job in a new actor holding ``len(spec.gpu_indices)`` GPUs."""
        refuse_image(spec, self.name)
        gpus = len(spec.gpu_indices) if self._cluster_gpus() else 0
        actor = self._actor_class.options(
            name=_name(spec.lease_id),
            lifetime="detached",
            num_gpus=gpus,
            num_cpus=0,
        ).remote(str(self.root))
        self._actors[spec.lease_id] = actor
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


class _JobActor:
    """Runs one job with the local backend on the node Ray chose."""

    def __init__(self, root: str) -> None:
        from l2gpu.agent.backends.local import LocalBackend

        self.backend = LocalBackend(Path(root))
        self.lease_id = 0

    def start(self, spec: dict[str, Any], ray_assigned_gpus: bool) -> tuple[str, str] | None:
        import ray

        self.lease_id = int(spec["lease_id"])
        if ray_assigned_gpus:  # use the GPUs Ray gave this actor, not the agent's numbering
            spec["gpu_indices"] = tuple(int(i) for i in ray.get_gpu_ids())
        try:
            self.backend.start(JobSpec(**spec))
        except JobStartError as exc:
            return exc.what, exc.fix
        return None

    def status(self) -> tuple[str, int | None]:
        status = self.backend.status(self.lease_id)
        return status.state, status.exit_code

    def pause(self) -> None:
        self.backend.pause(self.lease_id)

    def resume(self) -> None:
        self.backend.resume(self.lease_id)

    def stop(self) -> None:
        self.backend.stop(self.lease_id)

    def read_logs(self) -> list[str]:
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
