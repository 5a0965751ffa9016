"""Quantities and identifiers: parsing, checks and the errors users see."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.errors import InvalidValue
from l2gpu.core.types import Address, Hash32, format_wei, parse_wei, wei


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1000", 1000),
        ("2 gwei", 2 * 10**9),
        ("1.5 ether", 15 * 10**17),
        ("1.5ETH", 15 * 10**17),
        ("1_000 wei", 1000),
        ("0.000000001 ether", 10**9),
    ],
)
def test_parse_wei_accepts_numbers_with_units(text: str, expected: int) -> None:
    assert parse_wei(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-1", "not a number"),
        ("1.5", "not a whole number of wei"),
        ("0.1 wei", "not a whole number of wei"),
        ("3 bananas", "unknown unit 'bananas'"),
        ("", "not a number"),
        ("1e18", "not a number"),
        (str(2**256), "does not fit in 256 bits"),
    ],
)
def test_parse_wei_rejects_bad_amounts_with_a_reason(text: str, problem: str) -> None:
    with pytest.raises(InvalidValue) as info:
        parse_wei(text)
    assert problem in str(info.value)
    assert f"'{text}'" in str(info.value)  # the message names the value


def test_wei_rejects_floats_bools_and_negatives() -> None:
    for bad in (1.0, True, -5):
        with pytest.raises(InvalidValue):
            wei(bad)  # type: ignore[arg-type]


def test_format_wei_is_readable() -> None:
    assert format_wei(15 * 10**17) == "1.5 ETH"
    assert format_wei(2 * 10**9) == "2 gwei"
    assert format_wei(12) == "12 wei"


@given(st.binary(min_size=20, max_size=20))
def test_address_checksum_matches_eth_utils(raw: bytes) -> None:
    address = Address(raw)
    assert str(address) == to_checksum_address(raw)
    assert Address.from_hex(str(address)) == address
    assert Address.from_hex("0x" + raw.hex()) == address
    assert Address.from_hex("0x" + raw.hex().upper()) == address


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0x1234", "not 0x followed by 40 hex digits"),
        ("52908400098527886E0F7030069857D2E4169EE7", "not 0x followed by 40 hex digits"),
        ("0x52908400098527886E0F7030069857D2E4169Eg7", "not 0x followed by 40 hex digits"),
        ("0x52908400098527886e0F7030069857D2E4169EE7", "checksum (EIP-55) is wrong"),
    ],
)
def test_address_rejects_malformed_text(text: str, problem: str) -> None:
    with pytest.raises(InvalidValue) as info:
        Address.from_hex(text)
    assert problem in str(info.value)


def test_hash32_round_trips_and_checks_length() -> None:
    h = Hash32.from_hex("0x" + "ab" * 32)
    assert str(h) == "0x" + "ab" * 32
    with pytest.raises(InvalidValue):
        Hash32(b"\x00" * 31)
    with pytest.raises(InvalidValue):
        Hash32.from_hex("0xabc")
