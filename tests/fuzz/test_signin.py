"""Fuzzing Sign-In with Ethereum: the message parser and the signature check. The named
error is SignInError."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.market.signin import (
    SignInError,
    SignInMessage,
    parse_message,
    sign_message,
    verify_sign_in,
)
from l2gpu.core.types import Address, Timestamp
from tests.fuzz.support import fuzz, mutated, mutated_text, outcome, texts

KEY = PrivateKey((5).to_bytes(32, "big"))
T0 = 1_800_000_000
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z, the last second ISO 8601 writes

messages = st.builds(
    SignInMessage,
    domain=st.text(alphabet="abcxyz.-:0123456789", min_size=1, max_size=30),
    address=st.binary(min_size=20, max_size=20).map(Address),
    uri=st.text(
        st.characters(exclude_characters="\n", exclude_categories=["Cs"]), min_size=1, max_size=40
    ).filter(lambda u: u.strip() == u),
    chain_id=st.one_of(st.sampled_from([0, 1, 2**256 - 1]), st.integers(0, 2**256 - 1)),
    nonce=st.text(alphabet="abcdefXYZ0123456789", min_size=8, max_size=64),
    issued_at=st.integers(-62135596800, LAST_SECOND).map(Timestamp),
    expires_at=st.integers(-62135596800, LAST_SECOND).map(Timestamp),
)


def check_parsed(text: str) -> None:
    message = outcome(SignInError, parse_message, text)
    if isinstance(message, SignInMessage):
        assert parse_message(message.text()).address == message.address


@fuzz(400)
@given(st.one_of(texts(150), messages.flatmap(lambda m: mutated_text(m.text()))))
def test_parse_message_of_any_text(text: str) -> None:
    check_parsed(text)


@fuzz(200)
@given(messages)
def test_messages_round_trip(message: SignInMessage) -> None:
    assert parse_message(message.text()) == message


@fuzz(200)
@given(
    st.sampled_from(["1", "9" * 78, "9" * 79, "9" * 5000, "0" * 100 + "1", "\u0661\u0662"]),
    st.sampled_from(["Chain ID", "Issued At", "Expiration Time", "Nonce"]),
)
def test_long_and_foreign_numbers_in_fields(value: str, label: str) -> None:
    good = SignInMessage("api.example", KEY.address, "https://api.example", 1, "abcdefgh12",
                         Timestamp(T0), Timestamp(T0 + 60)).text()  # fmt: skip
    lines = [
        f"{label}: {value}" if line.startswith(label + ":") else line for line in good.split("\n")
    ]
    check_parsed("\n".join(lines))


def _signed(message: SignInMessage) -> tuple[str, bytes]:
    return message.text(), sign_message(KEY, message)


@fuzz(200)
@given(
    st.one_of(
        texts(200),
        messages.flatmap(lambda m: mutated_text(m.text())),
        messages.map(SignInMessage.text),
    ),
    st.one_of(
        st.binary(max_size=70),
        st.just(
            sign_message(
                KEY,
                SignInMessage(
                    "api.example",
                    KEY.address,
                    "https://api.example",
                    1,
                    "abcdefgh12",
                    Timestamp(T0),
                    Timestamp(T0 + 60),
                ),
            )
        ),
    ),
)
def test_verify_sign_in_of_any_text_and_signature(text: str, signature: bytes) -> None:
    outcome(SignInError, verify_sign_in, text, signature, domain="api.example", chain_id=1,
            now=Timestamp(T0))  # fmt: skip


@fuzz(200)
@given(st.data())
def test_verify_sign_in_of_mutated_signed_messages(data: st.DataObject) -> None:
    message = SignInMessage("api.example", KEY.address, "https://api.example", 1,
                            "abcdefgh12", Timestamp(T0), Timestamp(T0 + 60))  # fmt: skip
    text, signature = _signed(message)
    text = data.draw(st.one_of(st.just(text), mutated_text(text)))
    signature = data.draw(st.one_of(st.just(signature), mutated(signature)))
    found = outcome(SignInError, verify_sign_in, text, signature, domain="api.example",
                    chain_id=1, now=Timestamp(T0))  # fmt: skip
    if isinstance(found, SignInMessage):
        assert found.address == KEY.address
        assert found.domain == "api.example"


@fuzz(100)
@given(
    st.sampled_from(["\ud800", "\udfff", "a\ud800b", "\x00", "\u2028"]),
    st.sampled_from(["statement", "uri"]),
)
def test_text_that_is_not_utf8_is_refused_by_name(bad: str, where: str) -> None:
    """A lone surrogate (JSON's "\\ud800" decodes to one) cannot be hashed as UTF-8."""
    good = SignInMessage("api.example", KEY.address, "https://api.example", 1, "abcdefgh12",
                         Timestamp(T0), Timestamp(T0 + 60)).text()  # fmt: skip
    if where == "statement":
        text = good.replace("Sign in to the l2gpu market.", bad)
    else:
        text = good.replace("URI: https://api.example", f"URI: https://api.example{bad}")
    outcome(SignInError, parse_message, text)
    outcome(SignInError, verify_sign_in, text, bytes(65), domain="api.example", chain_id=1,
            now=Timestamp(T0))  # fmt: skip
