"""``l2gpu forecast``: forecasts that are shown only when a nested backtest lets them.

    l2gpu forecast FILE --time-col C --value-col V --horizon H     (the ``predict`` command)
    l2gpu forecast backtest FILE|NAME [--horizon H ...] [--json] [--plot out.png]
    l2gpu forecast report [--docs] [--json] [--series NAME ...]

``backtest`` takes a CSV file or a built-in series (:mod:`l2gpu.analytics.named_series`;
an unknown name lists them). statsforecast and matplotlib load inside the commands, so that
``l2gpu --help`` stays quick.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from l2gpu.cli.common import AsJson, print_json
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:
    from l2gpu.analytics.judge import ChosenForecast, Setup
    from l2gpu.analytics.series import Series


class _PredictByDefault(TyperGroup):
    """``l2gpu forecast FILE ...`` (the command before the group existed) runs ``predict``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Put ``predict`` in front of arguments that name no subcommand.

        (``ctx`` is typer's vendored click context, which typer does not export.)
        """
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["predict", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_PredictByDefault,
    help="Forecast a series; judge forecasters by nested rolling-origin backtests.",
    no_args_is_help=True,
)

TimeCol = Annotated[
    str | None, typer.Option("--time-col", help="Column of times (default: the first).")
]
ValueCol = Annotated[
    str | None, typer.Option("--value-col", help="Column of values (default: the second).")
]
Freq = Annotated[str | None, typer.Option("--freq", help="Resample first (h, D, W ...).")]
Agg = Annotated[str, typer.Option("--agg", help="mean or sum when resampling.")]
Season = Annotated[int | None, typer.Option("--season", help="Season length (default: by step).")]
Origins = Annotated[int, typer.Option("--origins", help="Forecast origins (at least 8).")]


def _read_csv(
    file: Path, time_col: str | None, value_col: str | None, freq: str | None, agg: str
) -> Series:
    from l2gpu.analytics.series import read_series, read_table, resample

    if agg not in ("mean", "sum"):
        raise L2gpuError(f"unknown --agg '{agg}'", "choose mean or sum")
    if time_col is None or value_col is None:
        columns = list(read_table(file).columns)
        if len(columns) != 2:
            raise L2gpuError(
                f"file '{file}' has {len(columns)} columns: {', '.join(columns)}",
                "name the two to use with --time-col and --value-col",
            )
        time_col, value_col = time_col or columns[0], value_col or columns[1]
    (series,) = read_series(file, time_col, value_col, min_points=10).values()
    return resample(series, freq, agg) if freq else series


@app.command("predict")
def predict(
    file: Annotated[Path, typer.Argument(help="CSV file (plain or .gz) with a header row.")],
    horizon: Annotated[int, typer.Option("--horizon", help="Steps to forecast.")],
    time_col: TimeCol = None,
    value_col: ValueCol = None,
    freq: Freq = None,
    agg: Agg = "mean",
    season: Season = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Also draw a PNG.")] = None,
    as_json: AsJson = False,
) -> None:
    """Forecast with the model a nested backtest chooses (a baseline when the choice
    does not beat every baseline), with a 95 % band. The default command."""
    from l2gpu.analytics.forecast import forecast_series

    series = _read_csv(file, time_col, value_col, freq, agg)
    result = forecast_series(series, horizon=horizon, season=season)
    if out:
        from l2gpu.analytics.plots import plot_forecast

        plot_forecast(series, result.times, result.mean, result.lo, result.hi, out)
    print_json(result.to_json(), compact=as_json)


def _source(
    source: str,
    time_col: str | None,
    value_col: str | None,
    freq: str | None,
    agg: str,
    horizons: list[int] | None,
) -> tuple[Series, tuple[int, ...], Setup]:
    from l2gpu.analytics.judge import Setup
    from l2gpu.analytics.named_series import load_named
    from l2gpu.analytics.series import season_for

    if Path(source).is_file():
        series = _read_csv(Path(source), time_col, value_col, freq, agg)
        if not horizons:
            raise L2gpuError(
                "a file needs the horizons to judge", "pass --horizon H (repeat it for several)"
            )
        return series, tuple(horizons), Setup(season=season_for(series.axis.pandas_freq))
    named = load_named(source)
    return named.series, tuple(horizons or named.horizons), named.setup


@app.command("backtest")
def backtest(
    source: Annotated[
        str,
        typer.Argument(
            help="CSV file, or a built-in series such as venus_gpus_submitted or "
            "l2_daa:arbitrum (an unknown name lists them)."
        ),
    ],
    horizon: Annotated[
        list[int] | None,
        typer.Option("--horizon", help="Steps ahead; repeat for several (default: built-in's)."),
    ] = None,
    time_col: TimeCol = None,
    value_col: ValueCol = None,
    freq: Freq = None,
    agg: Agg = "mean",
    season: Season = None,
    origins: Origins = 8,
    step: Annotated[
        int | None, typer.Option("--step", help="Steps between origins (default: horizon).")
    ] = None,
    adoption: Annotated[
        bool, typer.Option("--adoption", help="Add the S-curves to the candidates.")
    ] = False,
    cumulative: Annotated[
        bool, typer.Option("--cumulative", help="With --adoption: values are levels.")
    ] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw a PNG.")] = None,
    as_json: AsJson = False,
) -> None:
    """Nested rolling-origin backtest: every candidate's MAE, RMSE, MASE, MAE against
    each baseline and interval coverage; the model chosen on earlier windows only;
    the forecast that choice allows."""
    from dataclasses import replace

    from l2gpu.analytics.judge import backtest_json, forecast_with_choice
    from l2gpu.cli.live import progress_bars

    series, horizons, setup = _source(source, time_col, value_col, freq, agg, horizon)
    setup = replace(setup, origins=origins, step=step)
    if season is not None:
        setup = replace(setup, season=season)
    if adoption:
        setup = replace(setup, adoption=True, cumulative=cumulative)
    with progress_bars(enabled=not as_json) as on_progress:
        chosen = [forecast_with_choice(series, h, setup=setup, on_progress=on_progress)
                  for h in horizons]  # fmt: skip
    result: dict[str, Any] = {"series": series.name, "points": len(series.y), "horizons": {}}
    for h, one in zip(horizons, chosen, strict=True):
        report = backtest_json(one.backtest, one.choice)
        report["forecast"] = _rows(one)
        result["horizons"][str(h)] = report
    if plot is not None:
        from l2gpu.analytics.plots import plot_backtest

        result["plot"] = str(plot_backtest(series, chosen, plot))
    if as_json:
        print_json(result, compact=True)
        return
    _print_tables(result)


def _rows(chosen: ChosenForecast) -> list[dict[str, object]]:
    quantiles = chosen.quantiles
    return [
        {"time": t, **{f"q{q:g}": round(float(path[i]), 6) for q, path in quantiles.items()}}
        for i, t in enumerate(chosen.times)
    ]


def _print_tables(result: dict[str, Any]) -> None:
    from l2gpu.analytics.forecast_docs import candidate_rows

    typer.echo(f"{result['series']}: {result['points']} points")
    for horizon, report in result["horizons"].items():
        typer.echo(
            f"\n{horizon} steps ahead: {len(report['origins'])} origins, {report['step']} "
            f"apart, {len(report['scored_origins'])} scored on a choice made before them"
        )
        typer.echo("\n".join(candidate_rows(result, horizon)))
        typer.echo(report["choice"]["verdict"])
    if "plot" in result:
        typer.echo(f"plot: {result['plot']}")


def _repo_docs() -> Path:
    # src/l2gpu/cli/forecast_cmd.py -> parents[3] is the checkout's root
    docs = Path(__file__).resolve().parents[3] / "docs"
    if not docs.is_dir():
        raise L2gpuError(
            "no docs folder beside this installation", "run from a source checkout or pass --out"
        )
    return docs / "forecasts.md"


@app.command("report")
def report(
    docs: Annotated[
        bool, typer.Option("--docs", help="Write docs/forecasts.md of the checkout.")
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the page here.")] = None,
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Only these built-in series.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Judge every built-in series at its horizons (minutes); print the summary table,
    or write the whole page with --docs / --out."""
    from l2gpu.analytics.forecast_docs import judge_all, markdown, summary_rows

    results = judge_all(series, progress=lambda line: typer.echo(line, err=True))
    if docs or out:
        target = out or _repo_docs()
        if not target.parent.is_dir():
            raise L2gpuError(f"folder '{target.parent}' does not exist", "create it first")
        command = "l2gpu forecast report --docs" if docs and not out else "l2gpu forecast report"
        target.write_text(markdown(results, command=command))
        typer.echo(f"wrote {target}", err=True)
    if as_json:
        print_json({"series": results}, compact=True)
    elif not (docs or out):
        sys.stdout.write("\n".join(summary_rows(results)) + "\n")
