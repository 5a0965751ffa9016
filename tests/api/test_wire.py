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


def test_the_sdk_answers_with_the_models_its_routes_declare(database_url) -> None:
    from l2gpu import wire as w
    from l2gpu.client import MarketClient
    from l2gpu.core.market.offers import sign_offer
    from tests.api.helpers import described
    from tests.market.helpers import CHAIN, terms

    http, _, _ = market(database_url)
    provider, renter = MarketClient("", PROVIDER, http=http), MarketClient("", RENTER, http=http)
    health = renter.health()
    assert isinstance(health, w.Health)
    assert health.ok
    assert health.chain_id == CHAIN
    assert isinstance(provider.heartbeat({}), w.HeartbeatSeen)
    offer = provider.publish(sign_offer(PROVIDER, terms(), CHAIN))
    assert isinstance(offer, w.OfferPublic)
    assert isinstance(offer.id, int)
    found = renter.search("num_gpus>=2")
    assert isinstance(found, w.OffersFound)
    assert [o.id for o in found.offers] == [offer.id]
    assert renter.offer(offer.id) == offer
    assert [p.address for p in renter.providers()] == [PROVIDER.address.checksum]
    quote = renter.quote(offer.id, duration=600)
    assert quote.max_cost == offer.price_per_gpu_second * offer.num_gpus * 600
    lease = renter.rent(offer.id, command="true", duration=600,
                        channel=described(RENTER, PROVIDER.address, 10**18))  # fmt: skip
    assert isinstance(lease, w.LeasePublic)
    assert lease.status is LeaseStatus.REQUESTED
    assert renter.lease(lease.id) == lease
    assert renter.jobs() == [lease]
    provider.send_logs(lease.id, ["hi\n"])
    logs = renter.logs(lease.id)
    assert isinstance(logs, w.Logs)
    assert [c.text for c in logs.chunks] == ["hi\n"]
    stopped = renter.stop(lease.id)
    assert isinstance(stopped, w.LeasePublic)
    assert stopped.status.is_final
    assert renter.logs(lease.id).done
    second = provider.publish(sign_offer(PROVIDER, terms(expires_at=terms().expires_at + 1), CHAIN))
    withdrawn = provider.withdraw(second.id)
    assert isinstance(withdrawn, w.OfferWithdrawn)
    assert withdrawn.id == second.id
