"""The GPU-hour index read from a market database (SQLite and the PostgreSQL server):
the leases' offers give the model, and the index rule of core/credit/price_index
applies."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from l2gpu.core.credit.price_index import HOUR, NoIndex
from l2gpu.db.engine import open_database
from l2gpu.db.market_models import LeaseRow, OfferRow
from l2gpu.db.models import encode_wei
from l2gpu.db.price_index import lease_samples, market_index

T = 1_800_000_000
GWEI = 10**9
RENTER = b"\xee" * 20


def a_market(engine: Engine, providers: int = 4, hours: int = 24, at: int = T) -> None:
    """``providers`` providers leasing H100s every hour of the last ``hours``, at
    (700 + 10 i) gwei per GPU-second, and one unverified lease at a silly price."""
    offers, leases = [], []
    for hour in range(hours):
        for i in range(providers + 1):
            n = len(leases) + 1
            provider = bytes([i + 1]) * 20
            price = encode_wei((700 + 10 * i) * GWEI if i < providers else 10**9 * GWEI)
            start = at - (hour + 1) * HOUR + 60
            offers.append(dict(
                offer_id=n, provider=provider, chain_id=31337, gpu_name="H100", num_gpus=2,
                gpu_ram_gb=80, cpu_cores=32, ram_gb=128, disk_gb=500, bandwidth_mbps=1000,
                location="EU", price_per_gpu_second=price, min_duration=60, max_duration=7200,
                expires_at=at + 86_400, declared=True, nonce=n, signature=bytes(65),
                status="leased", created_at=start - 60,
            ))  # fmt: skip
            leases.append(dict(
                lease_id=n, offer_id=n, renter=RENTER, provider=provider, num_gpus=2,
                price_per_gpu_second=price, max_seconds=7200, requested_at=start - 30,
                status="ended", started_at=start, ended_at=start + 3_000,
                metered_seconds=3_000, paid=encode_wei(0), reason="", channel={},
                voucher_amount=encode_wei(0), voucher_signature=None, voucher_at=None,
                channel_id="0x" + n.to_bytes(32, "big").hex(), channel_verified=i < providers,
            ))  # fmt: skip
    with Session(engine) as session, session.begin():
        session.execute(insert(OfferRow), offers)
        session.execute(insert(LeaseRow), leases)


@pytest.fixture
def engine(database_url: tuple[str, str | None]) -> Engine:
    """A fresh market database: SQLite, and a private schema on the PostgreSQL server."""
    url, schema = database_url
    return open_database(url, schema=schema)


def test_the_index_of_the_markets_own_leases(engine: Engine) -> None:
    a_market(engine)
    samples = lease_samples(engine)
    assert len(samples) == 5 * 24
    assert {s.gpu_model for s in samples} == {"H100"}
    assert all(s.gpu_seconds == 6_000 for s in samples)
    value = market_index(engine, "H100", T)
    assert value.wei_per_gpu_hour == 710 * GWEI * HOUR  # the lower middle of 4 providers
    assert value.providers == 4  # the unverified lease does not count
    assert value.priced_hours == 24


def test_a_thin_market_has_no_index_and_says_so(engine: Engine) -> None:
    a_market(engine, providers=2)
    with pytest.raises(NoIndex, match="0 priced hours in the last 24"):
        market_index(engine, "H100", T)
