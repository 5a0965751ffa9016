"""The console's analytics page: every chart drawn from the real data sets (SVG, axis
labels, Rogers segments, prediction intervals, the designs table), computed once in
the background and kept; text from data files escaped; a failure shown, and tried
again on the next visit (not on every poll)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from l2gpu.web.analytics_data import ADOPTION, AnalyticsSpec, AnalyticsView, compute_view
from l2gpu.web.analytics_pages import AnalyticsCache
from l2gpu.web.app import create_console
from l2gpu.web.svg import Axes, Line, Marker, bar_chart, line_chart, nice_ticks

ORIGIN = "http://127.0.0.1:8700"
NO_MARKET = "http://127.0.0.1:9"  # the analytics page never asks the market
# The real data, less of it: one adoption series, one forecast, every usage chart.
SMALL = AnalyticsSpec(adoption=ADOPTION[:1], forecasts=("earth_gpus_assigned",), bootstrap=20)
HOSTILE = "<script>alert(1)</script>"


def web(cache: AnalyticsCache) -> TestClient:
    return TestClient(create_console(NO_MARKET, analytics=cache), base_url=ORIGIN)


def charts(html: str) -> list[str]:
    return re.findall(r'<svg class="chart.*?</svg>', html, flags=re.S)


def test_every_chart_is_drawn_from_the_real_data_once() -> None:
    gate = threading.Event()

    def compute() -> AnalyticsView:
        gate.wait(30)  # the first visit must see "computing…", however fast this is
        return compute_view(SMALL)

    cache = AnalyticsCache(compute)
    client = web(cache)
    first = client.get("/analytics")
    assert first.status_code == 200
    assert 'id="analytics-computing"' in first.text
    assert 'hx-get="/analytics/body"' in first.text  # htmx asks again until it is ready
    assert 'http-equiv="refresh"' in first.text  # and without JavaScript, the page does
    assert 'id="analytics-computing"' in client.get("/analytics/body").text
    assert cache.computations == 1
    gate.set()
    assert cache.wait(120).ready

    page = client.get("/analytics").text
    drawn = charts(page)
    # adoption 1, forecasts 1, usage 4 (hour, weekday, utilization, sizes), designs 1
    assert len(drawn) == 7, page[:2000]
    for key in (
        "answering_machines",
        "earth_gpus_assigned",
        "usage-hourly",
        "usage-weekly",
        "usage-utilization",
        "usage-sizes",
        "designs",
    ):
        assert f'id="chart-{key}"' in page
    assert all(
        'class="axis-label x-label"' in svg and 'class="axis-label y-label"' in svg for svg in drawn
    )
    adoption, forecast = drawn[0], drawn[1]
    assert ">units sold per year</text>" in adoption
    assert ">year</text>" in adoption
    assert adoption.count('<g class="marker">') >= 3  # Rogers segments inside the chart
    assert "<circle" in adoption
    assert 'class="band' in adoption
    assert "late majority" in page
    assert "1988-" in page
    assert 'class="band' in forecast
    assert "95 % interval" in forecast
    assert "MASE" in page
    assert ">hour of day</text>" in page
    assert ">Mon</text>" in page
    assert 'id="designs-table"' in page
    assert "channel-l1" in page
    assert "L1 gas per paid GPU-hour (receipts)" in page
    assert 'class="problem' not in page
    for _ in range(3):
        assert len(charts(client.get("/analytics/body").text)) == 7
    assert cache.computations == 1  # kept: no request recomputes


def test_text_from_data_files_is_escaped(tmp_path: Path) -> None:
    axes = Axes(HOSTILE, HOSTILE, [(0.0, HOSTILE)])
    for svg in (
        line_chart(HOSTILE, axes, [Line(HOSTILE, [0, 1], [1, 2])], markers=[Marker(0.5, HOSTILE)]),
        bar_chart(HOSTILE, axes, [HOSTILE], [3.0], log=True),
    ):
        assert "<script>" not in svg
        assert "&lt;script&gt;" in svg
    doc = tmp_path / "designs.md"
    doc.write_text(
        "Workload: <b>bold</b>\n\n| | `<img src=x onerror=alert(1)>` | `plasma` |\n"
        "|---|---|---|\n| L1 gas per paid GPU-hour (receipts) | 10 | 2,000 |\n"
        f"| operator can take | {HOSTILE} | True |\n"
    )
    cache = AnalyticsCache(
        lambda: compute_view(AnalyticsSpec((), (), usage=False, designs_doc=doc))
    )
    cache.wait(30)
    page = web(cache).get("/analytics").text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<b>bold" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;" in page
    assert len(charts(page)) == 1  # the designs' chart, from the two numbers


def test_a_failure_is_shown_and_only_a_visit_tries_again(tmp_path: Path) -> None:
    runs: list[int] = []

    def compute() -> AnalyticsView:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError(f"disk on fire {HOSTILE}")
        return compute_view(AnalyticsSpec((), (), usage=False, designs_doc=tmp_path / "gone.md"))

    cache = AnalyticsCache(compute)
    assert cache.wait(30).error is not None
    client = web(cache)
    polled = client.get("/analytics/body").text
    assert 'id="analytics-failure"' in polled
    assert "disk on fire &lt;script&gt;" in polled
    assert 'hx-get="/analytics/body"' not in polled  # a failure stops the polling
    assert cache.computations == 1  # and a poll does not start it again
    client.get("/analytics")  # a visit does
    assert cache.wait(30).ready
    assert cache.computations == 2
    page = client.get("/analytics").text
    # A missing designs page is named with what to do; the page still answers.
    assert "make designs-doc" in page
    assert "not available" in page


def test_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0, 9.3) == [0, 2, 4, 6, 8]
    assert nice_ticks(1982, 1995, 6) == [1985, 1990, 1995]  # steps of 1, 2 or 5 x 10^n
    assert nice_ticks(-0.3, 0.31) == [-0.2, 0, 0.2]
    assert nice_ticks(5, 5) == [5]
