"""Property tests of the market API against its own OpenAPI document (schemathesis),
in process over ASGI, on SQLite and PostgreSQL, without a token and signed in.

Every built-in check runs: no server error, every status and content type
documented, every body matching its documented schema, invalid data refused,
valid data accepted, a missing token refused, undeclared methods answered 405 with
``Allow``, and the rest. The runs are derandomized (the same cases every time) and
bounded, so the suite stays quick and stable on two cores.

Configured, not disabled:

- ``positive_data_acceptance`` also accepts 400. A request the schema calls valid
  may still break a rule no JSON Schema states, and 400 is how this API says so: an
  offer signed by another key or for another chain, a filter expression naming an
  unknown field, an address with a wrong EIP-55 checksum, a channel whose id does
  not match its terms, a voucher signed by someone else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine

from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.db import open_database
from tests.api.helpers import Clock, channel, login, publish
from tests.market.helpers import CHAIN, PROVIDER, RENTER

CONFIG = {
    "seed": 12345,
    "generation": {"mode": "all", "deterministic": True, "database": "none"},
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
        },
    },
}
RUN = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    # One market serves every case of a test (state piles up, as on a real server);
    # generated bodies are large and filtered against the patterns of text fields.
    # None of these is a defect of the API under test.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


class LiveApp:
    """The ASGI app the cases are sent to: the running test's market, set by its fixture.

    The schema is loaded once, at import, from an app whose database is never touched
    (serving the OpenAPI document reads none); each test then points this at a market
    on its own database.
    """

    def __init__(self) -> None:
        service = MarketService(create_engine("sqlite://"), chain_id=CHAIN, clock=Clock())
        self.app: Any = create_app(service, rate=0, sweep_every=None)
        self.tokens: dict[str, str] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


LIVE = LiveApp()
# Without a token every route but the public ones answers 401 before it reads its
# input, so the coverage phase (hundreds of boundary cases per body) would spend its
# time on 401s: that run fuzzes only. Signed in, every phase runs.
FUZZING_ONLY = {**CONFIG, "phases": {"coverage": {"enabled": False}}}
anonymous = schemathesis.openapi.from_asgi(
    "/openapi.json", LIVE, config=schemathesis.Config.from_dict(FUZZING_ONLY)
)
signed_in = schemathesis.openapi.from_asgi(
    "/openapi.json", LIVE, config=schemathesis.Config.from_dict(CONFIG)
)


@signed_in.auth(refresh_interval=None, retry_on=[])
class MarketToken:
    """The running market's tokens: the renter's for the renter's routes, the
    provider's for the agent's and the offers' (either reaches past authentication
    into the database: the renter holds a lease that the provider serves)."""

    def get(self, case: Any, _ctx: Any) -> str:
        """Whose token this operation takes."""
        provider = case.operation.path.startswith(("/agent", "/offers", "/providers"))
        return "provider" if provider else "renter"

    def set(self, case: Any, whose: str, _ctx: Any) -> None:
        """Send the running market's token as a bearer token (read now: cases may be
        drawn before the market exists)."""
        token = LIVE.tokens.get(whose, "no-market-yet")
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def market(module_database_url: tuple[str, str | None]) -> Iterator[None]:
    """Point the cases at a market on a fresh database, holding a provider with an offer,
    and a renter whose lease on it has ended (so a followed log stream ends too); one
    market per database serves every operation's cases, as one server serves all."""
    url, db_schema = module_database_url
    service = MarketService(open_database(url, schema=db_schema), chain_id=CHAIN, clock=Clock())
    app = create_app(service, rate=0, sweep_every=None)
    http = TestClient(app)
    provider, renter = login(http, PROVIDER), login(http, RENTER)
    http.post("/providers/heartbeat", json={"inventory": {"gpus": 2}}, headers=provider)
    offer = publish(http, PROVIDER, provider)
    reply = http.post(
        "/leases",
        headers=renter,
        json={
            "offer_id": offer,
            "duration": 60,
            "job": {"command": "true"},
            "channel": channel(RENTER, PROVIDER.address, 10**18),
        },
    )
    assert reply.status_code == 201, reply.text
    http.post(f"/agent/leases/{reply.json()['id']}/logs", json={"chunks": ["hi"]}, headers=provider)
    http.post(f"/leases/{reply.json()['id']}/stop", headers=renter)
    before = LIVE.app
    LIVE.app = app
    LIVE.tokens = {
        "provider": provider["Authorization"].removeprefix("Bearer "),
        "renter": renter["Authorization"].removeprefix("Bearer "),
    }
    try:
        yield
    finally:
        LIVE.app, LIVE.tokens = before, {}


@anonymous.parametrize()
@RUN
def test_the_api_conforms_without_a_token(case: Any, market: None) -> None:
    case.call_and_validate()


@signed_in.parametrize()
@RUN
def test_the_api_conforms_signed_in(case: Any, market: None) -> None:
    case.call_and_validate()
