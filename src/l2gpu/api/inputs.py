"""Checked input types of the API: every number and text a client sends is in range
and storable before a route, the core or the database sees it.

- Integers that reach a ``BIGINT`` column (ids, times, nonces) are ``0 ..
  2**63 - 1``: one more overflows SQLite's INTEGER and PostgreSQL's BIGINT.
- Amounts of wei are ``uint256`` (what the database's 78-digit text and the
  contracts hold), sent as decimal strings or JSON integers.
- Text may not hold control characters (C0, DEL, C1) nor lone surrogates:
  PostgreSQL refuses NUL, neither database encodes a surrogate, and a terminal or
  a log viewer would obey an escape sequence. Multi-line text (a command, a file,
  a reason) may hold tabs and line breaks. The JSON Schema states the same rule as
  a ``pattern``, so that generated clients and property tests know it.

A refusal is a ``ValueError`` whose message says what was wrong; the API turns it
into a 422 ``{error, fix, status}`` naming the field (:mod:`l2gpu.api.problems`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue, WithJsonSchema
from pydantic_core import CoreSchema

ID_LIMIT = 2**63
MAX_BIGINT = ID_LIMIT - 1

# JSON Schema (ECMA-262), Rust's regex (jsonschema-rs) and Python's re all read these
# escapes. Lone surrogates are refused by the validators only: a pattern naming them
# is no regular expression to engines whose strings are Unicode scalar values.
LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_line(value: str) -> str:
    """``value`` if it holds no control character and no lone surrogate."""
    return _check(value, _LINE_BAD, "on one line")


def check_text(value: str) -> str:
    """``value`` if it holds no control character but tabs and line breaks."""
    return _check(value, _TEXT_BAD, "tabs and line breaks are allowed")


def _check(value: str, bad: re.Pattern[str], allowed: str) -> str:
    match = bad.search(value)
    if match is None:
        return value
    char, at = match.group(), match.start()
    if "\ud800" <= char <= "\udfff":
        raise ValueError(
            f"holds a lone surrogate (U+{ord(char):04X}) at character {at}: it is not Unicode text"
        )
    raise ValueError(
        f"holds the control character U+{ord(char):04X} at character {at}; "
        f"send printable text ({allowed})"
    )


def storable(text: str) -> str:
    """``text`` with what no database stores (NUL, lone surrogates) replaced by U+FFFD:
    for job output, which is kept as the job wrote it as far as it can be."""
    return _UNSTORABLE.sub("\ufffd", text)


class _Pattern:
    """Adds a ``pattern`` to a string's JSON Schema (the validator enforces it with a
    clearer message than a regex mismatch)."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "pattern": self.pattern}


Line = Annotated[str, AfterValidator(check_line), _Pattern(LINE_PATTERN)]
"""One line of printable text."""
Text = Annotated[str, AfterValidator(check_text), _Pattern(TEXT_PATTERN)]
"""Printable text; tabs and line breaks allowed."""


def _address(value: str) -> str:
    check_line(value)
    if not re.fullmatch("0x[0-9a-fA-F]{40}", value):
        raise ValueError("must be 0x followed by 40 hex digits")
    return value


