"""GET /index/{gpu} and the SDK's gpu_index: the GPU-hour index of the market's own
verified leases, and a thin market's 404 that says how many hours it has."""

from __future__ import annotations

import pytest

from l2gpu import wire as w
from l2gpu.client import ApiRequestError, MarketClient
from tests.api.helpers import market
from tests.market.helpers import RENTER
from tests.market.test_price_index_db import a_market


def test_the_index_of_a_gpu_model_and_a_thin_markets_answer(database_url) -> None:  # type: ignore[no-untyped-def]
    http, service, clock = market(database_url)
    a_market(service.engine, at=clock())
    sdk = MarketClient("", RENTER, http=http)
    index = sdk.gpu_index("H100")
    assert isinstance(index, w.GpuIndex)
    assert index.wei_per_gpu_hour == 710 * 10**9 * 3_600
    assert (index.providers, index.priced_hours, index.at) == (4, 24, clock())
    for thin in ("A100", "RTX 4090", "A100/SXM4"):
        with pytest.raises(ApiRequestError) as caught:
            sdk.gpu_index(thin)
        assert caught.value.status == 404
        assert "0 priced hours" in caught.value.what
    clock.advance(2 * 86_400)  # a day on, the leases are out of the window
    with pytest.raises(ApiRequestError, match="0 priced hours"):
        sdk.gpu_index("H100")
