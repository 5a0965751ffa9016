"""What the fuzz tests share: stable settings, edge values and mutations of valid encodings.

Every decoder of outside bytes or text is fuzzed three ways: (a) arbitrary input,
(b) mutations of a valid encoding (bit flips, truncation, extension, bytes set to
edge values, slices deleted, inserted or repeated) and (c) the round trip
``decode(encode(x)) == x``. The only exception a decoder may raise is its named one;
anything else escapes the ``except`` and fails the test with its traceback.

The settings are derandomized and keep no example database, so CI runs the same
examples every time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

E = TypeVar("E", bound=BaseException)

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def fuzz(max_examples: int) -> settings:
    """Settings of one fuzz test: ``max_examples`` fixed examples, no deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=_QUIET,
    )


def outcome(named: type[E], decode: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """What ``decode(*args)`` returns, or the ``named`` error it raised (returned, not
    raised). Any other exception escapes: that is the failure a fuzz test looks for."""
    try:
        return decode(*args, **kwargs)
    except named as exc:
        error = exc
    assert str(error), f"{type(error).__name__} without a message"
    return error


@contextmanager
def recursion_limit(frames: int) -> Iterator[None]:
    """Allow only ``frames`` more frames than the caller's (py-evm, which the test session
    imports, raises Python's limit to 100,000: a recursion as deep as the input is long
    would pass unseen under it)."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def edges(bits: int, *, signed_too: bool = True) -> st.SearchStrategy[int]:
    """Integers at and around the edges of an unsigned ``bits``-bit field, and any inside."""
    top = (1 << bits) - 1
    points = [0, 1, top - 1, top, top + 1]
    if signed_too:
        points += [-1, -top]
    return st.one_of(st.sampled_from(points), st.integers(0, top))


def unsigned(bits: int) -> st.SearchStrategy[int]:
    """Integers that fit ``bits`` bits, edges first."""
    top = (1 << bits) - 1
    return st.one_of(st.sampled_from([0, 1, top - 1, top]), st.integers(0, top))


_EDGE_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


@st.composite
def mutated(draw: st.DrawFn, valid: bytes, max_steps: int = 4) -> bytes:
    """``valid`` after 1 to ``max_steps`` random mutations."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, max_steps))):
        step = draw(st.sampled_from(_BYTE_STEPS))
        step(draw, data)
    return bytes(data)


def _position(draw: st.DrawFn, data: bytearray, *, end: bool = False) -> int:
    return draw(st.integers(0, len(data) if end else max(0, len(data) - 1)))


def _flip_bit(draw: st.DrawFn, data: bytearray) -> None:
    if data:
        data[_position(draw, data)] ^= 1 << draw(st.integers(0, 7))


def _set_byte(draw: st.DrawFn, data: bytearray) -> None:
    if data:
        value = draw(st.one_of(st.sampled_from(_EDGE_BYTES), st.integers(0, 255)))
        data[_position(draw, data)] = value


def _truncate(draw: st.DrawFn, data: bytearray) -> None:
    del data[_position(draw, data, end=True) :]


def _extend(draw: st.DrawFn, data: bytearray) -> None:
    data.extend(draw(st.binary(min_size=1, max_size=48)))


def _delete(draw: st.DrawFn, data: bytearray) -> None:
    start = _position(draw, data, end=True)
    del data[start : start + draw(st.integers(1, 16))]


def _insert(draw: st.DrawFn, data: bytearray) -> None:
    data[_position(draw, data, end=True) : 0] = draw(st.binary(min_size=1, max_size=16))


def _repeat(draw: st.DrawFn, data: bytearray) -> None:
    start = _position(draw, data, end=True)
    data[start:start] = data[start : start + draw(st.integers(1, 64))]


_BYTE_STEPS: tuple[Callable[[st.DrawFn, bytearray], None], ...] = (
    _flip_bit,
    _set_byte,
    _truncate,
    _extend,
    _delete,
    _insert,
    _repeat,
)

# Characters that have broken text parsers: digits of other scripts (int() reads them,
# [0-9] does not), lone surrogates (they cannot be encoded as UTF-8), line and
# paragraph separators, characters whose lower case is longer, NUL, quotes, brackets.
WEIRD_CHARACTERS = (
    "\x00",
    "\n",
    "\r",
    "\t",
    " ",
    "\u00a0",
    "\u2028",
    "\u0660",
    "\u00b2",
    "\uff11",
    "\ud800",
    "\udfff",
    "\u0130",
    "\u00df",
    "\ufeff",
    "'",
    '"',
    "[",
    "]",
    ",",
    "-",
    "+",
    ".",
    "_",
    "=",
    "<",
    ">",
    "!",
    "0",
    "9",
    "e",
    "x",
    "0x",
)

characters = st.one_of(st.characters(), st.sampled_from(WEIRD_CHARACTERS))
"""Any character, with the troublesome ones often."""


def texts(max_size: int = 200) -> st.SearchStrategy[str]:
    """Arbitrary text, weird characters included."""
    return st.lists(characters, max_size=max_size).map("".join)


@st.composite
def mutated_text(draw: st.DrawFn, valid: str, max_steps: int = 4) -> str:
    """``valid`` after 1 to ``max_steps`` edits: characters replaced, cut, added or repeated."""
    chars = list(valid)
    for _ in range(draw(st.integers(1, max_steps))):
        step = draw(st.integers(0, 4))
        at = draw(st.integers(0, len(chars)))
        if step == 0 and chars:
            chars[min(at, len(chars) - 1)] = draw(characters)
        elif step == 1:
            del chars[at:]
        elif step == 2:
            chars[at:at] = draw(st.lists(characters, min_size=1, max_size=8))
        elif step == 3:
            del chars[at : at + draw(st.integers(1, 8))]
        else:
            chars[at:at] = chars[at : at + draw(st.integers(1, 32))] * draw(st.integers(1, 8))
    return "".join(chars)
