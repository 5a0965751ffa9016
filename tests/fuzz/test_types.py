"""Fuzzing the parsers of core/types.py (and private keys): addresses, hashes, amounts,
durations. The named error is InvalidValue."""

from __future__ import annotations

import time
from decimal import Context, localcontext

from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.crypto.secp256k1 import SECP256K1_N, PrivateKey
from l2gpu.core.errors import InvalidValue
from l2gpu.core.types import (
    UINT256_MAX,
    Address,
    Hash32,
    parse_duration,
    parse_wei,
    wei,
)
from tests.fuzz.support import edges, fuzz, mutated_text, outcome, texts

HEX = "0123456789abcdefABCDEF"
UNITS = {"wei": 0, "kwei": 3, "mwei": 6, "gwei": 9, "szabo": 12, "finney": 15, "ether": 18}
MAX_SECONDS = 2**64 - 1


def hexes(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=HEX, min_size=size, max_size=size).map(lambda d: "0x" + d)


def near_hex(size: int) -> st.SearchStrategy[str]:
    """Hex of the right length and wrong lengths, then mutated."""
    exact = st.integers(size - 2, size + 2).flatmap(hexes)
    return st.one_of(exact, exact.flatmap(mutated_text), texts(80))


# -- addresses and hashes ----------------------------------------------------------------


@fuzz(600)
@given(near_hex(40))
def test_address_from_hex_of_any_text(text: str) -> None:
    address = outcome(InvalidValue, Address.from_hex, text)
    if isinstance(address, Address):
        assert Address.from_hex(address.checksum) == address
        assert address.hex() == text.strip()[2:].lower()


@fuzz(300)
@given(st.binary(min_size=20, max_size=20))
def test_addresses_round_trip(raw: bytes) -> None:
    address = Address(raw)
    for text in (str(address), "0x" + raw.hex(), "0x" + raw.hex().upper(), f" {address}\n"):
        assert Address.from_hex(text) == address


@fuzz(400)
@given(near_hex(64))
def test_hash_from_hex_of_any_text(text: str) -> None:
    found = outcome(InvalidValue, Hash32.from_hex, text)
    if isinstance(found, Hash32):
        assert Hash32.from_hex(str(found)) == found


@fuzz(200)
@given(st.binary(min_size=32, max_size=32))
def test_hashes_round_trip(raw: bytes) -> None:
    assert Hash32.from_hex(str(Hash32(raw))) == raw


@fuzz(200)
@given(st.one_of(st.binary(max_size=40), st.integers(), st.text(max_size=40), st.none()))
def test_raw_address_and_hash_of_any_value(value: object) -> None:
    outcome(InvalidValue, Address, value)
    outcome(InvalidValue, Hash32, value)


@fuzz(300)
@given(st.one_of(near_hex(64), near_hex(64).map(lambda t: t[2:]), texts(80)))
def test_private_key_from_hex_of_any_text(text: str) -> None:
    key = outcome(InvalidValue, PrivateKey.from_hex, text)
    if isinstance(key, PrivateKey):
        assert 0 < int.from_bytes(key.secret, "big") < SECP256K1_N
        assert "secret" not in repr(key)


@fuzz(200)
@given(st.sampled_from([0, 1, SECP256K1_N - 1, SECP256K1_N, 2**256 - 1]))
def test_private_keys_at_the_edges_of_the_curve_order(scalar: int) -> None:
    text = f"0x{scalar:064x}"
    key = outcome(InvalidValue, PrivateKey.from_hex, text)
    assert isinstance(key, PrivateKey) == (0 < scalar < SECP256K1_N)
    if isinstance(key, InvalidValue):
        assert text not in str(key)  # a secret is never echoed back


# -- amounts -----------------------------------------------------------------------------


def amount_texts() -> st.SearchStrategy[str]:
    """Texts near the grammar of amounts: digits, a point, underscores, blanks and units."""
    unit = st.sampled_from([*UNITS, "ETH", "Gwei", "eth", "", "bananas", "e18"])
    digits = st.text(alphabet="0123456789_", min_size=1, max_size=90)
    number = st.one_of(digits, st.tuples(digits, digits).map(".".join))
    grammar = st.tuples(number, st.sampled_from(["", " ", "  "]), unit).map("".join)
    return st.one_of(grammar, grammar.flatmap(mutated_text), texts(120))


