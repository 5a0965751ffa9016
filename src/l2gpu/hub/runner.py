"""Running a hub: its API, a co-signing loop per shard and the loop that claims what
renters owe. ``l2gpu hub`` runs it in the foreground; the demo, the benchmark and
the tests run it on loopback."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.hub.route_state import VOUCHERS_PER_S
from l2gpu.hub.service import DEFAULT_FEE_PPM, Hub

log = logging.getLogger(__name__)
TEND_EVERY_S = 1.0
RETRY_S = 1.0


@dataclass
class RunningHub:
    """A hub and its threads; ``url`` where its API answers (None: not served)."""

    hub: Hub
    url: str | None = None
    server: Any = None
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def close(self) -> None:
        """Stop serving, co-signing and claiming (what it took is on disk)."""
        self.stop.set()
        if self.server is not None:
            self.server.should_exit = True
            port = int(str(self.url).rsplit(":", 1)[1])
            deadline = time.monotonic() + 10
            while _listening(port) and time.monotonic() < deadline:
                time.sleep(0.02)  # uvicorn closes its socket on its own thread
        self.hub.stop()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _cosign_loop(hub: Hub, shard: int, stop: threading.Event) -> None:
    """Answer the shard's co-signature requests for the hub's account until stopped."""
    client = type(hub.clients[shard])(hub.clients[shard].api_url, hub.key)
    while not stop.is_set():
        try:
            client.cosign_until(stop.is_set, allowed=[], also=hub.agrees(shard), wait=3600)
        except L2gpuError as exc:  # the node is down or restarting: ask again
            log.warning("hub co-signing on shard %s: %s", shard, exc.what)
            stop.wait(RETRY_S)


def _tend_loop(hub: Hub, stop: threading.Event) -> None:
    while not stop.wait(TEND_EVERY_S):
        try:
            hub.tend()
        except L2gpuError as exc:
            log.warning("hub: %s", exc.what)


def start_hub(key: PrivateKey, shard_urls: list[str], data_dir: Path, *,
              fee_ppm: int = DEFAULT_FEE_PPM, serve: bool = True, port: int | None = None,
              wait: float = 60.0,
              vouchers_per_s: float | None = VOUCHERS_PER_S) -> RunningHub:  # fmt: skip
    """Start a hub over the shards at ``shard_urls`` (its key must have an account on
    each), served on loopback when ``serve``; ``vouchers_per_s`` bounds each route's
    vouchers (None: unbounded)."""
    hub = Hub(key, shard_urls, data_dir, fee_ppm=fee_ppm, wait=wait,
              vouchers_per_s=vouchers_per_s)  # fmt: skip
    running = RunningHub(hub)
    stop = running.stop
    for shard in range(len(shard_urls)):
        loop = threading.Thread(target=_cosign_loop, args=(hub, shard, stop),
                                name=f"hub-cosign-{shard}", daemon=True)  # fmt: skip
        running.threads.append(loop)
    tend = threading.Thread(target=_tend_loop, args=(hub, stop), name="hub-tend", daemon=True)
    running.threads.append(tend)
    for thread in running.threads:
        thread.start()
    if serve:
        from l2gpu.hub.app import create_app
        from l2gpu.serving.loopback import serve_on_loopback

        running.server, running.url = serve_on_loopback(create_app(hub), "hub API", port)
    return running
