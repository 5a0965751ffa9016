"""The console's security headers, on every response it sends.

- ``Content-Security-Policy``: scripts only from the console itself (``console.js``
  and the vendored htmx: no page carries an inline script or an event-handler
  attribute, so an injected one never runs even if escaping were missed somewhere);
  styles from itself plus inline ones, which the pages' bar widths
  (``style="width: …%"``) and htmx's indicator style need and which cannot run
  code; images from itself and ``data:``; requests (``fetch``, htmx) to its own
  origin only; no plugins; no ``<base>`` rewriting; forms post only to itself; and
  no framing, so a page of another site cannot overlay a Rent or Claim button
  (clickjacking).
- ``X-Content-Type-Options: nosniff``: a response is read only as the type it names.
- ``Referrer-Policy: same-origin``: a lease's address never leaves in a Referer.

The browser wallet is not affected: its provider object is injected by the wallet
extension, outside the page's policy, and the page reaches it without a request.

A pure ASGI wrapper rather than Starlette's ``BaseHTTPMiddleware``, which buffers
each response body in a task of its own: the console's live fragments stay streamed.
"""

from __future__ import annotations

from typing import Any

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The console's Content-Security-Policy (see the module's docstring for each part)."""

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers older than CSP 2
)


class SecurityHeaders:
    """ASGI middleware: :data:`HEADERS` on every HTTP response of ``app``, replacing
    any of the same name the app set."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass the request to the app; add the headers as its response starts."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
