"""Who is eligible for the airdrop, from the market's own database.

The rules are pure (:mod:`l2gpu.core.airdrop.eligibility`); this shell gives them
their inputs:

- :func:`account_usage` reads every started lease and sums, per account, its first
  lease start and the GPU-seconds it rented and provided;
- :func:`adoption_thresholds` fits the Bass curve to the new adopters per period and
  returns the times its share of eventual adopters crosses 2.5 % and 16 %, Rogers'
  ends of the innovators and of the early adopters; :func:`thresholds_from_counts`
  is the fallback that needs no fit: the first 2.5 % and 16 % of the accounts seen;
- :func:`eligibility_report` puts them together;
- :func:`simulate_market_history` writes a Bass-process market history into an empty
  database, for the demo and the tests.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from l2gpu.analytics.adoption.fit import MIN_POINTS, fit_adoption
from l2gpu.analytics.series import Series, TimeAxis
from l2gpu.core.airdrop.eligibility import (
    EARLY_ADOPTERS,
    INNOVATORS,
    TIER_END_PER_MILLE,
    AccountUsage,
    EligibilityRules,
    Eligible,
    assign,
    tier_totals,
)
from l2gpu.core.crypto.secp256k1 import SECP256K1_N
from l2gpu.core.errors import L2gpuError
from l2gpu.db.engine import migrate
from l2gpu.db.market_models import JobRow, LeaseRow, OfferRow
from l2gpu.db.models import encode_wei

DAY = 86_400
BOOTSTRAP_ROUNDS = 100  # enough for a 95 % interval of m; the thresholds do not use it
METHODS = ("curve", "observed")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The ends of the two tiers (Unix seconds, exclusive) and where they come from.

    ``model``: ``"bass"`` (fitted curve) or ``"observed"`` (order of the accounts).
    ``fitted_m``: the fitted number of eventual adopters (None if nothing was fitted),
    ``m_interval`` its 95 % bootstrap interval. If ``adopters_seen`` is far below
    ``fitted_m``, the market is young and the thresholds an extrapolation.
    """

    innovators_until: int
    early_adopters_until: int
    model: str
    fitted_m: float | None
    adopters_seen: int
    m_interval: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class EligibilityReport:
    """The thresholds used, the eligible accounts in order, and per tier (count, wei)."""

    thresholds: Thresholds
    eligible: tuple[Eligible, ...]
    totals: dict[str, tuple[int, int]]

    @property
    def total_wei(self) -> int:
        """What the airdrop pays in all, in wei."""
        return sum(wei for _, wei in self.totals.values())


def account_usage(engine: Engine) -> list[AccountUsage]:
    """Each account's usage from the market's leases, sorted by (first activity, account).

    A lease counts from its job's start (``started_at``); a lease whose job never
    started is ignored, as is a lease an account made with itself (renting one's own
    GPUs costs nothing, so it would let a sybil buy GPU-seconds for free). A lease's
    GPU-seconds are its metered seconds times its GPUs: the renter gets them as
    rented, the provider as provided.
    """
    with Session(engine) as session:
        rows = session.execute(
            select(
                LeaseRow.renter,
                LeaseRow.provider,
                LeaseRow.num_gpus,
                LeaseRow.started_at,
                LeaseRow.metered_seconds,
            ).where(LeaseRow.started_at.is_not(None))
        ).all()
    first: dict[str, int] = {}
    rented: dict[str, int] = {}
    provided: dict[str, int] = {}
    for renter, provider, num_gpus, started_at, metered in rows:
        if started_at is None or bytes(renter) == bytes(provider):
            continue
        gpu_seconds = int(metered) * int(num_gpus)
        for raw, book in ((renter, rented), (provider, provided)):
            account = "0x" + bytes(raw).hex()
            first[account] = min(first.get(account, started_at), int(started_at))
            book[account] = book.get(account, 0) + gpu_seconds
    usages = [
        AccountUsage(account, at, rented.get(account, 0), provided.get(account, 0))
        for account, at in first.items()
    ]
    usages.sort(key=lambda u: (u.first_active, u.account))
    return usages


