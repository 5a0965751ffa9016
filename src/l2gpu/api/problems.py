"""The market API's words for its error statuses in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from l2gpu.serving.errors import responses

DESCRIPTIONS = {
    400: "Bad input that the schema cannot state: a filter, an offer's terms or "
    "signature, a lease's channel",
    401: "No bearer token, or an unknown or expired one (sign in: POST /auth/nonce, "
    "then POST /auth/login)",
    403: "Another account's offer, lease or job",
    404: "No such resource",
    409: "The resource's state forbids it: an offer already leased or published, a "
    "channel already paying for a lease",
    413: "The request body is larger than the API takes",
    422: "The request does not match its schema: the error names the field and what is expected",
    429: "Too many requests from this client (its account, else its address); see Retry-After",
    503: "The rail that shows the lease's channel (the rollup node, L1) does not answer now",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a market route that may answer ``statuses`` (and 429,
    which every route may answer)."""
    return responses(*statuses, 429, descriptions=DESCRIPTIONS)
