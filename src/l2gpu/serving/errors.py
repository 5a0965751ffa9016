"""One error shape for every l2gpu HTTP server (the market API, the rollup node), and
the errors that carry their HTTP status.

    L2gpuError                 400 (bad input: a filter, an offer, a lease's terms)
    ├── Unauthorized           401 (no token, or an expired or unknown one)
    ├── Forbidden              403 (another user's job, offer or lease)
    ├── NotFound               404
    ├── Conflict               409 (the state does not allow it: offer already leased)
    ├── TooLarge               413
    ├── RateLimited            429
    └── Unavailable            503 (a rail the answer needs does not answer)

Every response body is :class:`ErrorOut`, ``{"error": what, "fix": what to do,
"status": code}``; :func:`responses` states in the OpenAPI document which of these a
route answers, and :mod:`l2gpu.serving.problems` answers them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from l2gpu.core.errors import L2gpuError

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
HEX_PATTERN = r"^(0x)?[0-9a-fA-F]*$"
PATTERN_WORDS = {
    ADDRESS_PATTERN: "0x followed by 40 hex digits",
    HASH_PATTERN: "0x followed by 64 hex digits",
    HEX_PATTERN: "hex digits, 0x first",
}
"""How an error names what a pattern asks for (a regex is not an answer for users)."""


class ApiError(L2gpuError):
    """An error with an HTTP status."""

    status = 400


class Unauthorized(ApiError):
    """The request carries no valid token."""

    status = 401


class Forbidden(ApiError):
    """The caller may not act on this resource."""

    status = 403


class NotFound(ApiError):
    """No such resource."""

    status = 404


class Conflict(ApiError):
    """The resource's state does not allow the request."""

    status = 409


class TooLarge(ApiError):
    """The request body is too large."""

    status = 413


class RateLimited(ApiError):
    """Too many requests from one client."""

    status = 429


class Unavailable(ApiError):
    """Something the answer depends on cannot be reached now (a rail, L1)."""

    status = 503


def status_of(error: L2gpuError) -> int:
    """The HTTP status for an error: an :class:`ApiError`'s, or any l2gpu error's own
    ``status`` (the node's "benched, retry after" is 429), else 400."""
    status = getattr(error, "status", 400)
    return status if isinstance(status, int) and 400 <= status < 600 else 400


def body_of(error: L2gpuError, status: int) -> dict[str, object]:
    """The JSON body for an error."""
    return {"error": error.what, "fix": error.fix, "status": status}


class ErrorOut(BaseModel):
    """What every error answer holds: what was wrong, what to do, the HTTP status."""

    error: str = Field(description="What was wrong")
    fix: str = Field(description="What to do about it")
    status: int = Field(description="The HTTP status, repeated")


DESCRIPTIONS = {
    400: "bad input: the body says what was wrong and what to do",
    401: "no valid token",
    403: "not the caller's resource",
    404: "no such resource",
    409: "the resource's state does not allow this",
    413: "the request body is too large",
    422: "the request does not match its schema: the error names the field and what is expected",
    429: "too many requests, or the caller must wait (see Retry-After)",
    503: "the service cannot answer now",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the client may send again",
        "schema": {"type": "integer", "minimum": 1},
    }
}
# What every route can answer besides its own: the guards and validation.
COMMON = (400, 413, 422, 429)


def responses(
    *statuses: int, descriptions: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route that can answer ``statuses`` (429 with its
    Retry-After header); ``descriptions`` overrides the generic words per status."""
    words = {**DESCRIPTIONS, **(descriptions or {})}
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        entry: dict[str, Any] = {"model": ErrorOut, "description": words[status]}
        if status == 429:
            entry["headers"] = RETRY_AFTER
        out[status] = entry
    return out