AddressText = Annotated[
    str,
    AfterValidator(_address),
    WithJsonSchema({"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}),
]
"""An Ethereum address's shape. Its EIP-55 checksum (mixed case) is checked where it is
parsed, and a wrong one is a 400: no schema can state it."""


def _hex(size: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        check_line(value)
        digits = value.removeprefix("0x")
        if len(digits) != 2 * size or not re.fullmatch("[0-9a-fA-F]*", digits):
            raise ValueError(f"must be 0x followed by {2 * size} hex digits ({size} bytes)")
        return "0x" + digits.lower()

    return parse


def _hex_schema(size: int) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^0x[0-9a-fA-F]{{{2 * size}}}$"}


Signature = Annotated[str, AfterValidator(_hex(65)), WithJsonSchema(_hex_schema(65))]
"""A 65-byte secp256k1 signature as 0x hex."""


def _voucher_signature(value: str) -> str:
    check_line(value)
    digits = value.removeprefix("0x")
    if len(digits) not in (128, 130) or not re.fullmatch("[0-9a-fA-F]*", digits):
        raise ValueError("must be 0x followed by 130 hex digits (a 65-byte secp256k1 "
                         "signature) or 128 (a 64-byte EdDSA one, for a zk channel)")  # fmt: skip
    return "0x" + digits.lower()


VoucherSignature = Annotated[
    str,
    AfterValidator(_voucher_signature),
    WithJsonSchema({"type": "string", "pattern": "^0x([0-9a-fA-F]{128}|[0-9a-fA-F]{130})$"}),
]
"""A voucher's signature as 0x hex: 65 bytes (secp256k1, EIP-712) or 64 (EdDSA-Poseidon,
packed: a zk channel's); which one a lease takes, its channel's domain decides."""
Bytes32 = Annotated[str, AfterValidator(_hex(32)), WithJsonSchema(_hex_schema(32))]
"""A 32-byte value (a channel id, a salt) as 0x hex."""


def _at_most(limit: int) -> str:
    """A regular expression for the decimal strings (leading zeros allowed) of the whole
    numbers from 0 to ``limit``: shorter ones, or as long and not above it digit by digit."""
    digits = str(limit)
    options = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for at, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - at - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            options.append(f"{digits[:at]}[0-{int(digit) - 1}]{tail}")
    options.append(digits)
    return "(?:" + "|".join(options) + ")"


def _whole(low: int, below: int, what: str, digits: int) -> Callable[[object], int]:
    """Parse a whole number in ``low .. below - 1`` from a JSON integer or a string of
    at most ``digits`` decimal digits (a sign too if ``low`` is negative)."""

    def parse(value: object) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # 200.0 is a JSON integer (send amounts as strings, though)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"must be {what}: a JSON integer or a string of decimal digits")
        if isinstance(value, str):
            body = value.removeprefix("-") if low < 0 else value
            if not re.fullmatch(f"[0-9]{{1,{digits}}}", body):
                raise ValueError(f"must be {what}: at most {digits} decimal digits")
            value = int(value)
        if not low <= value < below:
            raise ValueError(f"must be {what} from {low} to {below - 1}")
        return value

    return parse


def _whole_schema(low: int, below: int, string: str) -> dict[str, Any]:
    # Integer bounds are powers of two and exclusive: a JSON Schema tool that reads
    # numbers as doubles still reads them exactly (2**63 - 1 would become 2**63).
    integer: dict[str, Any] = {"type": "integer", "exclusiveMaximum": below}
    integer.update({"exclusiveMinimum": low - 1} if low < 0 else {"minimum": low})
    return {"anyOf": [{"type": "string", "pattern": f"^{string}$"}, integer]}


WEI_DIGITS = 77
"""Amounts as strings have at most 77 digits (below 10**77 wei, 10**59 ether: beyond any
real amount, inside uint256); as JSON integers they are below 2**256."""
Wei = Annotated[
    int,
    BeforeValidator(_whole(0, 2**256, "an amount of wei", WEI_DIGITS)),
    WithJsonSchema(_whole_schema(0, 2**256, f"[0-9]{{1,{WEI_DIGITS}}}")),
]
SignedWei = Annotated[
    int,
    BeforeValidator(_whole(1 - 2**256, 2**256, "an amount of wei", WEI_DIGITS)),
    WithJsonSchema(_whole_schema(1 - 2**256, 2**256, f"-?[0-9]{{1,{WEI_DIGITS}}}")),
]
"""An amount whose sign the core judges (a price refused for being negative says so)."""
OfferIdIn = Annotated[
    int,
    BeforeValidator(_whole(0, ID_LIMIT, "an offer id", 19)),
    WithJsonSchema(_whole_schema(0, ID_LIMIT, _at_most(MAX_BIGINT))),
]
"""An offer id: below 2**63, as a JSON integer or a decimal string."""


def json_integer(value: object) -> object:
    """A JSON integer as JSON Schema reads one: an int, or a number with no fraction
    (``200.0``); a string or a boolean is none (pydantic's lax mode would take both)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number (a JSON integer)")
    return value


# The bounds come before the validator, so that the JSON Schema states them.
Id = Annotated[int, Field(ge=0, lt=ID_LIMIT), BeforeValidator(json_integer)]
"""An id, a time, a nonce, a count of seconds: what a BIGINT column holds, not negative."""
Uint16 = Annotated[int, Field(ge=0, le=2**16 - 1), BeforeValidator(json_integer)]
Uint32 = Annotated[int, Field(ge=0, le=2**32 - 1), BeforeValidator(json_integer)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1), BeforeValidator(json_integer)]
