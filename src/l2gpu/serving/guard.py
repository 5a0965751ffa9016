"""Request guards for every l2gpu HTTP server: body size and JSON depth, checked while reading.

Plain ASGI middleware, in front of FastAPI, so that no route, parser or validator
ever sees a body that is too large or too deeply nested:

- The body is read from the ASGI stream, chunked or not, and the read stops at
  ``max_body`` bytes: a declared ``Content-Length`` above the limit is refused
  before reading, and a stream that grows past it is refused at that point.
- A body whose JSON nests deeper than ``max_depth`` arrays and objects is refused
  before any parser runs. Python's JSON parser recurses in C once per level; a
  library that raises the recursion limit (py_ecc sets 100,000) lets a few hundred
  kilobytes of ``[`` overflow the C stack and kill the process. The scan counts
  brackets outside strings and costs nothing for bodies with few brackets.

Refusals are JSON bodies ``{"error", "fix", "status"}`` like every other error.
:func:`restore_recursion_limit` undoes a library's raised limit at server start.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_DEPTH = 32
# CPython's default: deep enough for every library we use, shallow enough that the
# C stack of a worker thread (8 MiB) holds it.
SAFE_RECURSION_LIMIT = 1000
# One pattern that cannot backtrack each: an escape, and a string without escapes.
# (A single pattern for strings with escapes inside took quadratic time on an
# unterminated string full of escaped quotes: 11 s for 64 kB.)
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def restore_recursion_limit(limit: int = SAFE_RECURSION_LIMIT) -> None:
    """Lower Python's recursion limit back to ``limit`` if a library raised it."""
    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)


def json_depth_exceeds(body: bytes, max_depth: int) -> bool:
    """True if ``body`` opens more than ``max_depth`` nested arrays or objects.

    Counts ``[`` and ``{`` outside JSON strings (a backslash escapes the next
    character inside a string). Bytes that are not JSON are scanned at least as far
    as a parser would read them; the parser refuses them later with its own message.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False  # cannot nest deeper than the brackets it has
    encoding = json.detect_encoding(body)
    if encoding != "utf-8":
        # The parser reads UTF-16 and UTF-32 too (json.loads on bytes), where a
        # quote's or a backslash's byte can stand inside another character: scan
        # the text it would read, in UTF-8.
        try:
            body = body.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
        except UnicodeError:
            return False  # the parser cannot decode it either: it refuses it
    # Strings go in two passes of the regex engine (in C, each linear in the body):
    # a scan token by token in Python took 3% of a loaded node's interpreter time on
    # 64-transfer batches. First every escape (a backslash and the byte after it),
    # then every string, which can then hold no quote. A backslash outside a string
    # is a syntax error where the parser stops, so what it does to the rest of the
    # scan cannot hide a bracket that the parser would reach.
    outside = _STRING.sub(b"", _ESCAPE.sub(b"", body))
    quote = outside.find(b'"')
    if quote >= 0:
        outside = outside[:quote]  # an unterminated string: the parser refuses it
    depth = 0
    for token in _BRACKET.findall(outside):
        if token in b"[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth = max(0, depth - 1)
    return False


def error_body(status: int, error: str, fix: str) -> bytes:
    """The JSON error body every l2gpu server answers with."""
    return json.dumps({"error": error, "fix": fix, "status": status}).encode()


async def send_error(send: Send, status: int, error: str, fix: str, headers: Any = ()) -> None:
    """Send a complete JSON error response."""
    data = error_body(status, error, fix)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class RequestGuard:
    """Read each request body whole, at most ``max_body`` bytes, refuse JSON nested
    deeper than ``max_depth``, then hand the body to ``app`` as one message."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_depth: int = DEFAULT_MAX_DEPTH):
        self.app = app
        self.max_body = max_body
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_depth_exceeds(body, self.max_depth):
            await send_error(
                send, 400, f"the JSON body nests deeper than {self.max_depth} levels",
                "send a flatter document",
            )  # fmt: skip
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await send_error(
            send, 413, f"the request body exceeds {self.max_body} bytes",
            f"send at most {self.max_body} bytes per request",
        )  # fmt: skip


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
