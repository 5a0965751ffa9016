"""EIP-712 against the EIP's own worked example, and its error messages."""

from __future__ import annotations

import pytest

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataError, TypedDataSchema
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import InvalidValue
from l2gpu.core.types import Address

MAIL = TypedDataSchema(
    {
        "Person": [("name", "string"), ("wallet", "address")],
        "Mail": [("from", "Person"), ("to", "Person"), ("contents", "string")],
    },
    "Mail",
)
DOMAIN = Eip712Domain(
    name="Ether Mail",
    version="1",
    chain_id=1,
    verifying_contract=Address.from_hex("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"),
)
MESSAGE = {
    "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
    "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
    "contents": "Hello, Bob!",
}


def test_the_eip_example_hashes_and_signs_as_published() -> None:
    # Figures from the example in EIP-712 (Example.js).
    assert MAIL.encode_type("Mail") == (
        "Mail(Person from,Person to,string contents)Person(string name,address wallet)"
    )
    assert MAIL.type_hash("Mail").hex() == (
        "a0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2"
    )
    assert DOMAIN.separator.hex() == (
        "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f"
    )
    assert MAIL.hash_struct(MESSAGE).hex() == (
        "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e"
    )
    assert MAIL.digest(DOMAIN, MESSAGE).hex() == (
        "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
    )
    cow = PrivateKey(keccak256(b"cow"))
    signature = MAIL.sign(cow, DOMAIN, MESSAGE)
    assert signature[64] == 28
    assert signature[:32].hex() == (
        "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
    )
    assert signature[32:64].hex() == (
        "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
    )
    assert MAIL.recover(DOMAIN, MESSAGE, signature) == cow.address


def test_a_signature_does_not_carry_over_to_another_domain() -> None:
    key = PrivateKey((9).to_bytes(32, "big"))
    signature = MAIL.sign(key, DOMAIN, MESSAGE)
    for other in (
        Eip712Domain("Ether Mail", "1", 2, DOMAIN.verifying_contract),
        Eip712Domain("Ether Mail", "1", 1, Address(b"\x01" * 20)),
        Eip712Domain("Ether Mail", "2", 1, DOMAIN.verifying_contract),
    ):
        assert MAIL.recover(other, MESSAGE, signature) != key.address


@pytest.mark.parametrize(
    ("types", "primary", "problem"),
    [
        ({"A": [("x", "uint7")]}, "A", "multiple of 8"),
        ({"A": [("x", "bytes33")]}, "A", "1 <= N <= 32"),
        ({"A": [("x", "Missing")]}, "A", "unknown type 'Missing'"),
        ({"A": [("x", "uint256"), ("x", "bool")]}, "A", "defined twice"),
        ({"A": [("x", "uint256")]}, "B", "primary type 'B'"),
        ({"A": [("not valid", "uint256")]}, "A", "not an identifier"),
    ],
)
def test_bad_schemas_are_rejected_with_a_reason(types, primary, problem) -> None:
    with pytest.raises(TypedDataError, match=problem):
        TypedDataSchema(types, primary)


def test_bad_values_are_rejected_with_a_reason() -> None:
    schema = TypedDataSchema(
        {"V": [("a", "uint8"), ("b", "bytes2"), ("c", "bool"), ("d", "uint8[2]")]}, "V"
    )
    good = {"a": 1, "b": b"\x00\x01", "c": True, "d": [1, 2]}
    schema.hash_struct(good)
    with pytest.raises(InvalidValue, match="out of range"):
        schema.hash_struct({**good, "a": 256})
    with pytest.raises(InvalidValue, match="it is 3 bytes"):
        schema.hash_struct({**good, "b": b"abc"})
    with pytest.raises(InvalidValue, match="true or false"):
        schema.hash_struct({**good, "c": 1})
    with pytest.raises(TypedDataError, match="exactly 2 items"):
        schema.hash_struct({**good, "d": [1]})
    with pytest.raises(TypedDataError, match="missing field 'c'"):
        schema.hash_struct({"a": 1, "b": b"\x00\x01", "d": [1, 2]})
