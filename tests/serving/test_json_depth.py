"""The JSON depth guard: it never misses a nesting that a parser would reach, and it
reads hostile bodies (escapes, unterminated strings) in one pass."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.serving.guard import json_depth_exceeds


def deepest_a_parser_reaches(body: bytes) -> tuple[int, bool]:
    """The reference, byte by byte as a parser reads: the deepest nesting reached
    before the first backslash outside a string (a syntax error where a parser
    stops), and whether the body had such a stray backslash."""
    depth = deepest = 0
    inside = escaped = False
    for byte in body:
        char = bytes([byte])
        if inside:
            if escaped:
                escaped = False
            elif char == b"\\":
                escaped = True
            elif char == b'"':
                inside = False
        elif char == b'"':
            inside = True
        elif char == b"\\":
            return deepest, True
        elif char in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in b"]}":
            depth = max(0, depth - 1)
    return deepest, False


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=60).map(lambda b: bytes(b'[]{}"\\a,'[x % 8] for x in b)),
       st.integers(0, 6))  # fmt: skip
def test_the_guard_sees_every_nesting_a_parser_reaches(body: bytes, limit: int) -> None:
    deepest, stray = deepest_a_parser_reaches(body)
    verdict = json_depth_exceeds(body, limit)
    if deepest > limit:
        assert verdict  # never misses what a parser would reach
    elif not stray:
        assert not verdict  # and, on bodies a parser reads whole, never more


def test_hostile_strings_are_read_whole() -> None:
    # An unterminated string full of escaped quotes made a backtracking pattern
    # quadratic (11 s for 64 kB); these are 512 kB each.
    escaped_quotes = b"[" * 40 + b'"' + b'\\"' * 262_144
    assert json_depth_exceeds(escaped_quotes, 32)
    assert not json_depth_exceeds(b'"' + b'\\"' * 262_144 + b"[" * 40, 32)
    strings = b"[" * 33 + b'"a",' * 131_072 + b"]" * 33
    assert json_depth_exceeds(strings, 32)
    assert not json_depth_exceeds(strings, 33)
    brackets_in_strings = b'["' + b"[" * 500_000 + b'"]'
    assert not json_depth_exceeds(brackets_in_strings, 32)
