"""Files a lease's job wrote, fetched by its renter: asked of the provider's agent
through the market, signed with the renter's key, checked by digest, unpacked safely.

Used by ``l2gpu jobs download`` and by ``launch``, which fetches a running job's
``checkpoints/`` every so often so that a preempted attempt can resume elsewhere.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from l2gpu.archive import Unpacked, unpack
from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.wire import Download

DOWNLOAD_WAIT_S = 120.0


def fetch_files(
    client: MarketClient,
    lease_id: int,
    path: str,
    dest: Path,
    *,
    issued_at: int,
    wait_s: float = DOWNLOAD_WAIT_S,
    swap: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Unpacked:
    """Ask the provider's agent for ``path`` of the lease's folder and unpack it into
    ``dest`` (files there with the same names are replaced). With ``swap``, ``dest`` is
    replaced whole, and only once the new files are all there (a failed download
    leaves the earlier copy as it was). Waits up to ``wait_s`` for the agent."""
    asked = client.ask_download(lease_id, path, issued_at=issued_at)
    ready = wait_ready(client, asked, wait_s=wait_s, sleep=sleep, monotonic=monotonic)
    data = client.download_data(ready)
    if not swap:
        return unpack(data, dest, replace=True)
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    done = unpack(data, partial)
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return done


def wait_ready(
    client: MarketClient,
    asked: Download,
    *,
    wait_s: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Download:
    """The download once the agent answered it (ready); an error saying why when it
    failed, or when the agent did not answer within ``wait_s``."""
    deadline = monotonic() + wait_s
    while True:
        if asked.status == "ready":
            return asked
        if asked.status == "failed":
            raise L2gpuError(
                f"the provider could not send {asked.path or 'the folder'!r} of lease "
                f"{asked.lease_id}: {asked.error}",
                "check the path ('' for the whole folder) and that the lease's folder is "
                "still kept",
            )
        if monotonic() >= deadline:
            raise L2gpuError(
                f"the provider's agent did not send {asked.path or 'the folder'!r} of lease "
                f"{asked.lease_id} within {wait_s:.0f} s (download {asked.id} is {asked.status})",
                "its agent may be offline; try again later (the request stays open 10 minutes)",
            )
        sleep(0.5)  # waiting for another machine: the provider's agent
        asked = client.download(asked.lease_id, asked.id)