def adoption_thresholds(usages: Iterable[AccountUsage], *, period_s: int = DAY) -> Thresholds:
    """The tier ends where the fitted Bass curve reaches 2.5 % and 16 % of adopters.

    New adopters are counted per ``period_s`` from the first one (the launch), and
    the Bass model alone is fitted (``fit_adoption(models=("bass",))``), not the
    lowest-AIC model: only Bass has a launch. Logistic and Gompertz curves start
    before the data, so when the first days bring adopters (a market's innovators
    do) they put the 2.5 % mark before the first adopter; on a young market Gompertz
    also overshoots ``m`` several times. Fewer than five periods: :class:`L2gpuError`.
    """
    times = _first_actives(usages)
    if not _is_int(period_s) or period_s <= 0:
        raise L2gpuError(f"period_s is {period_s!r}", "give a positive number of seconds")
    origin = times[0]
    counts = np.bincount([(t - origin) // period_s for t in times]).astype(float)
    if len(counts) < MIN_POINTS:
        raise L2gpuError(
            f"the market's adopters span {len(counts)} period(s) of {period_s} s; fitting an "
            f"adoption curve needs at least {MIN_POINTS}",
            "wait for more history, give a shorter period_s, or use the observed thresholds "
            "(method 'observed')",
        )
    # Period k holds the adopters of [origin + k P, origin + (k + 1) P), so the fitted
    # level N(x) counts the adopters by origin + (x + 1) P: positions map to times so.
    axis = TimeAxis("number", float(origin), float(period_s))
    series = Series("new adopters", axis, np.arange(len(counts), dtype=float), counts)
    result = fit_adoption(series, cumulative=False, models=("bass",), rounds=BOOTSTRAP_ROUNDS)
    # segments name where each segment starts: innovators end where early adopters start
    innovators_end = result.segments["early_adopters"]
    early_end = result.segments["early_majority"]
    if innovators_end is None or early_end is None:
        raise L2gpuError(
            "the fitted adoption curve never reaches 16 % of its adopters",
            "use the observed thresholds (method 'observed')",
        )
    innovators_until = origin + round((innovators_end + 1.0) * period_s)
    early_until = origin + round((early_end + 1.0) * period_s)
    m = float(result.fit.theta[result.fit.model.scale_index])
    return Thresholds(
        innovators_until=innovators_until,
        early_adopters_until=max(early_until, innovators_until),
        model=result.fit.model.name,
        fitted_m=m,
        adopters_seen=len(times),
        m_interval=result.intervals["m"],
    )


def thresholds_from_counts(usages: Iterable[AccountUsage]) -> Thresholds:
    """The tier ends from observed order: the first 2.5 % and 16 % of the accounts seen.

    It takes the accounts seen so far as every adopter there will be: a market still
    growing gets its marks too early (by its final size, too few innovators), but
    nothing is fitted. The first ceil(2.5 % n) accounts are innovators and the first
    ceil(16 % n) innovators or early adopters. An account first active in the same
    second as the last one inside a mark is inside it too: the renter and the
    provider of one lease start together, and neither came first.
    """
    times = _first_actives(usages)
    n = len(times)

    def end_of(tier: str) -> int:
        k = -(-n * TIER_END_PER_MILLE[tier] // 1000)  # ceil, in integers; 1 <= k <= n
        return times[k - 1] + 1

    return Thresholds(end_of(INNOVATORS), end_of(EARLY_ADOPTERS), "observed", None, n)


def eligibility_report(
    engine: Engine,
    *,
    rewards: Mapping[str, int] | Iterable[tuple[str, int]],
    min_gpu_seconds: int,
    method: str = "curve",
    period_s: int = DAY,
) -> EligibilityReport:
    """The airdrop's eligible accounts, from the market database at ``engine``.

    ``rewards`` gives the wei per account of each tier; ``method`` is ``"curve"``
    (:func:`adoption_thresholds`) or ``"observed"`` (:func:`thresholds_from_counts`).
    The thresholds are computed from the accounts with at least ``min_gpu_seconds``
    only: otherwise a swarm of one-second sybils, none of them eligible, would still
    move the 2.5 % and 16 % marks.
    """
    if method not in METHODS:
        raise L2gpuError(f"unknown method {method!r}", f"use one of {', '.join(METHODS)}")
    pairs = tuple(rewards.items() if isinstance(rewards, Mapping) else rewards)
    usages = account_usage(engine)
    counted = [u for u in usages if u.gpu_seconds >= min_gpu_seconds]
    if not counted:
        raise L2gpuError(
            f"no account of the {len(usages)} with started leases used {min_gpu_seconds} "
            "GPU-seconds or more",
            "lower min_gpu_seconds, or check that the database is the market's",
        )
    if method == "curve":
        thresholds = adoption_thresholds(counted, period_s=period_s)
    else:
        thresholds = thresholds_from_counts(counted)
    rules = EligibilityRules(
        innovators_until=thresholds.innovators_until,
        early_adopters_until=thresholds.early_adopters_until,
        min_gpu_seconds=min_gpu_seconds,
        rewards=pairs,
    )
    eligible = assign(usages, rules)
    return EligibilityReport(thresholds, eligible, tier_totals(eligible))


def _first_actives(usages: Iterable[AccountUsage]) -> list[int]:
    times = sorted(u.first_active for u in usages)
    if not times:
        raise L2gpuError(
            "no account has a started lease: there are no adopters to divide into tiers",
            "run the market first, or fill a test database with simulate_market_history",
        )
    return times


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# The simulated market (simulate_market_history): its goods, prices and habits.
GPUS = (("H100", 2 * 10**12), ("A100", 10**12), ("RTX_4090", 3 * 10**11))  # wei per GPU-s
LEASE_GPUS = (1, 1, 2, 4, 8)
MAX_SECONDS = (3600, 4 * 3600, 12 * 3600, 24 * 3600)
PROVIDER_SHARE = 0.2  # of adopters who come to sell GPU time rather than to rent it
LATER_LEASES = 2.0  # mean number of leases a renter makes after its first
LATER_GAP_DAYS = 5.0  # mean time between them
FAILED_START_SHARE = 0.05  # leases tried first with a provider whose start failed
CHAIN_ID = 31337


def simulate_market_history(
    engine: Engine,
    *,
    accounts: int = 400,
    days: int = 120,
    seed: int = 0,
    p: float = 0.01,
    q: float = 0.3,
    start: int = 1_700_000_000,
) -> int:
    """Write a simulated market history into an empty market database; return its leases.

    Each of ``accounts`` adopters (keys: :func:`simulated_account_keys`) adopts at an
    independent draw from the Bass distribution F(t; p, q), t in days from ``start``.
    One in five is a provider. An adopter's first lease starts at its adoption: a
    renter rents from an earlier provider, a provider's goes to an earlier renter;
    renters then lease a few more times, days apart. The first lease needs two
    accounts: the first renter adopts at the first provider's second. Only ``days``
    are written (a lease running at the end is ``running``); some leases follow a
    failed start. Rows are as the market writes them (an offer per lease, the lease,
    its job), but with zero signatures and channels ``{"simulated": true}``. A
    database with leases is refused: simulated accounts must never get real rewards.
    """
    _check_simulation(accounts, days, p, q, start)
    migrate(engine)  # creates the market's tables in a new database; a no-op otherwise
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(LeaseRow)):
            raise L2gpuError(
                "the market database already has leases",
                "simulate into a new, empty database, never into one with real accounts",
            )
    rng = np.random.default_rng(seed)
    end = start + days * DAY
    u = rng.random(accounts)
    at = start + np.floor(-np.log((1 - u) / (1 + u * q / p)) / (p + q) * DAY).astype(np.int64)
    addresses = [bytes.fromhex(key.address[2:]) for key in simulated_account_keys(accounts, seed)]
    is_provider = rng.random(accounts) < PROVIDER_SHARE
    first, second = (int(i) for i in np.argsort(at, kind="stable")[:2])
    is_provider[first], is_provider[second], at[second] = True, False, at[first]
    plan: list[tuple[int, int, int]] = []  # (job start, renter, provider)
    later: list[tuple[int, int]] = []  # (job start, renter): providers chosen below
    providers: list[int] = []
    renters: list[int] = []
    for i in (int(i) for i in np.lexsort((~is_provider, at))):  # by time, providers first
        t = int(at[i])
        if t >= end:
            break
        if is_provider[i]:
            if renters:  # none only for the very first provider: its renter comes next
                plan.append((t, renters[int(rng.integers(len(renters)))], i))
            providers.append(i)
            continue
        renters.append(i)
        plan.append((t, i, providers[int(rng.integers(len(providers)))]))
        for _ in range(int(rng.poisson(LATER_LEASES))):
            t += int(rng.exponential(LATER_GAP_DAYS * DAY)) + 1
            if t < end:
                later.append((t, i))
    since = [int(at[i]) for i in providers]  # increasing: providers joined in time order
    for t, renter in later:
        known = int(np.searchsorted(since, t, side="right"))
        plan.append((t, renter, providers[int(rng.integers(known))]))
    plan.sort()
    return _write(engine, plan, addresses, rng, end)


def simulated_account_keys(accounts: int, seed: int) -> list[LocalAccount]:
    """The keys of :func:`simulate_market_history`'s accounts, in order, so that a demo
    can sign for them. Anyone can derive them from the seed: simulated use only."""
    keys = []
    for index in range(accounts):
        digest = hashlib.sha256(f"l2gpu-simulated-account/{seed}/{index}".encode()).digest()
        secret = int.from_bytes(digest, "big") % (SECP256K1_N - 1) + 1  # a valid key
        keys.append(Account.from_key(secret.to_bytes(32, "big")))
    return keys


def _write(
    engine: Engine,
    plan: list[tuple[int, int, int]],
    addresses: list[bytes],
    rng: np.random.Generator,
    end: int,
) -> int:
    """Insert the planned leases (job start, renter, provider) with their offers and jobs."""
    offers: list[dict[str, Any]] = []
    leases: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    nonces: dict[bytes, int] = {}
    for t, renter, seller in ((t, addresses[r], addresses[s]) for t, r, s in plan):
        for starts in [False, True] if rng.random() < FAILED_START_SHARE else [True]:
            lease_id = len(leases) + 1
            gpu, base_price = GPUS[int(rng.integers(len(GPUS)))]
            price = base_price * int(rng.integers(80, 121)) // 100
            gpus = LEASE_GPUS[int(rng.integers(len(LEASE_GPUS)))]
            max_seconds = MAX_SECONDS[int(rng.integers(len(MAX_SECONDS)))]
            run = min(max_seconds, 60 + int(rng.lognormal(np.log(2400.0), 1.0)))
            due = t if starts else t - int(rng.integers(600, 3 * 3600))
            requested = due - int(rng.integers(5, 120))  # the provider's agent takes a while
            created = requested - int(rng.integers(60, 6 * 3600))
            metered = min(run, end - due) if starts else 0
            running = starts and due + run > end
            status = "running" if running else "ended" if starts else "failed"
            stopped = None if running else due + metered
            paid = encode_wei(metered * gpus * price)
            nonces[seller] = nonces.get(seller, -1) + 1
            offers.append(dict(
                offer_id=lease_id, provider=seller, chain_id=CHAIN_ID, gpu_name=gpu,
                num_gpus=gpus, gpu_ram_gb=80, cpu_cores=16 * gpus, ram_gb=64 * gpus,
                disk_gb=500, bandwidth_mbps=1000, location="EU",
                price_per_gpu_second=encode_wei(price), min_duration=60,
                max_duration=max_seconds, expires_at=created + 7 * DAY, declared=True,
                nonce=nonces[seller], signature=bytes(65), status="leased", created_at=created,
            ))  # fmt: skip
            leases.append(dict(
                lease_id=lease_id, offer_id=lease_id, renter=renter, provider=seller,
                num_gpus=gpus, price_per_gpu_second=encode_wei(price), max_seconds=max_seconds,
                requested_at=requested, status=status, started_at=due if starts else None,
                ended_at=stopped, metered_seconds=metered, paid=paid,
                reason="" if starts else "start failed", channel={"simulated": True},
                voucher_amount=paid, voucher_signature=None, voucher_at=stopped if starts else None,
                channel_id="0x" + rng.bytes(32).hex(), channel_verified=True,
            ))  # fmt: skip
            jobs.append(dict(
                lease_id=lease_id, command="train", env={}, secrets={}, files={}, status=status,
                exit_code=0 if status == "ended" else None, created_at=requested,
            ))  # fmt: skip
    with Session(engine) as session, session.begin():
        for table, rows in ((OfferRow, offers), (LeaseRow, leases), (JobRow, jobs)):
            if rows:
                session.execute(insert(table), rows)
    return len(leases)


def _check_simulation(accounts: int, days: int, p: float, q: float, start: int) -> None:
    for name, value, least in (("accounts", accounts, 2), ("days", days, 1), ("start", start, 0)):
        if not _is_int(value) or value < least:
            raise L2gpuError(f"{name} is {value!r}", f"give a whole number >= {least}")
    if not (math.isfinite(p) and math.isfinite(q) and 0 < p <= 1 and 0 <= q <= 5):
        raise L2gpuError(
            f"Bass coefficients p={p!r}, q={q!r} are out of range",
            "give 0 < p <= 1 (innovation) and 0 <= q <= 5 (imitation), e.g. p=0.01, q=0.3",
        )
