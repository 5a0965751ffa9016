"""The Plasma operator's HTTP API (FastAPI; OpenAPI at /docs).

    POST /plasma/transfers        a signed transfer (its 157 bytes, hex): pending for
                                  the next block, or a 400 naming the rule it breaks
    POST /plasma/locks            a renter's signed lock of coins for a lease
    GET  /plasma/blocks/{n}       block n's root and transfers (hex): what every user
                                  keeps to check and exit its coins
    GET  /plasma/coins?owner=A    the coin ranges A holds, with the block each came in
                                  (``free=true``: less those under a live lease lock)
    GET  /plasma/locks?coin=N     the live lease lock holding coin N
    GET  /plasma/owner?coin=N     who holds coin N, since which block
    GET  /plasma/deposits?start=N up to 1,000 deposits from the N-th, in order
    GET  /plasma/status           height, blocks on L1, coins, waiting transfers

A transfer or lock is checked by its signature alone: no token, since the signer is
who asks. Bodies are bounded by :class:`~l2gpu.serving.guard.RequestGuard`.
"""

# No "from __future__ import annotations": FastAPI reads the annotations at definition.

from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from l2gpu.core.errors import InvalidValue
from l2gpu.core.plasma.chain import LockCoins, LockRefused, Refused
from l2gpu.core.plasma.transactions import ENCODED_SIZE, Lock, SignedLock, SignedTransfer
from l2gpu.core.types import Address
from l2gpu.node.plasma.operator import PlasmaOperator
from l2gpu.serving.errors import COMMON, ApiError, NotFound, responses
from l2gpu.serving.guard import RequestGuard, restore_recursion_limit
from l2gpu.serving.problems import install_handlers

MAX_BODY_BYTES = 2 * 1024
PAGE = 1000
_TRANSFER_HEX = f"^(0x)?[0-9a-fA-F]{{{2 * (ENCODED_SIZE + 65)}}}$"
_ADDRESS = "^0x[0-9a-fA-F]{40}$"
_DECIMAL = r"^[0-9]{1,39}$"  # coins are below 2^128: decimal strings, never floats


class TransferIn(BaseModel):
    """A signed transfer as ``SignedTransfer.encode`` writes it, in hex."""

    model_config = ConfigDict(extra="forbid")
    transfer: str = Field(pattern=_TRANSFER_HEX)
    claim: str | None = Field(default=None, pattern="^(0x)?[0-9a-fA-F]{130}$")
    """For coins a lease's lock holds: the provider's EIP-712 ``PlasmaClaim`` of the leaf."""


class LockIn(BaseModel):
    """A renter's lock: coins ``[start, end)`` (decimal strings) move only to
    ``provider`` until ``until``; signed as EIP-712 ``PlasmaLock``."""

    model_config = ConfigDict(extra="forbid")
    start: str = Field(pattern=_DECIMAL)
    end: str = Field(pattern=_DECIMAL)
    provider: str = Field(pattern=_ADDRESS)
    until: int = Field(ge=0, lt=2**64)
    signature: str = Field(pattern="^(0x)?[0-9a-fA-F]{130}$")

    def signed(self) -> SignedLock:
        """The lock as the operator takes it; :class:`ApiError` if it is malformed."""
        try:
            lock = Lock(int(self.start), int(self.end), Address.from_hex(self.provider), self.until)
        except InvalidValue as exc:
            raise ApiError(str(exc), "lock coins [start, end) with start < end < 2^128") from exc
        return SignedLock(lock, bytes.fromhex(self.signature.removeprefix("0x")))


