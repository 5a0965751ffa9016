"""The console's pages and the few actions behind them.

Pages: offers (the filter language in a search box, the market's own error text
when a filter is wrong, a table sortable by column), sign-in (an injected wallet
such as MetaMask signs the market's EIP-4361 message; or the development wallet),
renting an offer, and a running lease (seconds, spend and voucher status ticking
every second, its output, a stop button). The provider's page and the rollup's
page have routers of their own (:mod:`l2gpu.web.provider_pages`,
:mod:`l2gpu.web.rollup_pages`), included here.

Safety, each a test (tests/web): every text from the market (offers, job output)
goes through Jinja2's autoescaping; every state-changing request is a POST that
must come from the console's own origin (``Origin``) and, once signed in, carry
the session's CSRF token; the session cookie is HttpOnly and SameSite=Strict; an
expired or unknown session is asked to sign in again, losing nothing (the lease
runs on, paid by its thread); a market that goes away is named on the page.
"""

# No "from __future__ import annotations": FastAPI reads the route annotations.

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from l2gpu.client import ApiRequestError, MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.signin import parse_message
from l2gpu.core.types import Address, Wei, format_wei
from l2gpu.node.client import NodeReader
from l2gpu.serving.guard import RequestGuard, restore_recursion_limit
from l2gpu.web.analytics_pages import AnalyticsCache, analytics_router
from l2gpu.web.claiming import Claimer
from l2gpu.web.context import HERE, Console, ConsoleError
from l2gpu.web.provider_pages import provider_router
from l2gpu.web.renting import DevWallet
from l2gpu.web.rollup_pages import rollup_router
from l2gpu.web.security_headers import SecurityHeaders
from l2gpu.web.sessions import COOKIE, SessionStore, WebSession

SORTS = {"price": "price", "-price": "-price", "reliability": "-reliability",
         "gpus": "-num_gpus", "gpu_ram": "-gpu_ram"}  # fmt: skip
MAX_FILTER = 500
LOG_TAIL = 200  # lines of a job's output on its page
MAX_LINE = 500  # characters of one line shown (a job printing without newlines)
LOG_PAGES = 20  # market pages of output read per refresh, catching up
TAILS = 256  # leases whose output tail the console keeps
MAX_BODY = 64 * 1024  # the console's forms and sign-in bodies are far smaller
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_PRICE_GWEI = 10**12


@dataclass
class Tail:
    """The last lines of a lease's output, and the market's seq read up to."""

    after: int = 0
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_TAIL))
    partial: str = ""

    def add(self, text: str) -> None:
        """Take more output; keep the last lines, each cut to MAX_LINE characters."""
        pieces = (self.partial + text).split("\n")
        self.partial = pieces.pop()[-MAX_LINE:]
        self.lines.extend(line[:MAX_LINE] for line in pieces[-LOG_TAIL:])

    def shown(self) -> list[str]:
        """The lines to show, the unfinished one last."""
        return [*self.lines, self.partial] if self.partial else list(self.lines)


