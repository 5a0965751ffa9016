"""GPU-hour forwards under the real GPU price paths and shocks, with liquidations.

The same paths as the pool's stress (:mod:`l2gpu.analytics.credit_stress`: 93 real
per-GPU price series and instant shocks), through the forwards' own specification
(:mod:`l2gpu.core.credit.forwards`): at the start, ``PAIRS`` forwards are opened at
the index, each on ``HOURS`` GPU-hours, each side with a leverage drawn between 1.5
and the most the initial margin allows. At each new price the feed posts it every
hour within the step bound, and after every update each forward with a side below
maintenance is liquidated (the side that is owed money has every reason to call it).
The last price settles what is left. Bad debt is the shortfalls the market records:
what a loser's margin did not cover.

Rises hurt the shorts as falls hurt the longs, so every path is run both ways up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from l2gpu.analytics.credit_stress import SHOCKS, PricePath, real_price_paths, shocked_path
from l2gpu.core.credit import forwards as fw
from l2gpu.core.credit.rates import BPS
from l2gpu.core.types import Address

HOUR = 3_600
START = 1_700_000_000
START_PRICE = 2_000_000 * 10**9  # wei per GPU-hour
HOURS = 1_000
PAIRS = 10
FEED, BOT = Address(b"\xf1" * 20), Address(b"\xf2" * 20)

CHOSEN_FORWARD_MARGINS = (2_500, 2_000)
"""Initial and maintenance margin (bps) chosen by :func:`choose_margins` on the data:
four times leverage at most; ``tests/analytics/test_forward_stress.py`` checks it."""
MIN_BUFFER_BPS = 500
"""Initial margin at least this far above maintenance: a position opened at the most
leverage survives an ordinary move (5 %) before it can be liquidated."""


@dataclass(frozen=True)
class MarginsOutcome:
    """One pair of margins over every path."""

    initial_margin_bps: int
    maintenance_margin_bps: int
    real_bad_debt_wei: int
    real_liquidations: int
    shock_bad_debt_wei: dict[float, int]

    @property
    def first_bad_shock(self) -> float | None:
        """The smallest shock (either way) that leaves bad debt."""
        return next((s for s, bad in sorted(self.shock_bad_debt_wei.items()) if bad), None)


def run_path(params: fw.ForwardParams, path: PricePath, *, seed: int = 20) -> tuple[int, int]:
    """Replay ``path`` through a market with ``params``: (bad debt, liquidations)."""
    rng = random.Random(seed)
    state = fw.ForwardsState(params, FEED)
    now = START
    state = _take(state, fw.PostIndex(FEED, START_PRICE), now)
    most = BPS / params.initial_margin_bps
    for i in range(PAIRS):
        long_, short = Address(bytes([1 + 2 * i]) * 20), Address(bytes([2 + 2 * i]) * 20)
        notional = START_PRICE * HOURS
        margins = [int(notional / rng.uniform(1.5, max(most, 1.5))) + 1 for _ in range(2)]
        margins = [max(m, -(-notional * params.initial_margin_bps // BPS)) for m in margins]
        state = _take(state, fw.OpenOffer(long_, "long", HOURS, START_PRICE, margins[0]), now)
        state = _take(state, fw.Take(short, state.next_id - 1, margins[1]), now)
    liquidations = 0
    for at, relative in zip(path.times, path.prices, strict=True):
        target = max(int(START_PRICE * relative), 1)
        now = max(now, START + at)
        for _ in range(200):  # the feed walks to the new price, an update an hour
            now += HOUR
            state = _take(state, fw.PostIndex(FEED, target), now)
            for forward_id in list(state.forwards):
                after, events = fw.state_transition(state, fw.Liquidate(BOT, forward_id), now=now)
                if not isinstance(events[0], fw.Rejected):
                    state, liquidations = after, liquidations + 1
            if state.index == target:
                break
    now = max(now, params.expiry) + 1
    state = _take(state, fw.PostIndex(FEED, state.index), now)
    for forward_id in list(state.forwards):
        state = _take(state, fw.Settle(BOT, forward_id), now)
    return state.bad_debt, liquidations


def _take(state: fw.ForwardsState, inp: fw.Input, now: int) -> fw.ForwardsState:
    after, events = fw.state_transition(state, inp, now=now)
    return state if events and isinstance(events[0], fw.Rejected) else after


def mirrored(path: PricePath) -> PricePath:
    """The same moves the other way up (a fall of x becomes a rise of x)."""
    return replace(path, name=path.name + " mirrored", prices=tuple(2.0 - p for p in path.prices))


def stress(
    paths: list[PricePath] | None = None,
    margins: list[tuple[int, int]] | None = None,
    shocks: tuple[float, ...] = SHOCKS,
) -> list[MarginsOutcome]:
    """Every (initial, maintenance) margin pair over the paths, both ways up, and the
    shocks, down and up."""
    paths = real_price_paths() if paths is None else paths
    out = []
    for initial, maintenance in margins or margin_grid():
        params = fw.ForwardParams(
            expiry=START + 4 * 365 * 86_400, initial_margin_bps=initial,
            maintenance_margin_bps=maintenance, liquidation_fee_bps=maintenance // 10,
        )  # fmt: skip
        bad = liquidated = 0
        for path in paths:
            for way in (path, mirrored(path)):
                debt, count = run_path(params, way)
                bad, liquidated = bad + debt, liquidated + count
        by_shock = {}
        for size in shocks:
            down, _ = run_path(params, shocked_path(size))
            up, _ = run_path(params, mirrored(shocked_path(size)))
            by_shock[size] = down + up
        out.append(MarginsOutcome(initial, maintenance, bad, liquidated, by_shock))
    return out


def margin_grid() -> list[tuple[int, int]]:
    """Initial margins from 10 % to 50 % with maintenance at half, and pairs whose
    maintenance reaches the index's step bound (20 % an update)."""
    halves = [(initial, initial // 2) for initial in (1_000, 1_500, 2_000, 3_000, 4_000, 5_000)]
    return sorted([*halves, (2_200, 2_000), (2_500, 2_000), (3_000, 2_000)])


def choose_margins(outcomes: list[MarginsOutcome]) -> MarginsOutcome:
    """The lowest initial margin (the most leverage) with no bad debt anywhere and at
    least :data:`MIN_BUFFER_BPS` above its maintenance margin."""
    safe = [
        o for o in outcomes
        if o.real_bad_debt_wei == 0 and o.first_bad_shock is None
        and o.initial_margin_bps - o.maintenance_margin_bps >= MIN_BUFFER_BPS
    ]  # fmt: skip
    if not safe:
        raise ValueError("no margins leave the market without bad debt")
    return min(safe, key=lambda o: (o.initial_margin_bps, o.maintenance_margin_bps))


def report(outcomes: list[MarginsOutcome]) -> dict[str, object]:
    """The forwards' stress as JSON: every margin pair and the choice."""
    chosen = choose_margins(outcomes)
    return {
        "grid": [
            {
                "initial_margin_bps": o.initial_margin_bps,
                "maintenance_margin_bps": o.maintenance_margin_bps,
                "real_bad_debt_ether": o.real_bad_debt_wei / 10**18,
                "real_liquidations": o.real_liquidations,
                "shock_bad_debt_ether": {
                    f"{s:.0%}": round(b / 10**18, 3) for s, b in o.shock_bad_debt_wei.items()
                },
                "first_bad_shock": o.first_bad_shock,
            }
            for o in outcomes
        ],
        "chosen": {
            "initial_margin_bps": chosen.initial_margin_bps,
            "maintenance_margin_bps": chosen.maintenance_margin_bps,
            "max_leverage": 10_000 / chosen.initial_margin_bps,
        },
    }
