"""The HTTP shell: routes over :class:`~l2gpu.api.service.MarketService` (OpenAPI at /docs).

Authentication: ``POST /auth/nonce`` gives an EIP-4361 message to sign, naming the
API's origin; ``POST /auth/login`` trades the signed message for a bearer token
(``HTTPBearer`` in the OpenAPI document). A renter sees and stops only its own
leases and jobs; a provider changes only its own offers and reports only on leases
it serves. Every error is a JSON body ``{"error", "fix", "status"}``, and every
route lists in the OpenAPI document each status it can answer
(:mod:`l2gpu.api.problems`); every input is range- and text-checked before use
(:mod:`l2gpu.api.inputs`).
"""

# No "from __future__ import annotations" here: FastAPI reads the route annotations
# (the local Caller alias) at definition time.

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.convertors import Convertor, register_url_convertor

from l2gpu import __version__
from l2gpu import wire as w
from l2gpu.api import schemas as s
from l2gpu.api.inputs import ID_LIMIT, AddressText, Line
from l2gpu.api.leases import MAX_LEASES_LISTED
from l2gpu.api.limits import RateLimit
from l2gpu.api.metrics import RequestMetrics, market_registry
from l2gpu.api.offers import MAX_OWN_OFFERS
from l2gpu.api.problems import error_responses as errors
from l2gpu.api.records import offer_json
from l2gpu.api.service import MarketService
from l2gpu.api.shell_routes import add_shell_routes
from l2gpu.api.workload_routes import add_workload_routes
from l2gpu.core.types import Address
from l2gpu.serving.guard import RequestGuard, restore_recursion_limit
from l2gpu.serving.problems import exact_bounds, install_handlers

MAX_BODY = 256 * 1024
log = logging.getLogger(__name__)


class _AddressConvertor(Convertor[str]):
    """A path segment that is an address (so /providers/heartbeat is not one)."""

    regex = "0x[0-9a-fA-F]{40}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("address", _AddressConvertor())

# Ids are below 2**63 (a BIGINT); said with an exclusive power of two, which JSON
# Schema tools reading numbers as doubles still read exactly.
OfferId = Annotated[int, Path(ge=0, lt=ID_LIMIT, description="An offer's id")]
LeaseId = Annotated[int, Path(ge=0, lt=ID_LIMIT, description="A lease's (and its job's) id")]
# What a route that reads a body, or needs a token, may answer besides its own errors.
BODY = (413, 422)
SIGNED = (401,)
_LOGS_200: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The chunks, or with follow=true a stream of NDJSON lines",
        "model": w.Logs,
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}


