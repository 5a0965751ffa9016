"""Errors of the API shell, each mapped to one HTTP status.

    L2gpuError                 400 (bad input: a filter, an offer, a lease's terms)
    ├── Unauthorized           401 (no token, or an expired or unknown one)
    ├── Forbidden              403 (another user's job, offer or lease)
    ├── NotFound               404
    ├── Conflict               409 (the state does not allow it: offer already leased)
    ├── TooLarge               413
    └── RateLimited            429

Every response body is ``{"error": what, "fix": what to do, "status": code}``.
"""

from __future__ import annotations

from l2gpu.core.errors import L2gpuError


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


def status_of(error: L2gpuError) -> int:
    """The HTTP status for an error."""
    return error.status if isinstance(error, ApiError) else 400


def body_of(error: L2gpuError, status: int) -> dict[str, object]:
    """The JSON body for an error."""
    return {"error": error.what, "fix": error.fix, "status": status}
