"""The offer filter language: a tokenizer, a parser and a clear evaluator.

In the spirit of ``vastai search offers``::

    gpu_name=RTX_4090 num_gpus>=2 gpu_ram>=24 price_per_hour<=0.5 reliability>0.99
    location in [EU,US] declared=false

A query is a list of conditions separated by blanks; all must hold. A condition is
``field op value`` (``=``, ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``) or
``field in [v, ...]`` / ``field notin [v, ...]``. Text compares without regard to
case, and ``_`` equals a blank (``RTX_4090`` matches ``RTX 4090``). Numbers are
decimals, never floats: ``price_per_hour<=0.5`` means at most exactly 0.5 ETH.

Every error is a :class:`FilterError` that names the offending token and its
column (1-based) and says what to write instead.

Numeric thresholds are normalised once, at parse time, to integer bounds in the
field's base unit (wei, seconds, GB), so evaluating never rounds: ``x < 2.5``
over integers is ``x <= 2``. The fast index (:mod:`.index`) evaluates the same
:class:`Condition` list and is checked against :func:`matches`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from difflib import get_close_matches
from functools import partial
from typing import Any

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.fields import FIELDS, Field, Kind, fold
from l2gpu.core.market.view import OfferView


class FilterError(L2gpuError):
    """A filter or sort expression is malformed; ``column`` is where (1-based)."""

    def __init__(self, what: str, fix: str, *, column: int, token: str) -> None:
        self.column = column
        self.token = token
        super().__init__(f"filter: {what} at column {column}", fix)


@dataclass(frozen=True, slots=True)
class Condition:
    """One normalised condition. ``op`` is one of: le, ge, eq, ne, lt, gt, in, notin,
    true (always holds), false (never holds). Ints are bounds in base units; text is
    folded (lower case, _ as blank)."""

    field: str
    op: str
    value: int | float | bool | str | frozenset[str] | frozenset[int] | None


@dataclass(frozen=True, slots=True)
class SortKey:
    """Sort by ``field``; ``descending`` puts the largest first."""

    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Token:
    """A token and its 1-based column."""

    kind: str  # word, number, string, op, lbracket, rbracket, comma
    text: str
    column: int


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<op><=|>=|==|!=|=|<|>)
      | (?P<lbracket>\[) | (?P<rbracket>\]) | (?P<comma>,)
      | (?P<string>"[^"]*"|'[^']*')
      | (?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?![A-Za-z0-9_.:]))
      | (?P<word>[A-Za-z0-9_.:+-]+)
    """,
    re.VERBOSE,
)
MAX_QUERY = 4096


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens; raise :class:`FilterError` at the first bad character."""
    if len(query) > MAX_QUERY:
        raise FilterError(
            f"query is {len(query)} characters long",
            f"keep it under {MAX_QUERY}",
            column=MAX_QUERY,
            token="",
        )
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None or match.end() == pos:
            bad = query[pos]
            hint = "close the quote" if bad in "\"'" else "remove it or quote the value"
            raise FilterError(f"unexpected character {bad!r}", hint, column=pos + 1, token=bad)
        kind = match.lastgroup or "ws"
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos + 1))
        pos = match.end()
    return tokens


def parse_filter(query: str) -> list[Condition]:
    """Parse a filter query into normalised conditions (all must hold)."""
    return _Parser(tokenize(query), query).conditions()


def parse_sort(text: str) -> list[SortKey]:
    """Parse ``price_per_hour,-reliability`` (a leading or trailing ``-`` sorts
    descending, ``+`` ascending) into sort keys."""
    if len(text) > MAX_QUERY:
        raise FilterError(
            f"sort is {len(text)} characters long",
            f"keep it under {MAX_QUERY}",
            column=MAX_QUERY,
            token="",
        )
    keys: list[SortKey] = []
    column = 1
    for part in text.split(","):
        name = part.strip()
        descending = name.startswith("-") or name.endswith("-")
        bare = name.strip("+-")
        if bare not in FIELDS:
            raise _unknown_field(bare or part, column)
        keys.append(SortKey(bare, descending))
        column += len(part) + 1
    return keys


def matches(conditions: Sequence[Condition], offer: OfferView) -> bool:
    """True if ``offer`` meets every condition (the clear, one-offer-at-a-time version)."""
    return all(_holds(c, FIELDS[c.field].get(offer)) for c in conditions)


def _sort_key(key: SortKey, offer: OfferView) -> Any:
    return sort_value(key, offer)


def sort_value(key: SortKey, offer: OfferView) -> object:
    """The value that ``key`` sorts ``offer`` by."""
    value = FIELDS[key.field].get(offer)
    return fold(value) if isinstance(value, str) else value


def _holds(c: Condition, value: object) -> bool:
    if c.op == "true":
        return True
    if c.op == "false":
        return False
    if isinstance(value, str):
        value = fold(value)
    if c.op in ("in", "notin"):
        assert isinstance(c.value, frozenset)
        return (value in c.value) == (c.op == "in")
    ops: dict[str, Callable[[object, object], bool]] = {
        "eq": lambda a, b: a == b,
        "ne": lambda a, b: a != b,
        "le": lambda a, b: a <= b,  # type: ignore[operator]
        "ge": lambda a, b: a >= b,  # type: ignore[operator]
        "lt": lambda a, b: a < b,  # type: ignore[operator]
        "gt": lambda a, b: a > b,  # type: ignore[operator]
    }
    return ops[c.op](value, c.value)


class _Parser:
    def __init__(self, tokens: list[Token], query: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.end_column = len(query) + 1

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError(
                f"query ends where {expected} was expected",
                f"add {expected}",
                column=self.end_column,
                token="",
            )
        self.pos += 1
        return token

    def conditions(self) -> list[Condition]:
        out: list[Condition] = []
        while self.peek() is not None:
            out.append(self.condition())
        return out

    def condition(self) -> Condition:
        name = self.take("a field name")
        # "a and b" reads naturally; and is implied anyway. Skipped in a loop, not by
        # recursion: a query of a thousand ands must not exhaust the stack.
        while name.kind == "word" and name.text.lower() in ("and", "&&"):
            name = self.take("a field name")
        if name.kind != "word":
            raise FilterError(
                f"expected a field name, found {name.text!r}",
                "start each condition with a field, e.g. num_gpus>=2",
                column=name.column,
                token=name.text,
            )
        field = FIELDS.get(name.text.lower())
        if field is None:
            raise _unknown_field(name.text, name.column)
        op = self.take("an operator such as >= or in")
        if op.kind == "word" and op.text.lower() in ("in", "notin"):
            return self.list_condition(field, op)
        if op.kind != "op":
            raise FilterError(
                f"expected an operator after {field.name}, found {op.text!r}",
                "use one of = != < <= > >= in notin",
                column=op.column,
                token=op.text,
            )
        value = self.take("a value")
        if value.kind not in ("word", "number", "string"):
            raise FilterError(
                f"expected a value after {field.name}{op.text}, found {value.text!r}",
                "write a number or a word, e.g. num_gpus>=2",
                column=value.column,
                token=value.text,
            )
        return _normalise(field, op, value)

    def list_condition(self, field: Field, op_token: Token) -> Condition:
        op = op_token.text.lower()
        opening = self.take("[")
        if opening.kind != "lbracket":
            raise FilterError(
                f"expected [ after {op}, found {opening.text!r}",
                f"write {field.name} {op} [a,b]",
                column=opening.column,
                token=opening.text,
            )
        values: list[Token] = []
        while True:
            token = self.take("a value or ]")
            if token.kind == "rbracket" and not values:
                break
            if token.kind not in ("word", "number", "string"):
                raise FilterError(
                    f"expected a list value, found {token.text!r}",
                    "write [a,b]",
                    column=token.column,
                    token=token.text,
                )
            values.append(token)
            sep = self.take(", or ]")
            if sep.kind == "rbracket":
                break
            if sep.kind != "comma":
                raise FilterError(
                    f"expected , or ] in the list, found {sep.text!r}",
                    "separate values with commas",
                    column=sep.column,
                    token=sep.text,
                )
        if field.kind == Kind.TEXT:
            return Condition(field.name, op, frozenset(fold(_text(v)) for v in values))
        if field.kind == Kind.INT:
            ints: set[int] = set()
            for v in values:
                floor, ceil = _bounds(field, _decimal(field, v))
                if floor == ceil:
                    ints.add(floor)
            return Condition(field.name, op, frozenset(ints))
        raise FilterError(
            f"{field.name} does not take a list",
            "compare it with = < <= > >= instead",
            column=op_token.column,
            token=op_token.text,
        )


def _normalise(field: Field, op: Token, value: Token) -> Condition:
    symbol = "=" if op.text == "==" else op.text
    if field.kind == Kind.TEXT:
        if symbol not in ("=", "!="):
            raise FilterError(
                f"{field.name} is text and takes only = != in notin, not {op.text}",
                f"write e.g. {field.name}=value",
                column=op.column,
                token=op.text,
            )
        return Condition(field.name, "eq" if symbol == "=" else "ne", fold(_text(value)))
    if field.kind == Kind.BOOL:
        word = value.text.lower()
        if symbol not in ("=", "!=") or word not in ("true", "false", "1", "0"):
            raise FilterError(
                f"{field.name} is true or false, got {op.text}{value.text}",
                f"write {field.name}=true or {field.name}=false",
                column=value.column,
                token=value.text,
            )
        wanted = word in ("true", "1")
        return Condition(field.name, "eq", wanted if symbol == "=" else not wanted)
    number = _decimal(field, value)
    if field.kind == Kind.FLOAT:
        names = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
        return Condition(field.name, names[symbol], float(number))
    floor, ceil = _bounds(field, number)
    exact = floor == ceil
    if symbol == "<=":
        return Condition(field.name, "le", floor)
    if symbol == "<":
        return Condition(field.name, "le", ceil - 1)
    if symbol == ">=":
        return Condition(field.name, "ge", ceil)
    if symbol == ">":
        return Condition(field.name, "ge", floor + 1)
    if symbol == "=":
        return Condition(field.name, "eq", floor) if exact else Condition(field.name, "false", None)
    return Condition(field.name, "ne", floor) if exact else Condition(field.name, "true", None)


def _decimal(field: Field, token: Token) -> Decimal:
    try:
        if token.kind != "number":
            raise InvalidOperation
        value = Decimal(token.text)
    except InvalidOperation:
        raise FilterError(
            f"{field.name} takes a number, got {token.text!r}",
            f"write a decimal number, e.g. {field.name}>=2",
            column=token.column,
            token=token.text,
        ) from None
    if abs(value) > Decimal(10) ** 60:
        raise FilterError(
            f"number {token.text} is too large",
            "use a smaller number",
            column=token.column,
            token=token.text,
        )
    return value


def _bounds(field: Field, number: Decimal) -> tuple[int, int]:
    """Floor and ceiling of ``number`` in the field's base units, exactly.

    In integers, not in Decimal arithmetic: a Decimal product is rounded to the
    context's precision (28 digits by default, and whatever an imported library set
    it to), which moved bounds of long numbers."""
    numerator, denominator = number.as_integer_ratio()
    scaled = numerator * field.scale
    return scaled // denominator, -(-scaled // denominator)


def _text(token: Token) -> str:
    return token.text[1:-1] if token.kind == "string" else token.text


def _unknown_field(name: str, column: int) -> FilterError:
    close = get_close_matches(name.lower(), list(FIELDS), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return FilterError(
        f"unknown field {name!r}", f"{hint}fields: {', '.join(FIELDS)}", column=column, token=name
    )


def search(
    offers: Sequence[OfferView],
    conditions: Sequence[Condition],
    sort: Sequence[SortKey] = (),
    *,
    limit: int | None = None,
    now: int | None = None,
) -> list[OfferView]:
    """The clear search: filter one offer at a time, then sort (ties by offer id)."""
    found = [o for o in offers if (now is None or o.expires_at > now) and matches(conditions, o)]
    found.sort(key=lambda o: o.offer_id)
    # Stable sorts from the last key to the first give a multi-key order in which
    # each key may run either way, text included.
    for key in reversed(sort):
        found.sort(key=partial(_sort_key, key), reverse=key.descending)
    return found if limit is None else found[:limit]
