"""Control groups for jobs: memory, process and CPU limits that the kernel enforces.

The local backend gives each job a cgroup of its own when this machine lets the
agent create one, in either layout:

- cgroup v2 (one hierarchy): ``memory.max`` (and ``memory.swap.max = 0``,
  ``memory.oom.group = 1``: the whole job is killed together), ``pids.max``,
  ``cpu.max``; the job cgroups live under ``<v2 mount>/l2gpu`` (the agent must be
  root, or be handed a delegated cgroup with no process in it: ``parent``);
- cgroup v1 (a hierarchy per controller): ``memory.limit_in_bytes`` (and
  ``memory.memsw.limit_in_bytes`` where swap is accounted), ``pids.max``,
  ``cpu.cfs_quota_us``; the job cgroups live under ``<the agent's own cgroup>/l2gpu``
  in each hierarchy, so the limits the agent runs under bind its jobs too.

A job joins its cgroup before the sandbox starts (the process writes its own pid
into ``cgroup.procs`` between fork and exec), so every process of the job is in it;
the sandbox mounts no ``/sys``, so no job can leave it.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "pids", "cpu")
PARENT_NAME = "l2gpu"
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class Cgroups:
    """Where this machine lets the agent create job cgroups, and with which controllers."""

    version: int
    parents: dict[str, Path]
    """Controller -> the folder holding the job cgroups (one folder for all on v2)."""

    @property
    def controllers(self) -> tuple[str, ...]:
        """The controllers a job cgroup gets, among memory, pids and cpu."""
        return tuple(c for c in CONTROLLERS if c in self.parents)

    def job(self, name: str) -> JobCgroup:
        """The cgroup called ``name`` (it may not exist yet)."""
        return JobCgroup(self.version, {c: p / name for c, p in self.parents.items()})

    def sweep(self, older_than_s: float = 60.0) -> int:
        """Remove job cgroups left empty (by an agent that stopped without ending its
        jobs, whose processes then ended); how many. A cgroup is joined moments after
        it is made, so an empty one this old is no job's."""
        removed = 0
        now = time.time()
        for parent in set(self.parents.values()):
            try:
                folders = [
                    f for f in parent.iterdir() if f.is_dir() and f.name.startswith("lease-")
                ]
            except OSError:
                continue
            for folder in folders:
                with contextlib.suppress(OSError):
                    if now - folder.stat().st_mtime > older_than_s:
                        folder.rmdir()  # refused while a process is in it
                        removed += 1
        return removed


@dataclass(frozen=True)
class CgroupProbe:
    """What :func:`find_cgroups` found: the cgroups, or why there are none."""

    cgroups: Cgroups | None
    problem: str = ""


@dataclass(frozen=True)
class JobCgroup:
    """One job's cgroup: a folder per controller (the same folder on v2)."""

    version: int
    paths: dict[str, Path]

    def folders(self) -> list[Path]:
        """Each distinct folder once."""
        return sorted(set(self.paths.values()))

    def create(
        self, *, memory_bytes: int | None, processes: int | None, cpu_cores: int | None
    ) -> None:
        """Create the cgroup afresh and write its limits (raises OSError on failure)."""
        self.remove()
        for folder in self.folders():
            folder.mkdir(exist_ok=True)
        memory, pids, cpu = (self.paths.get(c) for c in CONTROLLERS)
        if memory is not None and memory_bytes:
            if self.version == 2:
                _write(memory / "memory.max", memory_bytes)
                _write_if_present(memory / "memory.swap.max", 0)
                _write_if_present(memory / "memory.oom.group", 1)
            else:
                _write(memory / "memory.limit_in_bytes", memory_bytes)
                _write_if_present(memory / "memory.memsw.limit_in_bytes", memory_bytes)
        if pids is not None and processes:
            _write(pids / "pids.max", processes)
        if cpu is not None and cpu_cores:
            if self.version == 2:
                _write(cpu / "cpu.max", f"{cpu_cores * CPU_PERIOD_US} {CPU_PERIOD_US}")
            else:
                _write(cpu / "cpu.cfs_period_us", CPU_PERIOD_US)
                _write(cpu / "cpu.cfs_quota_us", cpu_cores * CPU_PERIOD_US)

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid into to join."""
        return [str(folder / "cgroup.procs") for folder in self.folders()]

    def pids(self) -> set[int]:
        """Every process in the cgroup now."""
        found: set[int] = set()
        for folder in self.folders():
            with contextlib.suppress(OSError, ValueError):
                found.update(int(x) for x in (folder / "cgroup.procs").read_text().split())
        return found

    def oom_kills(self) -> int:
        """How many of the job's processes the out-of-memory killer ended."""
        memory = self.paths.get("memory")
        if memory is None:
            return 0
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _field(memory / name, "oom_kill")

    def process_limit_hits(self) -> int:
        """How many forks the process limit refused."""
        pids = self.paths.get("pids")
        return 0 if pids is None else _field(pids / "pids.events", "max")

    def remove(self) -> bool:
        """Remove the cgroup (it must hold no process); True once it is gone."""
        gone = True
        for folder in self.folders():
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                gone = False
        return gone


