"""Sign-in is bound to the API's origin: the EIP-4361 message names it as domain and
URI, and a signed message for any other domain or URI is refused, saying which."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.config import ConfigError, api_origin, load_settings
from l2gpu.core.market.signin import SignInMessage, parse_message, sign_message
from l2gpu.core.types import Timestamp
from l2gpu.db import open_database
from tests.api.helpers import Clock
from tests.market.helpers import CHAIN, RENTER, T0

ORIGIN = "https://market.example:8443"


def _market(database_url: tuple[str, str | None]) -> TestClient:
    url, schema = database_url
    service = MarketService(
        open_database(url, schema=schema), chain_id=CHAIN, clock=Clock(), origin=ORIGIN
    )
    return TestClient(create_app(service, sweep_every=None))


def _login(client: TestClient, message: SignInMessage) -> dict[str, object]:
    signature = sign_message(RENTER, message)
    reply = client.post(
        "/auth/login", json={"message": message.text(), "signature": "0x" + signature.hex()}
    )
    return {"status": reply.status_code, **reply.json()}


def test_the_message_names_the_configured_origin_and_others_are_refused(database_url) -> None:
    client = _market(database_url)
    issued = client.post("/auth/nonce", json={"address": RENTER.address.checksum}).json()
    message = parse_message(issued["message"])
    assert message.domain == "market.example:8443"
    assert message.uri == ORIGIN
    # A message a phishing site had the user sign, for its own domain, with a nonce
    # it fetched from this API: refused, naming both domains.
    phished = SignInMessage(
        "evil.example",
        RENTER.address,
        "https://evil.example",
        CHAIN,
        message.nonce,
        Timestamp(T0),
        Timestamp(T0 + 300),
    )
    refused = _login(client, phished)
    assert refused["status"] == 401
    assert "evil.example" in str(refused["error"])
    assert "market.example:8443" in str(refused["error"])
    assert refused["fix"]
    # The right domain with another URI is refused too.
    other_uri = SignInMessage(
        "market.example:8443",
        RENTER.address,
        "http://market.example:8443",
        CHAIN,
        message.nonce,
        Timestamp(T0),
        Timestamp(T0 + 300),
    )
    refused = _login(client, other_uri)
    assert refused["status"] == 401
    assert "URI" in str(refused["error"])
    # Neither burnt the nonce: the message the API issued still signs in.
    assert _login(client, message)["status"] == 200


def test_the_origin_defaults_to_the_served_host_and_port(monkeypatch) -> None:
    settings = load_settings()
    assert api_origin(settings) == "http://127.0.0.1:8600"
    assert api_origin(settings, host="0.0.0.0", port=9000) == "http://0.0.0.0:9000"
    assert api_origin(settings, host="::1", port=9000) == "http://[::1]:9000"
    monkeypatch.setenv("L2GPU_API_ORIGIN", "https://market.example")
    settings = load_settings()
    assert api_origin(settings, host="0.0.0.0", port=9000) == "https://market.example"
    monkeypatch.setenv("L2GPU_API_ORIGIN", "https://market.example/path?x=1")
    with pytest.raises(ConfigError, match="api_origin"):
        load_settings()
