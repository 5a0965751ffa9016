"""Found by an attack on running processes: a market that was down blamed the
providers' agents for the heartbeats it could not hear, and job output was taken
without end, also for leases long over."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from l2gpu.api import lease_agent
from l2gpu.api.app import create_app
from l2gpu.api.service import AGENT_TIMEOUT, MarketService
from l2gpu.db import open_database
from tests.api.helpers import login, market, publish, rent
from tests.market.helpers import CHAIN, PROVIDER, RENTER

EVENTS = "/agent/leases/{}/events"


def _running_lease(client: TestClient) -> tuple[int, dict[str, str], dict[str, str]]:
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    client.post("/providers/heartbeat", json={}, headers=provider)
    offer = publish(client, PROVIDER, provider)
    lid = int(rent(client, RENTER, renter, offer, PROVIDER.address, duration=3600).json()["id"])
    for kind in ("accepted", "started"):
        client.post(EVENTS.format(lid), headers=provider, json={"kind": kind})
    return lid, provider, renter


def test_a_restarted_market_gives_agents_their_timeout_before_blaming_them(database_url) -> None:
    client, _, clock = market(database_url)
    lid, _, renter = _running_lease(client)
    assert client.get(f"/leases/{lid}", headers=renter).json()["status"] == "running"
    clock.advance(720)  # the market is down for 12 minutes: no heartbeat reaches it
    url, schema = database_url
    restarted = MarketService(open_database(url, schema=schema), chain_id=CHAIN, clock=clock)
    again = TestClient(create_app(restarted))
    restarted.leases.sweep()
    assert again.get(f"/leases/{lid}", headers=renter).json()["status"] == "running"
    # an agent that stays silent for the whole timeout after the restart is gone
    clock.advance(AGENT_TIMEOUT + 1)
    restarted.leases.sweep()
    lease = again.get(f"/leases/{lid}", headers=renter).json()
    assert lease["status"] == "preempted"  # the agent is gone: the renter pays what ran


def test_output_of_an_ended_lease_is_refused_and_a_leases_output_is_bounded(
    database_url, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, clock = market(database_url)
    lid, provider, renter = _running_lease(client)
    logs = f"/agent/leases/{lid}/logs"
    monkeypatch.setattr(lease_agent, "MAX_LOG_BYTES", 100)
    assert client.post(logs, headers=provider, json={"chunks": ["x" * 60]}).status_code == 200
    too_much = client.post(logs, headers=provider, json={"chunks": ["y" * 60]})
    assert too_much.status_code == 413
    assert "100 bytes" in too_much.json()["error"]
    assert client.post(f"/leases/{lid}/stop", headers=renter).status_code == 200
    # the last output right after the end is still taken (within the bound) ...
    assert client.post(logs, headers=provider, json={"chunks": ["z"]}).status_code == 200
    # ... but not long after it
    clock.advance(lease_agent.LOG_AFTER_END_S + 1)
    late = client.post(logs, headers=provider, json={"chunks": ["z"]})
    assert late.status_code == 409
    assert "takes no more output" in late.json()["error"]
