"""The local backend's sandbox, attacked from inside real jobs.

Each test runs a job that tries one escape (the agent's environment, other leases'
folders, the provider's keystore, other processes, outliving its lease) or one limit
(memory, processes, disk, open files), and checks that it fails. Waits are bounded
polls for real processes, never simulated time.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from l2gpu.agent.backends import JobSpec, JobStartError, JobStatus, deadman
from l2gpu.agent.backends import local as local_module
from l2gpu.agent.backends.cgroups import Cgroups, JobCgroup, _cgroup_mounts, _own_paths
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.sandbox import (
    SandboxPolicy,
    SandboxUnavailable,
    find_bwrap,
    gpu_device_nodes,
)
from l2gpu.agent.sandbox_check import sandbox_check
from tests.parts import missing_part

SECRET = "0x" + "5ec2e7" * 10
MiB = 2**20


@pytest.fixture(autouse=True)
def bubblewrap() -> None:
    """These tests need bubblewrap; without it they fail and say how to get it."""
    if find_bwrap() is None:
        missing_part(
            "bubblewrap (bwrap >= 0.4) is missing, so jobs cannot be sandboxed: "
            "apt-get install bubblewrap (make tools installs it)"
        )


class Jobs:
    """A backend under ``<tmp>/data/jobs`` (the provider's data folder holds a keystore)
    that stops every job it started when the test ends."""

    def __init__(self, tmp: Path, **options: object) -> None:
        self.data = tmp / "data"
        self.data.mkdir(exist_ok=True)
        (self.data / "keystore.json").write_text(f'{{"private_key": "{SECRET}"}}')
        self.backend = LocalBackend(self.data / "jobs", **options)  # type: ignore[arg-type]
        self.started: list[int] = []

    def start(self, lease: int, command: str, **spec: object) -> None:
        self.backend.start(JobSpec(lease, command, **spec))  # type: ignore[arg-type]
        self.started.append(lease)

    def run(
        self, lease: int, command: str, seconds: float = 20, **spec: object
    ) -> tuple[JobStatus, str]:
        """Start a job, wait (bounded) for it to end, return its status and output."""
        self.start(lease, command, **spec)
        status = wait_for(lambda: self.backend.status(lease), seconds)
        return status, self.output(lease)

    def output(self, lease: int) -> str:
        return (self.backend.workdir(lease) / "output.log").read_text(errors="replace")

    def close(self) -> None:
        for lease in self.started:
            self.backend.stop(lease)


@pytest.fixture
def jobs(tmp_path: Path) -> Iterator[Jobs]:
    made = Jobs(tmp_path)
    yield made
    made.close()


def wait_for(status: Callable[[], JobStatus], seconds: float = 20) -> JobStatus:
    """Poll (bounded) until the job has exited."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = status()
        if now.state == "exited":
            return now
        time.sleep(0.05)
    raise AssertionError(f"the job did not end within {seconds} s")


def wait_until(check: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def host_processes(marker: str) -> list[int]:
    """Processes anywhere on this host whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def sleeper() -> str:
    """A ``sleep`` whose argument no other process on the host has."""
    return f"{random.randint(100_000, 999_999)}.{os.getpid()}"


# -- what a job can see ------------------------------------------------------------------


AGENT = """
import os, sys, time
from pathlib import Path
from l2gpu.agent.backends import JobSpec
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.sandbox import SandboxPolicy
backend = LocalBackend(Path(sys.argv[1]), sandbox=SandboxPolicy(sys.argv[2]))
backend.start(JobSpec(1, sys.argv[3].replace("AGENT", str(os.getpid()))))
deadline = time.monotonic() + 20
while backend.status(1).state != "exited" and time.monotonic() < deadline:
    time.sleep(0.05)
backend.stop(1)
print((Path(sys.argv[1]) / "lease-1" / "output.log").read_text(errors="replace"))
"""


def job_of_an_agent(root: Path, policy: SandboxPolicy, command: str) -> str:
    """The output of ``command`` run by an agent process whose environment holds a
    private key (``AGENT`` in the command becomes the agent's pid)."""
    done = subprocess.run(
        [sys.executable, "-c", AGENT, str(root), policy.value, command],
        env={**os.environ, "AGENT_PRIVATE_KEY": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_a_job_sees_nothing_of_the_agents_environment_or_processes(tmp_path: Path) -> None:
    attack = (
        "env; cat /proc/[0-9]*/environ | tr '\\0' '\\n'; cat /proc/AGENT/environ; "
        "cat /proc/$PPID/environ; ls /proc/AGENT; echo pids: $(ls /proc | grep -c '^[0-9]')"
    )
    out = job_of_an_agent(tmp_path / "jobs", SandboxPolicy.BWRAP, attack)
    assert SECRET not in out
    assert "AGENT_PRIVATE_KEY" not in out
    assert "/environ: No such file" in out
    # Its /proc lists its own processes only: init, the shell, ls and grep at most.
    assert int(out.split("pids:")[1].split()[0]) <= 5
    # The same attack on an unsandboxed job finds the key: the check above would see it.
    out = job_of_an_agent(tmp_path / "trusting", SandboxPolicy.NONE_I_TRUST_EVERY_RENTER, attack)
    assert SECRET in out


def test_a_job_cannot_see_another_jobs_processes(jobs: Jobs) -> None:
    nap = sleeper()
    jobs.start(1, f"sleep {nap}")
    wait_until(lambda: bool(host_processes(nap)))
    _, out = jobs.run(2, "cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; echo done")
    assert nap not in out
    assert "done" in out


def test_a_job_cannot_read_other_leases_the_data_folder_the_keystore_or_home(
    jobs: Jobs, tmp_path: Path
) -> None:
    home = Path(os.environ["HOME"])  # the agent's home (the test's own, see conftest)
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_ed25519").write_text(SECRET)
    root = jobs.backend.root
    jobs.start(1, f"sleep {sleeper()}", files={"secret.txt": SECRET})
    other = root / "lease-1"
    _, out = jobs.run(
        2,
        f"cat {jobs.data}/keystore.json {other}/secret.txt {home}/.ssh/id_ed25519; "
        f"ls {root} {jobs.data} {home} {tmp_path}; cat /job/../lease-1/secret.txt; "
        "find / -xdev "
        "| grep -E 'secret|keystore|lease-|id_ed25519'; echo searched",
    )
    assert SECRET not in out
    assert "searched" in out
    for path in (jobs.data / "keystore.json", other / "secret.txt", root, home):
        assert f"{path}: No such file or directory" in out or f"'{path}'" in out


def test_the_host_is_read_only_and_the_job_has_no_privilege(jobs: Jobs) -> None:
    status, out = jobs.run(
        1,
        "for f in /usr/x /etc/x /x /bin/x; do touch $f 2>/dev/null || echo refused $f; done; "
        "echo mine > /job/mine && echo mine > /tmp/mine && echo wrote; id -u; hostname; "
        "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
        'python -c "import ctypes; l = ctypes.CDLL(None, use_errno=True); '
        "print('userns', l.syscall(272, 0x10000000), ctypes.get_errno())\"",
    )
    for path in ("/usr/x", "/etc/x", "/x", "/bin/x"):
        assert f"refused {path}" in out
    assert "wrote" in out
    lines = out.splitlines()
    assert "1000" in lines
    assert "l2gpu-job" in lines
    assert "CapEff:\t0000000000000000" in out
    assert "NoNewPrivs:\t1" in out
    bwrap = find_bwrap()
    assert bwrap is not None
    if bwrap.disable_userns:  # no user namespace of its own, so no capability anywhere
        assert "userns -1" in out
    assert status.exit_code == 0


def test_the_network_is_off_unless_the_provider_allows_it(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    probe = (
        'python -c "import socket; print(socket.if_nameindex()); s = socket.socket(); '
        f"s.settimeout(2); s.connect(('127.0.0.1', {port})); print('connected')\""
    )
    closed = Jobs(tmp_path)  # the default: no network
    try:
        _, out = closed.run(1, probe)
        assert "connected" not in out
        assert "[(1, 'lo')]" in out
        host = Jobs(tmp_path, network="host")
        _, out = host.run(2, probe)
        assert "connected" in out
        _, out = host.run(3, probe, network="none")  # a lease may narrow it
        assert "connected" not in out
    finally:
        listener.close()
        closed.close()


def test_only_the_leased_gpus_device_files_are_in_the_sandbox(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidia2", "nvidia3", "nvidiactl", "nvidia-uvm"):
        (dev / name).write_text("")
    gpus = Jobs(tmp_path, dev=dev, gpu_driver=tmp_path / "no-driver")
    try:
        _, out = gpus.run(1, "ls /dev; echo cuda=$CUDA_VISIBLE_DEVICES", gpu_indices=(1, 3))
        names = out.split()
        assert {"nvidia1", "nvidia3", "nvidiactl", "nvidia-uvm"} <= set(names)
        assert "nvidia0" not in names
        assert "nvidia2" not in names
        assert "cuda=0,1" in names  # the sandbox shows the leased GPUs only, from 0
        _, out = gpus.run(2, "ls /dev")
        assert "nvidia" not in out  # no GPU leased: no device file at all
    finally:
        gpus.close()
    # NVML's index i is the i-th GPU in PCI bus order; its device file is its minor.
    driver = tmp_path / "driver"
    for bus, minor in (("0000:3b:00.0", 4), ("0000:86:00.0", 2)):
        (driver / bus).mkdir(parents=True)
        (driver / bus / "information").write_text(f"Model: H100\nDevice Minor: {minor}\n")
    (dev / "nvidia4").write_text("")
    assert [n for _, n in gpu_device_nodes([0, 1], dev, driver)][:2] == ["nvidia4", "nvidia2"]


# -- outliving the lease -------------------------------------------------------------------


def test_detached_and_double_forked_processes_die_when_the_job_is_stopped(jobs: Jobs) -> None:
    a, b, c = sleeper(), sleeper(), sleeper()
    jobs.start(
        1,
        f"setsid nohup sleep {a} >/dev/null 2>&1 & (sh -c 'sleep {b} &' &); "
        f"(setsid sh -c 'sleep {c} & exit' &); sleep 600",
    )
    wait_until(lambda: all(host_processes(m) for m in (a, b, c)))
    jobs.backend.pause(1)  # paused: every process of the job stops, detached ones too
    for marker in (a, b, c):
        for pid in host_processes(marker):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            assert state in "Tt"
    jobs.backend.resume(1)
    jobs.backend.stop(1)
    assert jobs.backend.status(1).state == "exited"
    assert [host_processes(m) for m in (a, b, c)] == [[], [], []]


def test_a_job_that_exits_takes_its_detached_processes_with_it(jobs: Jobs) -> None:
    left = sleeper()
    status, _ = jobs.run(1, f"(setsid nohup sleep {left} >/dev/null 2>&1 &); sleep 0.3; exit 4")
    assert status.exit_code == 4
    assert host_processes(left) == []


def test_a_restarted_agent_reattaches_and_still_kills_everything(jobs: Jobs) -> None:
    a, b = sleeper(), sleeper()
    jobs.start(1, f"(setsid sleep {a} &); sleep 600")
    jobs.start(2, f"(setsid sleep {b} &); sleep 0.5; exit 5")
    wait_until(lambda: bool(host_processes(a)) and bool(host_processes(b)))
    again = LocalBackend(jobs.backend.root)  # the agent restarted
    assert again.recover(1)
    assert again.status(1).state == "running"
    wait_until(lambda: not host_processes("sleep 0.5; exit 5"))
    wait_until(lambda: again.recover(2) is False)  # ended while the agent was away...
    assert host_processes(b) == []  # ...and what it left behind is gone
    again.stop(1)
    assert again.status(1).state == "exited"
    assert host_processes(a) == []
    # The state the agent keeps is out of the job's reach: /job is the job's folder only.
    assert not (jobs.backend.workdir(1) / "job.json").exists()


# -- limits --------------------------------------------------------------------------------


HOG = (
    'python -c "import time\nx = []\nfor i in range(600):\n'
    "    x.append(b'\\x01' * 2**20)\n    if i % 50 == 0: print('MiB', i, flush=True)\n"
    "print('done')\""
)


def test_a_job_past_its_memory_limit_is_stopped_and_told_why(jobs: Jobs) -> None:
    status, out = jobs.run(1, HOG, memory_bytes=96 * MiB)
    assert "done" not in out
    if jobs.backend.cgroups is not None and "memory" in jobs.backend.cgroups.controllers:
        assert status.reason == "the job exceeded its memory limit of 96 MiB (out of memory)"
        assert "[l2gpu] the job exceeded its memory limit of 96 MiB" in out
    else:
        assert "MemoryError" in out  # the RLIMIT_AS fallback: allocation fails
    assert status.exit_code != 0


def test_without_cgroups_memory_falls_back_to_rlimit_as(tmp_path: Path) -> None:
    fallback = Jobs(tmp_path, cgroups=False)
    try:
        status, out = fallback.run(1, HOG, memory_bytes=96 * MiB)
        assert "MemoryError" in out
        assert "done" not in out
        assert status.exit_code != 0
    finally:
        fallback.close()


def test_a_fork_bomb_is_bounded_by_the_process_limit(jobs: Jobs) -> None:
    cg = jobs.backend.cgroups
    if (cg is None or "pids" not in cg.controllers) and os.geteuid() == 0:
        missing_part("no process limit here: the agent runs as root without a pids cgroup")
    forker = (
        'python -c "import os, time\nn = 0\nfor i in range(200):\n    try:\n'
        "        if os.fork() == 0:\n            time.sleep(60); os._exit(0)\n"
        "        n += 1\n    except OSError as exc:\n        print('refused', exc.errno); break\n"
        "print('forked', n, flush=True)\ntime.sleep(60)\""
    )
    jobs.start(1, forker, processes=16)
    wait_until(lambda: "forked" in jobs.output(1))
    out = jobs.output(1)
    assert "refused 11" in out  # EAGAIN
    assert int(out.split("forked")[1].split()[0]) < 16
    jobs.backend.stop(1)
    # A shell fork bomb: bounded while it runs, nothing left once the lease stops.
    jobs.start(2, "bomb() { bomb | bomb & }; bomb; sleep 600", processes=32)
    time.sleep(1.0)  # real time: let the bomb hit its limit
    init = jobs.backend._jobs[2].init
    assert init is not None
    assert len(deadman.descendants(init)) <= 32
    jobs.backend.stop(2)
    assert jobs.backend.status(2).state == "exited"
    assert deadman.descendants(init) == set()


def test_a_job_past_its_disk_limit_is_stopped_and_told_why(jobs: Jobs) -> None:
    many_files = (
        'python -c "import time\nfor i in range(200):\n'
        "    open(f'f{i}', 'wb').write(b'x' * 2**20); time.sleep(0.05)\nprint('done')\""
    )
    status, out = jobs.run(1, many_files, disk_bytes=8 * MiB)
    assert status.reason == "the job wrote more than its disk limit of 8 MiB"
    assert "done" not in out
    assert "[l2gpu] the job wrote more than" in out
    # One file cannot pass the limit at all (RLIMIT_FSIZE), in /job or in /tmp.
    status, out = jobs.run(2, "head -c 20000000 /dev/zero > /tmp/big; echo $?", disk_bytes=8 * MiB)
    assert status.reason == "the job wrote more than its disk limit of 8 MiB"
    assert os.path.getsize(jobs.backend._agent_dir(2) / "tmp" / "big") <= 8 * MiB
    # /dev/shm is a tmpfs of bounded size.
    fill = "for i in $(seq 20); do head -c 1000000 /dev/zero > /dev/shm/f$i || break; done"
    _, out = jobs.run(3, fill, disk_bytes=8 * MiB)
    assert "No space left on device" in out


def test_a_job_cannot_open_more_files_than_its_limit(jobs: Jobs) -> None:
    opener = (
        'python -c "import os\nn = 0\ntry:\n    while True:\n'
        "        os.open('/dev/null', os.O_RDONLY); n += 1\n"
        "except OSError as exc:\n    print('opened', n, 'errno', exc.errno)\""
    )
    _, out = jobs.run(1, opener, open_files=32)
    words = out.split()
    assert int(words[words.index("opened") + 1]) < 32
    assert "errno 24" in out  # EMFILE


# -- bad specs -------------------------------------------------------------------------------


POISON = [
    pytest.param({"env": {"A=B": "x"}}, "holds '='", id="env-name-with-equals"),
    pytest.param({"env": {"": "x"}}, "name is empty", id="env-name-empty"),
    pytest.param({"env": {"A\x00B": "x"}}, "NUL", id="env-name-with-nul"),
    pytest.param({"env": {"A": "x\x00y"}}, "NUL", id="env-value-with-nul"),
    pytest.param({"secrets": {"K=V": "x"}}, "holds '='", id="secret-name-with-equals"),
    pytest.param({"secrets": {"K": "\ud800"}}, "UTF-8", id="secret-lone-surrogate"),
    pytest.param({"env": {"A": 5}}, "must be text", id="env-value-not-text"),
    pytest.param({"env": {"A": "x" * 200_000}}, "longer than", id="env-value-too-long"),
    pytest.param({"env": {f"V{i}": "x" for i in range(2000)}}, "more than", id="env-too-many"),
    pytest.param({"command": "echo a\x00b"}, "NUL", id="command-with-nul"),
    pytest.param({"command": "   "}, "empty", id="command-empty"),
    pytest.param({"command": "x" * 70_000}, "longer than", id="command-too-long"),
    pytest.param({"command": "echo \udcff"}, "UTF-8", id="command-not-utf8"),
    pytest.param({"files": {"/etc/passwd": "x"}}, "leaves the working", id="file-absolute"),
    pytest.param({"files": {"../escape": "x"}}, "leaves the working", id="file-dotdot"),
    pytest.param({"files": {"a/../../x": "x"}}, "leaves the working", id="file-dotdot-inside"),
    pytest.param({"files": {"": "x"}}, "leaves the working", id="file-empty-name"),
    pytest.param({"files": {".": "x"}}, "leaves the working", id="file-dot"),
    pytest.param({"files": {"a\x00b": "x"}}, "NUL", id="file-name-with-nul"),
    pytest.param({"files": {"a": "x\x00"}}, "NUL", id="file-content-with-nul"),
    pytest.param({"files": {"x" * 300: "x"}}, "over 255 bytes", id="file-name-part-too-long"),
    pytest.param({"files": {"a": "x", "a/b": "y"}}, "also given as a file", id="file-and-folder"),
    pytest.param({"files": {"a": "x", "./a": "y"}}, "given twice", id="file-twice"),
    pytest.param({"files": {str(i): "" for i in range(1001)}}, "more than", id="files-too-many"),
    pytest.param({"files": ["a"]}, "not a mapping", id="files-not-a-mapping"),
    pytest.param({"files": {"output.log": "x"}}, "backend's own", id="file-is-the-log"),
    pytest.param({"files": {"output.log/x": "x"}}, "backend's own", id="file-under-the-log"),
    pytest.param({"gpu_indices": (-1,)}, "between", id="gpu-negative"),
    pytest.param({"gpu_indices": (0, 0)}, "repeat", id="gpu-twice"),
    pytest.param({"memory_bytes": 0}, "between", id="memory-zero"),
    pytest.param({"memory_bytes": True}, "whole number", id="memory-bool"),
    pytest.param({"processes": 1}, "between", id="processes-too-few"),
    pytest.param({"open_files": -5}, "between", id="open-files-negative"),
    pytest.param({"disk_bytes": 10}, "between", id="disk-too-small"),
    pytest.param({"network": "bridge"}, "unknown", id="network-unknown"),
    pytest.param({"lease_id": -1}, "between", id="lease-negative"),
]


@pytest.mark.parametrize(("change", "says"), POISON)
def test_a_bad_spec_is_a_failed_start_and_nothing_else(
    jobs: Jobs, change: dict[str, object], says: str
) -> None:
    fields: dict[str, object] = {"lease_id": 1, "command": "echo ok", **change}
    with pytest.raises(JobStartError, match=says):
        jobs.backend.start(JobSpec(**fields))  # type: ignore[arg-type]
    assert not jobs.backend.workdir(1).exists()  # refused before anything was made


def test_names_that_were_the_backends_own_files_are_ordinary_job_files(jobs: Jobs) -> None:
    # The agent's state (job.json, the exit code) lives apart from the job's folder.
    files = {"job.json/x": "1", "job.json/y": "2", ".l2gpu-exit": "3", "exit": "4"}
    status, out = jobs.run(
        1, "cat job.json/x job.json/y .l2gpu-exit exit; echo; exit 6", files=files
    )
    assert status.exit_code == 6
    assert "1234" in out


def test_a_job_cannot_rewrite_or_redirect_its_log(jobs: Jobs) -> None:
    status, _ = jobs.run(
        1,
        "echo before; echo forged > /job/output.log || echo refused-write; "
        "rm -f /job/output.log || echo refused-rm; ln -sf /etc/shadow /job/output.log "
        "|| echo refused-link; mv /job/output.log /job/x || echo refused-mv; echo after",
    )
    log = "".join(jobs.backend.read_logs(1))
    assert log.startswith("before\n")
    for word in ("refused-write", "refused-rm", "refused-link", "refused-mv", "after"):
        assert word in log
    assert "forged" not in log
    assert status.exit_code == 0


def test_unexpected_errors_in_starting_become_failed_starts(
    jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(7, "Argument list too long")

    monkeypatch.setattr(local_module.subprocess, "Popen", broken)
    with pytest.raises(JobStartError, match="Argument list too long"):
        jobs.backend.start(JobSpec(1, "true"))
    monkeypatch.undo()
    (jobs.backend.root / "lease-2").write_text("a file where the lease's folder goes")
    with pytest.raises(JobStartError, match="could not start"):
        jobs.backend.start(JobSpec(2, "true"))
    with pytest.raises(JobStartError, match="could not run \\(exit 127\\)"):
        jobs.backend.start(JobSpec(3, "no_such_command_l2gpu"))


# -- the policy and the check ---------------------------------------------------------------


def test_no_sandbox_only_when_asked_by_name(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="not installed") as refused:
        LocalBackend(tmp_path / "a", bwrap=str(tmp_path / "no-bwrap"))
    assert "apt-get install bubblewrap" in refused.value.fix
    # Asked by name, a job runs unsandboxed, and reads what the sandbox hides.
    trusting = Jobs(tmp_path, sandbox=SandboxPolicy.NONE_I_TRUST_EVERY_RENTER)
    try:
        status, out = trusting.run(1, f"cat {trusting.data}/keystore.json; exit 2")
        assert SECRET in out
        assert status.exit_code == 2
    finally:
        trusting.close()


def test_sandbox_check_says_what_works_and_what_is_missing(tmp_path: Path) -> None:
    report = sandbox_check()
    assert report.ok, report.lines()
    names = [c.name for c in report.checks]
    for name in ("bubblewrap", "user, PID, IPC, UTS and network namespaces", "memory limit"):
        assert name in names
    assert any(line.startswith("ok      bubblewrap") for line in report.lines())
    missing = sandbox_check(str(tmp_path / "no-bwrap"))
    assert not missing.ok
    assert "apt-get install bubblewrap" in missing.missing()[0].fix


def test_cgroup_files_for_both_layouts(tmp_path: Path) -> None:
    v2 = JobCgroup(2, {c: tmp_path / "v2" for c in ("memory", "pids", "cpu")})
    v2.create(memory_bytes=64 * MiB, processes=10, cpu_cores=2)
    assert (tmp_path / "v2" / "memory.max").read_text() == str(64 * MiB)
    assert (tmp_path / "v2" / "pids.max").read_text() == "10"
    assert (tmp_path / "v2" / "cpu.max").read_text() == "200000 100000"
    (tmp_path / "v2" / "memory.events").write_text("low 0\nmax 3\noom 1\noom_kill 1\n")
    assert v2.oom_kills() == 1
    v1 = JobCgroup(1, {"memory": tmp_path / "m", "cpu": tmp_path / "c"})
    v1.create(memory_bytes=64 * MiB, processes=None, cpu_cores=1)
    assert (tmp_path / "m" / "memory.limit_in_bytes").read_text() == str(64 * MiB)
    assert (tmp_path / "c" / "cpu.cfs_quota_us").read_text() == "100000"
    # Job cgroups left empty by an agent that stopped without ending its jobs are swept.
    parent = tmp_path / "l2gpu"
    (parent / "lease-1-old").mkdir(parents=True)
    (parent / "lease-2-new").mkdir()
    os.utime(parent / "lease-1-old", (time.time() - 3600, time.time() - 3600))
    assert Cgroups(1, {"memory": parent}).sweep() == 1
    assert [f.name for f in parent.iterdir()] == ["lease-2-new"]
    mounts = _cgroup_mounts(
        "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
        "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    )
    assert [(str(m[0]), m[2]) for m in mounts] == [
        ("/sys/fs/cgroup", "cgroup2"),
        ("/sys/fs/cgroup/memory", "cgroup"),
    ]
    assert _own_paths("0::/user.slice\n4:cpu,cpuacct:/a\n") == {
        "": "/user.slice",
        "cpu": "/a",
        "cpuacct": "/a",
    }
