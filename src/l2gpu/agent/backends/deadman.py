"""The dead-man switch of the local and container backends: no job runs while no
agent meters it.

The agent is killed (kill -9, a crash, the machine's OOM killer): its jobs live on
(in their own sessions and sandboxes), and every second they run is served and not
metered. A small watcher process, started with the first job and outliving the
agent, notices the agent's death within ``POLL_S`` and freezes (SIGSTOP) every
process of every job it left, marking each job's folder ``frozen``. A restarted
agent adopts the frozen jobs and resumes those whose vouchers are current
(``LocalBackend.recover`` reports them paused), or stops them. No agent within
``KEEP_FROZEN_S``: the watcher kills the frozen jobs (their GPUs go back to the
provider; their renters' best vouchers stay in the agent's database).

The container backend's jobs are containers, which the engine keeps running whatever
becomes of the agent: its watcher (:func:`watch_containers`, the same process with
``--containers``) pauses every container of the backend (the engine's cgroup freezer)
within ``POLL_S`` plus one engine call of the agent's death, marks each
``<container>.frozen`` in the backend's ``.agent`` folder, and removes them once
``KEEP_FROZEN_S`` passed with no agent back (a restarted agent that adopts one takes
its mark away: ``ContainerBackend.recover``).

This file runs as its own process with ``python -I -S`` (no site-packages, nothing
of the agent's imported), so it only uses the standard library; the /proc helpers
the backend uses live here for the same reason.
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

POLL_S = 0.25
KEEP_FROZEN_S = 3600.0
FROZEN_MARK = "frozen"
AGENT_FILE = "agent.json"  # in the backend's .agent folder: the agent that owns the jobs
IDLE_EXIT_S = 30.0  # no job to watch for this long: the watcher exits (the next start respawns)


def proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def state_of(pid: int) -> str:
    """The process's state letter (``X`` when gone)."""
    fields = proc_stat(pid)
    return fields[0] if fields else "X"


def start_time(pid: int | None) -> int | None:
    """When the process started, in clock ticks since boot (tells a reused pid apart)."""
    fields = proc_stat(pid) if pid else None
    return int(fields[19]) if fields else None


def alive(pid: int | None, start: int | None = None) -> bool:
    """A live process (not a zombie) with that pid, started when recorded: a pid the
    kernel gave to another process since is not the job's."""
    if pid is None:
        return False
    fields = proc_stat(pid)
    if fields is None or fields[0] in "ZX":
        return False
    return start is None or int(fields[19]) == start


