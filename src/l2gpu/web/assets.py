"""Where the console's third-party script comes from: htmx, installed from the npm
registry by ``make tools`` (pinned in the Makefile), served by the console itself.
Nothing is fetched from a CDN at run time; without htmx the pages work as plain
forms and links."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HTMX = REPO / ".tools" / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"


def htmx_path() -> Path | None:
    """htmx.min.js (``L2GPU_HTMX`` overrides where), or None where it is not installed."""
    given = os.environ.get("L2GPU_HTMX")
    path = Path(given) if given else HTMX
    return path if path.is_file() else None
