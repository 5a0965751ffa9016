"""Fuzzing the crypto that reads peers' bytes: EIP-712 typed data (schemas and values),
secp256k1 signatures, BLS keys, signatures and proofs of possession, their EIP-2537
points, and Merkle proofs. Named errors: TypedDataError and InvalidValue (typed data),
SignatureError (signatures); verifiers answer False, never raise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.channel.vouchers import VOUCHER
from l2gpu.core.crypto.bls import (
    BlsSecretKey,
    aggregate,
    verify_aggregate_same_message,
    verify_possession,
)
from l2gpu.core.crypto.bls_points import G1_POINT_SIZE, G2_POINT_SIZE, g1_point, g2_point
from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataError, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey, recover_address, split_signature
from l2gpu.core.errors import InvalidValue, SignatureError
from l2gpu.core.l2.envelope import ENVELOPE
from l2gpu.core.l2.merkle import IndexedMerkleTree, verify_proof
from l2gpu.core.l2.segments import (
    Segment,
    segment_leaf,
    segment_proof,
    segments_root,
    verify_segment,
)
from l2gpu.core.market.offers import OFFER
from l2gpu.core.types import Address
from tests.fuzz.support import edges, fuzz, mutated, outcome, recursion_limit, texts

KEY = PrivateKey((3).to_bytes(32, "big"))
DIGEST = bytes(range(32))
SIGNATURE = KEY.sign_digest(DIGEST)

# -- EIP-712 -----------------------------------------------------------------------------

LENGTHS = st.sampled_from([1, 2, 100, 300, 4300, 4301, 6000])
type_names = st.one_of(
    st.sampled_from(
        ["uint8", "uint256", "int8", "bytes32", "bytes", "string", "address", "bool", "B",
         "uint", "uint0", "uint264", "bytes0", "bytes33", "uint8[2]", "B[]", "uint8\n", "B[]\n"]
    ),
    LENGTHS.map(lambda n: "uint" + "8" * n),
    LENGTHS.map(lambda n: "bytes" + "1" * n),
    LENGTHS.map(lambda n: "uint8[" + "9" * n + "]"),
    LENGTHS.map(lambda n: "uint8" + "[]" * n),
    LENGTHS.map(lambda n: "uint8" + "[" * n + "]" * n),
    texts(20),
)  # fmt: skip


struct_names = st.one_of(st.sampled_from(["A", "B"]), st.sampled_from(["not valid", "", "A\n"]))
field_names = st.one_of(st.sampled_from(["x", "y", "z"]), st.sampled_from(["1x", "", "x\n"]))


@fuzz(300)
@given(
    st.dictionaries(
        struct_names,
        st.lists(st.tuples(field_names, type_names), max_size=3, unique_by=lambda f: f[0]),
        min_size=1,
        max_size=2,
    ).filter(lambda types: "A" in types),
    st.sampled_from(["A", "A", "A", "C"]),
)
def test_typed_data_schemas_of_any_types(types: dict, primary: str) -> None:
    with recursion_limit(400):
        schema = outcome(TypedDataError, TypedDataSchema, types, primary)
    if isinstance(schema, TypedDataSchema):
        assert schema.type_hash(primary)
        assert "\n" not in schema.encode_type(primary)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        edges(256),
        st.floats(),
        texts(20),
        st.binary(max_size=40),
        st.sampled_from(["0x", "0x00", "0x" + "11" * 20, "0x" + "ab" * 32, "0xzz"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(texts(6), inner, max_size=3)
    ),
    max_leaves=6,
)
NESTED = TypedDataSchema(
    {
        "Outer": [("inner", "Inner[]"), ("tag", "bytes4[2]")],
        "Inner": [("who", "address"), ("n", "int64")],
    },
    "Outer",
)
SCHEMAS = [OFFER, VOUCHER, ENVELOPE, NESTED]


@fuzz(200)
@given(st.sampled_from(SCHEMAS), st.data())
def test_typed_data_values_of_any_json(schema: TypedDataSchema, data: st.DataObject) -> None:
    fields = schema.types[schema.primary_type]
    message = data.draw(
        st.one_of(
            json_values,
            st.fixed_dictionaries({name: json_values for name, _ in fields}),
        )
    )
    result = outcome((TypedDataError, InvalidValue), schema.hash_struct, message)
    assert isinstance(result, TypedDataError | InvalidValue) or len(result) == 32


@fuzz(200)
@given(
    st.one_of(st.none(), texts(10)),
    st.one_of(st.none(), texts(10)),
    st.one_of(st.none(), edges(256)),
    st.one_of(st.none(), st.binary(min_size=20, max_size=20).map(Address)),
    st.one_of(st.none(), st.binary(max_size=40)),
)
def test_domains_of_any_values(name, version, chain_id, contract, salt) -> None:
    domain = Eip712Domain(name, version, chain_id, contract, salt)
    separator = outcome((TypedDataError, InvalidValue), lambda: domain.separator)
    assert isinstance(separator, TypedDataError | InvalidValue) or len(separator) == 32


# -- secp256k1 ---------------------------------------------------------------------------


@fuzz(300)
@given(
    st.one_of(st.just(DIGEST), st.binary(max_size=40)),
    st.one_of(st.binary(max_size=80), mutated(SIGNATURE), st.none(), st.text(max_size=3)),
)
def test_recover_address_of_any_bytes(digest: bytes, signature: bytes) -> None:
    signer = outcome(SignatureError, recover_address, digest, signature)
    if isinstance(signer, Address):
        assert signer != KEY.address or (digest, signature) == (DIGEST, SIGNATURE)
        split_signature(signature)


def test_signatures_round_trip() -> None:
    assert recover_address(DIGEST, SIGNATURE) == KEY.address


# -- BLS ---------------------------------------------------------------------------------

BLS = BlsSecretKey.from_seed(bytes(32))
OTHER = BlsSecretKey.from_seed(b"\x01" * 32)
MESSAGE = b"commitment"
BLS_SIGNATURE = BLS.sign(MESSAGE)
POP = BLS.prove_possession()
IDENTITY_G1, IDENTITY_G2 = b"\xc0" + bytes(47), b"\xc0" + bytes(95)

g1s = st.one_of(
    st.just(BLS_SIGNATURE), mutated(BLS_SIGNATURE), st.binary(min_size=48, max_size=48),
    st.binary(max_size=100), st.just(IDENTITY_G1), st.just(bytes(48)),
)  # fmt: skip
g2s = st.one_of(
    st.just(BLS.public_key), mutated(BLS.public_key), st.binary(min_size=96, max_size=96),
    st.binary(max_size=100), st.just(IDENTITY_G2), st.just(bytes(96)),
)  # fmt: skip


@fuzz(200)
@given(g2s, g1s)
def test_proofs_of_possession_of_any_bytes(key: bytes, proof: bytes) -> None:
    valid = verify_possession(key, proof)
    assert isinstance(valid, bool)
    if valid:
        assert key == BLS.public_key


@fuzz(150)
@given(st.lists(g2s, max_size=3), g1s)
def test_aggregate_signatures_of_any_bytes(keys: list[bytes], signature: bytes) -> None:
    valid = verify_aggregate_same_message(keys, MESSAGE, signature)
    assert isinstance(valid, bool)
    if valid:
        assert signature == BLS_SIGNATURE
        assert keys == [BLS.public_key]


@fuzz(150)
@given(st.lists(g1s, max_size=3))
def test_aggregating_any_bytes(signatures: list[bytes]) -> None:
    total = outcome(SignatureError, aggregate, signatures)
    assert isinstance(total, SignatureError) or len(total) == 48


@fuzz(150)
@given(g1s, g2s)
def test_eip2537_points_of_any_bytes(signature: bytes, key: bytes) -> None:
    assert len(g1_point(signature)) == G1_POINT_SIZE
    assert len(g2_point(key)) == G2_POINT_SIZE


def test_bls_round_trips() -> None:
    assert verify_possession(BLS.public_key, POP)
    both = aggregate([BLS_SIGNATURE, OTHER.sign(MESSAGE)])
    assert verify_aggregate_same_message([BLS.public_key, OTHER.public_key], MESSAGE, both)
    assert any(g1_point(BLS_SIGNATURE))
    assert any(g2_point(BLS.public_key))


# -- Merkle proofs -----------------------------------------------------------------------

TREE = IndexedMerkleTree(8)
for _i in range(5):
    TREE.set_leaf(_i * 7, bytes([_i + 1]) * 32)
ROOT = TREE.root
SEGMENTS = tuple(Segment(bytes([i]) * 32, bytes([i + 1]) * 32, bytes(32)) for i in range(5))
SEGMENTS_ROOT = segments_root(SEGMENTS)

proofs = st.lists(
    st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40)), max_size=10
)


@fuzz(300)
@given(st.one_of(st.integers(0, 40), edges(64)), st.binary(max_size=40), st.data())
def test_merkle_proofs_of_any_bytes(index: int, leaf: bytes, data: st.DataObject) -> None:
    honest = TREE.proof(index) if 0 <= index < TREE.capacity else []
    siblings = data.draw(st.one_of(proofs, st.just(honest), st.just(honest).map(lambda p: p[:-1])))
    valid = verify_proof(ROOT, index, leaf, siblings)
    if valid:
        assert leaf == TREE.leaf(index)


@fuzz(200)
@given(st.one_of(st.integers(-2, 8), edges(64)), st.data())
def test_segment_proofs_of_any_bytes(j: int, data: st.DataObject) -> None:
    honest = segment_proof(SEGMENTS, j) if 0 <= j < len(SEGMENTS) else ()
    leaf = segment_leaf(SEGMENTS[j]) if 0 <= j < len(SEGMENTS) else bytes(32)
    proof = data.draw(st.one_of(st.just(honest), proofs.map(tuple)))
    leaf = data.draw(st.one_of(st.just(leaf), st.binary(max_size=40)))
    if verify_segment(SEGMENTS_ROOT, j, leaf, proof):
        assert leaf == segment_leaf(SEGMENTS[j])
