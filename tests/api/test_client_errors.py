"""The market client names a server that is not the market (issue #23: with the rollup
node on the default port, market commands printed 'error: None')."""

from __future__ import annotations

import httpx
import pytest

from l2gpu.client import ApiRequestError, MarketClient
from l2gpu.core.crypto.secp256k1 import PrivateKey


def _client(status: int, body: bytes, content_type: str) -> MarketClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://127.0.0.1:8600")
    return MarketClient("", PrivateKey((5).to_bytes(32, "big")), http=http)


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (404, b'{"detail": "Not Found"}', "application/json"),  # a FastAPI app, not ours
        (502, b"<html>bad gateway</html>", "text/html"),
        (404, b"", "text/plain"),
    ],
)
def test_a_server_that_is_not_the_market_is_named(status: int, body: bytes, content_type: str):
    with pytest.raises(ApiRequestError) as caught:
        _client(status, body, content_type).search("")
    assert "None" not in caught.value.what
    assert f"answered {status}" in caught.value.what
    assert "--api-url" in caught.value.fix


def test_the_markets_own_errors_pass_through() -> None:
    body = b'{"error": "no offer 7", "fix": "search offers", "status": 404}'
    with pytest.raises(ApiRequestError) as caught:
        _client(404, body, "application/json").offer(7)
    assert (caught.value.what, caught.value.fix) == ("no offer 7", "search offers")
