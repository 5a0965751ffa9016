"""Accounts: sign-in with Ethereum (EIP-4361) for a bearer token, and token checks.

A nonce is issued once, lives five minutes and is burnt by its first use, so a
signed message cannot be replayed: the burn is one conditional UPDATE (``used`` from
false to true) and a session row is unique per nonce, so concurrent logins with one
message get one token on any database. The message is bound to the API's origin:
its domain must be the origin's host (and port), its URI the origin itself, so a
message signed for another site does not sign in here. Tokens are 32 random bytes;
only their Keccak hash is stored, so a copy of the database grants no access.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.market.signin import SignInError, SignInMessage, verify_sign_in
from l2gpu.core.types import Address, Timestamp
from l2gpu.db.market_models import AuthNonce, SessionRow
from l2gpu.serving.errors import Unauthorized

NONCE_TTL = 300
TOKEN_TTL = 86_400
MAX_TOKEN = 128
"""Longer bearer tokens are refused unhashed (ours are 43 characters)."""


class Accounts:
    """Issues nonces and tokens; resolves a token to its address."""

    def __init__(
        self, engine: Engine, *, origin: str, chain_id: int, clock: Callable[[], int]
    ) -> None:
        self.engine = engine
        self.origin = origin.rstrip("/")
        # EIP-4361: the domain is the RFC 3986 authority (host and port) of the origin.
        self.domain = urlsplit(self.origin).netloc
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
            self.origin,
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
        if signed.uri.rstrip("/") != self.origin:
            raise Unauthorized(
                f"the sign-in message's URI is {signed.uri}, not this API's origin {self.origin}",
                "sign the message that POST /auth/nonce of this API returns",
            )
        token = secrets.token_urlsafe(32)
        expires = now + TOKEN_TTL
        spent = Unauthorized(
            "the sign-in nonce is unknown, used or expired",
            "ask for a new one with POST /auth/nonce and sign again",
        )
        try:
            with Session(self.engine) as session, session.begin():
                # One conditional UPDATE: of concurrent logins, only the first to
                # reach the row sees used = false (PostgreSQL re-checks the condition
                # after waiting for the row lock); the others change nothing.
                burnt = session.execute(
                    update(AuthNonce)
                    .where(
                        AuthNonce.nonce == signed.nonce,
                        AuthNonce.used.is_(False),
                        AuthNonce.issued_at >= now - NONCE_TTL,
                    )
                    .values(used=True)
                )
                if burnt.rowcount != 1:  # type: ignore[attr-defined]
                    raise spent
                session.add(
                    SessionRow(
                        token_hash=_hash(token),
                        address=bytes(signed.address),
                        expires_at=expires,
                        nonce=signed.nonce,
                    )
                )
        except IntegrityError as exc:  # a second session for the nonce: the unique index
            raise spent from exc
        self._remember(_hash(token), signed.address, expires)
        return token, signed.address, expires

    def cached(self, token: str) -> Address | None:
        """The address of a token this process has seen valid, without a query; None
        for one it has not (yet) checked. Cheap enough for every request."""
        if not token or len(token) > MAX_TOKEN:
            return None
        hit = self._cache.get(_hash(token))
        return hit[0] if hit is not None and hit[1] > self.clock() else None

    def address_of(self, token: str | None) -> Address:
        """The address a bearer token belongs to; :class:`Unauthorized` if none."""
        if not token:
            raise Unauthorized(
                "this request needs a bearer token",
                "sign in (POST /auth/nonce, then POST /auth/login) and send "
                "'Authorization: Bearer <token>'",
            )
        if len(token) > MAX_TOKEN:
            raise Unauthorized("the bearer token is unknown or expired", "sign in again")
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
        self._remember(key, address, row.expires_at)
        return address

    def _remember(self, key: bytes, address: Address, expires: int) -> None:
        if len(self._cache) > 10_000:
            self._cache.clear()  # bounded memory; misses only cost a query
        self._cache[key] = (address, expires)


def _hash(token: str) -> bytes:
    return keccak256(token.encode())