def find_cgroups(
    parent: Path | None = None,
    *,
    mountinfo: Path = Path("/proc/self/mountinfo"),
    own: Path = Path("/proc/self/cgroup"),
) -> CgroupProbe:
    """Where job cgroups can go on this machine; v2 first, then v1.

    ``parent`` is a cgroup v2 folder the provider delegated to the agent (systemd
    ``Delegate=yes``): it must hold no process. Creates the ``l2gpu`` folders it
    needs, which is how it learns that they can be written."""
    try:
        mounts = _cgroup_mounts(mountinfo.read_text())
        own_paths = _own_paths(own.read_text())
    except OSError as exc:
        return CgroupProbe(None, f"cannot read this process's cgroups: {exc}")
    problems: list[str] = []
    v2 = [m for m in mounts if m[2] == "cgroup2"]
    if v2 or parent is not None:
        found = _v2(parent, v2[0] if v2 else None, problems)
        if found is not None:
            return CgroupProbe(found)
    found = _v1([m for m in mounts if m[2] == "cgroup"], own_paths, problems)
    if found is not None:
        return CgroupProbe(found)
    return CgroupProbe(None, "; ".join(problems) or "no cgroup hierarchy is mounted")


def _v2(
    parent: Path | None, mount: tuple[Path, str, str, set[str]] | None, problems: list[str]
) -> Cgroups | None:
    try:
        if parent is None:
            assert mount is not None
            base = mount[0]
            parent = base / PARENT_NAME
            if "memory" not in (base / "cgroup.controllers").read_text().split():
                problems.append(f"cgroup v2 at {base} has no memory controller (held by v1?)")
                return None
            parent.mkdir(exist_ok=True)
            for controller in CONTROLLERS:  # one by one: a missing one must not stop the rest
                with contextlib.suppress(OSError):
                    (base / "cgroup.subtree_control").write_text(f"+{controller}")
        available = set((parent / "cgroup.controllers").read_text().split())
        for controller in CONTROLLERS:
            if controller in available:
                with contextlib.suppress(OSError):
                    (parent / "cgroup.subtree_control").write_text(f"+{controller}")
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
    except OSError as exc:
        problems.append(f"cannot create job cgroups (v2) under {parent}: {exc}")
        return None
    if "memory" not in enabled:
        problems.append(
            f"cgroup v2 at {parent} cannot give its children a memory controller "
            "(it is held by cgroup v1, or the folder holds processes)"
        )
        return None
    return Cgroups(2, {c: parent for c in CONTROLLERS if c in enabled})


def _v1(
    mounts: list[tuple[Path, str, str, set[str]]], own: dict[str, str], problems: list[str]
) -> Cgroups | None:
    parents: dict[str, Path] = {}
    for controller in CONTROLLERS:
        for point, root, _, options in mounts:
            if controller not in options:
                continue
            mine = own.get(controller, "/")
            if root != "/":  # the mount shows only part of the hierarchy (a cgroup namespace)
                mine = mine[len(root) :] if mine.startswith(root) else "/"
            folder = point / mine.lstrip("/") / PARENT_NAME
            try:
                folder.mkdir(exist_ok=True)
            except OSError as exc:
                problems.append(f"cannot create job cgroups under {folder}: {exc}")
                break
            parents[controller] = folder
            break
    if "memory" not in parents:
        problems.append("no writable cgroup v1 memory hierarchy")
        return None
    return Cgroups(1, parents)


def _cgroup_mounts(text: str) -> list[tuple[Path, str, str, set[str]]]:
    """(mount point, root inside the hierarchy, fs type, super options) of each cgroup mount."""
    found = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        point = Path(fields[4].replace("\\040", " "))
        found.append((point, fields[3], tail[0], set(tail[2].split(","))))
    return found


def _own_paths(text: str) -> dict[str, str]:
    """Controller -> this process's cgroup path in its v1 hierarchy ('' -> the v2 path)."""
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                paths[controller] = parts[2]
    return paths


def _write(path: Path, value: object) -> None:
    path.write_text(str(value))


def _write_if_present(path: Path, value: object) -> None:
    if path.exists():
        with contextlib.suppress(OSError):
            _write(path, value)


def _field(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def join(procs_files: list[str]) -> None:
    """Move the calling process into a cgroup (run between fork and exec)."""
    pid = str(os.getpid()).encode()
    for name in procs_files:
        fd = os.open(name, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)
