"""One error shape for every l2gpu HTTP server: ``{"error", "fix", "status"}``.

:func:`install_error_handlers` maps l2gpu errors to their status, request
validation failures to 422 with the field named in words (never pydantic's raw
text), Starlette's own errors (404, 405 with its ``Allow`` header) to the same
shape, and anything unexpected to a 500 that says it is a bug, without a
traceback. :data:`ERROR_RESPONSES` documents these in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

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


class ErrorOut(BaseModel):
    """Every error body: what was wrong, what to do, and the HTTP status."""

    error: str
    fix: str
    status: int


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route that can answer ``statuses``."""
    described = {
        400: "bad input: the body says what was wrong and what to do",
        401: "no valid token",
        403: "not the caller's resource",
        404: "no such resource",
        409: "the resource's state does not allow this",
        413: "the request body is too large",
        422: "the request does not match its schema",
        429: "too many requests, or the caller must wait (see Retry-After)",
        503: "the service cannot answer now",
    }
    return {s: {"model": ErrorOut, "description": described[s]} for s in statuses}


# What every route can answer besides its own: the guards and validation.
COMMON = (400, 413, 422, 429)


def install_error_handlers(app: FastAPI, status_of: Any = None) -> None:
    """Answer every error on ``app`` as ``{"error", "fix", "status"}``.

    ``status_of(error)`` maps an :class:`L2gpuError` to its status (default: the
    error's ``status`` attribute, else 400).
    """

    @app.exception_handler(L2gpuError)
    async def on_l2gpu_error(_request: Request, exc: L2gpuError) -> JSONResponse:
        status = status_of(exc) if status_of else int(getattr(exc, "status", 400))
        headers = {}
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(int(retry_after))
        body = {"error": exc.what, "fix": exc.fix, "status": status}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(describe_validation_error(e) for e in exc.errors()[:5])
        body = {"error": f"invalid request: {problems}",
                "fix": "see the request schema at /docs", "status": 422}  # fmt: skip
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fixes = {404: "see the API at /docs",
                 405: f"use one of: {(exc.headers or {}).get('Allow', 'see /docs')}"}  # fmt: skip
        body = {"error": str(exc.detail), "fix": fixes.get(exc.status_code, "check the request"),
                "status": exc.status_code}  # fmt: skip
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_bug(_request: Request, exc: Exception) -> JSONResponse:
        body = {
            "error": f"internal error: {type(exc).__name__}",
            "fix": "this is a bug in l2gpu; report it with the request",
            "status": 500,
        }
        return JSONResponse(body, status_code=500)  # fmt: skip


def describe_validation_error(error: Any) -> str:
    """One validation problem in words: which field, and what it must be."""
    location = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
    where = {"path": "in the URL path", "query": "in the query"}.get(location[0], "") \
        if location else ""  # fmt: skip
    field = ".".join(p for p in location if p not in ("path", "query", "header")) or "the body"
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    expected = {
        "int_parsing": "a whole number",
        "int_type": "a whole number",
        "float_parsing": "a number",
        "bool_parsing": "true or false",
        "string_type": "a string",
        "missing": "present",
        "json_invalid": "valid JSON",
        "model_attributes_type": "a JSON object",
        "dict_type": "a JSON object",
        "list_type": "a list",
    }.get(kind)
    if kind in ("greater_than_equal", "greater_than"):
        expected = f"at least {context.get('ge', context.get('gt'))}"
    elif kind in ("less_than_equal", "less_than"):
        bound = context.get("le", context.get("lt"))
        expected = f"{'at most' if kind.endswith('equal') else 'below'} {bound}"
    elif kind == "string_too_long":
        expected = f"at most {context.get('max_length')} characters"
    elif kind == "string_too_short":
        expected = f"at least {context.get('min_length')} characters"
    elif kind == "string_pattern_mismatch":
        pattern = str(context.get("pattern"))
        expected = PATTERN_WORDS.get(pattern, f"of the form {pattern}")
    elif kind == "extra_forbidden":
        return f"{field} is not a field of this request"
    if expected is None:
        expected = "valid (see /docs)"
    return f"{field}{' ' + where if where else ''} must be {expected}"