def _answer(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI 200 answer of a route that returns its JSON itself (a hot path that
    skips FastAPI's response encoding)."""
    return {200: {"description": "Successful Response", "model": model}}


def create_app(
    service: MarketService,
    *,
    rate: float = 200.0,
    burst: int = 400,
    max_body: int = MAX_BODY,
    sweep_every: float | None = 1.0,
) -> Any:
    """The ASGI app: FastAPI routes inside the size and rate limits.

    While the server runs, live leases are swept every ``sweep_every`` seconds, so
    a lease ends on time and a silent agent's leases are preempted even when no
    one is asking about them.
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweeper(service, sweep_every)) if sweep_every else None
        yield
        if task is not None:
            task.cancel()

    restore_recursion_limit()  # py_ecc raises it to 100,000: see serving.guard
    app = FastAPI(
        title="l2gpu market",
        version=__version__,
        description="Rent GPUs by the second; pay with vouchers over payment channels.",
        lifespan=lifespan,
    )
    install_handlers(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = exact_bounds(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    bearer = HTTPBearer(
        auto_error=False,
        description="A token from POST /auth/login (sign-in with Ethereum, EIP-4361)",
    )

    def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Address:
        return service.accounts.address_of(credentials.credentials if credentials else None)

    Caller = Annotated[Address, Depends(caller)]  # noqa: N806 - a type alias, FastAPI style

    # The two hottest read paths run on the event loop and skip FastAPI's response
    # encoding: they touch no database (search uses the cached index), so a thread
    # hop and jsonable_encoder would only add latency.
    @app.get("/health", tags=["service"], responses={**_answer(w.Health), **errors()})
    async def health() -> JSONResponse:
        """Liveness and the market's chain."""
        return JSONResponse({"ok": True, "chain_id": service.chain_id, "version": __version__})

    # -- accounts ---------------------------------------------------------------
    @app.post("/auth/nonce", tags=["accounts"], response_model=w.SignInMessage,
              responses=errors(400, *BODY))  # fmt: skip
    def nonce(body: s.NonceRequest) -> dict[str, Any]:
        """An EIP-4361 message for ``address`` to sign (valid five minutes, used once),
        naming this API's origin as its domain and URI."""
        message = service.accounts.new_nonce(Address.from_hex(body.address))
        return {"message": message.text(), "nonce": message.nonce}

    @app.post("/auth/login", tags=["accounts"], response_model=w.SignedIn,
              responses=errors(401, *BODY))  # fmt: skip
    def login(body: s.LoginRequest) -> dict[str, Any]:
        """Trade a signed sign-in message for a bearer token."""
        token, address, expires = service.accounts.sign_in(
            body.message, s.parse_hex(body.signature, 65)
        )
        return {"token": token, "address": address.checksum, "expires_at": expires}

    @app.get("/accounts/me", tags=["accounts"], response_model=w.Me, responses=errors(*SIGNED))
    def me(who: Caller) -> dict[str, Any]:
        """Who the token belongs to, and its leases as renter or provider."""
        leases = service.leases.list_for(who)
        return {"address": who.checksum, "leases": len(leases)}

    @app.get("/accounts/me/offers", tags=["accounts"], response_model=list[w.OwnOffer],
             responses=errors(422, *SIGNED))  # fmt: skip
    def my_offers(
        who: Caller,
        limit: Annotated[int, Query(ge=1, le=MAX_OWN_OFFERS)] = 100,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> list[dict[str, Any]]:
        """The caller's offers as a provider, in any status (active, leased, withdrawn),
        newest first; a search lists only active ones."""
        found = service.offers.offers_of(who, limit=limit, offset=offset)
        return [{**offer_json(v), "status": st, "created_at": at} for v, st, at in found]

    # -- offers -----------------------------------------------------------------
    @app.get("/offers", tags=["offers"], responses={**_answer(w.OffersFound), **errors(400, 422)})
    async def search(
        q: Annotated[Line, Query(max_length=4096, description="A filter expression")] = "",
        sort: Annotated[Line, Query(max_length=256, description="Sort keys, e.g. -price")] = "",
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> JSONResponse:
        """Search active offers with the filter language (see docs/market.md)."""
        if not service.offers.index_is_current():
            # Rebuilding reads the database: do it off the event loop.
            await run_in_threadpool(service.offers.index)
        found = service.offers.search(q, sort, limit)
        return JSONResponse({"count": len(found), "offers": [offer_json(v) for v in found]})

    @app.post(
        "/offers",
        tags=["offers"],
        status_code=201,
        response_model=w.OfferPublic,
        responses=errors(400, 403, 409, *SIGNED, *BODY),
    )
    def publish(body: s.OfferCreate, who: Caller) -> dict[str, Any]:
        """Publish an offer signed by the caller."""
        return offer_json(service.offers.publish(who, body.to_core()))

    @app.get("/offers/{offer_id}", tags=["offers"], response_model=w.OfferPublic,
             responses=errors(404, 422))  # fmt: skip
    def get_offer(offer_id: OfferId) -> dict[str, Any]:
        """One offer, in any status."""
        return offer_json(service.offers.view(offer_id))

    @app.delete("/offers/{offer_id}", tags=["offers"], response_model=w.OfferWithdrawn,
                responses=errors(403, 404, 422, *SIGNED))  # fmt: skip
    def withdraw(offer_id: OfferId, who: Caller) -> dict[str, Any]:
        """Withdraw one of the caller's offers."""
        service.offers.withdraw(who, offer_id)
        return {"id": str(offer_id), "status": "withdrawn"}

    # -- providers --------------------------------------------------------------
    @app.get("/providers", tags=["providers"], response_model=list[w.ProviderPublic],
             responses=errors())  # fmt: skip
    def providers() -> list[dict[str, Any]]:
        """Every provider's public record: reliability, uptime, seconds delivered."""
        return service.offers.providers()

    # -- the GPU-hour index -----------------------------------------------------------
    @app.get("/index/{gpu:path}", tags=["index"], response_model=w.GpuIndex,
             responses=errors(404, 422))  # fmt: skip
    def gpu_index(gpu: Annotated[str, Path(min_length=1, max_length=64)]) -> dict[str, Any]:
        """The GPU-hour index of one GPU model now: what forwards settle against and a
        feed posts (a thin market has none: 404)."""
        value = service.gpu_index(gpu)
        return {"gpu": value.gpu_model, "wei_per_gpu_hour": str(value.wei_per_gpu_hour),
                "at": value.at, "priced_hours": value.priced_hours,
                "providers": value.providers}  # fmt: skip

    # Only an address matches the path parameter: /providers/heartbeat stays the
    # heartbeat's path for every method (a GET there is a 405, not a bad address).
    @app.get("/providers/{address:address}", tags=["providers"],
             response_model=w.ProviderPublic, responses=errors(400, 404, 422))  # fmt: skip
    def provider(address: Annotated[AddressText, Path()]) -> dict[str, Any]:
        """One provider's public record."""
        return service.offers.provider(Address.from_hex(address))

    @app.post("/providers/heartbeat", tags=["providers"], response_model=w.HeartbeatSeen,
              responses=errors(*SIGNED, *BODY))  # fmt: skip
    def heartbeat(body: s.Heartbeat, who: Caller) -> dict[str, Any]:
        """The caller's agent is alive; its inventory."""
        return service.offers.heartbeat(who, body.inventory.model_dump(exclude_none=True))

    # -- leases and jobs ----------------------------------------------------------
    def rent(body: s.LeaseCreate, who: Address) -> dict[str, Any]:
        return service.leases.create(
            who,
            offer_id=body.offer_id,
            duration=body.duration,
            job=body.job.model_dump(),
            channel=body.channel.to_core(),
            max_price_per_gpu_second=body.max_price_per_gpu_second,
        )

    renting = errors(400, 404, 409, 503, *SIGNED, *BODY)

    @app.post("/quotes", tags=["leases"], response_model=w.Quote, responses=renting)
    def quote_lease(body: s.LeaseQuote, who: Caller) -> dict[str, Any]:
        """Whether the offer would be rented on these terms (liveness, duration, price,
        expiry), and the maximum cost a channel must hold: ask before locking a deposit."""
        return service.leases.quote(
            who,
            offer_id=body.offer_id,
            duration=body.duration,
            max_price_per_gpu_second=body.max_price_per_gpu_second,
            image=body.image,
        )

    @app.post("/leases", tags=["leases"], status_code=201, response_model=w.LeasePublic,
              responses=renting)  # fmt: skip
    def create_lease(body: s.LeaseCreate, who: Caller) -> dict[str, Any]:
        """Rent an offer for a duration, paid through the given channel, and submit a job."""
        return rent(body, who)

    @app.post("/jobs", tags=["jobs"], status_code=201, response_model=w.LeasePublic,
              responses=renting)  # fmt: skip
    def submit_job(body: s.LeaseCreate, who: Caller) -> dict[str, Any]:
        """Submit a job: the same as renting (one job per lease; the job id is the lease id)."""
        return rent(body, who)

    leases = list[w.LeasePublic]

    @app.get("/leases", tags=["leases"], response_model=leases, responses=errors(422, *SIGNED))
    @app.get("/jobs", tags=["jobs"], response_model=leases, responses=errors(422, *SIGNED))
    def list_leases(
        who: Caller,
        live: bool = False,
        role: Annotated[Literal["any", "renter", "provider"], Query()] = "any",
        since: Annotated[int | None, Query(ge=0, lt=ID_LIMIT)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LEASES_LISTED)] = MAX_LEASES_LISTED,
    ) -> list[dict[str, Any]]:
        """The caller's leases (as renter or provider; ``role`` for one side), newest
        first; ``since``: only those live or ended at or after that time."""
        return service.leases.list_for(who, live_only=live, role=role, since=since, limit=limit)

    mine = errors(403, 404, 422, *SIGNED)

    @app.get("/leases/{lease_id}", tags=["leases"], response_model=w.LeasePublic, responses=mine)
    @app.get("/jobs/{lease_id}", tags=["jobs"], response_model=w.LeasePublic, responses=mine)
    def get_lease(lease_id: LeaseId, who: Caller) -> dict[str, Any]:
        """A lease and its job: status, metered seconds, amount due, best voucher."""
        return service.leases.get(who, lease_id)

    @app.post(
        "/leases/{lease_id}/vouchers",
        tags=["leases"],
        response_model=w.VoucherTaken,
        responses=errors(400, 403, 404, *SIGNED, *BODY),
    )
    def voucher(lease_id: LeaseId, body: s.VoucherIn, who: Caller) -> dict[str, Any]:
        """Relay the renter's newest voucher to the provider."""
        # 65 bytes (EIP-712) or 64 (a zk channel's EdDSA): the schema took only these,
        # and the channel's domain judges which one the lease's renter signed.
        raw = bytes.fromhex(body.signature.removeprefix("0x"))
        return service.leases.voucher(who, lease_id, body.amount, raw)

    @app.post("/leases/{lease_id}/stop", tags=["leases"], response_model=w.LeasePublic,
              responses=mine)  # fmt: skip
    @app.post("/jobs/{lease_id}/stop", tags=["jobs"], response_model=w.LeasePublic,
              responses=mine)  # fmt: skip
    def stop(lease_id: LeaseId, who: Caller) -> dict[str, Any]:
        """End the lease now and stop its job."""
        return service.leases.stop(who, lease_id)

    @app.get("/jobs/{lease_id}/logs", tags=["jobs"], responses={**_LOGS_200, **mine})
    def logs(
        lease_id: LeaseId,
        who: Caller,
        after: Annotated[int, Query(ge=0, lt=ID_LIMIT)] = 0,
        follow: bool = False,
    ) -> Any:
        """The job's output after ``after``; with ``follow``, a stream of NDJSON lines
        that ends when the lease is over and every line has been sent."""
        chunks, done = service.leases.logs(who, lease_id, after)
        if not follow:
            return {"chunks": chunks, "done": done}
        return StreamingResponse(
            _follow(service, who, lease_id, after), media_type="application/x-ndjson"
        )

    # -- agent --------------------------------------------------------------------
    @app.get("/agent/leases", tags=["agent"], response_model=list[w.AgentLease],
             responses=errors(*SIGNED))  # fmt: skip
    def agent_leases(who: Caller) -> list[dict[str, Any]]:
        """The caller's live leases as a provider, with jobs and newest vouchers."""
        return service.leases.agent_work(who)

    agent_post = errors(403, 404, 409, *SIGNED, *BODY)

    @app.post("/agent/leases/{lease_id}/events", tags=["agent"],
              response_model=w.AgentEventTaken, responses=agent_post)  # fmt: skip
    def agent_event(lease_id: LeaseId, body: s.AgentEvent, who: Caller) -> dict[str, Any]:
        """Report a job event: accepted (with channel_verified once the agent found the
        lease's channel open and funded on its rail), started, start_failed, usage,
        exited, stopped."""
        return service.leases.agent_event(
            who,
            lease_id,
            body.kind,
            seconds=body.seconds,
            exit_code=body.exit_code,
            reason=body.reason,
            channel_verified=body.channel_verified,
            gpu_active=body.gpu_active,
        )

    @app.post("/agent/leases/{lease_id}/logs", tags=["agent"], response_model=w.LogsAppended,
              responses=agent_post)  # fmt: skip
    def agent_logs(lease_id: LeaseId, body: s.LogChunks, who: Caller) -> dict[str, Any]:
        """Append output of a lease's job (NUL and lone surrogates stored as U+FFFD)."""
        return {"seq": service.leases.agent_logs(who, lease_id, body.chunks)}

    add_workload_routes(app, service, caller)
    app.state.shells = add_shell_routes(app, service, caller)
    registry = market_registry(service.engine, service.clock)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics: requests, latencies, and the market's state."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    guarded = RequestGuard(app, max_body=max_body)  # size and JSON depth, while reading
    limited = RateLimit(guarded, rate=rate, burst=burst, account_of=service.accounts.cached)
    # outermost: refused requests (too large, too many) are counted too
    return RequestMetrics(limited, registry, router=app)


async def _sweeper(service: MarketService, every: float) -> None:
    while True:
        try:
            await run_in_threadpool(service.leases.sweep)
            await run_in_threadpool(service.expire)
        except Exception:  # a failed sweep (database busy) is retried next time
            log.exception("lease sweep failed")
        await asyncio.sleep(every)


async def _follow(
    service: MarketService, who: Address, lease_id: int, after: int
) -> AsyncIterator[bytes]:
    while True:
        chunks, done = await run_in_threadpool(service.leases.logs, who, lease_id, after)
        for chunk in chunks:
            after = chunk["seq"]
            yield (json.dumps(chunk) + "\n").encode()
        if done and not chunks:
            lease = await run_in_threadpool(service.leases.get, who, lease_id)
            yield (json.dumps({"end": True, "status": lease["status"]}) + "\n").encode()
            return
        if not chunks:
            await asyncio.sleep(0.5)
