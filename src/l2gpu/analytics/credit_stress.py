"""The lending pool under real GPU price paths and shocks, with liquidation bots.

The pool's collateral is valued at a GPU-hour price: that is what a compute lender
holds (a provider's receivables, GPU-hour forwards), so its price moves are GPU price
moves. Two kinds of path go through the pool's own specification
(:mod:`l2gpu.core.credit.pool`, the machine ``LendingPool.vy`` is tested against):

- **real**: every cloud's per-GPU on-demand and spot price series in
  ``gpu_cloud_prices_fsdl`` with at least ``MIN_SNAPSHOTS`` dated snapshots, as
  relative moves. Snapshots are weeks apart, so each move is taken as one jump (the
  worst case for a lender: nobody sees it coming);
- **shocked**: one instant drop of ``s`` for ``s`` in :data:`SHOCKS`; the largest
  real ones are a 61 % drop between two snapshots (OVHcloud's V100) and vast.ai's
  spread between a model's median and its 10th percentile, up to 43 % among models
  with over 50 rentals (``vast_spreads``): what a forced seller at the low end loses.

At each new price the feed posts it every hour, moved at most the pool's step bound
per update, so the pool's price walks to it. After every update the bots liquidate
whatever is **profitable at the true price** (the seized collateral is worth more
than the ether repaid): a rational bot does not liquidate at a loss while the pool's
price lags. Borrowers that survive a snapshot roll their loan (repay, borrow again
to their target share of the limit), so no loan runs past its term. Bad debt is what
the pool writes off; the lender's return is the supplier's share value at the end
against the start, per year of the replayed span.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from l2gpu.analytics.datasets import load_cloud_price_history, load_vastai
from l2gpu.core.credit import pool
from l2gpu.core.credit.rates import BPS, WAD, PoolParams, collateral_value, health_factor
from l2gpu.core.types import Address

ETHER = 10**18
HOUR = 3_600
YEAR = 365 * 86_400
MIN_SNAPSHOTS = 8
SHOCKS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
START = 1_700_000_000
START_PRICE = 2 * ETHER
CHOSEN_PARAMS = replace(
    PoolParams(), ltv_bps=3_000, liquidation_threshold_bps=4_000, liquidation_bonus_bps=1_000
)
"""What ``l2gpu credit stress`` chose for collateral priced in GPU-hours (the highest
LTV that left no bad debt on any real path nor on a shock as large as the worst real
one, 61 %); ``tests/analytics/test_credit_stress.py`` checks it is still the choice."""
SUPPLIER, ORACLE, TREASURY, BOT = (Address(bytes([i]) * 20) for i in (0xA1, 0xA2, 0xA3, 0xA4))


@dataclass(frozen=True)
class PricePath:
    """Relative prices (the first is 1.0) at times in seconds from the start."""

    name: str
    times: tuple[int, ...]
    prices: tuple[float, ...]


@dataclass(frozen=True)
class PathOutcome:
    """What one path did to one pool."""

    path: str
    bad_debt_wei: int
    liquidations: int
    lender_return_per_year: float


def real_price_paths(min_snapshots: int = MIN_SNAPSHOTS) -> list[PricePath]:
    """Every cloud x GPU per-GPU and spot series with enough dated snapshots."""
    history = load_cloud_price_history()
    paths = []
    for column in ("per_gpu", "spot"):
        rows = history.dropna(subset=[column])
        grouped = rows.groupby(["cloud", "gpu_type", "snapshot_date"])[column].median()
        for (cloud, gpu), series in grouped.groupby(level=[0, 1]):
            series = series.droplevel([0, 1]).sort_index()
            if len(series) < min_snapshots or series.iloc[0] <= 0:
                continue
            seconds = [int((d - series.index[0]).total_seconds()) for d in series.index]
            relative = tuple(float(v / series.iloc[0]) for v in series.to_numpy())
            paths.append(PricePath(f"{cloud} {gpu} {column}", tuple(seconds), relative))
    return paths


def shocked_path(drop: float, days_after: int = 30) -> PricePath:
    """A flat price that drops by ``drop`` at once after a day, then stays."""
    return PricePath(
        f"shock -{drop:.0%}",
        (0, 86_400, 86_400 + days_after * 86_400),
        (1.0, 1.0 - drop, 1.0 - drop),
    )


def vast_spreads(min_rentals: int = 50) -> dict[str, float]:
    """Per GPU model rented more than ``min_rentals`` times on vast.ai: 1 - p10/p50."""
    frame = load_vastai()
    rented = frame[(frame["state"] == "rented") & (frame["count"] > min_rentals)]
    return {
        str(row.gpu_model): float(1 - row.p10 / row.p50)
        for row in rented.itertuples()
        if row.p50 > 0
    }


def run_path(
    params: PoolParams, path: PricePath, *, borrowers: int = 20, seed: int = 20
) -> PathOutcome:
    """Replay ``path`` through a pool with ``params``; see the module's docstring."""
    rng = random.Random(seed)
    names = [Address(bytes([1 + i]) + bytes(19)) for i in range(borrowers)]
    targets = {who: rng.uniform(0.5, 0.98) for who in names}  # share of the LTV limit used
    state = pool.PoolState(params, ORACLE, TREASURY, last_accrual=START)
    now = START
    state = _take(state, pool.SetPrice(ORACLE, START_PRICE), now)
    state = _take(state, pool.Supply(SUPPLIER, 1_000 * ETHER), now)
    start_value = state.share_value(SUPPLIER)
    for who in names:
        state = _take(state, pool.AddCollateral(who, 10 * ETHER), now)
    liquidations = 0
    for at, relative in zip(path.times, path.prices, strict=True):
        true_price = max(int(START_PRICE * relative), 1)
        now = max(now, START + at)
        while True:  # the feed walks the pool's price to the true one, hour by hour
            now += HOUR
            state = _take(state, pool.SetPrice(ORACLE, true_price), now)
            state, done = _liquidate_profitable(state, names, true_price, now)
            liquidations += done
            if state.price == true_price:
                break
        for who in names:
            state = _roll(state, who, targets[who], now)
    end_value = state.share_value(SUPPLIER)
    years = max(now - START, 1) / YEAR
    return PathOutcome(
        path.name, state.bad_debt, liquidations, (end_value / start_value - 1) / years
    )


