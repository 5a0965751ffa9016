"""A provider's record counts only leases whose channel its agent verified on its rail:
leases on made-up channels cost an attacker nothing, so they must cost the provider
nothing either."""

from __future__ import annotations

from tests.api.helpers import login, market, publish, rent
from tests.market.helpers import PROVIDER, RENTER


def _record(client) -> dict[str, float]:
    return dict(client.get(f"/providers/{PROVIDER.address.checksum}").json())


def test_failures_of_leases_on_unverified_channels_do_not_count(database_url) -> None:
    client, _, clock = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    client.post("/providers/heartbeat", json={}, headers=provider)
    offer = publish(client, PROVIDER, provider)
    events = "/agent/leases/{}/events"
    # Made-up channels: the agent's rail finds none and the lease fails before it starts.
    for _ in range(3):
        lid = rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"]
        reply = client.post(
            events.format(lid),
            headers=provider,
            json={"kind": "start_failed", "reason": "the channel does not exist on the rail"},
        )
        assert reply.json()["status"] == "failed"
    # One the agent never answers times out; one whose agent then goes silent fails too.
    lid = rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"]
    clock.advance(121)
    client.post("/providers/heartbeat", json={}, headers=provider)
    assert client.get(f"/leases/{lid}", headers=renter).json()["status"] == "failed"
    lid = rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"]
    client.post(events.format(lid), headers=provider, json={"kind": "accepted"})
    clock.advance(11)
    assert client.get(f"/leases/{lid}", headers=renter).json()["status"] == "failed"
    record = _record(client)
    assert (record["leases"], record["failed_starts"], record["reliability"]) == (0, 0, 1.0)
    # A lease whose channel the agent verified counts, failures included.
    client.post("/providers/heartbeat", json={}, headers=provider)
    lid = rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"]
    accepted = client.post(
        events.format(lid), headers=provider, json={"kind": "accepted", "channel_verified": True}
    )
    assert accepted.status_code == 200, accepted.text
    client.post(
        events.format(lid), headers=provider, json={"kind": "start_failed", "reason": "no GPU"}
    )
    record = _record(client)
    assert (record["leases"], record["failed_starts"], record["reliability"]) == (1, 1, 0.5)
    assert client.get(f"/leases/{lid}", headers=renter).json()["channel_verified"] is True


def test_only_the_leases_provider_verifies_its_channel(database_url) -> None:
    client, _, _ = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    offer = publish(client, PROVIDER, provider)
    lid = rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"]
    reply = client.post(
        f"/agent/leases/{lid}/events",
        headers=renter,
        json={"kind": "accepted", "channel_verified": True},
    )
    assert reply.status_code == 403
    lease = client.get(f"/leases/{lid}", headers=renter).json()
    assert (lease["status"], lease["channel_verified"]) == ("requested", False)
