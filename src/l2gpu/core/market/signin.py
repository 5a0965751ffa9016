"""Sign-In with Ethereum (EIP-4361): the message a wallet signs to get an API token.

Pure: the nonce and the times are passed in. :func:`parse_message` reads back the
fields the server checks; :func:`verify_sign_in` checks them one per line and
returns the address that signed in, or raises :class:`SignInError` saying what
was wrong and what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.secp256k1 import PrivateKey, recover_address
from l2gpu.core.errors import InvalidValue, L2gpuError, SignatureError
from l2gpu.core.types import Address, Timestamp

STATEMENT = "Sign in to the l2gpu market."
_MESSAGE = re.compile(
    r"^(?P<domain>[^\s]+) wants you to sign in with your Ethereum account:\n"
    r"(?P<address>0x[0-9a-fA-F]{40})\n\n"
    r"(?P<statement>[^\n]*)\n\n"
    r"URI: (?P<uri>[^\n]+)\n"
    r"Version: 1\n"
    r"Chain ID: (?P<chain_id>[0-9]+)\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,64})\n"
    r"Issued At: (?P<issued_at>[^\n]+)\n"
    r"Expiration Time: (?P<expires_at>[^\n]+)$"
)


MAX_MESSAGE = 4096
"""Longer sign-in messages are refused unread (l2gpu's are a few hundred characters)."""


class SignInError(L2gpuError):
    """A sign-in message or its signature is not acceptable."""


@dataclass(frozen=True, slots=True)
class SignInMessage:
    """The fields of an EIP-4361 message that l2gpu uses."""

    domain: str
    address: Address
    uri: str
    chain_id: int
    nonce: str
    issued_at: Timestamp
    expires_at: Timestamp

    def text(self) -> str:
        """The message as the wallet shows and signs it."""
        return (
            f"{self.domain} wants you to sign in with your Ethereum account:\n"
            f"{self.address.checksum}\n\n{STATEMENT}\n\n"
            f"URI: {self.uri}\nVersion: 1\nChain ID: {self.chain_id}\nNonce: {self.nonce}\n"
            f"Issued At: {_iso(self.issued_at)}\nExpiration Time: {_iso(self.expires_at)}"
        )


def personal_digest(text: str) -> bytes:
    """The EIP-191 digest that ``personal_sign`` signs."""
    data = text.encode("utf-8")
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def sign_message(key: PrivateKey, message: SignInMessage) -> bytes:
    """Sign ``message`` as a wallet's ``personal_sign`` would."""
    return key.sign_digest(personal_digest(message.text()))


def parse_message(text: str) -> SignInMessage:
    """Read an EIP-4361 message; raise :class:`SignInError` if it is not one."""
    fix = "ask the API for a nonce (POST /auth/nonce) and sign the message it returns"
    if not isinstance(text, str) or len(text) > MAX_MESSAGE:
        raise SignInError(
            f"the sign-in message is not text of at most {MAX_MESSAGE} characters", fix
        )
    try:
        # What is signed is the UTF-8 bytes: text holding a lone surrogate (JSON's
        # "\ud800" decodes to one) has none, and could never be verified.
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SignInError("the sign-in message is not valid Unicode text", fix) from None
    match = _MESSAGE.match(text)
    if match is None:
        raise SignInError("the sign-in message is not an EIP-4361 message in l2gpu's form", fix)
    try:
        address = Address.from_hex(match["address"])
        issued, expires = _parse_iso(match["issued_at"]), _parse_iso(match["expires_at"])
        chain_id = _parse_chain_id(match["chain_id"])
    except (InvalidValue, ValueError) as exc:
        raise SignInError(
            f"the sign-in message has a bad field: {exc}", "sign a fresh message"
        ) from exc
    return SignInMessage(
        match["domain"],
        address,
        match["uri"],
        chain_id,
        match["nonce"],
        issued,
        expires,
    )


def verify_sign_in(
    text: str, signature: bytes, *, domain: str, chain_id: int, now: Timestamp
) -> SignInMessage:
    """Check a signed sign-in message; return it (its address signed in)."""
    message = parse_message(text)
    if message.domain != domain:
        raise SignInError(
            f"the message is for {message.domain}, not {domain}", "sign a message for this API"
        )
    if message.chain_id != chain_id:
        raise SignInError(
            f"the message is for chain {message.chain_id}, not {chain_id}",
            "sign in on the market's chain",
        )
    if not message.issued_at <= now + 60:
        raise SignInError("the message was issued in the future", "check your clock")
    if message.expires_at <= now:
        raise SignInError("the sign-in message has expired", "sign a fresh one")
    try:
        signer = recover_address(personal_digest(text), signature)
    except SignatureError as exc:
        raise SignInError(
            f"the signature is malformed: {exc.what}", "sign the message again"
        ) from exc
    if signer != message.address:
        raise SignInError(
            f"the message was signed by {signer}, not {message.address}",
            "sign with the account named in the message",
        )
    return message


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_chain_id(digits: str) -> int:
    # A chain id is a uint256 (78 digits at most): checked before int(), which refuses
    # numbers of more than 4,300 digits with a ValueError of its own.
    significant = digits.lstrip("0") or "0"
    if len(significant) > 78 or int(significant) >= 2**256:
        raise ValueError(f"chain id {digits[:20]}... does not fit in 256 bits")
    return int(significant)


def _parse_iso(text: str) -> Timestamp:
    return Timestamp(
        int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())
    )
