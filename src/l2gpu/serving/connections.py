"""Bounds on what one client can hold open: connections per address, connections in
all, and how long a request may take to arrive.

uvicorn reads a request's head and body for as long as the client cares to send it,
and keeps any number of connections: one client holding thousands of half-sent
requests (slowloris) used up the node's file descriptors and no one else got an
answer (an attack on running processes found it). No ASGI middleware can help, since
the app sees a request only once its head has arrived; so the bound lives in the
HTTP protocol, a small subclass of uvicorn's httptools protocol:

* a connection must bring a whole request (head and body) within ``REQUEST_S`` of
  its first byte, and its first byte within ``REQUEST_S`` of connecting; else it is
  closed (408 when a request had begun);
* at most ``PER_CLIENT`` connections per client address and ``TOTAL`` in all: past
  them a new connection is answered 429 or 503 and closed at once.

A long-poll is not affected: its request (a GET) arrives at once, and the wait is
the app's. Between requests the keep-alive timeout applies (:data:`KEEP_ALIVE_S`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REQUEST_S = 10.0
PER_CLIENT = 1024  # loopback clients (tests, benchmarks, a local agent) share one address
WS_MAX_BYTES = 64 * 1024
WS_MAX_QUEUE = 4
"""Messages a websocket reads ahead of the app: with the size, 256 KiB per direction."""
TOTAL = 4096  # well below the descriptors a server process has (l2gpu up: 20,000)


def _answer(status: int, reason: str, error: str, fix: str) -> bytes:
    body = json.dumps({"error": error, "fix": fix, "status": status}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")  # fmt: skip
    return head.encode() + body


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds of this module."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the connection; refuse it past the bounds; start its first deadline."""
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        host = self.client[0] if self.client else None
        if len(self.connections) > TOTAL:
            self._refuse(_answer(503, "Service Unavailable", "the server holds too many "
                                 "connections", "retry in a few seconds"))  # fmt: skip
            return
        mine = sum(
            1 for c in self.connections if (getattr(c, "client", None) or (None,))[0] == host
        )
        if host is not None and mine > PER_CLIENT:
            self._refuse(
                _answer(
                    429,
                    "Too Many Requests",
                    f"more than {PER_CLIENT} connections from one address",
                    "reuse connections (keep-alive) instead of opening more",
                )
            )
            return
        self._arm()

    def on_message_begin(self) -> None:
        """A request starts: it has :data:`REQUEST_S` to arrive whole."""
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        """The request arrived whole: no deadline while the app answers it."""
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        """A websocket (``l2gpu ssh``) takes the connection over: its request arrived
        whole, and the session's own bounds (message size, idle time) apply from now."""
        self._disarm()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection's deadline."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(REQUEST_S, self._too_slow)

    def _disarm(self) -> None:
        deadline = getattr(self, "_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        begun = self.cycle is not None and not self.cycle.response_complete
        if begun and self.cycle.response_started:
            self.transport.close()  # the app is answering: never cut a response short
            return
        self._refuse(_answer(408, "Request Timeout",
                             f"the request did not arrive within {REQUEST_S:g} s",
                             "send the whole request at once"))  # fmt: skip

    def _refuse(self, answer: bytes) -> None:
        self.transport.write(answer)
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """What every l2gpu server passes to uvicorn: the bounded protocol and keep-alive."""
    from l2gpu.serving import KEEP_ALIVE_S

    return {
        "http": BoundedHttpProtocol,
        "timeout_keep_alive": KEEP_ALIVE_S,
        # the only websockets are l2gpu ssh's, whose messages are at most 32 KiB: a peer
        # cannot make the server hold uvicorn's default 16 MiB per message
        "ws_max_size": WS_MAX_BYTES,
        "ws_max_queue": WS_MAX_QUEUE,
    }


def require_free_port(host: str, port: int, what: str, setting: str) -> None:
    """Refuse to start ``what`` on a port another process listens on, naming the mistake
    (a second server on a busy port), before any work is done (a node would otherwise
    deploy or send L1 transactions first and fail later on a confusing error)."""
    import socket

    from l2gpu.core.errors import L2gpuError

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise L2gpuError(
                f"port {port} on {host} is in use ({exc.strerror}): another {what} or another "
                "program listens there",
                f"stop it, or choose another port with {setting}",
            ) from exc


def serve_in_foreground(app: Any, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn in this thread until SIGTERM or Ctrl-C (a server
    command's last step; the caller stops its own threads after it returns)."""
    import signal
    import threading

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", **uvicorn_options())
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    server.run()
