"""``l2gpu ssh``: a shell inside a running lease's sandbox, relayed by the market (a
real uvicorn on loopback) from the provider's agent (real job and shell processes),
for the lease's renter only, while the lease runs; the CLI is a real process.

The market's and the agent's clock starts at the wall clock's second (the CLI signs
with the wall clock) and does not move: no second is metered, so no voucher is due.
Waits are bounded waits for real processes and sockets.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import l2gpu
from l2gpu.agent.agent import ProviderAgent
from l2gpu.agent.backends import Backend, JobSpec
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.inventory import discover
from l2gpu.agent.sandbox import SandboxPolicy
from l2gpu.agent.shells import LeaseShells
from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.shell import MAX_FRAME, STDIN, SeenRequests, data_frame, sign_shell
from l2gpu.core.types import Wei
from l2gpu.db import open_database
from l2gpu.payments.store import VoucherStore
from l2gpu.renter.shell import run_shell, shell_request
from l2gpu.serving.loopback import serve_on_loopback
from l2gpu.shell_link import ShellLink, open_link
from tests.api.helpers import Clock, described
from tests.market.helpers import CHAIN, PROVIDER, RENTER, STRANGER

PRICE = Wei(10**12)
SRC = str(Path(l2gpu.__file__).parents[1])


@dataclass
class Lease:
    base: str
    lease_id: int
    clock: Clock
    agent: ProviderAgent
    renter: MarketClient


def _stepping(agent: ProviderAgent, stop: threading.Event) -> None:
    while not stop.is_set():
        agent.step()
        stop.wait(0.05)  # the daemon steps a few times a second; so does this one


@contextlib.contextmanager
def serve_lease(
    tmp_path: Path, backend: Backend, database: tuple[str, str | None], **job: Any
) -> Iterator[Lease]:
    """A running lease on ``backend`` (its job: ``job``, given to ``rent``), an agent
    stepping in a thread, the market served on loopback over ``database``."""
    url, schema = database
    clock = Clock(int(time.time()))
    service = MarketService(open_database(url, schema=schema), chain_id=CHAIN, clock=clock)
    server, base = serve_on_loopback(create_app(service, rate=0, sweep_every=None), "market")
    store = VoucherStore(open_database(f"sqlite:///{tmp_path / 'agent.db'}"))
    agent = ProviderAgent(
        MarketClient(base, PROVIDER), PROVIDER, backend, discover("RTX_4090:2"), store, clock, CHAIN
    )
    offer = agent.publish(agent.offer_terms(PRICE, expires_at=clock() + 3600))[0]
    renter = MarketClient(base, RENTER)
    leased = renter.rent(
        offer.id, duration=600, channel=described(RENTER, PROVIDER.address, 10**18), **job
    )
    agent.step()
    assert renter.lease(leased.id).status is LeaseStatus.RUNNING
    stop = threading.Event()
    stepper = threading.Thread(target=_stepping, args=(agent, stop), daemon=True)
    stepper.start()
    try:
        yield Lease(base, leased.id, clock, agent, renter)
    finally:
        stop.set()
        stepper.join(10)
        agent.shutdown()
        server.should_exit = True


@pytest.fixture
def lease(tmp_path: Path, database_url: tuple[str, str | None]) -> Iterator[Lease]:
    """A running lease whose job sleeps, an agent stepping in a thread, the market
    served on loopback."""
    backend = LocalBackend(tmp_path / "jobs")
    with serve_lease(tmp_path, backend, database_url, command="echo started; sleep 300") as running:
        yield running


def _ssh(base: str, lease_id: int, *command: str) -> subprocess.CompletedProcess[bytes]:
    key = "0x" + (8).to_bytes(32, "big").hex()  # RENTER's
    env = {**os.environ, "PYTHONPATH": SRC}
    argv = [
        sys.executable,
        "-m",
        "l2gpu.cli.main",
        "--private-key",
        key,
        "ssh",
        "--api-url",
        base,
        str(lease_id),
        *(["--", *command] if command else []),
    ]
    return subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)


def _processes(marker: str) -> list[int]:
    """Host pids whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry))
    return found


