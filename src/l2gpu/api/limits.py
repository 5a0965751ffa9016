"""Per-client rate limits, as plain ASGI middleware.

Plain ASGI (not Starlette's BaseHTTPMiddleware) keeps the cost per request to a
few microseconds. Refusals are JSON bodies like every other error.

- Body size and JSON depth are :mod:`l2gpu.serving.guard`'s (shared by every server).
- Each client has a token bucket of ``burst`` requests refilled at ``rate`` per
  second; an empty bucket answers 429 with ``Retry-After``. A client is its
  signed-in account when the request's bearer token is valid (every token of one
  account draws from one bucket), else its IP address: a made-up token is no new
  client. Telling a valid token costs no query: ``account_of`` answers from the
  tokens the API has already checked or issued (a token it has not seen yet counts
  against its address until its first request has been answered).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[Any], *, prefix: str = ""
) -> None:
    """Send a complete JSON response (``prefix`` "websocket.": a websocket's handshake
    refused with it, through ASGI's denial response)."""
    data = json.dumps(body).encode()
    await send(
        {
            "type": prefix + "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": prefix + "http.response.body", "body": data})


class RateLimit:
    """A token bucket per client: its account when signed in, else its address."""

    def __init__(
        self,
        app: ASGIApp,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        account_of: Callable[[str], object | None] = lambda _token: None,
    ) -> None:
        self.app = app
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.account_of = account_of
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Attacked: websockets (l2gpu ssh's relay) passed unlimited, so one account could
        # open and close them as fast as it liked, each costing a signature check and a
        # database read. A websocket's opening request now takes a token like any other.
        if scope["type"] not in ("http", "websocket") or self.rate <= 0:
            await self.app(scope, receive, send)
            return
        wait = self.take(self.key(scope))
        if wait > 0:
            body = {
                "error": f"more than {self.rate:g} requests per second from this client",
                "fix": f"retry after {wait:.1f} s, or send fewer requests",
                "status": 429,
            }
            headers = [(b"retry-after", str(max(1, round(wait))).encode())]
            if scope["type"] == "http":
                await send_json(send, 429, body, headers)
            elif "websocket.http.response" in scope.get("extensions", {}):
                await send_json(send, 429, body, headers, prefix="websocket.")
            else:  # a server without denial responses: the handshake fails (403)
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)

    def take(self, key: str) -> float:
        """Take one token for ``key``; return 0, or the seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self.rate
            if len(self._buckets) > 100_000:
                self._buckets.clear()  # bounded memory under a flood of new clients
            self._buckets[key] = (tokens - 1, now)
            return 0.0

    def key(self, scope: Scope) -> str:
        """The bucket of a request: ``account:...`` for a valid bearer token, else
        ``ip:...`` (a proxy in front of the API would make every client one address)."""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    account = self.account_of(token.strip())
                    if account is not None:
                        return f"account:{account}"
                break
        client = scope.get("client")
        return "ip:" + (client[0] if client else "?")
