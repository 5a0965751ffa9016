"""``l2gpu adoption | allocate | usage``: analytics over CSV files, traces and the
market's own database (``l2gpu forecast`` lives in :mod:`l2gpu.cli.forecast_cmd`).

Heavy libraries (statsforecast, Mesa, matplotlib) load inside the commands, so
that ``l2gpu --help`` stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from l2gpu.cli.common import AsJson, print_json
from l2gpu.cli.common import now as wall_clock
from l2gpu.core.errors import L2gpuError

adoption_app = typer.Typer(help="Fit, plot and simulate adoption curves.", no_args_is_help=True)
allocate_app = typer.Typer(
    help="Replay cluster traces under scheduling policies; size owned versus rented GPUs.",
    no_args_is_help=True,
)

usage_app = typer.Typer(
    help="Usage patterns: of the shared cluster traces, and of our market's database.",
    no_args_is_help=True,
)

FileArg = Annotated[Path, typer.Argument(help="CSV file (plain or .gz) with a header row.")]
TimeCol = Annotated[str, typer.Option("--time-col", help="Column of times (dates or numbers).")]
ValueCol = Annotated[str, typer.Option("--value-col", help="Column of values.")]
PlotOption = Annotated[
    Path | None, typer.Option("--plot", help="Also draw utilization over time to this PNG.")
]


def _emit(result: dict[str, Any], as_json: bool) -> None:
    # --json: one line, for programs; without it the same object indented, for people
    print_json(result, compact=as_json)


def _fit_groups(
    file: Path,
    time_col: str,
    value_col: str,
    group_col: str | None,
    cumulative: bool,
    until: str | None,
    horizon: int,
    bootstrap: int,
    judge: bool = True,
) -> dict[str, Any]:
    from l2gpu.analytics.adoption import fit_adoption
    from l2gpu.analytics.adoption.judged import judge_adoption
    from l2gpu.analytics.series import position_of, read_series

    if horizon < 0 or bootstrap < 10:
        raise L2gpuError("--horizon must be >= 0 and --bootstrap >= 10", "change the option")
    skipped: list[str] = []
    series = read_series(
        file, time_col, value_col, group_col=group_col, skipped=skipped if group_col else None
    )
    for note in skipped:
        typer.echo(f"note: skipped group {note}: too few points", err=True)
    results = {}
    for name, one in series.items():
        limit = position_of(one.axis, until) if until else None
        result = fit_adoption(
            one, cumulative=cumulative, horizon=horizon, until=limit, rounds=bootstrap
        )
        # The forecast shown is the nested backtest's choice; the curve stays a description.
        results[name] = judge_adoption(result, horizon) if horizon and judge else result
    return results


GroupCol = Annotated[str | None, typer.Option("--group-col", help="Column naming the series.")]
Cumulative = Annotated[
    bool, typer.Option("--cumulative", help="Values are running totals or levels.")
]
Until = Annotated[str | None, typer.Option("--until", help="Fit only data up to this time.")]
Horizon = Annotated[int, typer.Option("--horizon", help="Periods to forecast after the fit.")]
Rounds = Annotated[int, typer.Option("--bootstrap", help="Bootstrap rounds for intervals.")]
Judge = Annotated[
    bool,
    typer.Option(
        "--backtest/--no-backtest",
        help="With --horizon: forecast with the model a nested backtest chooses "
        "(--no-backtest: the curve's own forecast, unjudged).",
    ),
]


@adoption_app.command("fit")
def adoption_fit(
    file: FileArg,
    time_col: TimeCol,
    value_col: ValueCol,
    group_col: GroupCol = None,
    cumulative: Cumulative = False,
    until: Until = None,
    horizon: Horizon = 0,
    bootstrap: Rounds = 100,
    backtest: Judge = True,
    as_json: AsJson = False,
) -> None:
    """Fit Bass, logistic and Gompertz (lowest AIC) per group: parameters, saturation and
    segment dates with intervals. With --horizon, the forecast comes from the model a
    nested backtest chooses; the output says how the S-curves did against the baselines."""
    results = _fit_groups(
        file, time_col, value_col, group_col, cumulative, until, horizon, bootstrap, backtest
    )
    _emit({"groups": {name: r.to_json() for name, r in results.items()}}, as_json)


@adoption_app.command("plot")
def adoption_plot(
    file: FileArg,
    time_col: TimeCol,
    value_col: ValueCol,
    out: Annotated[Path, typer.Option("-o", "--out", help="PNG file to write.")],
    group_col: GroupCol = None,
    cumulative: Cumulative = False,
    until: Until = None,
    horizon: Horizon = 0,
    bootstrap: Rounds = 100,
    backtest: Judge = True,
) -> None:
    """Draw data, fit, forecast band and segment boundaries to a PNG."""
    from l2gpu.analytics.plots import plot_adoption

    results = _fit_groups(
        file, time_col, value_col, group_col, cumulative, until, horizon, bootstrap, backtest
    )
    typer.echo(str(plot_adoption(results, out)))


@adoption_app.command("simulate")
def adoption_simulate(
    agents: Annotated[int, typer.Option("--agents", help="Number of agents.")] = 100_000,
    days: Annotated[int, typer.Option("--days", help="Days to simulate.")] = 365,
    engine: Annotated[str, typer.Option("--engine", help="numpy or mesa.")] = "numpy",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    l1_fee: Annotated[float, typer.Option("--l1-fee", help="L1 fee in USD per tx.")] = 2.0,
    as_json: AsJson = False,
) -> None:
    """Run the agent-based model of L1 versus L2 designs; print shares per design."""
    from l2gpu.analytics.abm.mesa_model import simulate_mesa
    from l2gpu.analytics.abm.vectorized import simulate

    if agents < 10 or days < 1 or l1_fee <= 0:
        raise L2gpuError(
            "--agents must be >= 10, --days >= 1 and --l1-fee > 0", "change the option"
        )
    if engine not in ("numpy", "mesa"):
        raise L2gpuError(f"unknown engine '{engine}'", "choose numpy or mesa")
    run = (simulate if engine == "numpy" else simulate_mesa)(
        agents, days, l1_fee_usd=l1_fee, seed=seed
    )
    every = max(1, days // 12)
    _emit(
        {
            "designs": list(run.designs),
            "final_shares": dict(zip(run.designs, map(float, run.shares[-1]), strict=True)),
            "l2_share": [
                {"day": d + 1, "share": float(run.l2_share[d])}
                for d in range(every - 1, days, every)
            ],
        },
        as_json,
    )


@allocate_app.command("replay")
def allocate_replay(
    trace: Annotated[str, typer.Option("--trace", help="philly or alibaba2023.")] = "philly",
    policy: Annotated[
        str, typer.Option("--policy", help="fifo, sjf, las, price, hybrid, or all.")
    ] = "all",
    gpus: Annotated[
        float | None,
        typer.Option(
            "--gpus", help="Owned GPUs (default: sized so FIFO's wait matches the trace's)."
        ),
    ] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", help="Replay only the first N.")] = None,
    gpu: Annotated[str, typer.Option("--gpu", help="GPU model for prices.")] = "V100",
    as_json: AsJson = False,
) -> None:
    """Replay a real trace under scheduling policies; print JCT, wait, utilization, cost."""
    from l2gpu.analytics.allocation import trace as traces
    from l2gpu.analytics.allocation.calibrate import capacity_for_wait
    from l2gpu.analytics.allocation.policies import POLICIES, make_policy
    from l2gpu.analytics.allocation.report import Prices, summarize
    from l2gpu.analytics.allocation.simulator import replay
    from l2gpu.analytics.datasets import gpu_prices
    from l2gpu.cli.live import progress_bars

    names = list(POLICIES) if policy == "all" else [policy]
    for name in names:
        make_policy(name)  # fail on an unknown name before any work
    loaded = traces.load_trace(trace)
    if jobs is not None:
        if jobs < 10:
            raise L2gpuError("--jobs must be at least 10", "replay more jobs")
        loaded = loaded.head(jobs)
    if gpus is not None:
        if gpus <= 0:
            raise L2gpuError("--gpus must be positive", "give the number of owned GPUs")
        capacity = round(gpus * loaded.units_per_gpu)
    else:
        observed = (
            traces.philly_observed_wait() if trace == "philly" else traces.alibaba_observed_wait()
        )
        capacity = capacity_for_wait(loaded, observed)
    prices = Prices.from_market(gpu_prices(gpu))
    with progress_bars(enabled=not as_json) as on_progress:
        rows = [summarize(replay(loaded, make_policy(n), capacity, on_progress=on_progress),
                          prices) for n in names]  # fmt: skip
    _emit(
        {
            "trace": trace,
            "gpus": capacity / loaded.units_per_gpu,
            "gpu_model": gpu,
            "own_usd_per_gpu_h": prices.own_usd_per_gpu_h,
            "rent_usd_per_gpu_h": prices.rent_usd_per_gpu_h,
            "policies": rows,
        },
        as_json,
    )


@allocate_app.command("recommend")
def allocate_recommend(
    file: FileArg,
    time_col: TimeCol,
    value_col: ValueCol,
    horizon: Annotated[
        int,
        typer.Option(
            "--horizon",
            help="Forecast this many steps first and size for them (0: size for the file).",
        ),
    ] = 0,
    freq: Annotated[str | None, typer.Option("--freq", help="Resample first (mean).")] = None,
    gpu: Annotated[str, typer.Option("--gpu", help="GPU model for market prices.")] = "V100",
    own_price: Annotated[float | None, typer.Option("--own-price", help="USD/GPU-h.")] = None,
    rent_price: Annotated[float | None, typer.Option("--rent-price", help="USD/GPU-h.")] = None,
    as_json: AsJson = False,
) -> None:
    """How many GPUs to own and how many GPU-hours to rent for a (forecast) demand in GPUs.

    With --horizon the demand is forecast (the nested backtest's model): the plan is
    the one of least expected cost over the forecast's quantiles, shown with its cost
    at the 50th and 90th percentile of demand."""
    import pandas as pd

    from l2gpu.analytics.allocation.own_rent import recommend_quantiles
    from l2gpu.analytics.allocation.report import Prices, recommend
    from l2gpu.analytics.datasets import gpu_prices
    from l2gpu.analytics.forecast import regular_values
    from l2gpu.analytics.judge import forecast_with_choice
    from l2gpu.analytics.series import read_series, resample

    (series,) = read_series(file, time_col, value_col, min_points=2).values()
    if series.axis.kind != "datetime":
        raise L2gpuError("recommend needs a time column of dates", "give dates or timestamps")
    if horizon < 0:
        raise L2gpuError(f"--horizon {horizon} is negative", "pass 0 or more steps")
    if freq:
        series = resample(series, freq)
    if own_price is None or rent_price is None:
        market = Prices.from_market(gpu_prices(gpu))
        own_price = market.own_usd_per_gpu_h if own_price is None else own_price
        rent_price = market.rent_usd_per_gpu_h if rent_price is None else rent_price
    prices = Prices(own_price, rent_price)
    step = series.axis.value_at(1.0) - series.axis.value_at(0.0)
    hours = pd.Timedelta(step).total_seconds() / 3600.0
    if horizon == 0:
        _emit(recommend(regular_values(series), hours, prices), as_json)
        return
    chosen = forecast_with_choice(series, horizon)
    _emit({"model": chosen.model, **recommend_quantiles(chosen.quantiles, hours, prices)}, as_json)


@allocate_app.command("regret")
def allocate_regret(
    series: Annotated[
        str, typer.Option("--series", help="A built-in demand series (forecast backtest).")
    ] = "philly_active_nodes",
    gpu: Annotated[str, typer.Option("--gpu", help="GPU model for market prices.")] = "V100",
    all_candidates: Annotated[
        bool, typer.Option("--all-models", help="Every forecast model, not only baselines.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Backtest own-versus-rent: recommend at rolling origins from the data before each,
    price the plan on the demand that followed, and report the regret against the
    cheapest plan in hindsight (median over origins)."""
    from l2gpu.analytics.allocation.own_rent import series_regret
    from l2gpu.analytics.allocation.report import Prices
    from l2gpu.analytics.datasets import gpu_prices
    from l2gpu.analytics.named_series import DEMAND

    if series not in DEMAND:
        raise L2gpuError(f"unknown demand series '{series}'", f"choose one of: {', '.join(DEMAND)}")
    prices = Prices.from_market(gpu_prices(gpu))
    _emit(series_regret(series, prices, all_candidates=all_candidates), as_json)


@usage_app.command("market")
def usage_market(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="The market's database (default: the setting)."),
    ] = None,
    export_demand: Annotated[
        Path | None,
        typer.Option("--export-demand", help="Write hourly GPU demand as CSV (for forecast)."),
    ] = None,
    plot: PlotOption = None,
    as_json: AsJson = False,
) -> None:
    """Our market's usage: demand cycles, lease sizes and durations, waits, start
    failures, prices, GPU time billed and the share of offered GPU time rented."""
    from l2gpu.analytics import market_usage as mu
    from l2gpu.db import open_database

    engine = open_database(database_url or ctx.obj.effective_database_url)
    # the wall clock, or the database's newest record if that is later (a clock skew)
    now = max(wall_clock(), mu.last_activity(mu.load_leases(engine), mu.load_offers(engine)))
    result = mu.market_patterns(engine, now=now)
    if export_demand is not None:
        mu.demand_frame(mu.load_leases(engine)).to_csv(export_demand, index=False)
        result["demand_csv"] = str(export_demand)
    if plot is not None:
        from l2gpu.analytics.plots import plot_utilization

        share = mu.busy_share_hourly(mu.load_leases(engine), mu.load_offers(engine), now=now)
        result["plot"] = str(plot_utilization(share, plot, "market: share of offered GPUs rented"))
    _emit(result, as_json)


@usage_app.command("traces")
def usage_traces(plot: PlotOption = None, as_json: AsJson = False) -> None:
    """Usage patterns of the shared traces: Philly, Helios Venus, Alibaba 2023
    (``--plot``: Philly's node utilization over time)."""
    from l2gpu.analytics import datasets
    from l2gpu.analytics.usage import alibaba_patterns, philly_patterns, venus_patterns

    result: dict[str, Any] = {
        "philly": philly_patterns(), "venus": venus_patterns(), "alibaba2023": alibaba_patterns()
    }  # fmt: skip
    if plot is not None:
        from l2gpu.analytics.plots import plot_utilization

        busy = datasets.load_philly_node_usage()["utilization"].resample("h").mean().dropna()
        result["plot"] = str(plot_utilization(busy, plot, "Philly: node utilization"))
    _emit(result, as_json)


def register(app: typer.Typer) -> None:
    """Add ``adoption``, ``allocate`` and ``usage`` to the main application."""
    app.add_typer(adoption_app, name="adoption")
    app.add_typer(allocate_app, name="allocate")
    app.add_typer(usage_app, name="usage")