def _appear(marker: str, count: int = 1) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(_processes(marker)) < count:
        time.sleep(0.05)  # bounded wait for the shell to start them
    return len(_processes(marker)) >= count


def _gone(marker: str) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _processes(marker):
        time.sleep(0.05)  # bounded wait for the kernel to reap them
    return not _processes(marker)


def test_a_command_runs_in_the_jobs_folder_and_exits_with_its_code(lease: Lease) -> None:
    done = _ssh(lease.base, lease.lease_id, "sh", "-c", "pwd; echo hi; echo oops >&2; exit 3")
    assert done.returncode == 3, done.stderr
    assert done.stdout.decode() == "/job\nhi\n"
    assert done.stderr.decode() == "oops\n"
    # the job's user, its variables, no capability, the job's processes in view
    probe = "id -u; echo $L2GPU_LEASE_ID; grep CapEff /proc/self/status; ps -e 2>/dev/null | wc -l"
    seen = _ssh(lease.base, lease.lease_id, "sh", "-c", probe).stdout.decode().split("\n")
    assert seen[0] == "1000"
    assert seen[1] == str(lease.lease_id)
    assert seen[2].split() == ["CapEff:", "0000000000000000"]


def test_an_interactive_shell_under_a_terminal(lease: Lease) -> None:
    main, tty = os.openpty()
    before = termios.tcgetattr(tty)
    marker = f"sleep {7000 + os.getpid() % 1000}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "l2gpu.cli.main",
            "--private-key",
            "0x" + (8).to_bytes(32, "big").hex(),
            "ssh",
            "--api-url",
            lease.base,
            str(lease.lease_id),
        ],
        env={**os.environ, "PYTHONPATH": SRC, "TERM": "xterm"},
        stdin=tty,
        stdout=tty,
        stderr=tty,
        start_new_session=True,
    )
    seen = b""

    def expect(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 20
        while text not in seen and time.monotonic() < deadline:
            import select

            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                seen += os.read(main, 4096)
        assert text in seen, seen.decode(errors="replace")

    try:
        expect(b"$ ")  # the prompt: bash drops what is typed before its terminal is set
        os.write(main, b"echo $((6*7))\r")
        expect(b"42\r\n")
        os.write(main, f"({marker} &) ; {marker} & echo started-$((1+1))\r".encode())
        expect(b"started-2")
        assert _appear(marker, 2)  # a detached one, and one of the shell's jobs
        os.write(main, b"exit 5\r")
        assert proc.wait(30) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
    assert termios.tcgetattr(tty) == before  # the renter's terminal is restored
    assert _gone(marker)  # every process of the shell was killed with it
    os.close(main)
    os.close(tty)


def test_only_the_leases_renter_with_its_own_fresh_signature(lease: Lease) -> None:
    stranger = MarketClient(lease.base, STRANGER)
    with pytest.raises(L2gpuError, match="belongs to another account"):
        run_shell(stranger, lease.lease_id, ["true"], issued_at=lease.clock())
    # The renter's token with someone else's signature: refused by the market.
    forged = shell_request(
        lease.renter, lease.lease_id, ["true"], issued_at=lease.clock(), size=(24, 80)
    )
    signature = sign_shell(STRANGER, lease.lease_id, "true", forged.nonce, forged.issued_at)
    with pytest.raises(L2gpuError, match="not by the lease's renter"):
        _open(lease, {**forged.to_json(), "signature": "0x" + signature.hex()})
    stale = shell_request(
        lease.renter, lease.lease_id, ["true"], issued_at=lease.clock() - 600, size=(24, 80)
    )
    with pytest.raises(L2gpuError, match="more than 120 s from now"):
        _open(lease, stale.to_json())
    # A request seen once is never relayed again (a replay).
    fresh = shell_request(
        lease.renter, lease.lease_id, ["true"], issued_at=lease.clock(), size=(24, 80)
    )
    _open(lease, fresh.to_json())
    with pytest.raises(L2gpuError, match="a replay"):
        _open(lease, fresh.to_json())
    # The agent checks the renter's signature itself: a market cannot open a shell.
    wrong = shell_request(
        MarketClient(lease.base, STRANGER),
        lease.lease_id,
        ["true"],
        issued_at=lease.clock(),
        size=(24, 80),
    )
    problem = lease.agent._shell_problem(wrong, lease.clock())
    assert problem is not None
    assert "not by the lease's renter" in problem


def test_oversized_and_out_of_place_messages_end_the_session(lease: Lease) -> None:
    link = open_link(lease.renter, f"/jobs/{lease.lease_id}/shell")
    request = shell_request(
        lease.renter, lease.lease_id, [], issued_at=lease.clock(), size=(24, 80)
    )
    link.send_control(**request.to_json())
    assert link.receive(30) == {"kind": "ready"}
    link.connection.send(data_frame(STDIN, b"x" * MAX_FRAME))
    with pytest.raises(L2gpuError, match=f"over {MAX_FRAME} bytes"):
        _drain(link)
    link.close()


def test_no_shell_once_the_lease_ended_and_a_live_one_ends_with_it(lease: Lease) -> None:
    link = open_link(lease.renter, f"/jobs/{lease.lease_id}/shell")
    request = shell_request(
        lease.renter,
        lease.lease_id,
        ["sh", "-c", "sleep 6543; echo never"],
        issued_at=lease.clock(),
        size=(24, 80),
    )
    link.send_control(**request.to_json())
    assert link.receive(30) == {"kind": "ready"}
    assert _appear("sleep 6543")
    lease.renter.stop(lease.lease_id)
    with pytest.raises(L2gpuError, match=f"lease {lease.lease_id} (is )?ended"):
        _drain(link)
    link.close()
    assert _gone("sleep 6543")
    done = _ssh(lease.base, lease.lease_id, "true")
    assert done.returncode == 2
    err = done.stderr.decode()
    assert f"lease {lease.lease_id} is ended, not running" in err
    assert "Traceback" not in err


def _drain(link: ShellLink) -> None:
    """Read a session until it ends (raising its error, if it ends with one)."""
    while link.receive(15) is not None:
        pass


def _open(lease: Lease, opening: dict[str, object]) -> None:
    """Send an opening request as the renter; raise the relay's refusal, if any."""
    link = open_link(lease.renter, f"/jobs/{lease.lease_id}/shell")
    try:
        link.send_control(**opening)  # type: ignore[arg-type]
        while (message := link.receive(30)) is not None:
            if isinstance(message, dict) and message.get("kind") in ("ready", "exit"):
                return
    finally:
        link.close()


def test_a_backend_without_shells_is_named_to_the_renter() -> None:
    shells = LeaseShells()
    shells.backend = SimpleNamespace(name="vm")  # type: ignore[assignment]
    shells.served = {1: object()}
    shells._last_info = {1: SimpleNamespace(renter=RENTER.address.checksum)}  # type: ignore[dict-item]
    shells._shell_nonces = SeenRequests()
    request = shell_request(MarketClient("http://x", RENTER), 1, [], issued_at=1000, size=(9, 9))
    assert shells._shell_problem(request, 1000) == (
        "this provider's vm backend has no shells: its leases cannot be entered with "
        "'l2gpu ssh' (local, container and Ray leases can)"
    )


def test_an_unsandboxed_shell_leaves_no_process_behind(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "jobs", sandbox=SandboxPolicy.NONE_I_TRUST_EVERY_RENTER)
    spec = JobSpec(4, "sleep 300")
    backend.start(spec)
    marker = f"sleep {8000 + os.getpid() % 1000}"
    try:
        shell = backend.open_shell(spec, ["/bin/sh", "-c", f"({marker} &); pwd"], {}, None)
        out = b""
        while chunk := os.read(next(iter(shell.outputs)), 4096):
            out += chunk
        assert out.decode() == f"{backend.workdir(4)}\n"
        assert shell.wait(10) == 0
        assert _gone(marker)  # the detached one too
        shell.kill()
    finally:
        backend.stop(4)
