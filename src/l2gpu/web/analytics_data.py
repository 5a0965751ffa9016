"""The analytics page's content, computed from the shared data sets and drawn as SVG.

    compute_view   every section: adoption curves with Rogers segments, demand
                   forecasts with 95 % intervals, usage patterns, the designs table

It runs once per console (``analytics_pages.AnalyticsCache``): the fits, the
backtests and the reading of the traces take tens of seconds, so nothing here is
meant to run per request. A section that cannot be computed (a data file missing)
is named on the page with what to do; the others are shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
from markupsafe import Markup

from l2gpu.analytics import datasets
from l2gpu.analytics.series import Series, TimeAxis
from l2gpu.analytics.usage import DemandSeries
from l2gpu.core.errors import L2gpuError
from l2gpu.web.designs_table import CHARTED, DesignsTable, read_designs_table
from l2gpu.web.svg import Axes, Band, Line, Marker, bar_chart, line_chart, nice_ticks, number

if TYPE_CHECKING:
    from l2gpu.analytics.adoption.fit import AdoptionResult

DESIGNS_DOC = Path(__file__).resolve().parents[3] / "docs" / "designs.md"
MAX_TICKS = 8
T = TypeVar("T")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class AdoptionPick:
    """One adoption series to fit: a source of ``datasets`` (and its group), how many
    periods to forecast, and how to label it."""

    source: str
    group: str | None
    horizon: int
    title: str
    y_label: str


ADOPTION = (
    AdoptionPick("answering_machines", None, 5, "US answering machines", "units sold per year"),
    AdoptionPick("nl_car_stock", None, 10, "Cars in the Netherlands", "cars registered"),
    AdoptionPick(
        "windows_win7", None, 12, "Windows 7, fitted up to its peak", "share of Windows page views"
    ),
    AdoptionPick("l2_txcount", "arbitrum", 90, "Arbitrum, an L2", "transactions per day"),
)
FORECASTS = ("venus_gpus_submitted", "philly_active_nodes", "earth_gpus_assigned")


@dataclass(frozen=True)
class AnalyticsSpec:
    """What the page shows (tests choose less, to stay quick)."""

    adoption: tuple[AdoptionPick, ...] = ADOPTION
    forecasts: tuple[str, ...] = FORECASTS
    bootstrap: int = 200
    usage: bool = True
    designs_doc: Path = DESIGNS_DOC


@dataclass(frozen=True)
class Chart:
    """One drawn chart, a caption, and a small table of what it marks."""

    key: str
    svg: Markup
    caption: str
    table: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class AnalyticsView:
    """Everything the page shows, computed once."""

    adoption: list[Chart]
    forecasts: list[Chart]
    usage: list[Chart]
    designs: DesignsTable | None
    designs_chart: Markup | None
    problems: list[str]
    seconds: float


def time_ticks(axis: TimeAxis, low: float, high: float) -> list[tuple[float, str]]:
    """Tick positions between ``low`` and ``high`` on ``axis`` with readable labels:
    round years, quarters, months, weeks, days or hours, whichever gives a few."""
    if axis.kind != "datetime":
        first, last = float(axis.value_at(low)), float(axis.value_at(high))
        label = (lambda v: f"{v:.0f}") if axis.kind == "year" else number
        step, start = float(axis.step), float(axis.start)
        return [((v - start) / step, label(v)) for v in nice_ticks(first, last, 6)]
    begin, end = pd.Timestamp(axis.value_at(low)), pd.Timestamp(axis.value_at(high))
    stamps, fmt = _calendar_ticks(begin, end)
    positions = axis.positions(pd.Series(stamps))
    return [(float(p), s.strftime(fmt)) for p, s in zip(positions, stamps, strict=True)]


# Calendar steps from short to long, with the label each reads best in.
CALENDAR = (
    ("6h", "%d %b %H:%M"),
    ("D", "%d %b"),
    ("W-MON", "%d %b"),
    ("MS", "%b %Y"),
    ("QS", "%b %Y"),
    ("YS", "%Y"),
)


def _calendar_ticks(begin: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.DatetimeIndex, str]:
    """The shortest calendar step that gives at most ``MAX_TICKS`` ticks (every n-th
    year beyond that)."""
    stamps = pd.DatetimeIndex([])
    for freq, fmt in CALENDAR:
        aligned = begin.ceil(freq) if freq in ("6h", "D") else begin
        stamps = pd.date_range(aligned, end, freq=freq)
        if len(stamps) <= MAX_TICKS:
            return stamps, fmt
    return stamps[:: -(-len(stamps) // MAX_TICKS)], CALENDAR[-1][1]


def _source(name: str) -> datasets.AdoptionSource:
    for source in datasets.diffusion_sources() + datasets.l2_sources():
        if source.name == name:
            return source
    raise L2gpuError(f"no adoption series named '{name}'", "name one of analytics.datasets")


def adoption_chart(pick: AdoptionPick, rounds: int) -> Chart:
    """Fit ``pick``'s series (the lowest-AIC curve), forecast it with the model a nested
    backtest chooses (issue 22; the curve's own band where the series is too short to
    judge), and draw data, curve, band and the start of each Rogers segment."""
    from l2gpu.analytics.adoption import fit_adoption
    from l2gpu.analytics.adoption.judged import judge_adoption
    from l2gpu.analytics.series import read_series

    source = _source(pick.source)
    groups = read_series(
        datasets.data_file(source.file),
        source.time_col,
        source.value_col,
        group_col=source.group_col,
        skipped=[],
    )
    one = groups[pick.group] if pick.group else next(iter(groups.values()))
    until = float(one.t[int(np.argmax(one.y))]) if source.until_peak else None
    result = fit_adoption(
        one, cumulative=source.cumulative, horizon=pick.horizon, until=until, rounds=rounds
    )
    if pick.horizon:
        result = judge_adoption(result, pick.horizon)
    first = float(one.t[np.nonzero(one.y > 0)[0][0]])
    last = max(float(one.t[-1]), float(result.forecast_t[-1]) if pick.horizon else first)
    span = np.linspace(first, last, 300)
    labels = result.to_json()["segments"]
    assert isinstance(labels, dict)
    markers = [
        Marker(pos, name.replace("_", " "))
        for name, pos in result.segments.items()
        if pos is not None and first <= pos <= last
    ]
    axes = Axes(source.time_col, pick.y_label, time_ticks(one.axis, first, last), y_floor=0.0)
    model = result.fit.model.name
    svg = line_chart(
        pick.title,
        axes,
        [
            Line("data", one.t, one.y, dots=True),
            Line(f"{model} fit", span, result.fit.predict(span)),
        ],
        [Band("95 % forecast band", result.forecast_t, result.forecast_lo, result.forecast_hi)],
        markers,
    )
    caption = (
        f"{model} (lowest AIC of Bass, logistic and Gompertz), RMSE "
        f"{number(result.fit.rmse)}, fitted on {result.fitted_until} points. "
        + _adoption_forecast_note(result, pick.horizon, rounds)
    )
    table = [(name.replace("_", " "), labels.get(name) or "not reached") for name in labels]
    return Chart(pick.source + (f"-{pick.group}" if pick.group else ""), svg, caption, table)


def _adoption_forecast_note(result: AdoptionResult, horizon: int, rounds: int) -> str:
    # What the band is: the nested backtest's choice, or the curve's when not judged.
    judged = result.backtest or {}
    if not horizon:
        return ""
    if not judged.get("judged"):
        return (
            f"The band: {horizon} periods ahead from the curve, bootstrap ({rounds} rounds) "
            "plus residuals; too short a series for a nested backtest, so not judged."
        )
    choice = judged["choice"]
    assert isinstance(choice, dict)
    return f"The band: {horizon} periods ahead from {result.forecast_model}. {choice['verdict']}."


def forecast_chart(demand: DemandSeries) -> Chart:
    """Backtest the candidate models on one demand series, forecast with the nested
    choice (a baseline where it did not beat them), and draw the recent history, the
    forecast and its 95 % interval."""
    from l2gpu.analytics.forecast import forecast_series

    series: Series = demand.series
    result = forecast_series(series, horizon=demand.horizon, season=demand.season)
    history = min(len(series.t), demand.season * 7)
    past_t, past_y = series.t[-history:], series.y[-history:]
    ahead = float(np.round(series.t[-1])) + np.arange(1, demand.horizon + 1, dtype=float)
    axes = Axes(
        "time",
        demand.name.replace("_", " "),
        time_ticks(series.axis, float(past_t[0]), float(ahead[-1])),
        y_floor=0.0,
    )
    svg = line_chart(
        demand.name.replace("_", " "),
        axes,
        [
            Line("history", past_t, past_y),
            Line(f"forecast ({result.model})", ahead, result.mean, dashed=True),
        ],
        [Band("95 % interval", ahead, result.lo, result.hi)],
    )
    scores = result.backtest[result.model]
    caption = (
        f"{demand.horizon} steps ahead, judged by a nested rolling-origin backtest of "
        f"{len(result.backtest)} candidates: {result.verdict}."
    )
    table = [
        ("MASE", f"{scores['mase']:.3f}"),
        ("sMAPE", f"{scores['smape']:.1f} %"),
        ("seasonal naive MASE", f"{result.backtest['SeasonalNaive']['mase']:.3f}"),
    ]
    return Chart(demand.name, svg, caption, table)


def usage_charts() -> list[Chart]:
    """Demand by hour and by weekday (Philly, Helios Venus), Philly's node utilization
    per day, and how many GPUs Philly's jobs asked for."""
    from l2gpu.analytics.usage import hourly_profile, size_distribution, weekly_profile

    jobs = datasets.load_philly_jobs()
    philly = jobs.set_index("timestamp")["num_gpus"].resample("h").sum()
    venus = datasets.load_venus_throughput()["submit_gpu_num"].resample("h").sum()
    charts = []
    for key, profile, ticks in (
        ("hourly", hourly_profile, [(h, f"{h:02d}:00") for h in range(0, 24, 3)]),
        ("weekly", weekly_profile, list(enumerate(WEEKDAYS))),
    ):
        lines = [
            Line(name, list(p.index), list(p.to_numpy(float)))
            for name, p in (("Philly", profile(philly)), ("Helios Venus", profile(venus)))
        ]
        across = "hour of day" if key == "hourly" else "day of week"
        svg = line_chart(
            f"GPUs asked for, by {across}",
            Axes(across, "relative to the mean", [(float(x), t) for x, t in ticks], y_floor=0.0),
            lines,
        )
        charts.append(
            Chart(
                f"usage-{key}",
                svg,
                f"GPUs submitted per hour, averaged by {across}"
                ", over each trace's mean (1 = an average hour).",
            )
        )
    busy = datasets.load_philly_node_usage()["utilization"].resample("D").mean().dropna()
    axis = TimeAxis("datetime", busy.index[0], pd.Timedelta(days=1))
    days = axis.positions(pd.Series(busy.index))
    svg = line_chart(
        "Philly: share of nodes busy, daily mean",
        Axes("date", "busy share", time_ticks(axis, days[0], days[-1]), y_floor=0.0),
        [Line("busy share", days, busy.to_numpy(float))],
    )
    charts.append(
        Chart("usage-utilization", svg, "Active over total nodes, per minute, averaged per day.")
    )
    sizes = size_distribution(jobs["num_gpus"])
    svg = bar_chart(
        "Philly: GPUs per job",
        Axes("GPUs asked for", "share of jobs, % (log)"),
        list(sizes),
        [100 * v for v in sizes.values()],
        log=True,
    )
    charts.append(Chart("usage-sizes", svg, f"{len(jobs):,} jobs; most ask for one GPU."))
    return charts


