"""Offering a signed move to a liquidity provider (``l2gpu bridge move --lp URL``)."""

from __future__ import annotations

import httpx

from l2gpu.core.errors import L2gpuError


def offer_to_lp(url: str, document: dict[str, object]) -> dict[str, object]:
    """POST a signed move to the provider at ``url``; its answer, or a clear error."""
    try:
        answer = httpx.post(url.rstrip("/") + "/lp/moves", json=document, timeout=30)
    except httpx.HTTPError as exc:
        raise L2gpuError(f"the liquidity provider at {url} did not answer: {exc}",
                         "check --lp, or relay the move yourself later") from None  # fmt: skip
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if answer.status_code != 200 or "message" not in body:
        error = body.get("error")
        raise L2gpuError(f"the liquidity provider refused the move: {error or answer.status_code}",
                         str(body.get("fix") or "the signed move is kept: relay it later "
                             "('l2gpu bridge relay')"))  # fmt: skip
    return body
