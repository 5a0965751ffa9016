"""The rate limiter keys a request on its signed-in account when the bearer token is
valid, else on the client's address: a made-up token buys no bucket of its own."""

from __future__ import annotations

from l2gpu.api.limits import RateLimit
from tests.api.helpers import login, market
from tests.market.helpers import RENTER

SLOW = 0.001  # a token every 1000 s: no bucket refills during a test


def test_made_up_bearer_tokens_share_the_client_address_bucket(database_url) -> None:
    client, _, _ = market(database_url, rate=SLOW, burst=3)
    replies = [
        client.get("/health", headers={"Authorization": f"Bearer made-up-token-{i:040d}"})
        for i in range(4)
    ]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert client.get("/health").status_code == 429  # the same address, no token


def test_a_signed_in_account_has_one_bucket_whatever_its_tokens(database_url) -> None:
    client, _, _ = market(database_url, rate=SLOW, burst=4)
    first, second = login(client, RENTER), login(client, RENTER)  # 4 requests by address
    assert client.get("/health").status_code == 429  # the address's bucket is empty
    statuses = [
        client.get("/accounts/me", headers=auth).status_code
        for auth in (first, second, first, second, first)
    ]
    assert statuses == [200, 200, 200, 200, 429]


def test_the_key_resolver_is_consulted_only_for_bearer_tokens() -> None:
    seen: list[str] = []

    def account_of(token: str) -> str | None:
        seen.append(token)
        return "0xabc" if token == "good" else None

    async def app(scope, receive, send) -> None:  # pragma: no cover - never called
        raise AssertionError

    limit = RateLimit(app, rate=1.0, burst=1, account_of=account_of)
    scope = {"type": "http", "client": ("10.0.0.1", 5000), "headers": []}
    assert limit.key(scope) == "ip:10.0.0.1"
    scope["headers"] = [(b"authorization", b"Bearer good")]
    assert limit.key(scope) == "account:0xabc"
    scope["headers"] = [(b"authorization", b"Bearer bad")]
    assert limit.key(scope) == "ip:10.0.0.1"
    scope["headers"] = [(b"authorization", b"Basic Zm9vOmJhcg==")]
    assert limit.key(scope) == "ip:10.0.0.1"
    assert seen == ["good", "bad"]
