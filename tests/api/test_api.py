"""The market API on SQLite and PostgreSQL: auth, offers, leases, jobs, limits, errors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
from l2gpu.core.types import Address, Hash32, Seconds, Timestamp, Wei
from tests.api.helpers import MANAGER, channel, login, market, offer_body, publish, rent
from tests.market.helpers import CHAIN, PROVIDER, RENTER, STRANGER, T0


def test_openapi_and_every_error_is_json_with_a_fix(database_url) -> None:
    client, _, _ = market(database_url)
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/offers", "/leases", "/jobs/{lease_id}/logs", "/auth/login"} <= set(paths)
    for reply in [
        client.get("/nope"),
        client.get("/leases"),
        client.get("/offers?q=gpu_nam=1"),
        client.post("/offers", json={"x": 1}),
    ]:
        body = reply.json()
        assert reply.status_code >= 400
        assert body["error"]
        assert body["fix"]
    bad = client.get("/offers", params={"q": "num_gpus>=2 gpu_rma>=3"}).json()
    assert "unknown field 'gpu_rma' at column 13" in bad["error"]
    assert "did you mean gpu_ram" in bad["fix"]


def test_sign_in_burns_the_nonce_and_checks_the_signer(database_url) -> None:
    client, _, _ = market(database_url)
    from l2gpu.core.market.signin import parse_message, sign_message

    issued = client.post("/auth/nonce", json={"address": RENTER.address.checksum}).json()
    forged = sign_message(STRANGER, parse_message(issued["message"]))
    reply = client.post(
        "/auth/login", json={"message": issued["message"], "signature": "0x" + forged.hex()}
    )
    assert reply.status_code == 401
    assert "signed by" in reply.json()["error"]
    good = sign_message(RENTER, parse_message(issued["message"]))
    body = {"message": issued["message"], "signature": "0x" + good.hex()}
    assert client.post("/auth/login", json=body).status_code == 200
    replay = client.post("/auth/login", json=body)
    assert replay.status_code == 401
    assert "nonce" in replay.json()["error"]
    assert client.get("/accounts/me", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_offers_publish_search_withdraw_and_ownership(database_url) -> None:
    client, _, _ = market(database_url)
    provider, stranger = login(client, PROVIDER), login(client, STRANGER)
    client.post("/providers/heartbeat", json={"inventory": {"gpus": 4}}, headers=provider)
    cheap = publish(client, PROVIDER, provider, price_per_gpu_second=10**12, nonce=1)
    dear = publish(client, PROVIDER, provider, price_per_gpu_second=10**14, nonce=2, location="US")
    found = client.get(
        "/offers",
        params={"q": "gpu_name=rtx_4090 num_gpus>=2 price_per_hour<=0.5", "sort": "-price"},
    ).json()
    assert [o["id"] for o in found["offers"]] == [cheap]
    everything = client.get("/offers", params={"sort": "-price"}).json()["offers"]
    assert [o["id"] for o in everything] == [dear, cheap]
    assert everything[1]["price_per_hour_eth"] == "0.0072"
    # A provider changes only its own offers; nobody publishes in another's name.
    assert client.delete(f"/offers/{dear}", headers=stranger).status_code == 403
    assert (
        client.post("/offers", json=offer_body(PROVIDER, nonce=3), headers=stranger).status_code
        == 403
    )
    assert client.delete(f"/offers/{dear}", headers=provider).status_code == 200
    assert [o["id"] for o in client.get("/offers").json()["offers"]] == [cheap]
    assert client.get("/providers").json()[0]["reliability"] == 1.0


def test_bad_offers_are_refused_with_reasons(database_url) -> None:
    client, _, _ = market(database_url)
    auth = login(client, PROVIDER)
    client.post("/providers/heartbeat", json={"inventory": {"gpus": 2}}, headers=auth)
    cases = [
        ({"price_per_gpu_second": 0}, "above zero"),
        ({"num_gpus": 8}, "your machine reported 2"),
        ({"expires_at": T0 - 1}, "expired"),
    ]
    for changes, message in cases:
        reply = client.post("/offers", json=offer_body(PROVIDER, **changes), headers=auth)
        assert reply.status_code == 400, reply.text
        assert message in reply.json()["error"]
    negative = offer_body(PROVIDER)
    negative["terms"]["price_per_gpu_second"] = "-5"
    assert client.post("/offers", json=negative, headers=auth).status_code == 400
    huge = offer_body(PROVIDER)
    huge["terms"]["price_per_gpu_second"] = str(2**200)
    reply = client.post("/offers", json=huge, headers=auth)
    assert reply.status_code == 400
    assert "overflows" in reply.json()["error"]


def test_a_lease_from_request_to_end_with_ownership_checks(database_url) -> None:
    client, service, clock = market(database_url)
    provider, renter, stranger = (
        login(client, PROVIDER),
        login(client, RENTER),
        login(client, STRANGER),
    )
    client.post("/providers/heartbeat", json={"inventory": {"gpus": 2}}, headers=provider)
    offer = publish(client, PROVIDER, provider)
    low = rent(client, RENTER, renter, offer, PROVIDER.address, deposit=5)
    assert low.status_code == 400
    assert "deposit" in low.json()["error"]
    lease = rent(client, RENTER, renter, offer, PROVIDER.address, command="echo hi").json()
    lid = lease["id"]
    assert lease["status"] == "requested"
    assert client.get("/offers").json()["count"] == 0  # leased: off the market
    assert rent(client, RENTER, renter, offer, PROVIDER.address).status_code == 409
    # Another user's token sees and stops nothing.
    assert client.get(f"/jobs/{lid}", headers=stranger).status_code == 403
    assert client.post(f"/jobs/{lid}/stop", headers=stranger).status_code == 403
    assert client.get(f"/jobs/{lid}/logs", headers=stranger).status_code == 403
    assert (
        client.post(
            f"/agent/leases/{lid}/events", json={"kind": "started"}, headers=renter
        ).status_code
        == 403
    )
    # The agent picks it up and runs it.
    work = client.get("/agent/leases", headers=provider).json()
    assert [w["id"] for w in work] == [lid]
    assert work[0]["job"]["command"] == "echo hi"
    for kind in ("accepted", "started"):
        client.post(f"/agent/leases/{lid}/events", json={"kind": kind}, headers=provider)
    clock.advance(3)
    client.post("/providers/heartbeat", json={"inventory": {"gpus": 2}}, headers=provider)
    client.post(
        f"/agent/leases/{lid}/events", json={"kind": "usage", "seconds": 3}, headers=provider
    )
    client.post(f"/agent/leases/{lid}/logs", json={"chunks": ["hi\n"]}, headers=provider)
    domain = channel_domain(CHAIN, MANAGER)
    cid = Hash32.from_hex(lease["channel"]["channel_id"])
    forged = sign_voucher(STRANGER, domain, cid, Wei(10))
    bad = client.post(
        f"/leases/{lid}/vouchers",
        headers=renter,
        json={"amount": "10", "signature": "0x" + forged.signature.hex()},
    )
    assert bad.status_code == 400
    good = sign_voucher(RENTER, domain, cid, Wei(3 * 2 * 10**12))
    client.post(
        f"/leases/{lid}/vouchers",
        headers=renter,
        json={"amount": str(good.amount), "signature": "0x" + good.signature.hex()},
    )
    seen = client.get(f"/jobs/{lid}", headers=renter).json()
    assert seen["status"] == "running"
    assert seen["metered_seconds"] == 3
    assert seen["amount_due"] == str(3 * 2 * 10**12)
    assert seen["voucher"]["amount"] == str(good.amount)
    assert client.get(f"/jobs/{lid}/logs", headers=renter).json()["chunks"][0]["text"] == "hi\n"
    ended = client.post(f"/jobs/{lid}/stop", headers=renter).json()
    assert ended["status"] == "ended"
    assert ended["reason"] == "stopped by renter"
    stream = client.get(f"/jobs/{lid}/logs", params={"follow": True}, headers=renter)
    lines = [json.loads(line) for line in stream.text.splitlines()]
    assert lines[0]["text"] == "hi\n"
    assert lines[-1] == {"end": True, "status": "ended"}
    assert client.get("/offers").json()["count"] == 1  # back on the market
    assert service.leases.list_for(RENTER.address)[0]["job"]["status"] == "ended"


def test_a_job_that_fails_at_start_costs_nothing(database_url) -> None:
    client, _, _ = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    offer = publish(client, PROVIDER, provider)
    lid = rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"]
    # The agent found the channel on its rail: the failure counts in its record.
    accepted = {"kind": "accepted", "channel_verified": True}
    client.post(f"/agent/leases/{lid}/events", json=accepted, headers=provider)
    reply = client.post(
        f"/agent/leases/{lid}/events",
        headers=provider,
        json={"kind": "start_failed", "reason": "command not found"},
    ).json()
    assert reply["status"] == "failed"
    lease = client.get(f"/jobs/{lid}", headers=renter).json()
    assert lease["amount_due"] == "0"
    assert lease["billed_gpu_seconds"] == 0
    assert client.get(f"/providers/{PROVIDER.address.checksum}").json()["failed_starts"] == 1


def test_an_agent_that_vanishes_preempts_the_lease(database_url) -> None:
    client, _, clock = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    client.post("/providers/heartbeat", json={}, headers=provider)
    offer = publish(client, PROVIDER, provider)
    lid = rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"]
    client.post(f"/agent/leases/{lid}/events", json={"kind": "started"}, headers=provider)
    clock.advance(2)
    client.post(
        f"/agent/leases/{lid}/events", json={"kind": "usage", "seconds": 2}, headers=provider
    )
    client.post("/providers/heartbeat", json={}, headers=provider)
    clock.advance(11)  # no heartbeat for longer than the agent timeout
    lease = client.get(f"/jobs/{lid}", headers=renter).json()
    assert lease["status"] == "preempted"
    assert lease["metered_seconds"] == 2  # the renter owes only delivered seconds
    assert Timestamp(lease["ended_at"]) == T0 + 13


def test_rate_and_size_limits_answer_in_json(database_url) -> None:
    client, _, _ = market(database_url, rate=1.0, burst=3)
    replies = [client.get("/health") for _ in range(5)]
    assert [r.status_code for r in replies][-1] == 429
    assert replies[-1].headers["retry-after"] == "1"
    assert "requests per second" in replies[-1].json()["error"]
    client, _, _ = market(database_url, max_body=100)
    big = client.post(
        "/auth/nonce", content=b"x" * 200, headers={"content-type": "application/json"}
    )
    assert big.status_code == 413
    assert big.json()["fix"]


def test_deeply_nested_json_is_refused_before_parsing(database_url) -> None:
    import sys

    import py_ecc  # noqa: F401 - raises the recursion limit to 100,000 on import

    client, _, _ = market(database_url)
    nested = client.post("/auth/nonce", content=b"[" * 200_000,
                         headers={"content-type": "application/json"})  # fmt: skip
    assert nested.status_code == 400
    assert "nests deeper than" in nested.json()["error"]
    assert sys.getrecursionlimit() <= 1000
    assert client.get("/health").status_code == 200


def test_channel_must_match_the_lease(database_url) -> None:
    client, _, _ = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    offer = publish(client, PROVIDER, provider)
    wrong = channel(RENTER, STRANGER.address, 10**18)
    reply = client.post(
        "/leases",
        headers=renter,
        json={"offer_id": offer, "duration": 60, "job": {"command": "x"}, "channel": wrong},
    )
    assert reply.status_code == 400
    assert "not from you to the offer's provider" in reply.json()["error"]


def test_an_expired_offer_is_neither_found_nor_rented(database_url) -> None:
    client, _, clock = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    offer = publish(client, PROVIDER, provider, expires_at=T0 + 10)
    assert client.get("/offers").json()["count"] == 1
    clock.advance(10)
    assert client.get("/offers").json()["count"] == 0
    reply = rent(client, RENTER, renter, offer, PROVIDER.address)
    assert reply.status_code == 400
    assert f"offer {offer} expired" in reply.json()["error"]
    assert "l2gpu offers search" in reply.json()["fix"]


def test_the_server_sweeps_live_leases_by_itself(database_url) -> None:
    import time

    from fastapi.testclient import TestClient

    from l2gpu.api.app import create_app

    _, service, clock = market(database_url)
    with TestClient(create_app(service, sweep_every=0.05)) as client:  # runs the lifespan
        provider, renter = login(client, PROVIDER), login(client, RENTER)
        offer = publish(client, PROVIDER, provider)
        lid = rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"]
        client.post(f"/agent/leases/{lid}/events", json={"kind": "started"}, headers=provider)
        clock.advance(11)  # the agent is silent; nobody asks about the lease
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if service.leases.list_for(RENTER.address)[0]["status"] == "preempted":
                break
            time.sleep(0.05)  # the real server task runs on its own
        assert service.leases.list_for(RENTER.address)[0]["status"] == "preempted"


def test_a_lease_channel_with_a_short_challenge_period_or_a_token_is_refused(
    database_url,
) -> None:
    from l2gpu.client import MarketClient
    from l2gpu.core.errors import L2gpuError
    from l2gpu.core.market.offers import sign_offer
    from tests.api.helpers import described
    from tests.market.helpers import CHAIN, PROVIDER, RENTER, terms

    http, _, _ = market(database_url)
    offer = MarketClient("", PROVIDER, http=http).publish(sign_offer(PROVIDER, terms(), CHAIN))
    renter = MarketClient("", RENTER, http=http)
    good = described(RENTER, PROVIDER.address, 10**18)
    quick = replace(good, params=replace(good.params, challenge_period=Seconds(1)))
    with pytest.raises(L2gpuError, match="challenge period of 1 s is below the 3600 s"):
        renter.rent(offer.id, command="true", duration=60, channel=quick)
    token = replace(good, params=replace(good.params, token=Address(b"\x11" * 20)))
    with pytest.raises(L2gpuError, match="token must be the zero address"):
        renter.rent(offer.id, command="true", duration=60, channel=token)


def test_a_quote_makes_every_check_of_renting_before_any_deposit(database_url) -> None:
    client, _, clock = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    client.post("/providers/heartbeat", json={}, headers=provider)
    offer = publish(client, PROVIDER, provider, max_duration=3600)
    quote = client.post("/quotes", json={"offer_id": offer, "duration": 600}, headers=renter)
    assert quote.status_code == 200, quote.text
    # max_cost is what the channel must hold: price x GPUs x seconds, in wei.
    body = quote.json()
    assert int(body["max_cost"]) == int(body["price_per_gpu_second"]) * body["num_gpus"] * 600
    assert body["provider_seen_seconds_ago"] == 0
    too_long = client.post("/quotes", json={"offer_id": offer, "duration": 7200}, headers=renter)
    assert too_long.status_code == 400
    assert "3600" in too_long.json()["error"]
    cheap = {"offer_id": offer, "duration": 60, "max_price_per_gpu_second": "1"}
    assert client.post("/quotes", json=cheap, headers=renter).status_code == 400
    missing = client.post("/quotes", json={"offer_id": "999", "duration": 60}, headers=renter)
    assert missing.status_code == 404
    # A provider whose agent went silent is refused before the renter opens a channel,
    # and the lease itself is refused too.
    clock.advance(11)
    silent = client.post("/quotes", json={"offer_id": offer, "duration": 60}, headers=renter)
    assert silent.status_code == 409
    assert "has not been heard from" in silent.json()["error"]
    assert rent(client, RENTER, renter, offer, PROVIDER.address).status_code == 409
    assert client.post("/quotes", json={"offer_id": offer, "duration": 60}).status_code == 401


def test_offers_of_a_silent_provider_are_not_listed(database_url) -> None:
    """Issue #23: offers of an agent stopped without withdrawing them stayed listed (and
    rent refused them). Past the agent timeout without a heartbeat they leave the search;
    the next heartbeat lists them again."""
    client, service, clock = market(database_url)
    provider = login(client, PROVIDER)
    client.post("/providers/heartbeat", json={"inventory": {"gpus": 2}}, headers=provider)
    offer = publish(client, PROVIDER, provider, nonce=1)
    assert [o["id"] for o in client.get("/offers").json()["offers"]] == [offer]
    clock.advance(service.leases.agent_timeout + 1)
    assert client.get("/offers").json()["offers"] == []
    client.post("/providers/heartbeat", json={"inventory": {"gpus": 2}}, headers=provider)
    assert [o["id"] for o in client.get("/offers").json()["offers"]] == [offer]
