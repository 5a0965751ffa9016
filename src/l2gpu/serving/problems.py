"""How every l2gpu HTTP server answers an error: the words of a 422 (which field was
wrong and what is expected, never pydantic's own text), 405 with ``Allow``, and a
500 that says it is a bug, without a traceback.

Every error body is :class:`~l2gpu.serving.errors.ErrorOut`,
``{"error", "fix", "status"}``; each route lists the statuses it can answer with
:func:`l2gpu.serving.errors.responses`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from l2gpu.core.errors import L2gpuError
from l2gpu.serving.errors import PATTERN_WORDS, body_of, status_of

log = logging.getLogger(__name__)

_WHERE = {"path": "in the path", "query": "in the query", "header": "a header"}


def explain(errors: Sequence[Any]) -> str:
    """What was wrong with a request, one clause per field (at most three), from
    pydantic's errors: ``offer_id (in the path) must be at most 9223372036854775807``."""
    said: dict[str, str] = {}
    for error in errors:
        field = _field(tuple(error.get("loc", ())))
        clause = _clause(error)
        # A union (a value or null) reports each branch; keep the informative one.
        if clause is not None and (field not in said or said[field].endswith("must be null")):
            said[field] = clause
    clauses = [f"{field} {clause}" for field, clause in said.items()]
    more = f"; and {len(clauses) - 3} more" if len(clauses) > 3 else ""
    return "; ".join(clauses[:3]) + more if clauses else "the request is malformed"


def _field(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "the request"
    where, parts = loc[0], [p for p in loc[1:] if not _internal(p)]
    key = bool(parts) and parts[-1] == "[key]"
    names = [_printable(str(p)) for p in parts if p != "[key]"]
    if where == "body":
        if not names or isinstance(parts[0], int):  # a JSON syntax error at a position
            return "the request body"
        name = ".".join(names)
        return f"a name in {'.'.join(names[:-1])} ({names[-1]!r})" if key else name
    return f"{'.'.join(names) or where} ({_WHERE.get(str(where), str(where))})"


_BRANCH = re.compile(r"^(function-(after|before|wrap|plain)|union|tagged-union|list|dict)\[")


def _internal(part: object) -> bool:
    # pydantic names a branch of a union or a validator wrapper in the location.
    return isinstance(part, str) and _BRANCH.match(part) is not None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _clause(error: Any) -> str | None:
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    simple = {
        "missing": "is missing",
        "extra_forbidden": "is not a field of this request",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number (a JSON integer)",
        "int_from_float": "must be a whole number",
        "string_type": "must be text (a JSON string)",
        "string_unicode": "holds a lone surrogate: it is not Unicode text",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "dict_type": "must be a JSON object",
        "model_type": "must be a JSON object",
        "model_attributes_type": "must be a JSON object",
        "list_type": "must be a JSON array",
        "none_required": "must be null",
    }
    if kind in simple:
        return simple[kind]
    bounds = {
        "greater_than_equal": ("must be at least", "ge"),
        "less_than_equal": ("must be at most", "le"),
        "greater_than": ("must be above", "gt"),
        "less_than": ("must be below", "lt"),
        "string_too_short": ("must be at least {} characters long", "min_length"),
        "string_too_long": ("must be at most {} characters long", "max_length"),
        "too_short": ("must hold at least {} items", "min_length"),
        "too_long": ("must hold at most {} items", "max_length"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        value = ctx.get(key)
        if kind == "less_than" and isinstance(value, int):  # whole numbers: say the last one
            words, value = "must be at most", value - 1
        return words.format(value) if "{}" in words else f"{words} {value}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        return f"must be {PATTERN_WORDS.get(pattern, f'of the form {pattern}')}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', 'the values the schema lists')}"
    if kind == "json_invalid":
        return f"is not valid JSON ({ctx.get('error', 'malformed')})"
    if kind == "value_error":
        return str(error.get("msg", "")).removeprefix("Value error, ")
    return "is not valid here: see its schema at /docs"


def install_handlers(app: FastAPI) -> None:
    """Answer every error as an :class:`~l2gpu.serving.errors.ErrorOut`: l2gpu's errors
    with their status (and Retry-After where they carry one), a schema mismatch with 422
    naming the field, a method the path does not take with 405 and ``Allow``, and a bug
    with 500 (never a traceback)."""

    @app.exception_handler(L2gpuError)
    async def on_l2gpu_error(_request: Request, exc: L2gpuError) -> JSONResponse:
        status = status_of(exc)
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
        return JSONResponse(body_of(exc, status), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _json(422, explain(exc.errors()), "send what the schema at /docs describes")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cause = exc.__cause__
        if exc.status_code == 405:
            allow = allowed_methods(app, request)
            return _json(
                405,
                f"{request.method} is not a method of {request.url.path}",
                f"use {', '.join(allow) or 'another path'}",
                {"Allow": ", ".join(allow)},
            )
        if exc.status_code == 400 and cause is not None:
            # FastAPI says only "There was an error parsing the body"; say why.
            why = "it is not UTF-8 text" if isinstance(cause, UnicodeDecodeError) else "malformed"
            return _json(422, f"the request body is not valid JSON: {why}", "send UTF-8 JSON")
        if exc.status_code == 404:  # no route: the path is not one of the API's
            what = f"{request.url.path} is not a path of this API (or not with these values)"
            return _json(404, what, "see the API at /docs")
        return _json(exc.status_code, str(exc.detail), "check the request", dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def on_bug(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)
        return _json(
            500,
            f"internal error: {type(exc).__name__}",
            "this is a bug in l2gpu; report it with the request",
        )


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """The methods the routes at the request's path take, for a 405's ``Allow``."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and isinstance(route, BaseRoute):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _json(status: int, error: str, fix: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": error, "fix": fix, "status": status}
    return JSONResponse(body, status_code=status, headers=headers)


_BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})


def exact_bounds(document: Any) -> Any:
    """``document`` with numeric bounds written as integers where they are whole.

    FastAPI's OpenAPI models hold bounds as floats: ``2**63`` would be published as
    ``9.223372036854776e+18``, which a reader of the JSON text takes for
    9223372036854776000. The API's large bounds are powers of two, exact as doubles,
    so turning a whole float back into an int restores them exactly.
    """
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _BOUNDS and isinstance(value, float) and value.is_integer():
                    node[key] = int(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(item for item in node if isinstance(item, dict | list))
    return document