def parents() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every process on the host."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_stat(int(entry))
            if fields is not None:
                table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` in the process tree."""
    children: dict[int, list[int]] = {}
    for child, (parent, _) in parents().items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if child not in found:
            found.add(child)
            todo.extend(children.get(child, []))
    return found


def group(pgid: int) -> set[int]:
    """Every process in process group ``pgid``."""
    return {pid for pid, (_, grp) in parents().items() if grp == pgid}


def send(pid: int, sig: signal.Signals) -> None:
    """``kill(pid, sig)``, where a process already gone is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def job_pids(job: dict[str, object]) -> set[int]:
    """Every process of a job, from its ``job.json`` (the sandbox's init excepted)."""
    init, init_start = job.get("init"), job.get("init_start")
    pid, pid_start = job.get("pid"), job.get("pid_start")
    if job.get("sandboxed"):
        if not isinstance(init, int) or not alive(init, _int(init_start)):
            return set()
        return descendants(init)
    if not isinstance(pid, int):
        return set()
    found = descendants(pid) | group(pid)
    if alive(pid, _int(pid_start)):
        found.add(pid)
    return found


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


Jobs = list[tuple[Path, dict[str, object]]]
"""Each job's folder and its ``job.json``."""


def _jobs(agent_dir: Path) -> Jobs:
    found: Jobs = []
    for state in agent_dir.glob("lease-*/job.json"):
        with contextlib.suppress(OSError, ValueError):
            found.append((state.parent, json.loads(state.read_text())))
    return found


def freeze(jobs: Jobs) -> int:
    """SIGSTOP every process of every job (until none runs, a bounded number of rounds:
    a forking job cannot outrun it) and mark each frozen; return how many jobs."""
    for folder, job in jobs:
        for _ in range(50):
            running = [p for p in job_pids(job) if state_of(p) not in "TtZX"]
            if not running:
                break
            for pid in running:
                send(pid, signal.SIGSTOP)
            time.sleep(0.005)
        with contextlib.suppress(OSError):
            (folder / FROZEN_MARK).touch()
    return len(jobs)


def kill_frozen(jobs: Jobs) -> None:
    """Kill every job still frozen (no agent came back for it), and every job whose
    folder is gone (no agent can adopt it)."""
    for folder, job in jobs:
        if folder.is_dir() and not (folder / FROZEN_MARK).exists():
            continue  # an agent adopted it (and took the mark away)
        init = job.get("init")
        if (
            job.get("sandboxed")
            and isinstance(init, int)
            and alive(init, _int(job.get("init_start")))
        ):
            send(init, signal.SIGKILL)  # the PID namespace dies with its init
        for pid in job_pids(job):
            send(pid, signal.SIGKILL)


def _owner(agent_dir: Path) -> tuple[int, int | None] | None:
    try:
        data = json.loads((agent_dir / AGENT_FILE).read_text())
        return int(data["pid"]), _int(data.get("start"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def watch(
    agent_dir: Path, agent_pid: int, agent_start: int | None, keep_frozen_s: float = KEEP_FROZEN_S
) -> str:
    """Watch the agent ``agent_pid``; return why the watch ended.

    Only a record of *another* agent ends the watch early. An unreadable record (the
    agent's folder deleted, say) is not a hand-over: the jobs last seen are still
    frozen when the agent dies, and killed at once when their folder is gone, since
    no agent can adopt them then.
    """
    ours = (agent_pid, agent_start)
    idle_since = time.monotonic()
    known: Jobs = []
    while True:
        owner = _owner(agent_dir)
        if owner is not None and owner != ours:
            return "another agent took over"
        if not alive(agent_pid, agent_start):
            break
        if owner is not None:  # the folder is readable: its jobs are the truth
            known = _jobs(agent_dir)
        if known:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > IDLE_EXIT_S:
            return "no job to watch"
        time.sleep(POLL_S)  # a real process's liveness: polled, bounded by its death
    jobs = _jobs(agent_dir) or known  # the folder may be gone: the jobs last seen
    if not freeze(jobs):
        return "the agent died with no job running"
    deadline = time.monotonic() + keep_frozen_s
    while time.monotonic() < deadline and agent_dir.is_dir():
        owner = _owner(agent_dir)
        if owner is not None and owner != ours:
            return "a new agent adopted the frozen jobs"
        time.sleep(1.0)
    kill_frozen(jobs)
    if not agent_dir.is_dir():
        return "the agent's folder is gone: its frozen jobs were killed"
    return "no agent came back: the frozen jobs were killed"


ENGINE_TIMEOUT_S = 60.0
CONTAINER_LABEL = "l2gpu.lease"


def engine_call(engine: str, *args: str) -> str:
    """``engine *args``' standard output ("" when it failed or could not run)."""
    try:
        done = subprocess.run([engine, *args], capture_output=True, text=True,  # noqa: S603
                              timeout=ENGINE_TIMEOUT_S, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def containers(engine: str, prefix: str) -> list[str]:
    """The names of the backend's containers (any state): labelled, with its prefix."""
    names = engine_call(engine, "ps", "--all", "--filter", f"label={CONTAINER_LABEL}",
                        "--format", "{{.Names}}").split()  # fmt: skip
    return sorted(n for n in names if n.startswith(prefix))


def watch_containers(
    agent_dir: Path, agent_pid: int, agent_start: int | None, engine: str, prefix: str,
    keep_frozen_s: float = KEEP_FROZEN_S,
) -> str:  # fmt: skip
    """Watch the agent ``agent_pid`` of a container backend (the engine ``engine``, its
    containers named ``prefix...``); return why the watch ended (see the module)."""
    ours = (agent_pid, agent_start)
    idle_since = time.monotonic()
    while True:
        owner = _owner(agent_dir)
        if owner is not None and owner != ours:
            return "another agent took over"
        if not alive(agent_pid, agent_start):
            break
        if containers(engine, prefix):
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > IDLE_EXIT_S:
            return "no job to watch"
        time.sleep(POLL_S)  # a real process's liveness: polled, bounded by its death
    names = containers(engine, prefix)
    for name in names:
        with contextlib.suppress(OSError):
            (agent_dir / f"{name}.{FROZEN_MARK}").touch()
    if names:
        engine_call(engine, "pause", *names)  # one call: every container at once
    if not names:
        return "the agent died with no container running"
    deadline = time.monotonic() + keep_frozen_s
    while time.monotonic() < deadline:
        owner = _owner(agent_dir)
        if owner is not None and owner != ours:
            return "a new agent adopted the paused containers"
        time.sleep(1.0)
    left = [n for n in names if (agent_dir / f"{n}.{FROZEN_MARK}").exists()]
    if left:
        engine_call(engine, "rm", "--force", *left)
    return "no agent came back: the paused containers were removed"


if __name__ == "__main__" and sys.argv[1] == "--containers":
    folder, pid, start, keep = Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    why = watch_containers(folder, pid, int(start) if start.isdigit() else None,
                           sys.argv[6], sys.argv[7], float(keep))  # fmt: skip
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} dead-man switch of agent {pid}: {why}",
          flush=True)  # fmt: skip
elif __name__ == "__main__":
    folder, pid, start, keep = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    why = watch(folder, pid, int(start) if start.isdigit() else None, float(keep))
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} dead-man switch of agent {pid}: {why}",
          flush=True)  # fmt: skip
