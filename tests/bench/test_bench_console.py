"""The console suite at a tiny size: a real market process, a real ``l2gpu web``, real
HTTP; its figures are there, measured and coherent, and its sizes are checked."""

from __future__ import annotations

import pytest

from l2gpu.bench import console
from l2gpu.core.errors import L2gpuError


def test_the_console_suite_measures_a_real_console_over_a_real_market() -> None:
    offers = 150  # more than the table shows: the console must send only its first page
    figures = console.measure(offers=offers, clients=2, seconds=0.5, repeats=1, samples=3)
    assert figures["suite"] == "console"
    assert figures["offers"] == offers
    assert figures["rows_shown"] == console.SHOWN < offers
    assert 0 < figures["page_ms_p50"] < 5000
    assert 0 < figures["fragment_ms_p50"] < 5000
    assert figures["first_offers_ms_p50"] >= figures["page_ms_p50"]
    assert figures["first_offers_cold_ms"] > 0
    assets = figures["first_load_assets"]
    assert {"/", "/static/console.css", "/static/console.js"} <= set(assets)
    assert all(size > 0 for size in assets.values())
    assert figures["first_load_bytes"] == sum(assets.values())
    assert 0 < figures["first_load_gzip_bytes"] < figures["first_load_bytes_uncompressed"]
    assert figures["api_offers_p99_ms_alone"] > 0
    assert figures["api_offers_p99_ms_with_console"] > 0
    added = figures["api_offers_p99_ms_with_console"] - figures["api_offers_p99_ms_alone"]
    assert figures["console_added_p99_ms"] == pytest.approx(added, abs=0.011)
    assert figures["console_polls"] >= 2  # each of the two consoles polled at least once
    assert figures["console_poll_p50_ms"] > 0


def test_a_bad_size_is_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("L2GPU_BENCH_CONSOLE_OFFERS", "lots")
    with pytest.raises(L2gpuError, match="not a positive whole number"):
        console.size("OFFERS")
    monkeypatch.setenv("L2GPU_BENCH_CONSOLE_OFFERS", "2000")
    assert console.size("OFFERS") == 2000
    monkeypatch.delenv("L2GPU_BENCH_CONSOLE_OFFERS")
    assert console.size("OFFERS") == console.SIZES["OFFERS"]
