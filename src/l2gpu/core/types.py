"""Distinct types for the quantities of l2gpu.

Money is always an integer number of wei, never a float. Time is an integer
number of seconds since the Unix epoch, passed in by the shells. Each quantity
has its own type, so that a ``GpuSeconds`` is never added to a ``Wei`` by mistake
(mypy catches it).

Parsing functions (``parse_*``, ``Address.from_hex``, ``Hash32.from_hex``) raise
:class:`~l2gpu.core.errors.InvalidValue` with a message that names the value,
says what is wrong and what to do.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NewType

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import InvalidValue

UINT256_MAX = 2**256 - 1

Wei = NewType("Wei", int)
"""An amount of ether (or of an ERC-20 token's base unit): integer, 0 <= x < 2**256."""
Seconds = NewType("Seconds", int)
"""A duration in whole seconds."""
Timestamp = NewType("Timestamp", int)
"""A point in time: whole seconds since the Unix epoch (L1 block time, or an injected clock)."""
GpuSeconds = NewType("GpuSeconds", int)
"""Metered usage: one GPU for one second."""
BlockNumber = NewType("BlockNumber", int)
ChainId = NewType("ChainId", int)
Nonce = NewType("Nonce", int)
LeaseId = NewType("LeaseId", int)
OfferId = NewType("OfferId", int)

_UNITS: dict[str, int] = {
    "wei": 1,
    "kwei": 10**3,
    "mwei": 10**6,
    "gwei": 10**9,
    "szabo": 10**12,
    "finney": 10**15,
    "ether": 10**18,
    "eth": 10**18,
}
# Matched against the stripped text with fullmatch: one blank run between number and
# unit, so that no input makes the engine backtrack over blanks twice (quadratic time).
_AMOUNT = re.compile(r"([0-9][0-9_]*(?:\.[0-9_]+)?)\s*([a-zA-Z]*)")
MAX_AMOUNT_TEXT = 200
"""Longer amount texts are refused before they are parsed (a uint256 has 78 digits)."""
_UINT256_DIGITS = len(str(UINT256_MAX))
_HEX40 = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX64 = re.compile(r"^0x[0-9a-fA-F]{64}$")


def wei(value: int) -> Wei:
    """Return ``value`` as :data:`Wei`, checking that it is an integer in [0, 2**256)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue("amount", value, "wei must be an integer", "pass a whole number of wei")
    if value < 0:
        raise InvalidValue("amount", value, "it is negative", "pass an amount of 0 wei or more")
    if value > UINT256_MAX:
        raise InvalidValue("amount", value, "it does not fit in 256 bits", "pass a smaller amount")
    return Wei(value)


def parse_wei(text: str) -> Wei:
    """Parse an amount such as ``"1000"``, ``"2 gwei"`` or ``"1.5 ether"`` into wei.

    A bare number is wei. A fraction must come out as a whole number of wei
    (``"0.5 wei"`` is rejected rather than rounded). The arithmetic is exact, on
    integers: no digit is ever rounded away.
    """
    fix = "write a number with an optional unit, e.g. 1000, 2 gwei or 1.5 ether"
    if not isinstance(text, str):
        raise InvalidValue("amount", text, "it is not text", fix)
    if len(text) > MAX_AMOUNT_TEXT:
        raise InvalidValue(
            "amount", text, f"it is too long ({len(text)} characters)", "write a shorter number"
        )
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        raise InvalidValue("amount", text, "it is not a number with an optional unit", fix)
    number, unit = match.group(1).replace("_", ""), (match.group(2) or "wei").lower()
    if unit not in _UNITS:
        known = ", ".join(sorted(_UNITS))
        raise InvalidValue("amount", text, f"unknown unit '{unit}'", f"use one of: {known}")
    whole, _, fraction = number.partition(".")
    whole, fraction = whole.lstrip("0"), fraction.rstrip("0")
    # The largest unit is 10**18 wei: more decimals than that are below one wei, and
    # more whole digits than a uint256 has cannot fit. Both checks keep int() small.
    if len(fraction) > len(str(max(_UNITS.values()))) - 1:
        raise InvalidValue(
            "amount", text, "it is not a whole number of wei", "use fewer decimal places"
        )
    if len(whole) > _UINT256_DIGITS:
        raise InvalidValue("amount", text, "it does not fit in 256 bits", "pass a smaller amount")
    scaled, remainder = divmod(int(whole + fraction or "0") * _UNITS[unit], 10 ** len(fraction))
    if remainder:
        raise InvalidValue(
            "amount", text, "it is not a whole number of wei", "use fewer decimal places"
        )
    if scaled > UINT256_MAX:
        raise InvalidValue("amount", text, "it does not fit in 256 bits", "pass a smaller amount")
    return Wei(scaled)


_DURATION = re.compile(r"([0-9]+)\s*([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = 2**64 - 1
"""The longest duration, in seconds: timestamps and periods are uint64 on chain."""


def parse_duration(text: str) -> Seconds:
    """Parse ``"90"``, ``"90s"``, ``"15m"``, ``"2h"`` or ``"7d"`` into whole seconds."""
    fix = "write e.g. 90, 15m, 2h or 7d"
    problem = "it is not a whole number with an optional unit s, m, h or d"
    if not isinstance(text, str):
        raise InvalidValue("duration", text, problem, fix)
    # fullmatch on the stripped text: no backtracking over blanks (see _AMOUNT).
    match = _DURATION.fullmatch(text.strip()) if len(text) <= MAX_AMOUNT_TEXT else None
    if match is None:
        raise InvalidValue("duration", text, problem, fix)
    digits = match.group(1).lstrip("0")
    if len(digits) > len(str(MAX_DURATION)):  # before int(): a long number is no duration
        raise InvalidValue("duration", text, "it is too long", "write at most 2**64 - 1 seconds")
    seconds = int(digits or "0") * _DURATION_UNITS[match.group(2)]
    if seconds > MAX_DURATION:
        raise InvalidValue("duration", text, "it is too long", "write at most 2**64 - 1 seconds")
    return Seconds(seconds)


def format_wei(amount: int) -> str:
    """Render wei for people: ``1500000000000000000`` -> ``'1.5 ETH'``; small sums stay in wei."""
    if amount >= 10**15:
        ether = Decimal(amount) / Decimal(10**18)
        return f"{ether.normalize():f} ETH"
    if amount >= 10**6:
        gwei = Decimal(amount) / Decimal(10**9)
        return f"{gwei.normalize():f} gwei"
    return f"{amount} wei"


class Address(bytes):
    """A 20-byte Ethereum address. ``str()`` gives the EIP-55 checksummed form."""

    __slots__ = ()

    def __new__(cls, raw: bytes) -> Address:
        """Wrap 20 raw bytes; use :meth:`from_hex` for text."""
        if not isinstance(raw, bytes | bytearray) or len(raw) != 20:
            raise InvalidValue(
                "address", raw, "an address is exactly 20 bytes", "pass 20 bytes or use from_hex"
            )
        return super().__new__(cls, raw)

    @classmethod
    def from_hex(cls, text: str) -> Address:
        """Parse ``0x`` + 40 hex digits. Mixed case must be a valid EIP-55 checksum."""
        fix = "write 0x followed by 40 hex digits, e.g. 0x52908400098527886E0F7030069857D2E4169EE7"
        if not isinstance(text, str) or not _HEX40.match(text.strip()):
            raise InvalidValue("address", text, "it is not 0x followed by 40 hex digits", fix)
        text = text.strip()
        address = cls(bytes.fromhex(text[2:]))
        digits = text[2:]
        if digits != digits.lower() and digits != digits.upper() and str(address) != text:
            raise InvalidValue(
                "address",
                text,
                "its mixed-case checksum (EIP-55) is wrong, so it may hold a typo",
                "copy the address again from its source, or write it all in lower case",
            )
        return address

    @property
    def checksum(self) -> str:
        """The EIP-55 mixed-case hex form."""
        lower = self.hex()
        digest = keccak256(lower.encode("ascii")).hex()
        return "0x" + "".join(
            c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower)
        )

    def __str__(self) -> str:
        return self.checksum

    def __repr__(self) -> str:
        return f"Address({self.checksum})"


class Hash32(bytes):
    """A 32-byte hash (Keccak-256 digest, state root, channel id)."""

    __slots__ = ()

    def __new__(cls, raw: bytes) -> Hash32:
        """Wrap 32 raw bytes; use :meth:`from_hex` for text."""
        if not isinstance(raw, bytes | bytearray) or len(raw) != 32:
            raise InvalidValue("hash", raw, "a hash is exactly 32 bytes", "pass 32 bytes")
        return super().__new__(cls, raw)

    @classmethod
    def from_hex(cls, text: str) -> Hash32:
        """Parse ``0x`` + 64 hex digits."""
        if not isinstance(text, str) or not _HEX64.match(text.strip()):
            raise InvalidValue(
                "hash", text, "it is not 0x followed by 64 hex digits", "copy the full 32-byte hash"
            )
        return cls(bytes.fromhex(text.strip()[2:]))

    def __str__(self) -> str:
        return "0x" + self.hex()

    def __repr__(self) -> str:
        return f"Hash32(0x{self.hex()})"


ZERO_ADDRESS = Address(bytes(20))
ZERO_HASH = Hash32(bytes(32))
