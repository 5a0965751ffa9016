"""A market API in process, with an injected clock, and the steps users take on it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient

from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.core.channel import ChannelParams
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.market.offers import sign_offer
from l2gpu.core.market.signin import parse_message, sign_message
from l2gpu.core.types import Address, Seconds
from l2gpu.db import open_database
from tests.market.helpers import CHAIN, T0, terms

MANAGER = Address(b"\x05" * 20)


class Clock:
    """Seconds that move only when a test says so."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


def market(
    database_url: tuple[str, str | None], **limits: Any
) -> tuple[TestClient, MarketService, Clock]:
    url, schema = database_url
    clock = Clock()
    service = MarketService(open_database(url, schema=schema), chain_id=CHAIN, clock=clock)
    return TestClient(create_app(service, **limits)), service, clock


def login(client: TestClient, key: PrivateKey) -> dict[str, str]:
    """Sign in as ``key``; return the Authorization header."""
    issued = client.post("/auth/nonce", json={"address": key.address.checksum}).json()
    signature = sign_message(key, parse_message(issued["message"]))
    reply = client.post(
        "/auth/login", json={"message": issued["message"], "signature": "0x" + signature.hex()}
    )
    assert reply.status_code == 200, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


def offer_body(key: PrivateKey, **changes: Any) -> dict[str, Any]:
    signed = sign_offer(key, terms(provider=key.address, **changes), CHAIN)
    data = signed.terms.to_json()
    return {"terms": data, "signature": "0x" + signed.signature.hex(), "chain_id": CHAIN}


def publish(client: TestClient, key: PrivateKey, auth: dict[str, str], **changes: Any) -> str:
    reply = client.post("/offers", json=offer_body(key, **changes), headers=auth)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


_SALTS = itertools.count(1)


def channel(
    renter: PrivateKey, provider: Address, deposit: int, salt: int | None = None
) -> dict[str, Any]:
    """A channel description; each call a fresh channel (a channel pays for one lease)."""
    salt = next(_SALTS) if salt is None else salt
    params = ChannelParams(
        renter.address, provider, challenge_period=Seconds(3600), salt=salt.to_bytes(32, "big")
    )
    return {
        "channel_id": str(params.id),
        "chain_id": CHAIN,
        "manager": MANAGER.checksum,
        "renter": renter.address.checksum,
        "provider": provider.checksum,
        "token": "0x" + "00" * 20,
        "challenge_period": 3600,
        "salt": "0x" + params.salt.hex(),
        "deposit": str(deposit),
    }


def described(
    renter: PrivateKey, provider: Address, deposit: int, salt: int | None = None
) -> ChannelDescription:
    """:func:`channel` as the SDK takes it."""
    return ChannelDescription.from_json(channel(renter, provider, deposit, salt))


def rent(
    client: TestClient,
    renter: PrivateKey,
    auth: dict[str, str],
    offer_id: str,
    provider: Address,
    duration: int = 60,
    command: str = "echo hi",
    deposit: int = 10**18,
) -> Any:
    return client.post(
        "/leases",
        headers=auth,
        json={
            "offer_id": offer_id,
            "duration": duration,
            "job": {"command": command},
            "channel": channel(renter, provider, deposit),
        },
    )


@contextmanager
def served(
    database_url: tuple[str, str | None], **options: Any
) -> Iterator[tuple[str, MarketService, Clock]]:
    """The market API under a real uvicorn on loopback (threads, a connection pool, the
    database's own locking), with an injected clock; stopped on exit."""
    from l2gpu.serving.loopback import serve_on_loopback

    url, schema = database_url
    clock = Clock()
    service = MarketService(open_database(url, schema=schema), chain_id=CHAIN, clock=clock)
    server, base = serve_on_loopback(
        create_app(service, **{"rate": 0, "sweep_every": None, **options}), "market API"
    )
    try:
        yield base, service, clock
    finally:
        server.should_exit = True


def at_once(
    base: str, requests: list[tuple[str, str, dict[str, Any], dict[str, str]]]
) -> list[Any]:
    """Send ``(method, path, json, headers)`` requests in parallel threads, released together
    by a barrier once every thread holds an open connection; return the replies in order."""
    barrier = threading.Barrier(len(requests))

    def one(request: tuple[str, str, dict[str, Any], dict[str, str]]) -> Any:
        method, path, body, headers = request
        with httpx.Client(base_url=base, timeout=60) as http:
            http.get("/health")  # open the connection before the race starts
            barrier.wait()
            return http.request(method, path, json=body, headers=headers)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(one, requests))
