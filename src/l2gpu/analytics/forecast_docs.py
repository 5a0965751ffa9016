"""Every built-in series judged at its horizons, as JSON and as the tables of
``docs/forecasts.md`` (``l2gpu forecast report --docs``, ``make forecasts-doc``).

    judge_named     one built-in series at each of its horizons
    judge_all       every built-in series (what the docs and the bench print)
    markdown        the page, from those results
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from l2gpu.analytics.backtest import LEVELS
from l2gpu.analytics.candidates import BASELINE_NAMES
from l2gpu.core.errors import L2gpuError

INTRO = """
Every series is judged by a nested rolling-origin backtest (`analytics/backtest.py`,
`analytics/selection.py`, candidates in `analytics/candidates.py`): 8 origins per
horizon, the windows tiling the end of the series (overlapping, as far apart as the
series allows, where it is too short to tile). At each origin whose earlier windows
had ended and been ranked (from the fourth origin on, when windows tile), the model
is chosen by mean MASE on those earlier windows only, and that choice is scored:
`nested MASE` and the `vs` columns are the scores of the procedure, not of a model
picked after seeing every window. The shown model is the same rule applied at the
end of the series, unless the nested choice did not beat every baseline (Naive,
SeasonalNaive, Drift, TrailingMean) in MAE on the scored windows: then the best
baseline is shown and `earned` is `no` (a baseline that was itself every nested pick
is not counted as a rival). MASE is scaled by the in-sample seasonal naive error up
to each origin (as in M4); `cover 80` and `cover 95` are the shares of observed
points inside the 80 % and 95 % intervals of the picks.
"""

# What a series' result holds: "series", "points", "first", "last", "seconds" and
# "horizons": {"24": backtest_json + "forecast_model"} or {"24": {"error": why}}.
Result = dict[str, Any]


def judge_named(name: str, *, origins: int | None = None) -> Result:
    """Nested backtest of one built-in series at each of its horizons."""
    from dataclasses import replace

    from l2gpu.analytics.judge import backtest_json, backtest_series, gapless_values
    from l2gpu.analytics.named_series import load_named
    from l2gpu.analytics.selection import final_choice

    named = load_named(name)
    y = gapless_values(named.series)
    setup = named.setup if origins is None else replace(named.setup, origins=origins)
    started = time.perf_counter()
    horizons: dict[str, Any] = {}
    for horizon in named.horizons:
        try:
            tested, _ = backtest_series(y, horizon, setup, name=f"series '{name}'")
        except L2gpuError as exc:
            horizons[str(horizon)] = {"error": exc.what}
            continue
        horizons[str(horizon)] = backtest_json(tested, final_choice(tested))
    axis = named.series.axis
    return {
        "series": name,
        "adoption": named.setup.adoption,
        "points": len(y),
        "first": axis.label(float(named.series.t[0])),
        "last": axis.label(float(named.series.t[-1])),
        "seconds": round(time.perf_counter() - started, 1),
        "horizons": horizons,
    }


def judge_all(
    names: Sequence[str] | None = None,
    *,
    origins: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """:func:`judge_named` for each name (default: every built-in series)."""
    from l2gpu.analytics.named_series import builtin_names

    results = []
    for name in names or builtin_names():
        result = judge_named(name, origins=origins)
        if progress:
            progress(f"{name}: {result['seconds']} s")
        results.append(result)
    return results


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary_rows(results: Sequence[Result]) -> list[str]:
    """One markdown row per series and horizon: the shown model and the nested figures."""
    header = (
        "| series | h | origins (scored) | shown | nested MASE | "
        + " | ".join(f"vs {b}" for b in BASELINE_NAMES)
        + " | cover 80 | cover 95 | earned |"
    )
    rows = [header, "|" + " --- |" * (header.count("|") - 1)]
    for result in results:
        for horizon, report in result["horizons"].items():
            if "error" in report:
                rows.append(
                    f"| {result['series']} | {horizon} | - | not judged: {report['error']} |"
                    + " |" * (len(BASELINE_NAMES) + 4)
                )
                continue
            nested, choice = report["nested"], report["choice"]
            ratios = " | ".join(_cell(nested["relative_mae"].get(b)) for b in BASELINE_NAMES)
            cover = nested["coverage"]
            rows.append(
                f"| {result['series']} | {horizon} | {len(report['origins'])} "
                f"({len(report['scored_origins'])}) | {choice['model']} "
                f"| {_cell(nested['mase'])} | {ratios} | {_cell(cover[str(LEVELS[0])], 2)} "
                f"| {_cell(cover[str(LEVELS[1])], 2)} | {'yes' if choice['earned'] else 'no'} |"
            )
    return rows


def candidate_rows(result: Result, horizon: str) -> list[str]:
    """One markdown row per candidate of one backtest, on the scored windows."""
    report = result["horizons"][horizon]
    header = (
        "| model | MASE | MAE | RMSE | "
        + " | ".join(f"vs {b}" for b in BASELINE_NAMES)
        + " | cover 80 | cover 95 | failed origins |"
    )
    rows = [header, "|" + " --- |" * (header.count("|") - 1)]
    entries = list(report["candidates"].items())
    nested = {"scored": report["nested"], "relative_mae": report["nested"]["relative_mae"]}
    for name, figures in [*entries, ("**nested choice**", nested)]:
        scored = figures["scored"]
        ratios = " | ".join(_cell(figures["relative_mae"].get(b)) for b in BASELINE_NAMES)
        rows.append(
            f"| {name} | {_cell(scored['mase'])} | {_cell(scored['mae'], 4)} "
            f"| {_cell(scored['rmse'], 4)} | {ratios} "
            f"| {_cell(scored['coverage'][str(LEVELS[0])], 2)} "
            f"| {_cell(scored['coverage'][str(LEVELS[1])], 2)} "
            f"| {len(figures.get('failures', []))} |"
        )
    return rows


S_CURVES = ("SCurve", "SCurve-damped", "SCurve-capped")


def s_curve_rows(results: Sequence[Result]) -> list[str]:
    """Per adoption series and horizon: how each S-curve variant did against the
    baselines on the scored windows (whom it lost to and by how much)."""
    rows = [
        "| series | h | " + " | ".join(S_CURVES) + " |",
        "|" + " --- |" * (2 + len(S_CURVES)),
    ]
    for result in results:
        if not result["adoption"]:
            continue
        for horizon, report in result["horizons"].items():
            if "error" in report:
                continue
            cells = []
            for name in S_CURVES:
                figures = report["candidates"].get(name)
                ratios = {b: r for b, r in (figures or {}).get("relative_mae", {}).items() if r}
                if not ratios:
                    cells.append("no forecast")
                    continue
                base, worst = max(ratios.items(), key=lambda kv: kv[1])
                cells.append(
                    f"loses to {base} by {100 * (worst - 1):.0f} %"
                    if worst >= 1
                    else f"beats all (MAE {worst:.2f} of {base}'s)"
                )
            rows.append(f"| {result['series']} | {horizon} | " + " | ".join(cells) + " |")
    return rows


def markdown(results: Sequence[Result], *, command: str, intro: str = INTRO) -> str:
    """The whole page: the summary table, then each backtest's candidates and verdict."""
    lines = [
        "# Forecasts, judged (issue 22)",
        "",
        f"Generated by `{command}`; do not edit by hand.",
        "",
        intro.strip(),
        "",
        "## Summary",
        "",
        *summary_rows(results),
        "",
        "## S-curves against the baselines",
        "",
        "The fitted curve extended (`SCurve`, the AIC choice among Bass, logistic and",
        "Gompertz at each origin), and anchored at the last week's level with its growth",
        "damped (`SCurve-damped`) or capped at the highest level seen (`SCurve-capped`);",
        "each cell names the baseline it did worst against on the scored windows.",
        "",
        *s_curve_rows(results),
        "",
        "## Every candidate, per series and horizon",
        "",
        "Figures on the scored windows (the windows the nested choice is judged on);",
        "`vs X` is the model's MAE over baseline X's on those windows.",
    ]
    for result in results:
        lines += [
            "",
            f"### {result['series']}",
            "",
            f"{result['points']} points, {result['first']} to {result['last']}; "
            f"{result['seconds']} s for every horizon.",
        ]
        for horizon, report in result["horizons"].items():
            lines.append("")
            if "error" in report:
                lines.append(f"**{horizon} steps ahead:** not judged: {report['error']}.")
                continue
            picks = ", ".join(p["model"] for p in report["nested"]["picks"])
            lines += [
                f"**{horizon} steps ahead** ({len(report['origins'])} origins, "
                f"{report['step']} apart; nested picks: {picks}; hindsight best: "
                f"{report['hindsight_best']}). {report['choice']['verdict']}.",
                "",
                *candidate_rows(result, horizon),
            ]
    return "\n".join(lines) + "\n"