@fuzz(800)
@given(amount_texts())
def test_parse_wei_of_any_text(text: str) -> None:
    value = outcome(InvalidValue, parse_wei, text)
    if not isinstance(value, InvalidValue):
        assert 0 <= value <= UINT256_MAX
        assert parse_wei(str(value)) == value


@fuzz(400)
@given(edges(256), st.sampled_from(sorted(UNITS)))
def test_parse_wei_round_trips_exact_decimals(amount: int, unit: str) -> None:
    """``amount`` wei written exactly in ``unit`` (all its decimals) parses back to it."""
    places = UNITS[unit]
    whole, fraction = divmod(abs(amount), 10**places)
    text = f"{'-' if amount < 0 else ''}{whole}"
    if places:
        text += f".{fraction:0{places}d}"
    with localcontext(Context()):  # 28 digits: the parser must not depend on the context
        value = outcome(InvalidValue, parse_wei, f"{text} {unit}")
    if 0 <= amount <= UINT256_MAX:
        assert value == amount
    else:
        assert isinstance(value, InvalidValue)


@fuzz(200)
@given(st.integers(1, 200), st.integers(0, 5))
def test_parse_wei_refuses_digits_below_one_wei(zeros: int, tail: int) -> None:
    """Digits below 1 wei are refused however many zeros come before them."""
    value = outcome(InvalidValue, parse_wei, f"1.{'0' * zeros}{tail + 1} wei")
    assert isinstance(value, InvalidValue)
    assert "whole number of wei" in str(value) or "too long" in str(value)


@fuzz(200)
@given(st.one_of(edges(256), st.floats(), st.booleans(), st.none(), st.text(max_size=5)))
def test_wei_of_any_value(value: object) -> None:
    result = outcome(InvalidValue, wei, value)
    if not isinstance(result, InvalidValue):
        assert type(value) is int
        assert 0 <= value <= UINT256_MAX


# -- durations ---------------------------------------------------------------------------


def duration_texts() -> st.SearchStrategy[str]:
    number = st.one_of(
        st.integers(0, 10**30).map(str),
        st.sampled_from([20, 21, 4300, 4301, 5000]).map(lambda n: "9" * n),
    )
    grammar = st.tuples(number, st.sampled_from(["", " ", "s", "m", "h", "d", "w", " d"])).map(
        "".join
    )
    return st.one_of(grammar, grammar.flatmap(mutated_text), texts(80))


@fuzz(600)
@given(duration_texts())
def test_parse_duration_of_any_text(text: str) -> None:
    seconds = outcome(InvalidValue, parse_duration, text)
    if not isinstance(seconds, InvalidValue):
        assert 0 <= seconds <= MAX_SECONDS
        assert parse_duration(str(seconds)) == seconds


@fuzz(300)
@given(edges(64), st.sampled_from([("", 1), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]))
def test_durations_round_trip(count: int, unit: tuple[str, int]) -> None:
    suffix, size = unit
    seconds = outcome(InvalidValue, parse_duration, f"{count}{suffix}")
    if 0 <= count * size <= MAX_SECONDS:
        assert seconds == count * size
    else:
        assert isinstance(seconds, InvalidValue)


# -- bounded time ------------------------------------------------------------------------


def test_amount_and_duration_parsers_take_linear_time() -> None:
    """Long runs of blanks once took quadratic time in their regular expressions (a
    minute for these inputs). Not a performance claim: a bound against that blow-up."""
    for parse in (parse_wei, parse_duration, Address.from_hex, Hash32.from_hex):
        for text in ("1" + " " * 100_000 + "!", " " * 100_000 + "1", "9" * 100_000):
            started = time.process_time()
            outcome(InvalidValue, parse, text)
            assert time.process_time() - started < 1.0, (parse.__name__, text[:5])