def create_console(
    market_url: str,
    *,
    dev_wallet: DevWallet | None = None,
    htmx: Path | None = None,
    sessions: SessionStore | None = None,
    http: Any = None,
    hosts: tuple[str, ...] = LOOPBACK,
    analytics: AnalyticsCache | None = None,
    node: NodeReader | None = None,
    claimer: Claimer | None = None,
    clock: Callable[[], int] = lambda: int(time.time()),
    tz: tzinfo | None = None,
) -> Any:
    """The console over the market at ``market_url`` (``http``: an httpx client to
    reach it, for tests); ``htmx``: the htmx.min.js to serve (None: pages work as
    plain forms and links); ``hosts``: the names it answers to (a request for any
    other, as from a DNS-rebound page, is refused; ``("*",)``: any); ``analytics``: the
    analytics page's content, computed once (tests pass a smaller one); ``node``: the
    rollup node the rollup page reads (None: that page says none is configured);
    ``claimer``: what claims a withdrawal on L1 for the development wallet;
    ``clock`` and ``tz``: now as the market counts it, and the zone times show in."""
    restore_recursion_limit()  # py_ecc raises it to 100,000: see serving.guard
    app = FastAPI(title="l2gpu console", docs_url=None, redoc_url=None, openapi_url=None)
    store = sessions or SessionStore()
    console = Console(market_url, store, dev_wallet, htmx is not None, http, node, claimer,
                      clock, tz)  # fmt: skip
    market, page, same_origin, signed_in = (console.market, console.page,
                                            console.same_origin, console.signed_in)  # fmt: skip
    tails: OrderedDict[int, Tail] = OrderedDict()

    @app.exception_handler(ConsoleError)
    async def refused(request: Request, exc: ConsoleError) -> Response:
        return page(request, "error.html", exc.status, error=exc)

    app.include_router(provider_router(console))
    app.include_router(rollup_router(console))

    # -- offers -------------------------------------------------------------------

    def offers_context(q: str, sort: str) -> dict[str, Any]:
        if len(q) > MAX_FILTER:
            return {"q": q[:MAX_FILTER], "sort": sort, "offers": [],
                    "problem": f"the filter is longer than {MAX_FILTER} characters"}  # fmt: skip
        try:
            found = market().search(q, sort=SORTS.get(sort, ""), limit=100)
        except L2gpuError as exc:
            return {"q": q, "sort": sort, "offers": [], "problem": str(exc)}
        return {"q": q, "sort": sort, "offers": found.offers, "problem": None}

    @app.get("/", response_class=HTMLResponse)
    def offers(request: Request, q: str = "", sort: str = "price") -> Response:
        """The offers, filtered with the market's filter language."""
        return page(request, "offers.html", **offers_context(q, sort))

    @app.get("/offers/table", response_class=HTMLResponse)
    def offers_table(request: Request, q: str = "", sort: str = "price") -> Response:
        """The offers table alone (htmx swaps it in as the filter is typed)."""
        return page(request, "offers_table.html", **offers_context(q, sort))

    # -- sign-in ------------------------------------------------------------------

    @app.get("/signin", response_class=HTMLResponse)
    def signin_page(request: Request) -> Response:
        """Sign in with a browser wallet, or the development wallet."""
        return page(request, "signin.html")

    @app.post("/signin/nonce")
    def signin_nonce(request: Request, body: dict[str, str]) -> JSONResponse:
        """The market's EIP-4361 message for ``address`` to sign."""
        same_origin(request)
        try:
            message = market().sign_in_message(Address.from_hex(str(body.get("address", ""))))
        except (ValueError, L2gpuError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"message": message})

    @app.post("/signin")
    def signin(request: Request, body: dict[str, str]) -> JSONResponse:
        """Trade a signed message for a session (the browser wallet's way)."""
        same_origin(request)
        message = str(body.get("message", ""))
        try:
            token = market().sign_in(message, str(body.get("signature", "")))
            address = parse_message(message).address
        except L2gpuError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        session = store.create(address, token, dev=False)
        response = JSONResponse({"address": address.checksum})
        _set_cookie(request, response, session)
        return response

    @app.post("/signin/dev")
    def signin_dev(request: Request) -> Response:
        """Sign in as the development wallet (only where the console was given one)."""
        same_origin(request)
        if dev_wallet is None:
            raise ConsoleError("this console has no development wallet",
                               "sign in with your browser wallet", 404)  # fmt: skip
        client = MarketClient(market_url, dev_wallet.client.key, http=http)
        try:
            token = client.login()
        except L2gpuError as exc:
            raise ConsoleError(exc.what, exc.fix, 502) from exc
        session = store.create(client.key.address, token, dev=True)
        response = RedirectResponse("/", status_code=303)
        _set_cookie(request, response, session)
        return response

    @app.post("/signout")
    def signout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
        """Forget the session."""
        session = signed_in(request, csrf)
        store.drop(session.sid)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # -- renting and a lease ------------------------------------------------------

    @app.get("/rent/{offer_id}", response_class=HTMLResponse)
    def rent_page(request: Request, offer_id: int) -> Response:
        """The form to rent an offer."""
        return page(request, "rent.html", offer=offer_or_refuse(offer_id), problem=None)

    def offer_or_refuse(offer_id: int) -> Any:
        try:
            return market().offer(offer_id)
        except ApiRequestError as exc:
            raise ConsoleError(exc.what, exc.fix, exc.status) from exc
        except L2gpuError as exc:
            raise ConsoleError(exc.what, exc.fix, 502) from exc

    @app.post("/rent/{offer_id}")
    def rent(
        request: Request,
        offer_id: int,
        command: Annotated[str, Form(max_length=4000)],
        hours: Annotated[float, Form(gt=0, le=720)],
        max_price_gwei: Annotated[float | None, Form(ge=0, le=MAX_PRICE_GWEI)] = None,
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Rent with the development wallet; then watch the lease."""
        session = signed_in(request, csrf)
        if not session.dev or dev_wallet is None:
            raise ConsoleError("renting from the console needs the development wallet",
                               "a browser wallet cannot sign a voucher every second: rent "
                               "with 'l2gpu rent', or sign in with the development wallet",
                               403)  # fmt: skip
        cap = None if max_price_gwei is None else Wei(round(max_price_gwei * 10**9))
        try:
            lease_id = dev_wallet.rent(str(offer_id), command=command, hours=hours, max_price=cap)
        except L2gpuError as exc:
            return page(request, "rent.html", 400, offer=offer_or_refuse(offer_id), problem=exc)
        return RedirectResponse(f"/leases/{lease_id}", status_code=303)

    def lease_context(session: WebSession, lease_id: int) -> dict[str, Any]:
        client = market(session)
        try:
            lease = client.lease(lease_id)  # the market checks it is this user's first
            output = read_tail(client, lease_id)
        except ApiRequestError as exc:
            if exc.status < 500:
                raise ConsoleError(exc.what, exc.fix, exc.status) from exc
            return {"lease": None, "problem": exc, "lease_id": lease_id}
        except L2gpuError as exc:  # the market is away: the page says so, and retries
            return {"lease": None, "problem": exc, "lease_id": lease_id}
        signed = dev_wallet.paid(lease_id) if dev_wallet and session.dev else None
        return {"lease": lease, "lease_id": lease_id, "problem": None, "output": output,
                "spent": format_wei(Wei(int(lease.voucher.amount))),
                "due": format_wei(Wei(int(lease.amount_due))),
                "deposit": format_wei(Wei(int(lease.channel.deposit))),
                "signed": None if signed is None else format_wei(signed)}  # fmt: skip

    def read_tail(client: MarketClient, lease_id: int) -> list[str]:
        """The output's last lines: only what is new since the last refresh is read."""
        tail = tails.pop(lease_id, None) or Tail()
        tails[lease_id] = tail
        while len(tails) > TAILS:
            tails.popitem(last=False)
        for _ in range(LOG_PAGES):
            chunks = client.logs(lease_id, tail.after).chunks
            if not chunks:
                break
            for chunk in chunks:
                tail.add(chunk.text)
                tail.after = chunk.seq
        return tail.shown()

    @app.get("/leases/{lease_id}", response_class=HTMLResponse)
    def lease_page(request: Request, lease_id: int) -> Response:
        """A lease: its seconds, spend, vouchers and output, live."""
        session = store.get(request.cookies.get(COOKIE))
        if session is None:
            return RedirectResponse(f"/signin?next=/leases/{lease_id}", status_code=303)
        return page(request, "lease.html", **lease_context(session, lease_id))

    @app.get("/leases/{lease_id}/live", response_class=HTMLResponse)
    def lease_live(request: Request, lease_id: int) -> Response:
        """The live part of a lease's page (htmx fetches it every second)."""
        session = store.get(request.cookies.get(COOKIE))
        if session is None:
            return page(request, "expired.html", 401)
        return page(request, "lease_live.html", **lease_context(session, lease_id))

    @app.post("/leases/{lease_id}/stop")
    def stop(request: Request, lease_id: int,
             csrf: Annotated[str | None, Form()] = None) -> Response:  # fmt: skip
        """Stop a lease (the renter's own only: the market checks)."""
        session = signed_in(request, csrf)
        try:
            market(session).stop(lease_id)
        except L2gpuError as exc:
            raise ConsoleError(exc.what, exc.fix) from exc
        return RedirectResponse(f"/leases/{lease_id}", status_code=303)

    app.include_router(analytics_router(page, analytics or AnalyticsCache()))

    # -- assets -------------------------------------------------------------------

    @app.get("/static/console.js")
    def console_js() -> FileResponse:
        return FileResponse(HERE / "static" / "console.js", media_type="text/javascript")

    @app.get("/static/console.css")
    def console_css() -> FileResponse:
        return FileResponse(HERE / "static" / "console.css", media_type="text/css")

    @app.get("/static/htmx.min.js")
    def htmx_js() -> Response:
        if htmx is None:
            return Response("htmx is not installed: run 'make tools'", status_code=404)
        return FileResponse(htmx, media_type="text/javascript")

    trusted = TrustedHostMiddleware(app, allowed_hosts=list(hosts))
    # the guard bounds size and JSON depth while reading; the headers go outermost,
    # so that the guard's and the host check's refusals carry them too
    return SecurityHeaders(RequestGuard(trusted, max_body=MAX_BODY))


def _set_cookie(request: Request, response: Response, session: WebSession) -> None:
    response.set_cookie(COOKIE, session.sid, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")  # fmt: skip
