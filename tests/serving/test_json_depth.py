"""The JSON depth guard: it never misses a nesting that a parser would reach, and it
reads hostile bodies (escapes, unterminated strings) in one pass."""

from __future__ import annotations

import json

import pytest
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


def test_utf16_and_utf32_bodies_are_scanned_as_the_parser_reads_them() -> None:
    # json.loads reads UTF-16 and UTF-32 bytes: there an escaped quote's bytes, or a
    # character whose low byte is a quote's (U+0122), fooled a scan of raw bytes.
    for prefix in ('["\\"",', '["\u0122",'):
        text = prefix + "[" * 200 + "1" + "]" * 200 + "]"
        for encoding in ("utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32"):
            body = text.encode(encoding)
            assert len(json.dumps(json.loads(body))) > 400  # the parser reads it whole
            assert json_depth_exceeds(body, 32), (prefix, encoding)
            assert not json_depth_exceeds(("[" * 20 + "]" * 20).encode(encoding), 32)
    truncated = b"\x00[" * 40 + b"\x00"  # UTF-16 of odd length: the parser refuses it
    with pytest.raises(UnicodeDecodeError):
        json.loads(truncated)
    assert not json_depth_exceeds(truncated, 32)
