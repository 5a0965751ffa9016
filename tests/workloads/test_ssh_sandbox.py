"""``l2gpu ssh`` attacked from inside the shell (a real CLI, market, agent, bubblewrap
sandbox): what the renter's shell may see, signal, read and reach, and what it may
leave behind. Each probe prints a word that the test checks; the host side compares
the shell's namespaces, cgroup and limits with those of the job's own command.
"""

from __future__ import annotations

import os
from pathlib import Path

from l2gpu.agent.backends import JobSpec
from l2gpu.agent.backends.local import DEFAULT_OPEN_FILES, LocalBackend
from l2gpu.agent.backends.local_shell import oldest_process
from tests.workloads.test_ssh import Lease, _gone, _ssh
from tests.workloads.test_ssh import lease as lease

SECRET = "s3cr3t-of-another-lease"


def _probe(agent_pid: int, root: Path, other: Path, market_port: int) -> str:
    """The shell's script: one line per attack, saying whether it worked."""
    return f"""
echo uid=$(id -u)
grep CapEff /proc/self/status
for p in /proc/[0-9]*; do echo "proc=$(tr '\\0' ' ' < $p/cmdline)"; done
kill -0 {agent_pid} 2>/dev/null && echo agent-signalled || echo agent-unreachable
kill -0 1 2>/dev/null; echo init-signal=$?
ls {root} >/dev/null 2>&1 && echo root-listed || echo root-hidden
ls {other} >/dev/null 2>&1 && echo other-job-listed || echo other-job-hidden
grep -l {SECRET} /proc/[0-9]*/environ >/dev/null 2>&1 && echo secret-read || echo secret-hidden
python -I -c 'import socket; socket.create_connection(("127.0.0.1", {market_port}), 2)' \
    >/dev/null 2>&1 && echo market-reached || echo market-unreached
echo net=$(readlink /proc/self/ns/net)
echo cgroup=$(cat /proc/self/cgroup)
echo job-cgroup=$(cat /proc/1/cgroup)
echo nofile=$(ulimit -n)
(setsid sleep 7771 >/dev/null 2>&1 &)
nohup sleep 7772 >/dev/null 2>&1 &
sh -c 'sleep 7773 >/dev/null 2>&1 &' &
echo done
"""


def test_the_shell_is_held_in_the_jobs_sandbox(lease: Lease) -> None:
    backend = lease.agent.backend
    assert isinstance(backend, LocalBackend)
    job = backend._jobs[lease.lease_id]
    assert job.sandboxed, "bubblewrap is needed for this test"
    assert job.init is not None
    other = JobSpec(lease.lease_id + 100, "sleep 300", secrets={"TOKEN": SECRET})
    backend.start(other)
    try:
        port = int(lease.base.rsplit(":", 1)[1])
        script = _probe(os.getpid(), backend.root, backend.workdir(other.lease_id), port)
        done = _ssh(lease.base, lease.lease_id, "sh", "-c", script)
        out = done.stdout.decode()
        assert done.returncode == 0, done.stderr.decode()
        lines = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        processes = [line for line in out.splitlines() if line.startswith("proc=")]
        # uid 1000 without a capability, in the job's PID namespace (a few processes)
        assert lines["uid"] == "1000"
        assert "CapEff:\t0000000000000000" in out
        assert len(processes) < 10, processes
        for safe in (
            "agent-unreachable",
            "root-hidden",
            "other-job-hidden",
            "secret-hidden",
        ):
            assert safe in out, out
        # The job's own namespaces, cgroup and limits: nothing more than its command has.
        command = oldest_process(job.init)
        assert lines["net"] == os.readlink(f"/proc/{command}/ns/net")
        if os.readlink(f"/proc/{command}/ns/net") != os.readlink("/proc/self/ns/net"):
            assert "market-unreached" in out  # the job has no network: nor has its shell
        # (read in the job's cgroup namespace: the job's cgroup is its root, "/")
        assert lines["cgroup"] == lines["job-cgroup"]
        assert ".." not in lines["cgroup"]
        assert lines["nofile"] == str(DEFAULT_OPEN_FILES)
        # Nothing the shell started outlives it: detached, nohup'd, double-forked.
        for marker in ("sleep 7771", "sleep 7772", "sleep 7773"):
            assert _gone(marker), marker
    finally:
        backend.stop(other.lease_id)
