"""``l2gpu ssh`` attacked on the provider's side: from inside the shell (a real CLI,
market, agent, bubblewrap sandbox), what the renter's shell may see, signal, read and
reach, and what it may leave behind (each probe prints a word that the test checks;
the host side compares the shell's namespaces, cgroup and limits with those of the
job's own command); and the agent's own checks, against a market that replays a
request at the edge of its freshness or lists made-up sessions without end. The
market's relay is attacked in :mod:`tests.workloads.test_ssh_attacks`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from l2gpu.agent.backends import JobSpec
from l2gpu.agent.backends.local import DEFAULT_OPEN_FILES, LocalBackend
from l2gpu.agent.backends.local_shell import oldest_process
from l2gpu.agent.shells import MAX_SHELLS, LeaseShells
from l2gpu.client import MarketClient
from l2gpu.core.market.shell import (
    MAX_COMMAND,
    SHELL_FRESH_S,
    SeenRequests,
    control,
    parse_control,
    parse_request,
)
from l2gpu.renter.shell import shell_request
from l2gpu.wire import AgentShell
from tests.market.helpers import RENTER, STRANGER
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


def test_a_request_signed_ahead_is_not_served_twice_at_the_edge_of_its_freshness() -> None:
    """Attacked: the relay and the agent forgot a request 2 x SHELL_FRESH_S after they
    saw it; one signed SHELL_FRESH_S ahead stayed fresh on that very second, and was
    served again. (A market could so replay a renter's command to its agent.)"""
    now = 10_000
    signed_ahead = shell_request(
        MarketClient("http://x", RENTER), 1, ["rm", "data"], issued_at=now + SHELL_FRESH_S,
        size=(24, 80),
    )  # fmt: skip
    shells = LeaseShells()
    shells.backend = LocalBackend.__new__(LocalBackend)
    shells.served = {1: object()}
    shells._last_info = {1: type("Info", (), {"renter": RENTER.address.checksum})()}  # type: ignore[dict-item]
    shells._shell_nonces = SeenRequests()
    assert shells._shell_problem(signed_ahead, now) is None
    edge = now + 2 * SHELL_FRESH_S
    assert shells._shell_problem(signed_ahead, edge) == (
        "this shell request was used already (a replay)"
    )
    assert "more than 120 s from now" in str(shells._shell_problem(signed_ahead, edge + 1))


def test_the_requests_remembered_are_bounded_per_lease() -> None:
    seen = SeenRequests(per_lease=2)
    client = MarketClient("http://x", RENTER)
    requests = [
        shell_request(client, lease, [], issued_at=1000, size=(24, 80)) for lease in (1, 1, 1, 2)
    ]
    assert seen.use(requests[0], 1000) is None
    assert seen.use(requests[1], 1000) is None
    assert seen.use(requests[2], 1000) == (
        "too many shell requests lately; try again in a few minutes"
    )
    assert seen.use(requests[3], 1000) is None  # another lease is not held up
    seen.forget(requests[0])
    assert seen.use(requests[2], 1000) is None
    assert seen.use(requests[2], 1000 + SHELL_FRESH_S + 1) is None  # all expired meanwhile
    assert len(seen) == 1


class _ListingMarket:
    """A market that lists made-up shell sessions, 500 at each poll."""

    def __init__(self) -> None:
        self.polls = 0

    def agent_shells(self) -> list[AgentShell]:
        self.polls += 1
        client = MarketClient("http://x", STRANGER)  # not the renter: each is refused
        return [
            AgentShell(
                id=self.polls * 1000 + n,
                renter=RENTER.address.checksum,
                **shell_request(client, 1, [], issued_at=1000, size=(24, 80)).to_json(),
            )
            for n in range(500)
        ]


def test_an_agent_answers_a_bounded_number_of_sessions_whatever_the_market_lists() -> None:
    """Attacked: each listed session got a thread and a websocket (a refused one too,
    to tell the renter why): a market listing made-up sessions had the agent start
    threads without end."""
    shells = LeaseShells()
    shells.client = _ListingMarket()  # type: ignore[assignment]
    shells.backend = LocalBackend.__new__(LocalBackend)
    shells.clock = lambda: 1000
    shells.served = {1: object()}
    shells._last_info = {1: type("Info", (), {"renter": RENTER.address.checksum})()}  # type: ignore[dict-item]
    shells._shells, shells._shell_nonces = {}, SeenRequests()
    shells._shells_polled, shells._shell_poll, shells.background_closes = 0.0, None, False
    started = threading.Event()
    release = threading.Event()

    def serve(*_: object) -> None:  # stands for connecting out to the relay
        started.set()
        release.wait(10)

    shells._serve_shell = serve  # type: ignore[method-assign]
    try:
        shells._tend_shells()
        assert started.wait(5)
        assert len(shells._shells) == MAX_SHELLS
        assert threading.active_count() < 2 * MAX_SHELLS
    finally:
        release.set()


def test_the_longest_command_of_any_text_fits_an_opening_message() -> None:
    """Found while attacking: an opening request's command is escaped in JSON, so a
    command the CLI took (2048 characters, not ASCII) was over the relay's bound."""
    client = MarketClient("http://x", RENTER)
    for text in ("é" * MAX_COMMAND, "\x01" * MAX_COMMAND, "日本" * (MAX_COMMAND // 2)):
        request = shell_request(client, 1, [], issued_at=1000, size=(24, 80))
        opening = control(**{**request.to_json(), "command": text})
        assert parse_request(parse_control(opening)).command == text
