"""Serving an ASGI app on 127.0.0.1 from a thread: the demo's market API and rollup
node, and the benchmarks', talk to it over real HTTP as users do."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from l2gpu.core.errors import L2gpuError


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_on_loopback(app: Any, what: str, port: int | None = None) -> tuple[Any, str]:
    """Run ``app`` under uvicorn in a daemon thread (on ``port``, else a free one);
    return the server and its URL once it listens (``server.should_exit = True`` stops
    it)."""
    import uvicorn

    from l2gpu.serving.connections import uvicorn_options

    port = port or free_loopback_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", **uvicorn_options())
    )
    threading.Thread(target=server.run, name=what, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise L2gpuError(f"the {what} did not start", "check that loopback works")
        time.sleep(0.02)  # waiting for the server thread to listen
    return server, f"http://127.0.0.1:{port}"
