"""``l2gpu ssh`` attacked: the market's relay (a real uvicorn on loopback) by strangers,
by a provider other than the lease's, by a renter holding many websockets, by each side
sending what only the other may, by a slow or huge opening, by leaving early. The
sandbox from inside a shell, and the agent's own checks, are attacked in
:mod:`tests.workloads.test_ssh_agent_attacks`.

Here no agent steps on its own: the test plays the provider's agent where it needs
one (a websocket signed in as the provider), so that sessions wait as long as it says.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from l2gpu.agent.agent import ProviderAgent
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.inventory import discover
from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.api.shell_relay import ShellRelay
from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.shell import STDOUT, data_frame
from l2gpu.core.types import Wei
from l2gpu.db import open_database
from l2gpu.payments.store import VoucherStore
from l2gpu.renter.shell import shell_request
from l2gpu.serving import connections
from l2gpu.serving.loopback import serve_on_loopback
from l2gpu.shell_link import ShellLink, open_link
from tests.api.helpers import Clock, described
from tests.market.helpers import CHAIN, PROVIDER, RENTER, STRANGER

PRICE = Wei(10**12)


@dataclass
class Market:
    base: str
    relay: ShellRelay
    lease_id: int
    clock: Clock
    renter: MarketClient


@pytest.fixture
def market(tmp_path: Path, database_url: tuple[str, str | None]) -> Iterator[Market]:
    """A running lease, the market on loopback, and an agent that stepped once (its job
    runs) and then never again: the test answers shells as the provider itself."""
    url, schema = database_url
    clock = Clock(int(time.time()))
    service = MarketService(open_database(url, schema=schema), chain_id=CHAIN, clock=clock)
    app = create_app(service, rate=0, sweep_every=None)
    server, base = serve_on_loopback(app, "market")
    store = VoucherStore(open_database(f"sqlite:///{tmp_path / 'agent.db'}"))
    backend = LocalBackend(tmp_path / "jobs")
    agent = ProviderAgent(
        MarketClient(base, PROVIDER), PROVIDER, backend, discover("RTX_4090:1"), store, clock, CHAIN
    )
    offer = agent.publish(agent.offer_terms(PRICE, expires_at=clock() + 3600))[0]
    renter = MarketClient(base, RENTER)
    leased = renter.rent(
        offer.id,
        command="sleep 300",
        duration=600,
        channel=described(RENTER, PROVIDER.address, 10**18),
    )
    agent.step()
    assert renter.lease(leased.id).status is LeaseStatus.RUNNING
    try:
        yield Market(base, app.router.state.shells, leased.id, clock, renter)
    finally:
        agent.shutdown()
        server.should_exit = True


def _opening(market: Market, command: list[str]) -> ShellLink:
    """A renter's websocket that sent its signed opening request."""
    link = open_link(market.renter, f"/jobs/{market.lease_id}/shell")
    request = shell_request(
        market.renter, market.lease_id, command, issued_at=market.clock(), size=(24, 80)
    )
    link.send_control(**request.to_json())
    return link


def _waiting(market: Market) -> int:
    """The id of the one session waiting for the provider's agent."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pending = MarketClient(market.base, PROVIDER).agent_shells()
        if pending:
            return pending[0].id
        time.sleep(0.05)  # bounded wait for the relay to take the opening request
    raise AssertionError("no session waits for the agent")


def _paired(market: Market) -> tuple[ShellLink, ShellLink]:
    """A renter's session and the test's agent for it, the shell ready."""
    renter = _opening(market, ["true"])
    agent = open_link(MarketClient(market.base, PROVIDER), f"/agent/shells/{_waiting(market)}")
    agent.send_control("ready")
    assert renter.receive(15) == {"kind": "ready"}
    return renter, agent


def _refusal(link: ShellLink) -> str:
    """The error that ends ``link``'s session."""
    try:
        while link.receive(15) is not None:
            pass
    except L2gpuError as exc:
        return exc.what
    finally:
        link.close()
    raise AssertionError("the session ended without an error")


def _send_and_read(link: ShellLink, message: str) -> None:
    link.connection.send(message)
    link.connection.recv(10)


def _settled(relay: ShellRelay) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (relay.connections or relay.sessions):
        time.sleep(0.05)  # bounded wait for the relay to see the websockets close
    return not relay.connections and not relay.sessions


def test_only_the_leases_provider_may_answer_its_shell(market: Market) -> None:
    renter = _opening(market, ["true"])
    session = _waiting(market)
    # A stranger's token, then the renter's own: neither is the lease's provider.
    for who in (STRANGER, RENTER):
        intruder = open_link(MarketClient(market.base, who), f"/agent/shells/{session}")
        assert "asked of another provider" in _refusal(intruder)
    # No token, or a made-up one: refused before anything else.
    url = "ws" + market.base.removeprefix("http") + f"/agent/shells/{session}"
    for headers, why in (({}, "needs a bearer token"), ({"Authorization": "Bearer x"}, "")):
        anonymous = ShellLink(connect(url, additional_headers=headers))
        refusal = _refusal(anonymous)
        assert why in refusal, refusal
        assert "asked of another provider" not in refusal
    # The provider answers once; a second answer (a replay of its socket) is refused.
    agent = open_link(MarketClient(market.base, PROVIDER), f"/agent/shells/{session}")
    again = open_link(MarketClient(market.base, PROVIDER), f"/agent/shells/{session}")
    assert "has its agent already" in _refusal(again)
    agent.close()
    renter.close()
    assert _settled(market.relay)