def _take(state: pool.PoolState, inp: pool.Input, now: int) -> pool.PoolState:
    after, events = pool.state_transition(state, inp, now=now)
    return state if events and isinstance(events[0], pool.Rejected) else after


def _liquidate_profitable(
    state: pool.PoolState, names: list[Address], true_price: int, now: int
) -> tuple[pool.PoolState, int]:
    done = 0
    for who in names:
        for _ in range(20):  # each call repays at most the close factor
            position = pool.accrue(state, now).positions.get(who, pool.Position())
            debt = pool.accrue(state, now).debt(who)
            if (
                debt == 0
                or health_factor(state.params, position.collateral, debt, state.price) >= WAD
            ):
                break
            after, events = pool.state_transition(state, pool.Liquidate(BOT, who, debt), now=now)
            hit = next((e for e in events if isinstance(e, pool.Liquidated)), None)
            if hit is None or collateral_value(hit.seized, true_price) < hit.repaid:
                break  # not profitable at the true price: the bot waits
            state, done = after, done + 1
    return state, done


def _roll(state: pool.PoolState, who: Address, target: float, now: int) -> pool.PoolState:
    """Repay the loan and borrow again to ``target`` of the limit at the pool's price."""
    debt = pool.accrue(state, now).debt(who)
    if debt:
        state = _take(state, pool.Repay(who, who, debt), now)
    position = state.positions.get(who, pool.Position())
    if position.scaled_debt:
        return state  # it could not repay: it stays as it is
    limit = collateral_value(position.collateral, state.price) * state.params.ltv_bps // BPS
    want = int(limit * target)
    return _take(state, pool.Borrow(who, want), now) if want > 0 else state


def params_grid() -> list[PoolParams]:
    """The parameters the stress chooses from: LTV, threshold 10 points above, bonus."""
    out = []
    for ltv in (3_000, 4_000, 5_000, 6_000, 7_000, 8_000):
        for bonus in (500, 1_000):
            out.append(
                replace(PoolParams(), ltv_bps=ltv, liquidation_threshold_bps=ltv + 1_000,
                        liquidation_bonus_bps=bonus)
            )  # fmt: skip
    return [p for p in out if not p.problems()]