def create_plasma_app(operator: PlasmaOperator, *, max_body: int = MAX_BODY_BYTES) -> Any:
    """The API over ``operator``, inside the request guards."""
    restore_recursion_limit()
    app = FastAPI(title="l2gpu plasma operator", version="1")
    install_handlers(app)

    @app.post("/plasma/transfers", responses=responses(*COMMON))
    def submit(body: TransferIn) -> dict[str, Any]:
        """Accept a signed transfer for the next block (logged before the answer)."""
        try:
            signed = SignedTransfer.decode(bytes.fromhex(body.transfer.removeprefix("0x")))
        except InvalidValue as exc:
            raise ApiError(str(exc), "send SignedTransfer.encode() in hex") from exc
        claim = bytes.fromhex(body.claim.removeprefix("0x")) if body.claim else b""
        event = operator.submit(signed, claim)
        if isinstance(event, Refused):
            raise ApiError(f"plasma: {event.reason}", "see the coins you hold at /plasma/coins")
        return {"leaf": "0x" + signed.leaf.hex(), "status": "pending"}

    @app.post("/plasma/locks", responses=responses(*COMMON))
    def lock(body: LockIn) -> dict[str, Any]:
        """Hold a lease's lock on the renter's coins."""
        event = operator.lock_coins(LockCoins(body.signed()))
        if isinstance(event, LockRefused):
            raise ApiError(f"plasma: {event.reason}", "lock coins you hold, not locked already")
        return {"status": "locked", "start": body.start, "end": body.end}

    @app.get("/plasma/blocks/{number}", responses=responses(*COMMON, 404))
    def block(number: Annotated[int, Path(ge=1, lt=2**63)]) -> dict[str, Any]:
        """Block ``number``'s root and its transfers (hex), in coin order."""
        found = operator.block(number)
        if found is None:
            raise NotFound(f"no block {number} was sealed", "blocks are numbered from 1")
        root, transfers = found
        ordered = sorted(transfers, key=lambda s: s.transfer.start)
        return {
            "number": number,
            "root": "0x" + root.hex(),
            "transfers": ["0x" + s.encode().hex() for s in ordered],
        }

    @app.get("/plasma/coins", responses=responses(*COMMON))
    def coins(owner: Annotated[str, Query(pattern=_ADDRESS)], free: bool = False) -> dict[str, Any]:
        """The coin ranges ``owner`` holds (coins as decimal strings); ``free``: less
        those a live lease lock holds."""
        held = operator.coins_of(Address.from_hex(owner), free=free)
        return {"owner": owner, "coins": [{k: str(v) for k, v in h.items()} for h in held]}

    @app.get("/plasma/locks", responses=responses(*COMMON, 404))
    def lock_of(coin: Annotated[str, Query(pattern=_DECIMAL)]) -> dict[str, Any]:
        """The live lease lock that holds ``coin``."""
        found = operator.lock_at(int(coin))
        if found is None:
            raise NotFound(
                f"no live lease lock holds coin {coin}",
                "a lock ends at its time, or when its last coin is paid",
            )
        return found

    @app.get("/plasma/owner", responses=responses(*COMMON, 404))
    def owner_of(coin: Annotated[str, Query(pattern=_DECIMAL)]) -> dict[str, Any]:
        """Who holds ``coin`` now, and since which block."""
        found = operator.owner_of(int(coin))
        if found is None:
            raise NotFound(f"no one holds coin {coin}", "it was never deposited, or it exited")
        return found

    @app.get("/plasma/deposits", responses=responses(*COMMON))
    def deposits(start: Annotated[int, Query(ge=0, lt=2**63)] = 0) -> dict[str, Any]:
        """Up to 1,000 deposits from the ``start``-th, as L1 logged them."""
        with operator.lock:
            page = operator.deposits[start : start + PAGE]
        return {
            "deposits": [
                {
                    "start": str(d.start),
                    "end": str(d.end),
                    "owner": d.owner.checksum,
                    "block": d.block,
                }
                for d in page
            ]
        }

    @app.get("/plasma/status", responses=responses(*COMMON))
    def status() -> dict[str, Any]:
        """Height, blocks on L1, coins deposited, waiting transfers, locks held, and
        ``time``: L1's time as the operator reads it (locks expire by it)."""
        return {**operator.status(), "time": operator.clock()}

    return RequestGuard(app, max_body=max_body)