def test_each_side_may_send_only_its_own_kinds(market: Market) -> None:
    # The renter sends what only the agent may (its exit, its output).
    for bad, why in (
        ({"kind": "exit", "code": 0}, "'exit' message may not come from this side"),
        ({"kind": "ready"}, "'ready' message may not come from this side"),
        ({"kind": "open"}, "'open' message may not come from this side"),
        (data_frame(STDOUT, b"fake output"), "a stream this side may not use"),
    ):
        renter, agent = _paired(market)
        if isinstance(bad, bytes):
            renter.connection.send(bad)
        else:
            renter.send_control(**bad)  # type: ignore[arg-type]
        assert why in _refusal(renter)
        assert why in _refusal(agent)
        assert _settled(market.relay)
    # The agent sends what only the renter may (its input, a window size).
    for bad, why in (
        (data_frame(0, b"input"), "a stream this side may not use"),
        ({"kind": "resize", "rows": 9, "cols": 9}, "'resize' message may not come"),
        ({"kind": "eof"}, "'eof' message may not come from this side"),
    ):
        renter, agent = _paired(market)
        if isinstance(bad, bytes):
            agent.connection.send(bad)
        else:
            agent.send_control(**bad)  # type: ignore[arg-type]
        assert why in _refusal(agent)
        assert why in _refusal(renter)
        assert _settled(market.relay)


def test_websockets_are_bounded_per_account_and_in_all(market: Market) -> None:
    """Attacked: before, only the shells of one lease were bounded; an account could
    hold any number of websockets (each waiting for its opening request)."""
    relay = market.relay
    relay.max_per_account, relay.max_connections = 2, 3
    path = f"/jobs/{market.lease_id}/shell"
    idle = [open_link(market.renter, path) for _ in range(2)]  # no opening request yet
    assert "this account has 2 shells open or opening already" in _refusal(
        open_link(market.renter, path)
    )
    # A stranger's websockets count against the market's bound too (it opens nothing).
    stranger = MarketClient(market.base, STRANGER)
    idle.append(open_link(stranger, path))
    assert "the market relays 3 shells already" in _refusal(open_link(stranger, path))
    for link in idle:
        link.close()
    assert _settled(relay)
    # Every slot came back: the renter opens a shell again.
    renter = _opening(market, ["true"])
    assert _waiting(market) > 0
    renter.close()
    assert _settled(relay)


def test_websockets_take_a_token_of_the_rate_limit(
    database_url: tuple[str, str | None],
) -> None:
    """Attacked: websockets passed the rate limit, so an account could open and close
    them without end (each costs the relay a signature check and a database read)."""
    url, schema = database_url
    service = MarketService(open_database(url, schema=schema), chain_id=CHAIN, clock=Clock())
    server, base = serve_on_loopback(create_app(service, rate=0.001, burst=3), "market")
    try:
        stranger = MarketClient(base, STRANGER)
        for _ in range(3):
            opened = open_link(stranger, "/jobs/1/shell")
            opened.send_control("open")
            assert "the shell request is malformed" in _refusal(opened)
        with pytest.raises(L2gpuError, match="too many requests from this client"):
            open_link(stranger, "/jobs/1/shell")
    finally:
        server.should_exit = True


def test_a_request_for_another_lease_or_command_a_slow_upgrade_or_a_huge_message(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attacked: the renter's signature moved to another lease or command; an upgrade
    request sent a byte at a time (slowloris); an opening message of 1 MiB."""
    signed = shell_request(
        market.renter, market.lease_id, ["true"], issued_at=market.clock(), size=(24, 80)
    ).to_json()
    for changed, why in (
        ({"open": market.lease_id + 1}, f"names lease {market.lease_id + 1}, not"),
        ({"command": "rm -rf /job"}, "not by the lease's renter"),
    ):
        link = open_link(market.renter, f"/jobs/{market.lease_id}/shell")
        link.send_control(**{**signed, **changed})
        assert why in _refusal(link)
    # Headers that never end: answered 408 once the deadline passes, the socket closed.
    monkeypatch.setattr(connections, "REQUEST_S", 1.0)
    host, port = market.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(b"GET /jobs/1/shell HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        assert slow.recv(100).startswith(b"HTTP/1.1 408")
    # A message over the server's bound is not read whole: the websocket is closed (1009).
    # (Under load the server may close while the client still sends: a reset, no frame.)
    link = open_link(market.renter, f"/jobs/{market.lease_id}/shell")
    with pytest.raises(ConnectionClosed) as closed:
        _send_and_read(link, "x" * (1 << 20))
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    assert _settled(market.relay)


def test_a_session_whose_agent_never_comes_or_whose_renter_left_frees_its_slot(
    market: Market,
) -> None:
    relay = market.relay
    relay.answer_within_s = 1
    renter = _opening(market, ["true"])
    assert "did not open the shell within 1 s" in _refusal(renter)
    assert _settled(relay)
    # Attacked: the renter leaves while it waits. Its session used to be held until the
    # agent's time was up (and an agent coming meanwhile started a shell for no one);
    # now it ends at once, and an agent that comes later finds no session.
    relay.answer_within_s = 60
    renter = _opening(market, ["true"])
    session = _waiting(market)
    renter.close()
    assert _settled(relay)
    late = open_link(MarketClient(market.base, PROVIDER), f"/agent/shells/{session}")
    assert f"no shell session {session}" in _refusal(late)
    # Input before the shell is ready (the CLI sends none) ends the session.
    renter = _opening(market, ["true"])
    _waiting(market)
    renter.send_data(0, b"early")
    assert "a message arrived before the shell was ready" in _refusal(renter)
    assert _settled(relay)
