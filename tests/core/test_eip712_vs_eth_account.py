"""The fast EIP-712 path agrees with eth-account on random schemas, values and keys.

Hypothesis draws a schema (structs that refer to one another, arrays, every
atomic type), a message that fits it, a domain with any subset of its fields
and a key; our digest, signature and recovered signer must equal eth-account's.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import SECP256K1_N, PrivateKey
from l2gpu.core.types import Address

ATOMIC = ["address", "bool", "string", "bytes", "uint8", "uint64", "uint256", "int8", "int128",
          "int256", "bytes1", "bytes4", "bytes32"]  # fmt: skip


def atomic_value(type_name: str) -> st.SearchStrategy[Any]:
    if type_name == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: str(Address(b)))
    if type_name == "bool":
        return st.booleans()
    if type_name == "string":
        return st.text(max_size=40)
    if type_name == "bytes":
        return st.binary(max_size=80)
    if type_name.startswith("uint"):
        return st.integers(0, 2 ** int(type_name[4:]) - 1)
    if type_name.startswith("int"):
        bits = int(type_name[3:])
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    size = int(type_name[5:])
    return st.binary(min_size=size, max_size=size)


@st.composite
def schemas(draw: st.DrawFn) -> tuple[dict[str, list[tuple[str, str]]], str]:
    names = [f"S{i}" for i in range(draw(st.integers(1, 3)))]
    types: dict[str, list[tuple[str, str]]] = {}
    # Struct i may refer only to structs after it, so values stay finite.
    for i, name in enumerate(names):
        choices = ATOMIC + names[i + 1 :]
        fields = []
        for j in range(draw(st.integers(1, 5))):
            base = draw(st.sampled_from(choices))
            suffix = draw(st.sampled_from(["", "", "", "[]", "[2]"]))
            fields.append((f"f{j}", base + suffix))
        types[name] = fields
    # Every struct must be reachable from the primary type for eth-account.
    for later in names[1:]:
        types[names[0]].append((f"r{later}", later))
    return types, names[0]


def value_for(draw: st.DrawFn, types: dict[str, list[tuple[str, str]]], type_name: str) -> Any:
    if type_name.endswith("[]"):
        return [value_for(draw, types, type_name[:-2]) for _ in range(draw(st.integers(0, 2)))]
    if type_name.endswith("[2]"):
        return [value_for(draw, types, type_name[:-3]) for _ in range(2)]
    if type_name in types:
        return {f: value_for(draw, types, t) for f, t in types[type_name]}
    return draw(atomic_value(type_name))


@st.composite
def typed_data(draw: st.DrawFn) -> tuple[TypedDataSchema, Eip712Domain, dict[str, Any]]:
    types, primary = draw(schemas())
    message = value_for(draw, types, primary)
    present = draw(st.lists(st.booleans(), min_size=5, max_size=5).filter(any))
    domain = Eip712Domain(
        name=draw(st.text(max_size=12)) if present[0] else None,
        version=draw(st.sampled_from(["1", "2.0"])) if present[1] else None,
        chain_id=draw(st.integers(1, 2**64)) if present[2] else None,
        verifying_contract=Address(draw(st.binary(min_size=20, max_size=20)))
        if present[3]
        else None,
        salt=draw(st.binary(min_size=32, max_size=32)) if present[4] else None,
    )
    return TypedDataSchema(types, primary), domain, message


@settings(max_examples=1_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_data(), st.integers(1, SECP256K1_N - 1))
def test_fast_path_agrees_with_eth_account(data, scalar: int) -> None:
    schema, domain, message = data
    secret = scalar.to_bytes(32, "big")
    reference = encode_typed_data(full_message=schema.to_json(domain, message))

    assert schema.digest(domain, message) == _hash_eip191_message(reference)

    ours = schema.sign(PrivateKey(secret), domain, message)
    theirs = Account.sign_message(reference, secret)
    assert ours == bytes(theirs.signature)

    signer = str(schema.recover(domain, message, ours))
    assert signer == Account.from_key(secret).address
    assert Account.recover_message(reference, signature=ours) == signer