def designs_section(path: Path) -> tuple[DesignsTable, Markup]:
    """The designs table and a chart of its L1 gas per paid GPU-hour (log scale)."""
    table = read_designs_table(path)
    gas = table.numbers(CHARTED)
    svg = bar_chart(
        "L1 gas per paid GPU-hour, by design",
        Axes("design", "gas (log scale)"),
        list(gas),
        list(gas.values()),
        log=True,
    )
    return table, svg


def compute_view(spec: AnalyticsSpec | None = None) -> AnalyticsView:
    """Every section of the page (slow: run it once, off the request path)."""
    from l2gpu.analytics.usage import demand_series

    spec = spec or AnalyticsSpec()
    start = time.perf_counter()
    problems: list[str] = []

    def attempt(what: str, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except L2gpuError as exc:
            problems.append(f"{what}: {exc}")
            return None

    adoption = [attempt(p.title, partial(adoption_chart, p, spec.bootstrap)) for p in spec.adoption]
    forecasts: list[Chart | None] = []
    if spec.forecasts:
        every = attempt("demand series", demand_series) or []
        chosen = [d for d in every if d.name in spec.forecasts]
        forecasts = [attempt(d.name, partial(forecast_chart, d)) for d in chosen]
    usage = (attempt("usage patterns", usage_charts) if spec.usage else None) or []
    designs = attempt("settlement designs", lambda: designs_section(spec.designs_doc))
    table, chart = designs or (None, None)
    return AnalyticsView(
        adoption=[c for c in adoption if c is not None],
        forecasts=[c for c in forecasts if c is not None],
        usage=usage,
        designs=table,
        designs_chart=chart,
        problems=problems,
        seconds=time.perf_counter() - start,
    )
