"""Accounts: sign-in with Ethereum (EIP-4361) for a bearer token, and token checks.

A nonce is issued once, lives five minutes and is burnt by its first use, so a
signed message cannot be replayed. Tokens are 32 random bytes; only their
Keccak hash is stored, so a copy of the database grants no access.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from l2gpu.api.errors import Unauthorized
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.market.signin import SignInError, SignInMessage, verify_sign_in
from l2gpu.core.types import Address, Timestamp
from l2gpu.db.market_models import AuthNonce, SessionRow

NONCE_TTL = 300
TOKEN_TTL = 86_400


class Accounts:
    """Issues nonces and tokens; resolves a token to its address."""

    def __init__(
        self, engine: Engine, *, domain: str, chain_id: int, clock: Callable[[], int]
    ) -> None:
        self.engine = engine
        self.domain = domain
        self.chain_id = chain_id
        self.clock = clock
        self._cache: dict[bytes, tuple[Address, int]] = {}

    def new_nonce(self, address: Address) -> SignInMessage:
        """A fresh nonce, and the message that ``address`` should sign with it."""
        now = self.clock()
        nonce = secrets.token_hex(16)
        with Session(self.engine) as session, session.begin():
            session.execute(delete(AuthNonce).where(AuthNonce.issued_at < now - NONCE_TTL))
            session.add(AuthNonce(nonce=nonce, issued_at=now, used=False))
        return SignInMessage(
            self.domain,
            address,
            f"http://{self.domain}",
            self.chain_id,
            nonce,
            Timestamp(now),
            Timestamp(now + NONCE_TTL),
        )

    def sign_in(self, message: str, signature: bytes) -> tuple[str, Address, int]:
        """Check a signed message and burn its nonce; return (token, address, expiry)."""
        now = self.clock()
        try:
            signed = verify_sign_in(
                message, signature, domain=self.domain, chain_id=self.chain_id, now=Timestamp(now)
            )
        except SignInError as exc:
            raise Unauthorized(exc.what, exc.fix) from exc
        token = secrets.token_urlsafe(32)
        expires = now + TOKEN_TTL
        with Session(self.engine) as session, session.begin():
            row = session.get(AuthNonce, signed.nonce)
            if row is None or row.used or row.issued_at < now - NONCE_TTL:
                raise Unauthorized(
                    "the sign-in nonce is unknown, used or expired",
                    "ask for a new one with POST /auth/nonce and sign again",
                )
            row.used = True
            session.add(
                SessionRow(
                    token_hash=_hash(token), address=bytes(signed.address), expires_at=expires
                )
            )
        return token, signed.address, expires

    def address_of(self, token: str | None) -> Address:
        """The address a bearer token belongs to; :class:`Unauthorized` if none."""
        if not token:
            raise Unauthorized(
                "this request needs a bearer token",
                "sign in (POST /auth/nonce, then POST /auth/login) and send "
                "'Authorization: Bearer <token>'",
            )
        key = _hash(token)
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        with Session(self.engine) as session:
            row = session.scalars(select(SessionRow).where(SessionRow.token_hash == key)).first()
        if row is None or row.expires_at <= now:
            raise Unauthorized("the bearer token is unknown or expired", "sign in again")
        address = Address(row.address)
        if len(self._cache) > 10_000:
            self._cache.clear()  # bounded memory; misses only cost a query
        self._cache[key] = (address, row.expires_at)
        return address


def _hash(token: str) -> bytes:
    return keccak256(token.encode())
