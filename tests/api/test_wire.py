"""The market's answers are typed: every route the SDK and the agent read states its
answer's schema in the OpenAPI document, and the models keep the wire format (amounts
as decimal strings) while holding ints."""

from __future__ import annotations

from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.wire import LeasePublic
from tests.api.helpers import login, market, publish, rent
from tests.market.helpers import PROVIDER, RENTER


def test_every_route_the_clients_read_states_its_answer(database_url) -> None:
    client, _, _ = market(database_url)
    paths = client.get("/openapi.json").json()["paths"]
    untyped = []
    for path, methods in paths.items():
        for method, operation in methods.items():
            ok = operation["responses"].get("200") or operation["responses"].get("201")
            schema = ok["content"]["application/json"]["schema"]
            if schema == {} or (schema.get("type") == "object" and "properties" not in schema):
                untyped.append(f"{method.upper()} {path}")
    assert untyped == []


def test_a_lease_reads_as_ints_and_writes_back_the_same_json(database_url) -> None:
    client, _, _ = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    client.post("/providers/heartbeat", json={}, headers=provider)
    offer = publish(client, PROVIDER, provider)
    created = rent(client, RENTER, renter, offer, PROVIDER.address)
    wire = client.get(f"/leases/{created.json()['id']}", headers=renter).json()
    lease = LeasePublic.model_validate(wire)
    assert lease.status is LeaseStatus.REQUESTED
    assert isinstance(wire["max_cost"], str)
    assert lease.max_cost == int(wire["max_cost"])
    assert lease.channel.to_core().deposit == int(wire["channel"]["deposit"])
    assert lease.model_dump(mode="json") == wire
    assert lease.to_core().max_cost == lease.max_cost
