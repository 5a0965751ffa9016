"""What every page of the console shares: its sessions, its clients of the market and
the rollup node, the templates, and the checks a state-changing request passes.

The pages' routers (:mod:`l2gpu.web.app`, :mod:`l2gpu.web.provider_pages`,
:mod:`l2gpu.web.rollup_pages`) get one :class:`Console` and ask it who is signed
in (:meth:`Console.signed_in` checks origin, session and CSRF token for every POST).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from l2gpu.client import MarketClient
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.node.client import NodeReader
from l2gpu.web.claiming import Claimer
from l2gpu.web.display import countdown, eth, local_time
from l2gpu.web.renting import DevWallet
from l2gpu.web.sessions import COOKIE, SessionStore, WebSession

HERE = Path(__file__).resolve().parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
TEMPLATES.env.filters["eth"] = eth
TEMPLATES.env.filters["countdown"] = countdown
ANONYMOUS = PrivateKey((1).to_bytes(32, "big"))  # signs in as nobody: reads only


class ConsoleError(L2gpuError):
    """A request the console refuses: the page says what and why."""

    def __init__(self, what: str, fix: str = "", status: int = 400) -> None:
        self.status = status
        super().__init__(what, fix)


@dataclass
class Console:
    """One console: where the market and the node are, and its sessions."""

    market_url: str
    store: SessionStore
    dev_wallet: DevWallet | None = None
    htmx: bool = False
    http: Any = None
    """An httpx client to reach the market with (tests: the API in process)."""
    node: NodeReader | None = None
    """The rollup node the rollup page reads (None: not configured)."""
    claimer: Claimer | None = None
    """Sends a withdrawal's claim to L1 for the development wallet (None: cannot)."""
    clock: Callable[[], int] = lambda: 0
    """Now, as the market counts it (a provider's days and hours end at it)."""
    tz: tzinfo | None = None
    """The time zone times are shown in (None: this machine's)."""

    def market(self, session: WebSession | None = None) -> MarketClient:
        """A client of the market, as ``session``'s user (None: anonymous, reads only)."""
        client = MarketClient(self.market_url, ANONYMOUS, http=self.http)
        if session is not None:
            client._token = session.token  # signed in through the market already
        return client

    def session(self, request: Request) -> WebSession | None:
        """The signed-in session of the request's cookie, if any."""
        return self.store.get(request.cookies.get(COOKIE))

    def when(self, timestamp: int | None) -> str:
        """A Unix time in the console's time zone ('' for none)."""
        return "" if timestamp is None else local_time(int(timestamp), self.tz)

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        """Render template ``name`` with what every page shows (who is signed in)."""
        context.update(session=self.session(request), dev_wallet=self.dev_wallet,
                       htmx=self.htmx, when=self.when)  # fmt: skip
        return TEMPLATES.TemplateResponse(request, name, context, status_code=status)

    def same_origin(self, request: Request) -> None:
        """Refuse a request that a page of another origin sent."""
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
            raise ConsoleError(f"a request from {origin} was refused",
                               "use the console's own pages", 403)  # fmt: skip

    def signed_in(self, request: Request, csrf: str | None) -> WebSession:
        """The session of a state-changing request: from this origin, signed in, with
        the session's CSRF token (a form field, or htmx's ``X-CSRF-Token`` header)."""
        self.same_origin(request)
        session = self.session(request)
        if session is None:
            raise ConsoleError("you are not signed in, or your session expired",
                               "sign in again: nothing was lost", 401)  # fmt: skip
        given = csrf or request.headers.get("x-csrf-token")
        if given is None or not secrets.compare_digest(given, session.csrf):
            raise ConsoleError("the request did not come from a console page",
                               "reload the page and try again", 403)  # fmt: skip
        return session
