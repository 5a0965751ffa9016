"""The HTTP shell: routes over :class:`~l2gpu.api.service.MarketService` (OpenAPI at /docs).

Authentication: ``POST /auth/nonce`` gives an EIP-4361 message to sign,
``POST /auth/login`` trades the signed message for a bearer token. A renter sees
and stops only its own leases and jobs; a provider changes only its own offers
and reports only on leases it serves. Every error is a JSON body
``{"error", "fix", "status"}``.
"""

# No "from __future__ import annotations" here: FastAPI reads the route annotations
# (the local Caller alias) at definition time.

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from l2gpu import __version__
from l2gpu.api import schemas as s
from l2gpu.api.errors import body_of, status_of
from l2gpu.api.limits import BodyLimit, RateLimit
from l2gpu.api.records import offer_json
from l2gpu.api.service import MarketService
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

MAX_BODY = 256 * 1024
log = logging.getLogger(__name__)


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

    app = FastAPI(
        title="l2gpu market",
        version=__version__,
        description="Rent GPUs by the second; pay with vouchers over payment channels.",
        lifespan=lifespan,
    )
    _errors(app)

    def caller(authorization: Annotated[str | None, Header()] = None) -> Address:
        token = authorization.removeprefix("Bearer ").strip() if authorization else None
        return service.accounts.address_of(token)

    Caller = Annotated[Address, Depends(caller)]  # noqa: N806 - a type alias, FastAPI style

    # The two hottest read paths run on the event loop and skip FastAPI's response
    # encoding: they touch no database (search uses the cached index), so a thread
    # hop and jsonable_encoder would only add latency.
    @app.get("/health", tags=["service"])
    async def health() -> JSONResponse:
        """Liveness and the market's chain."""
        return JSONResponse({"ok": True, "chain_id": service.chain_id, "version": __version__})

    # -- accounts ---------------------------------------------------------------
    @app.post("/auth/nonce", tags=["accounts"])
    def nonce(body: s.NonceRequest) -> dict[str, Any]:
        """An EIP-4361 message for ``address`` to sign (valid five minutes, used once)."""
        message = service.accounts.new_nonce(Address.from_hex(body.address))
        return {"message": message.text(), "nonce": message.nonce}

    @app.post("/auth/login", tags=["accounts"])
    def login(body: s.LoginRequest) -> dict[str, Any]:
        """Trade a signed sign-in message for a bearer token."""
        token, address, expires = service.accounts.sign_in(
            body.message, s.parse_hex(body.signature, 65)
        )
        return {"token": token, "address": address.checksum, "expires_at": expires}

    @app.get("/accounts/me", tags=["accounts"])
    def me(who: Caller) -> dict[str, Any]:
        """Who the token belongs to, and its leases as renter or provider."""
        leases = service.leases.list_for(who)
        return {"address": who.checksum, "leases": len(leases)}

    # -- offers -----------------------------------------------------------------
    @app.get("/offers", tags=["offers"])
    async def search(
        q: Annotated[str, Query(max_length=4096)] = "",
        sort: Annotated[str, Query(max_length=256)] = "",
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> JSONResponse:
        """Search active offers with the filter language (see docs/market.md)."""
        if not service.offers.index_is_current():
            # Rebuilding reads the database: do it off the event loop.
            await run_in_threadpool(service.offers.index)
        found = service.offers.search(q, sort, limit)
        return JSONResponse({"count": len(found), "offers": [offer_json(v) for v in found]})

    @app.post("/offers", tags=["offers"], status_code=201)
    def publish(body: s.OfferCreate, who: Caller) -> dict[str, Any]:
        """Publish an offer signed by the caller."""
        return offer_json(service.offers.publish(who, body.to_core()))

    @app.get("/offers/{offer_id}", tags=["offers"])
    def get_offer(offer_id: int) -> dict[str, Any]:
        """One offer, in any status."""
        return offer_json(service.offers.view(offer_id))

    @app.delete("/offers/{offer_id}", tags=["offers"])
    def withdraw(offer_id: int, who: Caller) -> dict[str, Any]:
        """Withdraw one of the caller's offers."""
        service.offers.withdraw(who, offer_id)
        return {"id": str(offer_id), "status": "withdrawn"}

    # -- providers --------------------------------------------------------------
    @app.get("/providers", tags=["providers"])
    def providers() -> list[dict[str, Any]]:
        """Every provider's public record: reliability, uptime, seconds delivered."""
        return service.offers.providers()

    @app.get("/providers/{address}", tags=["providers"])
    def provider(address: str) -> dict[str, Any]:
        """One provider's public record."""
        return service.offers.provider(Address.from_hex(address))

    @app.post("/providers/heartbeat", tags=["providers"])
    def heartbeat(body: s.Heartbeat, who: Caller) -> dict[str, Any]:
        """The caller's agent is alive; its inventory."""
        return service.offers.heartbeat(who, body.inventory)

    # -- leases and jobs ----------------------------------------------------------
    def rent(body: s.LeaseCreate, who: Address) -> dict[str, Any]:
        limit = body.max_price_per_gpu_second
        return service.leases.create(
            who,
            offer_id=s.parse_int(body.offer_id),
            duration=body.duration,
            job=body.job.model_dump(),
            channel=body.channel,
            max_price_per_gpu_second=None if limit is None else s.parse_int(limit),
        )

    @app.post("/leases", tags=["leases"], status_code=201)
    def create_lease(body: s.LeaseCreate, who: Caller) -> dict[str, Any]:
        """Rent an offer for a duration, paid through the given channel, and submit a job."""
        return rent(body, who)

    @app.post("/jobs", tags=["jobs"], status_code=201)
    def submit_job(body: s.LeaseCreate, who: Caller) -> dict[str, Any]:
        """Submit a job: the same as renting (one job per lease; the job id is the lease id)."""
        return rent(body, who)

    @app.get("/leases", tags=["leases"])
    @app.get("/jobs", tags=["jobs"])
    def list_leases(who: Caller, live: bool = False) -> list[dict[str, Any]]:
        """The caller's leases (as renter or provider), newest first."""
        return service.leases.list_for(who, live_only=live)

    @app.get("/leases/{lease_id}", tags=["leases"])
    @app.get("/jobs/{lease_id}", tags=["jobs"])
    def get_lease(lease_id: int, who: Caller) -> dict[str, Any]:
        """A lease and its job: status, metered seconds, amount due, best voucher."""
        return service.leases.get(who, lease_id)

    @app.post("/leases/{lease_id}/vouchers", tags=["leases"])
    def voucher(lease_id: int, body: s.VoucherIn, who: Caller) -> dict[str, Any]:
        """Relay the renter's newest voucher to the provider."""
        return service.leases.voucher(
            who, lease_id, s.parse_int(body.amount), s.parse_hex(body.signature, 65)
        )

    @app.post("/leases/{lease_id}/stop", tags=["leases"])
    @app.post("/jobs/{lease_id}/stop", tags=["jobs"])
    def stop(lease_id: int, who: Caller) -> dict[str, Any]:
        """End the lease now and stop its job."""
        return service.leases.stop(who, lease_id)

    @app.get("/jobs/{lease_id}/logs", tags=["jobs"])
    def logs(lease_id: int, who: Caller, after: int = 0, follow: bool = False) -> Any:
        """The job's output after ``after``; with ``follow``, a stream of NDJSON lines
        that ends when the lease is over and every line has been sent."""
        chunks, done = service.leases.logs(who, lease_id, after)
        if not follow:
            return {"chunks": chunks, "done": done}
        return StreamingResponse(
            _follow(service, who, lease_id, after), media_type="application/x-ndjson"
        )

    # -- agent --------------------------------------------------------------------
    @app.get("/agent/leases", tags=["agent"])
    def agent_leases(who: Caller) -> list[dict[str, Any]]:
        """The caller's live leases as a provider, with jobs and newest vouchers."""
        return service.leases.agent_work(who)

    @app.post("/agent/leases/{lease_id}/events", tags=["agent"])
    def agent_event(lease_id: int, body: s.AgentEvent, who: Caller) -> dict[str, Any]:
        """Report a job event: accepted, started, start_failed, usage, exited, stopped."""
        return service.leases.agent_event(
            who,
            lease_id,
            body.kind,
            seconds=body.seconds,
            exit_code=body.exit_code,
            reason=body.reason,
        )

    @app.post("/agent/leases/{lease_id}/logs", tags=["agent"])
    def agent_logs(lease_id: int, body: s.LogChunks, who: Caller) -> dict[str, Any]:
        """Append output of a lease's job."""
        return {"seq": service.leases.agent_logs(who, lease_id, body.chunks)}

    return RateLimit(BodyLimit(app, max_body), rate=rate, burst=burst)


async def _sweeper(service: MarketService, every: float) -> None:
    while True:
        try:
            await run_in_threadpool(service.leases.sweep)
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


def _errors(app: FastAPI) -> None:
    @app.exception_handler(L2gpuError)
    async def on_l2gpu_error(_request: Request, exc: L2gpuError) -> JSONResponse:
        status = status_of(exc)
        return JSONResponse(body_of(exc, status), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()[:5]
        )
        body = {
            "error": f"invalid request: {problems}",
            "fix": "see the request schema at /docs",
            "status": 422,
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fix = "see the API at /docs" if exc.status_code == 404 else "check the request"
        body = {"error": str(exc.detail), "fix": fix, "status": exc.status_code}
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def on_bug(_request: Request, exc: Exception) -> JSONResponse:
        body = {
            "error": f"internal error: {type(exc).__name__}",
            "fix": "this is a bug in l2gpu; report it with the request",
            "status": 500,
        }
        return JSONResponse(body, status_code=500)
