"""A client of the hub's API (``l2gpu hub``), for a renter's routed rail."""

from __future__ import annotations

from typing import Any

import httpx

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.shards.hub_messages import voucher_from_json, voucher_to_json
from l2gpu.core.shards.route import RouteRequest
from l2gpu.core.types import Hash32


class HubError(L2gpuError):
    """The hub refused a request (``status`` its HTTP code) or did not answer (0)."""

    def __init__(self, what: str, fix: str = "", status: int = 0) -> None:
        super().__init__(what, fix)
        self.status = status


class HubClient:
    """Talks to the hub at ``url``."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            answer = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise HubError(
                f"the hub at {self.url} did not answer ({type(exc).__name__})",
                "check that 'l2gpu hub' runs there, or use another hub",
            ) from exc
        if answer.status_code >= 400:
            try:
                data = answer.json()
                what, fix = str(data.get("error")), str(data.get("fix") or "")
            except ValueError:
                what, fix = f"HTTP {answer.status_code}", ""
            raise HubError(f"the hub refused: {what}", fix, answer.status_code)
        return answer.json()

    def info(self) -> dict[str, Any]:
        """The hub's address, chain, fee and shards."""
        return dict(self._call("GET", "/hub"))

    def open_route(self, inbound: ChannelDescription, request: RouteRequest,
                   signature: bytes) -> dict[str, Any]:  # fmt: skip
        """Ask the hub to carry ``inbound`` to ``request.provider``; the route as it shows it."""
        body = {"inbound": inbound.to_json(), "provider": request.provider.checksum,
                "deposit": str(request.deposit), "lifetime": request.lifetime,
                "signature": "0x" + signature.hex()}  # fmt: skip
        return dict(self._call("POST", "/hub/routes", body))

    def pay(self, inbound: Hash32, voucher: Voucher) -> Voucher | None:
        """Send a voucher on ``inbound``; the hub's best voucher to the provider."""
        answer = self._call("POST", f"/hub/routes/{inbound}/vouchers", voucher_to_json(voucher))
        onward = answer.get("onward")
        return None if onward is None else voucher_from_json(onward)

    def route(self, inbound: Hash32) -> dict[str, Any]:
        """A route by its inbound channel."""
        return dict(self._call("GET", f"/hub/routes/{inbound}"))
