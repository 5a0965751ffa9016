"""The hub's HTTP API (``l2gpu hub``): routes between shards, and vouchers along them.

Every request that changes state proves who asks: a route request is signed by the
renter of the inbound channel (EIP-712 ``HubRoute``), and a voucher by the renter of
its route (the hop refuses any other signer). Bodies are bounded by the request
guard; amounts travel as decimal strings.
"""

# No "from __future__ import annotations" here: FastAPI reads the route annotations
# at run time.

from typing import Annotated, Any

from fastapi import FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field

from l2gpu.core.errors import InvalidValue
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.shards.hub_messages import voucher_from_json, voucher_to_json
from l2gpu.core.shards.route import RouteRequest
from l2gpu.core.types import Address, Hash32
from l2gpu.hub.service import Hub, HubRefused
from l2gpu.serving.errors import ADDRESS_PATTERN, HASH_PATTERN, HEX_PATTERN, responses
from l2gpu.serving.guard import RequestGuard, restore_recursion_limit
from l2gpu.serving.problems import install_handlers

MAX_BODY_BYTES = 16_384
ChannelId = Annotated[str, Path(pattern=HASH_PATTERN, description="0x and 64 hex digits")]
COMMON = (400, 413, 422)


class RouteIn(BaseModel):
    """A renter's route request: its inbound channel's description and the signed terms."""

    model_config = ConfigDict(extra="forbid")
    inbound: dict[str, Any] = Field(description="the inbound channel, as the client wrote it")
    provider: str = Field(pattern=ADDRESS_PATTERN)
    deposit: str = Field(pattern=r"^[0-9]{1,30}$", description="wei, for the outbound channel")
    lifetime: int = Field(ge=1, lt=2**63)
    signature: str = Field(pattern=HEX_PATTERN, max_length=200)


class VoucherIn(BaseModel):
    """A renter's cumulative voucher on its inbound channel."""

    model_config = ConfigDict(extra="forbid")
    channel_id: str = Field(pattern=HASH_PATTERN)
    amount: str = Field(pattern=r"^[0-9]{1,39}$")
    signature: str = Field(pattern=HEX_PATTERN, max_length=200)


def create_app(hub: Hub, *, max_body: int = MAX_BODY_BYTES) -> Any:
    """The API over ``hub``, inside the request guards."""
    restore_recursion_limit()
    app = FastAPI(title="l2gpu hub", version="1")
    install_handlers(app)

    @app.get("/hub", responses=responses(*COMMON))
    def info() -> dict[str, Any]:
        """The hub's address, chain, fee (parts per million) and shards' rollups."""
        return hub.info()

    @app.post("/hub/routes", responses=responses(*COMMON, 404, 409, 503))
    def open_route(body: RouteIn) -> dict[str, Any]:
        """Open the outbound channel of a lease whose renter pays the hub on its shard."""
        try:
            inbound = ChannelDescription.from_json(body.inbound)
        except InvalidValue as exc:
            raise HubRefused(exc.what, exc.fix) from exc
        request = RouteRequest(inbound.channel_id, Address.from_hex(body.provider),
                               int(body.deposit), body.lifetime)  # fmt: skip
        signature = bytes.fromhex(body.signature.removeprefix("0x"))
        return hub.open_route(inbound, request, signature).to_json()

    @app.get("/hub/routes/{channel_id}", responses=responses(*COMMON, 404))
    def route(channel_id: ChannelId) -> dict[str, Any]:
        """A route by its inbound channel: what was received and forwarded."""
        found = hub.routes.get(Hash32.from_hex(channel_id))
        if found is None:
            raise HubRefused(f"no route for channel {channel_id}", "open a route first", 404)
        return found.to_json()

    @app.post("/hub/routes/{channel_id}/vouchers", responses=responses(*COMMON, 404))
    def pay(channel_id: ChannelId, body: VoucherIn) -> dict[str, Any]:
        """Take the renter's voucher; answer the hub's best voucher to the provider."""
        voucher = voucher_from_json(body.model_dump())
        if voucher.channel_id != Hash32.from_hex(channel_id):
            raise HubRefused("the voucher is for another channel than the route's")
        onward = hub.pay(voucher.channel_id, voucher)
        return {"onward": None if onward is None else voucher_to_json(onward)}

    return RequestGuard(app, max_body=max_body)
