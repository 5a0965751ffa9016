"""Usage patterns of our own market, from its database (SQLite and PostgreSQL).

Leases are made through the real API with a simulated clock: three days, two
leases a day with known waits and run times, and one lease whose job never starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.api.helpers import described, market
from tests.market.helpers import CHAIN, PROVIDER, RENTER, T0, terms

from l2gpu.analytics.market_usage import demand_frame, load_leases, market_patterns
from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.offers import sign_offer
from l2gpu.core.types import Timestamp

HOUR, DAY = 3600, 86_400
WAITS = [10, 20, 30, 40, 50, 60]
RUNS = [600, 1200, 1800, 600, 1200, 1800]
PRICE = 10**12


def build_market(database_url):
    http, service, clock = market(database_url)
    provider = MarketClient("", PROVIDER, http=http)
    renter = MarketClient("", RENTER, http=http)
    offer = provider.publish(sign_offer(PROVIDER, terms(expires_at=Timestamp(T0 + 4 * DAY)), CHAIN))
    for day in range(3):
        for slot, hour in enumerate((9, 15)):
            k = 2 * day + slot
            clock.now = T0 + day * DAY + hour * HOUR
            # sign in afresh: a day of simulated time outlives a session token
            provider, renter = (
                MarketClient("", PROVIDER, http=http),
                MarketClient("", RENTER, http=http),
            )
            provider.heartbeat({})  # the market rents only from a provider it hears from
            lease = renter.rent(offer.id, command="train", duration=3600,
                                channel=described(RENTER, PROVIDER.address, 10**18))  # fmt: skip
            clock.advance(WAITS[k])
            provider.heartbeat({})
            provider.report(lease.id, "accepted")
            provider.report(lease.id, "started")
            clock.advance(RUNS[k])
            provider.heartbeat({})
            provider.report(lease.id, "usage", seconds=RUNS[k])
            provider.report(lease.id, "exited", exit_code=0)
    clock.now = T0 + 2 * DAY + 20 * HOUR
    provider, renter = MarketClient("", PROVIDER, http=http), MarketClient("", RENTER, http=http)
    provider.heartbeat({})
    failed = renter.rent(offer.id, command="train", duration=3600,
                         channel=described(RENTER, PROVIDER.address, 10**18))  # fmt: skip
    provider.report(failed.id, "start_failed", reason="no such command")
    return service.engine


def test_market_patterns_measure_the_leases_exactly(database_url) -> None:
    engine = build_market(database_url)
    now = T0 + 3 * DAY
    result = market_patterns(engine, now=now)
    assert result["leases"] == 7
    assert result["by_status"] == {"ended": 6, "failed": 1}
    assert result["start_failure_share"] == pytest.approx(1 / 7)
    assert result["gpus_per_lease"] == {"2": 1.0}
    assert result["wait_s"]["mean"] == pytest.approx(35.0)
    assert result["duration_s"]["p50"] == pytest.approx(1200.0)
    assert result["gpu_hours_billed"] == pytest.approx(2 * sum(RUNS) / HOUR)
    assert result["billed_wei"] == str(2 * sum(RUNS) * PRICE)  # exact, in wei
    assert result["price_per_gpu_hour_eth"] == {"RTX_4090": pytest.approx(PRICE * 3600 / 1e18)}
    # the offer's 2 GPUs stood for the whole 3 days; 4 GPU-hours of them were rented
    assert result["offered_gpu_hours"] == pytest.approx(2 * 72)
    assert result["rented_share_of_offered_gpu_time"] == pytest.approx(4 / 144)
    by_hour = result["gpus_requested_by_hour_of_day"]
    hour_of = [(T0 // HOUR + h) % 24 for h in (9, 15, 20)]
    assert by_hour[hour_of[0]] == pytest.approx(2.0)  # 2 GPUs at that hour, every day
    assert by_hour[hour_of[2]] == pytest.approx(2 / 3)  # only on the last day
    assert sum(by_hour) == pytest.approx(2 + 2 + 2 / 3)
    assert result["gpu_demand_hourly_peak_to_trough"] is None  # hours with no demand
    assert result["gpu_demand_weekly_peak_to_trough"] is None  # three days: no weekly cycle
    json.dumps(result, allow_nan=False)  # strict JSON


def test_market_demand_exports_an_hourly_series_that_forecast_reads(
    database_url, tmp_path: Path
) -> None:
    engine = build_market(database_url)
    frame = demand_frame(load_leases(engine))
    assert int(frame["gpus_requested"].sum()) == 14
    assert len(frame) == 2 * 24 + (20 - 9) + 1  # every hour from the first request to the last
    path = tmp_path / "demand.csv"
    frame.to_csv(path, index=False)
    from l2gpu.analytics.series import read_series

    series = read_series(path, "time", "gpus_requested", skipped=[])
    assert float(next(iter(series.values())).y.sum()) == 14.0


def test_the_busy_share_counts_each_leased_second_once(database_url) -> None:
    from l2gpu.analytics.market_usage import busy_share_hourly, load_offers

    engine = build_market(database_url)
    now = T0 + 3 * DAY
    share = busy_share_hourly(load_leases(engine), load_offers(engine), now=now)
    assert len(share) == 72 + 1  # every hour from the offer's creation to now
    # busy GPU-seconds over offered GPU-seconds, hour by hour, add up to the totals
    assert float(share.sum()) * 3600 * 2 == pytest.approx(2 * sum(RUNS))
    first_job = share[share > 0].iloc[0]
    assert first_job == pytest.approx(RUNS[0] / 3600)  # 600 s of 2 of 2 GPUs in that hour
    assert float(share.max()) <= 1.0


def test_an_empty_market_says_what_to_do(database_url) -> None:
    _, service, _ = market(database_url)
    with pytest.raises(L2gpuError, match="no leases yet") as empty:
        market_patterns(service.engine, now=T0)
    assert "rent something" in empty.value.fix


def test_the_usage_market_command_prints_json_and_exports_demand(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    from l2gpu.cli.main import main

    url = f"sqlite:///{tmp_path / 'market.db'}"
    build_market((url, None))
    monkeypatch.setenv("L2GPU_DATA_DIR", str(tmp_path / "data"))
    csv = tmp_path / "demand.csv"
    png = tmp_path / "busy.png"
    code = main(["usage", "market", "--database-url", url, "--export-demand", str(csv),
                 "--plot", str(png), "--json"])  # fmt: skip
    assert code == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    printed = json.loads(capsys.readouterr().out)
    assert printed["leases"] == 7
    # the leases lie in the future of this machine's clock: the span ends at the last one
    assert printed["span_hours"] >= 2 * 24 + 20
    assert printed["billed_wei"] == str(2 * sum(RUNS) * PRICE)
    assert csv.read_text().startswith("time,gpus_requested\n")
    # Three days are too short a series to backtest a 24-hour forecast: a clear error.
    code = main(["forecast", str(csv), "--time-col", "time", "--value-col", "gpus_requested",
                 "--horizon", "24", "--json"])  # fmt: skip
    assert code == 2
    assert "needs at least" in capsys.readouterr().err
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["usage", "market", "--database-url", empty]) == 2
    assert "no leases yet" in capsys.readouterr().err