@dataclass(frozen=True)
class ParamsOutcome:
    """One parameter set over every path."""

    params: PoolParams
    real_bad_debt_wei: int
    real_liquidations: int
    lender_return_median: float
    shock_bad_debt_wei: dict[float, int]

    @property
    def first_bad_shock(self) -> float | None:
        """The smallest shock that leaves bad debt (None: none of them)."""
        return next((s for s, bad in sorted(self.shock_bad_debt_wei.items()) if bad), None)


def stress(
    paths: list[PricePath] | None = None,
    grid: list[PoolParams] | None = None,
    shocks: tuple[float, ...] = SHOCKS,
) -> list[ParamsOutcome]:
    """Every parameter set of ``grid`` over the real ``paths`` and the ``shocks``."""
    paths = real_price_paths() if paths is None else paths
    out = []
    for params in grid or params_grid():
        real = [run_path(params, path) for path in paths]
        returns = sorted(r.lender_return_per_year for r in real)
        out.append(
            ParamsOutcome(
                params,
                sum(r.bad_debt_wei for r in real),
                sum(r.liquidations for r in real),
                returns[len(returns) // 2] if returns else 0.0,
                {s: run_path(params, shocked_path(s)).bad_debt_wei for s in shocks},
            )
        )
    return out


def choose(outcomes: list[ParamsOutcome], must_survive: float) -> ParamsOutcome:
    """The highest LTV with no bad debt on any real path nor on any shock up to
    ``must_survive``; among those, the one whose first bad shock is largest, then
    the smaller bonus."""
    safe = [
        o for o in outcomes
        if o.real_bad_debt_wei == 0
        and all(bad == 0 for s, bad in o.shock_bad_debt_wei.items() if s <= must_survive + 1e-9)
    ]  # fmt: skip
    if not safe:
        raise ValueError(f"no parameter set survives a {must_survive:.0%} shock")
    return max(
        safe,
        key=lambda o: (o.params.ltv_bps, o.first_bad_shock or 2.0, -o.params.liquidation_bonus_bps),
    )


def worst_real_drop(paths: list[PricePath]) -> float:
    """The largest fall between two consecutive points of any path (0.61: 61 %)."""
    return max(
        (1 - b / a for p in paths for a, b in zip(p.prices, p.prices[1:], strict=False) if a > 0),
        default=0.0,
    )


def report(outcomes: list[ParamsOutcome], paths: list[PricePath]) -> dict[str, object]:
    """The stress as JSON: every parameter set, the worst real moves, the choice."""
    survive = max(worst_real_drop(paths), max(vast_spreads().values(), default=0.0))
    chosen = choose(outcomes, survive)
    return {
        "real_paths": len(paths),
        "worst_real_drop": round(worst_real_drop(paths), 3),
        "worst_vast_spread": round(max(vast_spreads().values(), default=0.0), 3),
        "must_survive_shock": round(survive, 3),
        "grid": [
            {
                "ltv_bps": o.params.ltv_bps,
                "liquidation_threshold_bps": o.params.liquidation_threshold_bps,
                "liquidation_bonus_bps": o.params.liquidation_bonus_bps,
                "real_bad_debt_ether": o.real_bad_debt_wei / ETHER,
                "real_liquidations": o.real_liquidations,
                "lender_return_per_year_median": round(o.lender_return_median, 5),
                "shock_bad_debt_ether": {
                    f"{s:.0%}": round(b / ETHER, 3) for s, b in o.shock_bad_debt_wei.items()
                },
                "first_bad_shock": o.first_bad_shock,
            }
            for o in outcomes
        ],
        "chosen": {
            "ltv_bps": chosen.params.ltv_bps,
            "liquidation_threshold_bps": chosen.params.liquidation_threshold_bps,
            "liquidation_bonus_bps": chosen.params.liquidation_bonus_bps,
            "first_bad_shock": chosen.first_bad_shock,
        },
    }
