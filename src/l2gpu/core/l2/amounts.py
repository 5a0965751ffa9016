"""Compact amounts for L1 data: a decimal floating point with exact rules.

``amount = mantissa * 10 ** exponent``. A 3-byte amount has a 5-bit exponent
(0..31) and a 19-bit mantissa (0..524,287); a 2-byte fee has a 5-bit exponent and
an 11-bit mantissa (0..2,047). Only exactly representable amounts are valid in a
transaction: the wallet rounds *down* before signing (:func:`round_down`), so no
one is ever charged more than they signed, and the L1 encoding is lossless.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.errors import InvalidValue


@dataclass(frozen=True, slots=True)
class FloatFormat:
    """A decimal float layout: exponent bits, mantissa bits, total bytes."""

    exponent_bits: int
    mantissa_bits: int

    @property
    def size(self) -> int:
        """Bytes taken on L1."""
        return (self.exponent_bits + self.mantissa_bits) // 8

    @property
    def max_mantissa(self) -> int:
        """Largest mantissa."""
        return (1 << self.mantissa_bits) - 1

    @property
    def max_exponent(self) -> int:
        """Largest exponent."""
        return (1 << self.exponent_bits) - 1


AMOUNT = FloatFormat(exponent_bits=5, mantissa_bits=19)  # 3 bytes
FEE = FloatFormat(exponent_bits=5, mantissa_bits=11)  # 2 bytes


def split(amount: int, fmt: FloatFormat) -> tuple[int, int] | None:
    """``(mantissa, exponent)`` with the smallest exponent, or None if not representable."""
    if amount < 0:
        return None
    exponent = 0
    while amount > fmt.max_mantissa:
        if amount % 10:
            return None
        amount //= 10
        exponent += 1
    if exponent > fmt.max_exponent:
        return None
    return amount, exponent


def is_representable(amount: int, fmt: FloatFormat = AMOUNT) -> bool:
    """True if ``amount`` encodes exactly in ``fmt``."""
    return split(amount, fmt) is not None


def round_down(amount: int, fmt: FloatFormat = AMOUNT) -> int:
    """The largest representable amount not above ``amount``."""
    if amount < 0:
        raise InvalidValue("amount", amount, "it is negative", "use an amount of 0 or more")
    exponent = 0
    while amount // _pow10(exponent) > fmt.max_mantissa:
        exponent += 1
    if exponent > fmt.max_exponent:
        return fmt.max_mantissa * _pow10(fmt.max_exponent)
    return (amount // _pow10(exponent)) * _pow10(exponent)


def round_up(amount: int, fmt: FloatFormat = AMOUNT) -> int:
    """The smallest representable amount not below ``amount`` (a deposit that must
    cover a cost: the excess is refunded when the channel closes)."""
    if amount < 0:
        raise InvalidValue("amount", amount, "it is negative", "use an amount of 0 or more")
    # Every representable amount >= ``amount`` is a multiple of 10**e, e the exponent
    # round_down needs; the first multiple fits unless its mantissa carries over.
    exponent = 0
    while amount // _pow10(exponent) > fmt.max_mantissa:
        exponent += 1
    while exponent <= fmt.max_exponent:
        step = _pow10(exponent)
        candidate = -(-amount // step) * step
        if split(candidate, fmt) is not None:
            return candidate
        exponent += 1
    raise InvalidValue("amount", amount, "it is above the largest L2 amount",
                       "use a smaller amount")  # fmt: skip


def encode(amount: int, fmt: FloatFormat = AMOUNT) -> bytes:
    """The big-endian packed form: exponent in the high bits, mantissa in the low bits."""
    parts = split(amount, fmt)
    if parts is None:
        raise InvalidValue(
            "amount",
            amount,
            f"it is not exactly representable with a {fmt.mantissa_bits}-bit mantissa",
            f"round it down to {round_down(amount, fmt) if amount >= 0 else 0}",
        )
    mantissa, exponent = parts
    return ((exponent << fmt.mantissa_bits) | mantissa).to_bytes(fmt.size, "big")


def decode(data: bytes, fmt: FloatFormat = AMOUNT) -> int:
    """Inverse of :func:`encode`. ``data`` is exactly ``fmt.size`` bytes: more would
    give an exponent of any size, and ``10 ** exponent`` would never finish."""
    if len(data) != fmt.size:
        raise InvalidValue(
            "packed amount", data, f"it is {len(data)} bytes, not {fmt.size}", "pass the L1 bytes"
        )
    packed = int.from_bytes(data, "big")
    return (packed & fmt.max_mantissa) * _pow10(packed >> fmt.mantissa_bits)


def _pow10(exponent: int) -> int:
    # int ** int is typed as Any by mypy (a negative exponent gives a float).
    return int(10**exponent)
