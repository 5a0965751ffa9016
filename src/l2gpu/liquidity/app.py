"""The liquidity provider's HTTP API (``l2gpu bridge lp``).

Anyone may offer a move: what authorizes it is its owner's signature over it for
this bridge, which the book checks (a forged or altered move is refused, and so is
one offered again). Bodies are bounded by the request guard; amounts travel as
decimal strings.
"""

# No "from __future__ import annotations" here: FastAPI reads the route annotations
# at run time.

import re
from typing import Annotated, Any

from fastapi import FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field

from l2gpu.core.shards.bridge import Move
from l2gpu.core.types import Address
from l2gpu.liquidity.provider import LiquidityProvider, LpRefused
from l2gpu.serving.errors import ADDRESS_PATTERN, HASH_PATTERN, responses
from l2gpu.serving.guard import RequestGuard, restore_recursion_limit
from l2gpu.serving.problems import install_handlers

MAX_BODY_BYTES = 4_096  # a signed move is under 600 bytes
Message = Annotated[str, Path(pattern=HASH_PATTERN, description="0x and 64 hex digits")]
COMMON = (400, 413, 422)
WEI = r"[0-9]{1,39}"
SIGNATURE_PATTERN = r"^(0x)?[0-9a-fA-F]{130}$"


class MoveIn(BaseModel):
    """A signed move, as ``l2gpu bridge move`` writes it (amounts in wei)."""

    model_config = ConfigDict(extra="forbid")
    from_shard: int = Field(ge=0, le=63)
    exit_index: int = Field(ge=0, lt=2**64)
    owner: str = Field(pattern=ADDRESS_PATTERN)
    amount: int | str = Field(description="wei")
    to_shard: int = Field(ge=0, le=63)
    to: str = Field(pattern=ADDRESS_PATTERN)
    fee: int | str = Field(description="wei")
    signature: str = Field(pattern=SIGNATURE_PATTERN, description="65 bytes, hex")
    bridge: str = Field(pattern=ADDRESS_PATTERN)


def _wei(value: int | str, name: str) -> int:
    text = str(value)
    if re.fullmatch(WEI, text, flags=re.ASCII) is None:
        raise LpRefused(f"{name} must be a whole number of wei, not {text[:40]!r}")
    return int(text)


def create_app(provider: LiquidityProvider, *, max_body: int = MAX_BODY_BYTES) -> Any:
    """The API over ``provider``, inside the request guards."""
    restore_recursion_limit()
    app = FastAPI(title="l2gpu liquidity provider", version="1")
    install_handlers(app)

    @app.get("/lp", responses=responses(*COMMON))
    def info() -> dict[str, Any]:
        """The provider's address, bridge, terms, and what its budget has left now."""
        return provider.info()

    @app.post("/lp/moves", responses=responses(*COMMON, 409))
    def offer(body: MoveIn) -> dict[str, Any]:
        """Offer a signed move: it is fronted once its exit is in a checked source batch."""
        if Address.from_hex(body.bridge) != provider.bridge.address:
            raise LpRefused(f"the move is for the bridge {body.bridge}, not this provider's "
                            f"{provider.bridge.address.checksum}",
                            "offer it to a provider of that bridge")  # fmt: skip
        move = Move(body.from_shard, body.exit_index, Address.from_hex(body.owner),
                    _wei(body.amount, "amount"), body.to_shard, Address.from_hex(body.to),
                    _wei(body.fee, "fee"))  # fmt: skip
        return provider.offer(move, bytes.fromhex(body.signature.removeprefix("0x")))

    @app.get("/lp/moves/{message}", responses=responses(*COMMON, 404))
    def status(message: Message) -> dict[str, Any]:
        """A move in the book, by its message (``Bridge.message_of``)."""
        return provider.status_of(bytes.fromhex(message.removeprefix("0x")))

    return RequestGuard(app, max_body=max_body)
