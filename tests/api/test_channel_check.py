"""The market reads a lease's channel on its rail before the lease takes the offer.

Found by an attack on running processes: leases on channels that exist nowhere took
every offer of a market (249 in 30 s, from fresh keys), and honest renters who raced
them lost the offers after funding their channels. Here the market runs beside a real
rollup node: a made-up channel is refused and the offer stays free; a channel the
renter opened (soft-confirmed) rents it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.market.offers import sign_offer
from l2gpu.db import open_database
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.client import L2Client
from l2gpu.payments.channel_check import ChannelCheck
from l2gpu.payments.rollup_rail import RollupChannelRail
from l2gpu.scenarios.embedded_rollup import EmbeddedNode, embedded_rollup
from tests.api.helpers import channel, login
from tests.market.helpers import terms


@pytest.fixture
def node() -> Iterator[tuple[EmbeddedNode, PrivateKey, PrivateKey, int]]:
    chain = start_embedded_chain()
    renter_l1, provider_l1 = chain.accounts[1:3]
    served = embedded_rollup(chain, [renter_l1, provider_l1], interval=0.05,
                             cosign_timeout=120.0)  # fmt: skip
    yield served, PrivateKey(bytes(renter_l1.key)), PrivateKey(bytes(provider_l1.key)), \
        chain.chain_id  # fmt: skip
    served.stop()


def _market(tmp_path, chain_id: int, check: ChannelCheck) -> TestClient:
    now = int(time.time())
    service = MarketService(open_database(f"sqlite:///{tmp_path / 'm.db'}"), chain_id=chain_id,
                            clock=lambda: now, channels=check)  # fmt: skip
    return TestClient(create_app(service))


def _offer(client: TestClient, provider: PrivateKey, chain_id: int) -> str:
    auth = login(client, provider)
    client.post("/providers/heartbeat", json={}, headers=auth)
    offered = replace(terms(provider=provider.address), expires_at=int(time.time()) + 3600)
    signed = sign_offer(provider, offered, chain_id)
    body = {"terms": signed.terms.to_json(), "signature": "0x" + signed.signature.hex(),
            "chain_id": chain_id}  # fmt: skip
    reply = client.post("/offers", json=body, headers=auth)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def _free(client: TestClient, offer: str) -> bool:
    """Whether the offer can still be rented (search lists only those)."""
    return offer in {str(o["id"]) for o in client.get("/offers").json()["offers"]}


def test_a_made_up_channel_takes_no_offer_and_an_open_one_does(node, tmp_path) -> None:
    served, renter, provider, chain_id = node
    client = _market(tmp_path, chain_id, ChannelCheck(node_url=served.url))
    offer = _offer(client, provider, chain_id)
    auth = login(client, renter)
    job = {"command": "echo hi"}
    made_up = {**channel(renter, provider.address, 10**17), "chain_id": chain_id,
               "settlement": "hybrid", "manager": served.node.rollup.address.checksum}  # fmt: skip
    refused = client.post("/leases", headers=auth, json={
        "offer_id": offer, "duration": 600, "job": job, "channel": made_up})  # fmt: skip
    assert refused.status_code == 400, refused.text
    assert "cannot pay for it" in refused.json()["error"]
    assert _free(client, offer)  # still free
    # the renter opens a real channel (soft-confirmed at once) and rents
    rail = RollupChannelRail(L2Client(served.url, renter))
    max_cost = int(client.post("/quotes", headers=auth, json={
        "offer_id": offer, "duration": 600}).json()["max_cost"])  # fmt: skip
    opened = rail.open(provider.address, max_cost, lifetime=7200)
    wire = opened.description.to_json()
    rented = client.post("/leases", headers=auth, json={
        "offer_id": offer, "duration": 600, "job": job, "channel": wire})  # fmt: skip
    assert rented.status_code == 201, rented.text
    assert rail.confirmed(opened.params.id) == "open"


def test_a_channel_on_a_rail_the_market_does_not_read_is_refused(node, tmp_path) -> None:
    served, renter, provider, chain_id = node
    client = _market(tmp_path, chain_id, ChannelCheck(node_url=served.url))
    offer = _offer(client, provider, chain_id)
    on_l1 = {**channel(renter, provider.address, 10**17), "chain_id": chain_id,
             "settlement": "channel-l1"}  # fmt: skip
    reply = client.post("/leases", headers=login(client, renter), json={
        "offer_id": offer, "duration": 600, "job": {"command": "x"}, "channel": on_l1})  # fmt: skip
    assert reply.status_code == 400
    assert "verifies channels on hybrid, not on channel-l1" in reply.json()["error"]


def test_a_rail_that_does_not_answer_is_503_not_the_renters_fault(node, tmp_path) -> None:
    _, renter, provider, chain_id = node
    client = _market(tmp_path, chain_id, ChannelCheck(node_url="http://127.0.0.1:9"))
    offer = _offer(client, provider, chain_id)
    made_up = {**channel(renter, provider.address, 10**17), "chain_id": chain_id,
               "settlement": "hybrid"}  # fmt: skip
    body = {"offer_id": offer, "duration": 600, "job": {"command": "x"}, "channel": made_up}
    reply = client.post("/leases", headers=login(client, renter), json=body)
    assert reply.status_code == 503, reply.text
    assert _free(client, offer)
