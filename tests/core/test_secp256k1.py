"""Keys and signatures agree with eth-account and reject malformed input."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_keys import keys as eth_keys
from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.crypto.secp256k1 import SECP256K1_N, PrivateKey, recover_address
from l2gpu.core.errors import InvalidValue, SignatureError

scalars = st.integers(min_value=1, max_value=SECP256K1_N - 1)


@given(scalars, st.binary(min_size=32, max_size=32))
def test_sign_and_recover_agree_with_eth_keys(scalar: int, digest: bytes) -> None:
    secret = scalar.to_bytes(32, "big")
    key = PrivateKey(secret)
    assert key.address == bytes.fromhex(Account.from_key(secret).address[2:])
    signature = key.sign_digest(digest)
    reference = eth_keys.PrivateKey(secret).sign_msg_hash(digest)
    assert signature == reference.to_bytes()[:64] + bytes((reference.v + 27,))
    assert recover_address(digest, signature) == key.address


def test_private_key_never_shows_its_secret() -> None:
    key = PrivateKey.from_hex("0x" + "11" * 32)
    assert "11" * 8 not in repr(key)
    with pytest.raises(InvalidValue) as info:
        PrivateKey.from_hex("0x" + "ab" * 31)
    assert "ab" * 4 not in str(info.value)
    assert "64 hex digits" in str(info.value)


@pytest.mark.parametrize("scalar", [0, SECP256K1_N, SECP256K1_N + 1])
def test_private_key_outside_the_curve_order_is_rejected(scalar: int) -> None:
    with pytest.raises(InvalidValue, match="curve order"):
        PrivateKey((scalar % 2**256).to_bytes(32, "big"))


def test_malformed_signatures_are_rejected() -> None:
    key = PrivateKey((5).to_bytes(32, "big"))
    digest = b"\x01" * 32
    good = key.sign_digest(digest)
    with pytest.raises(SignatureError, match="65 bytes"):
        recover_address(digest, good[:64])
    with pytest.raises(SignatureError, match="v must be 27 or 28"):
        recover_address(digest, good[:64] + b"\x05")
    high_s = (SECP256K1_N - int.from_bytes(good[32:64], "big")).to_bytes(32, "big")
    with pytest.raises(SignatureError, match="lower half"):
        recover_address(digest, good[:32] + high_s + good[64:])


def test_a_signature_over_another_digest_recovers_someone_else() -> None:
    key = PrivateKey((5).to_bytes(32, "big"))
    signature = key.sign_digest(b"\x01" * 32)
    assert recover_address(b"\x02" * 32, signature) != key.address
