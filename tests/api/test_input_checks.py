"""Every integer and text a client sends is checked before any database or arithmetic
use, on both databases: out-of-range numbers and control characters get a 4xx JSON
error naming the field, never a 500; job output is stored whatever bytes it holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from l2gpu.agent.backends.local import LocalBackend
from tests.api.helpers import channel, login, market, offer_body, publish, rent
from tests.market.helpers import PROVIDER, RENTER

BIG = 2**63  # one past the largest BIGINT


def _refused(reply: Any, *words: str, status: int = 422) -> dict[str, Any]:
    assert reply.status_code == status, (reply.status_code, reply.text)
    body = dict(reply.json())
    assert set(body) == {"error", "fix", "status"}
    assert body["status"] == status
    assert body["fix"]
    for word in words:
        assert word in body["error"], (word, body["error"])
    assert "Input should be" not in body["error"]  # pydantic's words are not ours
    return body


def _post(client, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """POST ``body`` as ASCII JSON: how a lone surrogate travels (as a \\u escape)."""
    data = json.dumps(body).encode()
    return client.post(
        path, content=data, headers={**(headers or {}), "content-type": "application/json"}
    )


def _leased(client, provider, renter) -> int:
    offer = publish(client, PROVIDER, provider)
    return int(rent(client, RENTER, renter, offer, PROVIDER.address).json()["id"])


def test_integers_at_or_above_2_63_are_refused_naming_the_field(database_url) -> None:
    client, _, _ = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    lid = _leased(client, provider, renter)
    _refused(client.get(f"/offers/{BIG}"), "offer_id", "9223372036854775807")
    _refused(client.get("/offers/-1"), "offer_id")
    _refused(client.delete(f"/offers/{BIG}", headers=provider), "offer_id")
    _refused(client.get(f"/leases/{BIG}", headers=renter), "lease_id")
    _refused(client.post(f"/jobs/{BIG}/stop", headers=renter), "lease_id")
    _refused(client.get(f"/jobs/{lid}/logs", params={"after": BIG}, headers=renter), "after")
    for field in ("expires_at", "nonce", "max_duration", "gpu_ram_gb"):
        body = offer_body(PROVIDER)
        body["terms"][field] = BIG
        _refused(client.post("/offers", json=body, headers=provider), f"terms.{field}")
    body = offer_body(PROVIDER)
    body["chain_id"] = BIG
    _refused(client.post("/offers", json=body, headers=provider), "chain_id")
    lease = {"duration": 60, "job": {"command": "true"}}
    for offer_id in (str(BIG), BIG, "12x"):
        described = channel(RENTER, PROVIDER.address, 10**18)
        reply = client.post(
            "/leases", headers=renter, json={**lease, "offer_id": offer_id, "channel": described}
        )
        _refused(reply, "offer_id")
    for key, value in (("chain_id", BIG), ("challenge_period", BIG), ("deposit", str(2**256))):
        described = dict(channel(RENTER, PROVIDER.address, 10**18), **{key: value})
        reply = client.post(
            "/leases", headers=renter, json={**lease, "offer_id": "1", "channel": described}
        )
        _refused(reply, f"channel.{key}")
    voucher = {"amount": str(2**256), "signature": "0x" + "11" * 65}
    _refused(client.post(f"/leases/{lid}/vouchers", json=voucher, headers=renter), "amount")
    for event in ({"kind": "usage", "seconds": BIG}, {"kind": "exited", "exit_code": 2**40}):
        reply = client.post(f"/agent/leases/{lid}/events", json=event, headers=provider)
        _refused(reply, next(k for k in event if k != "kind"))
    inventory = {"inventory": {"gpus": 2**300}}
    _refused(
        client.post("/providers/heartbeat", json=inventory, headers=provider), "inventory.gpus"
    )


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x7f", "\ud800"])
def test_control_characters_are_refused_in_every_text_field(database_url, bad: str) -> None:
    client, _, _ = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    lid = _leased(client, provider, renter)
    what = "control character" if bad != "\ud800" else "surrogate"
    _refused(_post(client, "/auth/nonce", {"address": f"0x{bad}"}), "address", what)
    login_body = {"message": f"x{bad}y", "signature": "0x" + "11" * 65}
    _refused(_post(client, "/auth/login", login_body), "message", what)
    for field in ("gpu_name", "location"):
        body = offer_body(PROVIDER)
        body["terms"][field] = f"EU{bad}"
        _refused(_post(client, "/offers", body, provider), f"terms.{field}", what)
    jobs = [
        ({"command": f"echo {bad}"}, "job.command"),
        ({"command": "true", "env": {f"A{bad}": "1"}}, "job.env"),
        ({"command": "true", "env": {"A": f"1{bad}"}}, "job.env.A"),
        ({"command": "true", "secrets": {"TOKEN": f"s{bad}"}}, "job.secrets.TOKEN"),
        ({"command": "true", "files": {f"a{bad}.py": "print(1)"}}, "job.files"),
        ({"command": "true", "files": {"a.py": f"print({bad!r})\x00"}}, "job.files.a.py"),
    ]
    for job, field in jobs:
        described = channel(RENTER, PROVIDER.address, 10**18)
        reply = _post(
            client,
            "/leases",
            {"offer_id": "1", "duration": 60, "job": job, "channel": described},
            renter,
        )
        _refused(reply, field, what if field != "job.files.a.py" else "control character")
    described = dict(channel(RENTER, PROVIDER.address, 10**18), settlement=f"hybrid{bad}")
    reply = _post(
        client,
        "/leases",
        {"offer_id": "1", "duration": 60, "job": {"command": "x"}, "channel": described},
        renter,
    )
    _refused(reply, "channel.settlement", what)
    event = {"kind": "start_failed", "reason": f"no {bad}"}
    reply = _post(client, f"/agent/leases/{lid}/events", event, provider)
    _refused(reply, "reason", what)
    reply = _post(client, f"/agent/leases/{lid}/events", {"kind": f"usage{bad}"}, provider)
    _refused(reply, "kind")
    inventory = {"inventory": {"source": f"nvml{bad}"}}
    _refused(_post(client, "/providers/heartbeat", inventory, provider), "inventory", what)
    if bad != "\ud800":  # a URL cannot carry a lone surrogate at all
        _refused(client.get("/offers", params={"q": f"gpu_name=A{bad}"}), "q", what)
        _refused(client.get("/offers", params={"sort": f"price{bad}"}), "sort", what)
    # The agent and the renter still see a clean lease: nothing above was stored.
    assert client.get(f"/jobs/{lid}", headers=renter).json()["job"]["command"] == "echo hi"


def test_job_output_with_nul_bytes_and_invalid_utf8_is_stored(database_url, tmp_path: Path) -> None:
    client, _, _ = market(database_url)
    provider, renter = login(client, PROVIDER), login(client, RENTER)
    lid = _leased(client, provider, renter)
    # What the local backend reads from a job's output, sent as the agent sends it.
    backend = LocalBackend(tmp_path / "jobs")
    backend.workdir(lid).mkdir(parents=True, exist_ok=True)
    (backend.workdir(lid) / "output.log").write_bytes(b"ok\x00nul \xff\xfe bad \x1b[1mbold\n")
    chunks = backend.read_logs(lid)
    reply = client.post(f"/agent/leases/{lid}/logs", json={"chunks": chunks}, headers=provider)
    assert reply.status_code == 200, reply.text
    # Straight from a client: a NUL, a lone surrogate (how JSON spells undecodable bytes).
    raw = b'{"chunks": ["a\\u0000b", "c\\udcffd"]}'
    reply = client.post(
        f"/agent/leases/{lid}/logs",
        content=raw,
        headers={**provider, "content-type": "application/json"},
    )
    assert reply.status_code == 200, reply.text
    texts = [c["text"] for c in client.get(f"/jobs/{lid}/logs", headers=renter).json()["chunks"]]
    assert texts == ["ok\ufffdnul \ufffd\ufffd bad \x1b[1mbold\n", "a\ufffdb", "c\ufffdd"]
    # A body that is not UTF-8 at all is not JSON: refused as any malformed body is.
    reply = client.post(
        f"/agent/leases/{lid}/logs",
        content=b'{"chunks": ["\xff"]}',
        headers={**provider, "content-type": "application/json"},
    )
    _refused(reply, "UTF-8")


def test_validation_errors_say_which_field_and_what_is_expected(database_url) -> None:
    client, _, _ = market(database_url)
    body = _refused(client.get("/offers/abc"), "offer_id")
    assert "whole number" in body["error"]
    body = _refused(client.post("/auth/nonce", json={}), "address", "missing")
    body = _refused(client.post("/auth/nonce", json={"address": "x", "more": 1}), "more")
    assert "not a field" in body["error"]
    _refused(client.post("/auth/nonce", content=b"{", headers={"content-type": "application/json"}))


def test_a_wrong_method_answers_405_with_allow(database_url) -> None:
    client, _, _ = market(database_url)
    reply = client.patch("/offers/1")
    assert reply.status_code == 405
    assert set(reply.headers["allow"].split(", ")) == {"GET", "DELETE"}
    assert reply.json()["status"] == 405
    assert "PATCH" in reply.json()["error"]
    reply = client.request("TRACE", "/health")
    assert reply.status_code == 405
    assert reply.headers["allow"] == "GET"


def test_the_openapi_document_lists_every_status_with_the_error_model(database_url) -> None:
    client, _, _ = market(database_url)
    document = client.get("/openapi.json").json()
    error = document["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"error", "fix", "status"}
    expected = {
        ("post", "/auth/nonce"): {"200", "400", "413", "422", "429"},
        ("post", "/auth/login"): {"200", "401", "413", "422", "429"},
        ("post", "/offers"): {"201", "400", "401", "403", "409", "413", "422", "429"},
        ("get", "/offers"): {"200", "400", "422", "429"},
        ("get", "/offers/{offer_id}"): {"200", "404", "422", "429"},
        ("delete", "/offers/{offer_id}"): {"200", "401", "403", "404", "422", "429"},
        ("post", "/leases"): {"201", "400", "401", "404", "409", "413", "422", "429", "503"},
        ("get", "/jobs/{lease_id}/logs"): {"200", "401", "403", "404", "422", "429"},
        ("post", "/agent/leases/{lease_id}/logs"): {"200", "401", "403", "404", "409", "413"}
        | {"422", "429"},
        ("get", "/health"): {"200", "429"},
    }
    for (method, path), statuses in expected.items():
        responses = document["paths"][path][method]["responses"]
        assert set(responses) == statuses, (method, path, sorted(responses))
        for status, response in responses.items():
            if status[0] in "45":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    logs = document["paths"]["/jobs/{lease_id}/logs"]["get"]["responses"]["200"]["content"]
    assert set(logs) == {"application/json", "application/x-ndjson"}
