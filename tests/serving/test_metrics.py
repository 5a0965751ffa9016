"""Every service's /metrics, scraped: the market API, a rollup node and a provider's
agent each expose the metric names the docs and the Grafana dashboard use, with
values that follow what happened (requests counted by route, leases by state), and
the dashboard asks for no metric that no service exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.db import open_database
from tests.conftest import free_port
from tests.market.helpers import CHAIN

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "l2gpu-dashboard.json"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> [(labels, value)] of a Prometheus text exposition."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def market_metrics(tmp_path: Path) -> dict[str, list[tuple[dict[str, str], float]]]:
    service = MarketService(open_database(f"sqlite:///{tmp_path / 'm.db'}"), chain_id=CHAIN)
    api = TestClient(create_app(service, sweep_every=None))
    for _ in range(3):
        assert api.get("/offers").status_code == 200
    assert api.get("/leases/12").status_code == 401
    assert api.get("/no/such/route").status_code == 404
    reply = api.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    return samples(reply.text)


def test_the_market_api_counts_requests_by_route_and_reads_its_state(tmp_path: Path) -> None:
    got = market_metrics(tmp_path)
    offers = [v for labels, v in got["l2gpu_market_requests_total"]
              if labels == {"method": "GET", "route": "/offers", "status": "200"}]  # fmt: skip
    assert offers == [3.0]
    routes = {labels["route"] for labels, _ in got["l2gpu_market_requests_total"]}
    assert "/leases/{lease_id}" in routes  # the template, never the raw path
    assert "unmatched" in routes
    assert not any("12" in r or "such" in r for r in routes)
    assert "l2gpu_market_request_seconds_bucket" in got
    states = {labels["state"]: v for labels, v in got["l2gpu_market_leases"]}
    assert states["running"] == 0
    assert states["requested"] == 0
    for name in ("l2gpu_market_offers_active", "l2gpu_market_providers",
                 "l2gpu_market_gpu_hours_sold_total", "l2gpu_market_paid_wei_total"):  # fmt: skip
        assert name in got, name


def node_metrics(tmp_path: Path) -> dict[str, list[tuple[dict[str, str], float]]]:
    from tests.l2.test_node_api import make_api

    api, _node, _ = make_api(tmp_path)
    reply = api.get("/metrics")
    assert reply.status_code == 200
    return samples(reply.text)


def test_the_node_exposes_its_batches_gas_and_health(tmp_path: Path) -> None:
    got = node_metrics(tmp_path)
    posted = {labels["mode"]: v for labels, v in got["l2gpu_node_batches_posted_total"]}
    assert posted["calldata"] + posted["blob"] == 1  # the one batch make_api posted
    assert got["l2gpu_node_l1_gas_spent_total"][0][1] > 21_000
    assert got["l2gpu_node_batch_l1_bytes_count"][0][1] == 1
    assert got["l2gpu_node_degraded"][0][1] == 0
    assert got["l2gpu_node_challenge_window_seconds"][0][1] > 0
    for name in ("l2gpu_node_transactions_sealed_total", "l2gpu_node_mempool_transactions",
                 "l2gpu_node_pending_channels", "l2gpu_node_batches_waiting_for_l1",
                 "l2gpu_node_cosign_waiters"):  # fmt: skip
        assert name in got, name


def agent_metrics(tmp_path: Path) -> dict[str, list[tuple[dict[str, str], float]]]:
    from l2gpu.agent.metrics import serve_metrics
    from tests.agent.test_agent import World

    world = World(tmp_path)
    payer = world.rent("sleep 60")
    world.agent.step()
    world.second(payer)
    port = free_port()
    server = serve_metrics(world.agent, port)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        if isinstance(server, tuple):
            server[0].shutdown()
        world.renter.stop(payer.lease_id)
        world.agent.step()
    return samples(text)


def test_the_agent_exposes_jobs_lag_and_earnings(tmp_path: Path) -> None:
    got = agent_metrics(tmp_path)
    assert got["l2gpu_agent_jobs_running"][0][1] == 1
    ((_labels, seconds),) = got["l2gpu_agent_lease_metered_seconds"]
    assert seconds >= 1
    assert "l2gpu_agent_voucher_lag_seconds" in got
    assert got["l2gpu_agent_earned_wei_total"][0][1] == 0  # nothing closed yet
    assert "l2gpu_agent_channels_closed_total" in got


def test_the_dashboard_asks_only_for_metrics_the_services_expose(tmp_path: Path) -> None:
    for part in "mna":
        (tmp_path / part).mkdir()
    exposed = set(market_metrics(tmp_path / "m")) | set(node_metrics(tmp_path / "n"))
    exposed |= set(agent_metrics(tmp_path / "a"))
    # NVML is absent here: the GPU metrics are named in the agent's code, checked there
    exposed |= {"l2gpu_agent_gpu_utilization_ratio", "l2gpu_agent_gpu_memory_used_bytes"}
    dashboard = json.loads(DASHBOARD.read_text())
    asked = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            asked |= set(re.findall(r"\bl2gpu_[a-z0-9_]+", target["expr"]))
    assert asked
    assert asked <= exposed, asked - exposed
    gpu_code = (Path(__file__).resolve().parents[2] / "src/l2gpu/agent/metrics.py").read_text()
    assert "l2gpu_agent_gpu_utilization_ratio" in gpu_code
