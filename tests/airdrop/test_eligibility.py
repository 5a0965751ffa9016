"""Airdrop eligibility: the pure rules at their edges, and the shell over market data.

The shell's tests run on SQLite files: a simulated history of 400 accounts whose
adoption times follow a Bass process (shared by the module), and small databases
written lease by lease where a number must come out exact.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from l2gpu.airdrop.eligibility import (
    account_usage,
    adoption_thresholds,
    eligibility_report,
    simulate_market_history,
    simulated_account_keys,
    thresholds_from_counts,
)
from l2gpu.analytics.market_usage import load_leases
from l2gpu.core.airdrop.eligibility import (
    AccountUsage,
    EligibilityRules,
    Eligible,
    assign,
    tier_totals,
    total_wei,
)
from l2gpu.core.errors import L2gpuError
from l2gpu.db import open_database
from l2gpu.db.market_models import LeaseRow, OfferRow
from l2gpu.db.models import encode_wei

T = 1_700_000_000
REWARDS = (("innovators", 10**18), ("early_adopters", 10**17))
HOUR = 3600


def account(n: int) -> str:
    return f"0x{n:040x}"


def usage(n: int, first: int, rented: int = HOUR, provided: int = 0) -> AccountUsage:
    return AccountUsage(account(n), first, rented, provided)


def rules(**changes: object) -> EligibilityRules:
    fields: dict[str, object] = dict(
        innovators_until=T + 100, early_adopters_until=T + 200, min_gpu_seconds=HOUR,
        rewards=REWARDS,
    )  # fmt: skip
    fields.update(changes)
    return EligibilityRules(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the pure rules


def test_each_bound_is_exclusive() -> None:
    usages = [usage(1, T), usage(2, T + 99), usage(3, T + 100), usage(4, T + 199),
              usage(5, T + 200), usage(6, T + 10**6)]  # fmt: skip
    got = {e.account: (e.tier, e.reward_wei) for e in assign(usages, rules())}
    assert got == {
        account(1): ("innovators", 10**18),
        account(2): ("innovators", 10**18),
        account(3): ("early_adopters", 10**17),  # first active exactly at the bound
        account(4): ("early_adopters", 10**17),
    }


def test_equal_bounds_leave_no_early_adopters() -> None:
    eligible = assign([usage(1, T + 99), usage(2, T + 100)], rules(early_adopters_until=T + 100))
    assert [(e.account, e.tier) for e in eligible] == [(account(1), "innovators")]


def test_the_result_is_sorted_by_first_activity_then_account() -> None:
    usages = [usage(9, T + 50), usage(3, T + 50), usage(7, T + 10), usage(1, T + 150)]
    eligible = assign(usages, rules())
    assert [e.account for e in eligible] == [account(7), account(3), account(9), account(1)]
    assert eligible[0] == Eligible(account(7), "innovators", 10**18, T + 10, HOUR)


def test_a_sybil_that_rented_one_second_gets_nothing() -> None:
    usages = [
        usage(1, T, rented=1),  # the first account of all, but one GPU-second
        usage(2, T + 1, rented=HOUR - 1),  # one short
        usage(3, T + 2, rented=HOUR),  # exactly the minimum
        usage(4, T + 3, rented=HOUR // 2, provided=HOUR // 2),  # rented plus provided
        usage(5, T + 4, rented=0, provided=5 * HOUR),  # a provider only
    ]
    eligible = assign(usages, rules())
    assert [e.account for e in eligible] == [account(3), account(4), account(5)]
    assert [e.gpu_seconds for e in eligible] == [HOUR, HOUR, 5 * HOUR]
    assert assign(usages, rules(min_gpu_seconds=0))[0].account == account(1)


def test_an_account_given_twice_is_refused() -> None:
    with pytest.raises(L2gpuError, match="appears twice") as twice:
        assign([usage(1, T), usage(2, T + 1), usage(1, T + 5)], rules())
    assert "one record" in twice.value.fix


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"innovators_until": T + 201}, "after early_adopters_until"),
        ({"min_gpu_seconds": -1}, "min_gpu_seconds is -1"),
        ({"min_gpu_seconds": 1.5}, "not an integer"),
        ({"innovators_until": True}, "not an integer"),
        ({"rewards": (("innovators", 0), ("early_adopters", 1))}, "not a positive integer"),
        ({"rewards": (("innovators", -5), ("early_adopters", 1))}, "not a positive integer"),
        ({"rewards": (("innovators", 1.0), ("early_adopters", 1))}, "not a positive integer"),
        ({"rewards": (("innovators", True), ("early_adopters", 1))}, "not a positive integer"),
        ({"rewards": (("innovators", 1),)}, "exactly one reward per tier"),
        ({"rewards": (("innovators", 1), ("innovators", 1))}, "exactly one reward per tier"),
        ({"rewards": (("innovators", 1), ("laggards", 1))}, "unknown tier"),
        ({"rewards": [("innovators", 1), ("early_adopters", 1)]}, "not a tuple"),
        ({"rewards": (("innovators", 1, 2), ("early_adopters", 1))}, "not a \\(tier, wei\\)"),
    ],
)
def test_bad_rules_are_refused(changes: dict[str, object], match: str) -> None:
    with pytest.raises(L2gpuError, match=match) as bad:
        rules(**changes)
    assert bad.value.fix


@pytest.mark.parametrize(
    ("text", "first", "seconds"),
    [("0x" + "AB" * 20, T, 0), ("0x" + "ab" * 19, T, 0), ("ab" * 20, T, 0),
     ("0x" + "ab" * 20, -1, 0), ("0x" + "ab" * 20, T, -1)],
)  # fmt: skip
def test_malformed_usage_is_refused(text: str, first: int, seconds: int) -> None:
    with pytest.raises(L2gpuError):
        AccountUsage(text, first, seconds, 0)


def test_tier_totals_count_accounts_and_sum_wei_exactly() -> None:
    big = 10**30 + 1  # past a float's 53 bits: a float sum would round it
    usages = [usage(n, T + 150 * (n % 3)) for n in range(10)]
    eligible = assign(usages, rules(rewards=(("innovators", big), ("early_adopters", 7))))
    totals = tier_totals(eligible)
    assert totals == {"innovators": (4, 4 * big), "early_adopters": (3, 21)}
    assert total_wei(eligible) == 4 * big + 21
    assert tier_totals([]) == {"innovators": (0, 0), "early_adopters": (0, 0)}


# ------------------------------------------------------------ the shell, on a database


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, int]:
    """400 accounts over 120 days (p = 0.01, q = 0.3): almost all have adopted by then."""
    folder = tmp_path_factory.mktemp("market")
    engine = open_database(f"sqlite:///{folder / 'market.db'}")
    return engine, simulate_market_history(engine, seed=0)


def test_the_simulated_history_has_market_rows(history: tuple[Engine, int]) -> None:
    engine, written = history
    leases = load_leases(engine)  # the analytics read it: every lease has its offer
    assert len(leases) == written > 400
    assert set(leases["status"]) <= {"ended", "failed", "running"}
    never = leases[leases["started_at"].isna()]
    assert (never["status"] == "failed").all()
    assert (never["metered_seconds"] == 0).all()
    assert 0 < len(never) < len(leases) // 10
    started = leases[leases["started_at"].notna()]
    assert (started["metered_seconds"] > 0).all()
    assert (started["started_at"] > started["requested_at"]).all()
    with pytest.raises(L2gpuError, match="already has leases"):
        simulate_market_history(engine, seed=1)  # never mixed into a market with data


def test_usage_credits_renters_and_providers(history: tuple[Engine, int]) -> None:
    engine, _ = history
    usages = account_usage(engine)
    assert 380 <= len(usages) <= 400
    with Session(engine) as session:
        rows = session.execute(
            select(LeaseRow.metered_seconds, LeaseRow.num_gpus, LeaseRow.started_at)
        ).all()
    used = sum(m * g for m, g, started in rows if started is not None)
    assert sum(u.gpu_seconds_rented for u in usages) == used  # exact integers
    assert sum(u.gpu_seconds_provided for u in usages) == used
    providers = [u for u in usages if u.gpu_seconds_provided > 0]
    assert 40 <= len(providers) <= 120  # one adopter in five provides
    assert all(isinstance(u.gpu_seconds, int) for u in usages)
    assert usages == sorted(usages, key=lambda u: (u.first_active, u.account))
    # the first lease makes two adopters at once: its provider and its renter
    assert T < usages[0].first_active == usages[1].first_active < usages[2].first_active


def test_the_curve_puts_about_rogers_shares_before_its_thresholds(
    history: tuple[Engine, int],
) -> None:
    usages = account_usage(history[0])
    found = adoption_thresholds(usages)
    assert found.model == "bass"
    assert T < found.innovators_until < found.early_adopters_until
    firsts = [u.first_active for u in usages]
    innovators = sum(t < found.innovators_until for t in firsts) / len(firsts)
    early = sum(t < found.early_adopters_until for t in firsts) / len(firsts)
    # Rogers: 2.5 % and 16 %. A curve without a launch (logistic) gives 0 % here.
    assert 0.01 <= innovators <= 0.05
    assert 0.10 <= early <= 0.22
    assert found.fitted_m == pytest.approx(400, rel=0.1)
    assert found.m_interval is not None
    assert found.m_interval[0] < 400 < found.m_interval[1]
    assert found.adopters_seen == len(usages)


def test_observed_thresholds_count_the_first_accounts(history: tuple[Engine, int]) -> None:
    usages = account_usage(history[0])
    found = thresholds_from_counts(usages)
    firsts = [u.first_active for u in usages]
    n = len(firsts)
    assert found.model == "observed"
    assert found.fitted_m is None
    assert found.adopters_seen == n
    assert sum(t < found.innovators_until for t in firsts) == -(-n * 25 // 1000)
    assert sum(t < found.early_adopters_until for t in firsts) == -(-n * 160 // 1000)
    alone = thresholds_from_counts([usage(1, T)])
    assert alone.innovators_until == alone.early_adopters_until == T + 1  # the one innovator


@pytest.mark.parametrize("method", ["curve", "observed"])
def test_the_report_pays_integer_wei(history: tuple[Engine, int], method: str) -> None:
    report = eligibility_report(
        history[0], rewards=dict(REWARDS), min_gpu_seconds=600, method=method
    )
    by_tier = {tier: [e for e in report.eligible if e.tier == tier] for tier, _ in REWARDS}
    for tier, reward in REWARDS:
        count, wei = report.totals[tier]
        assert count == len(by_tier[tier]) > 0
        assert wei == count * reward
        assert isinstance(wei, int)
    assert report.total_wei == sum(e.reward_wei for e in report.eligible)
    assert all(e.gpu_seconds >= 600 for e in report.eligible)
    assert 40 <= len(report.eligible) <= 90  # about 16 % of 400
    assert report.thresholds.model == ("bass" if method == "curve" else "observed")
    with pytest.raises(L2gpuError, match="unknown method"):
        eligibility_report(history[0], rewards=REWARDS, min_gpu_seconds=0, method="vibes")


def _write_lease(
    engine: Engine, lease_id: int, renter: int, provider: int, *,
    started: int | None, seconds: int = 0, gpus: int = 1,
) -> None:  # fmt: skip
    """One offer and its lease, as the market stores them."""
    wei = encode_wei(0)
    with Session(engine) as session, session.begin():
        session.execute(insert(OfferRow), [dict(
            offer_id=lease_id, provider=bytes.fromhex(account(provider)[2:]), chain_id=1,
            gpu_name="H100", num_gpus=gpus, gpu_ram_gb=80, cpu_cores=8, ram_gb=64, disk_gb=100,
            bandwidth_mbps=100, location="EU", price_per_gpu_second=wei, min_duration=60,
            max_duration=HOUR, expires_at=T + HOUR, declared=True, nonce=lease_id,
            signature=bytes(65), status="leased", created_at=T - HOUR)])  # fmt: skip
        session.execute(insert(LeaseRow), [dict(
            lease_id=lease_id, offer_id=lease_id, renter=bytes.fromhex(account(renter)[2:]),
            provider=bytes.fromhex(account(provider)[2:]), num_gpus=gpus,
            price_per_gpu_second=wei, max_seconds=HOUR, requested_at=T - 60,
            status="ended" if started is not None else "failed", started_at=started,
            ended_at=None if started is None else started + seconds, metered_seconds=seconds,
            paid=wei, voucher_amount=wei)])  # fmt: skip


def test_usage_counts_started_leases_only(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'small.db'}")
    _write_lease(engine, 1, renter=1, provider=2, started=T + 10, seconds=100, gpus=2)
    _write_lease(engine, 2, renter=3, provider=1, started=T + 5, seconds=50)  # 1 provides
    _write_lease(engine, 3, renter=4, provider=2, started=None)  # its job never started
    _write_lease(engine, 4, renter=5, provider=5, started=T, seconds=10**6)  # with itself
    _write_lease(engine, 5, renter=6, provider=2, started=T + 20, seconds=1)  # a sybil
    assert account_usage(engine) == [
        AccountUsage(account(1), T + 5, 200, 50),
        AccountUsage(account(3), T + 5, 50, 0),
        AccountUsage(account(2), T + 10, 0, 201),
        AccountUsage(account(6), T + 20, 1, 0),
    ]
    report = eligibility_report(engine, rewards=REWARDS, min_gpu_seconds=50, method="observed")
    # ceil(2.5 % of 3) = 1 innovator, ceil(16 % of 3) = 1; 3 started with 1, so it is one too
    assert [e.account for e in report.eligible] == [account(1), account(3)]
    assert report.totals == {"innovators": (2, 2 * 10**18), "early_adopters": (0, 0)}


def test_a_short_history_asks_for_the_observed_method(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'young.db'}")
    with pytest.raises(L2gpuError, match="no account"):
        eligibility_report(engine, rewards=REWARDS, min_gpu_seconds=0)
    assert simulate_market_history(engine, days=4, seed=0) > 0
    usages = account_usage(engine)
    with pytest.raises(L2gpuError, match="span 4 period") as short:
        adoption_thresholds(usages)
    assert "observed" in short.value.fix
    assert adoption_thresholds(usages, period_s=HOUR).model == "bass"  # finer periods fit
    leases = load_leases(engine)
    running = leases[leases["status"] == "running"]  # cut off at the end of the fourth day
    assert len(running) > 0
    assert running["ended_at"].isna().all()
    ends = running["started_at"].astype("int64") // 10**9 + running["metered_seconds"]
    assert (ends == T + 4 * 86_400).all()
    report = eligibility_report(engine, rewards=REWARDS, min_gpu_seconds=0, method="observed")
    # ceil(2.5 % of 28) = 1 innovator, and the other party of its first lease with it
    assert len(usages) == 28
    assert report.totals["innovators"][0] == 2


def test_the_simulation_is_seeded_and_checks_its_inputs(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> list[AccountUsage]:
        engine = open_database(f"sqlite:///{tmp_path / name}")
        simulate_market_history(engine, accounts=50, days=60, seed=seed)
        return account_usage(engine)

    usages = run("a.db", 3)
    assert usages == run("b.db", 3) != run("c.db", 4)
    # a demo signs for the simulated accounts: their keys come from the same seed
    keys = {key.address.lower() for key in simulated_account_keys(50, 3)}
    assert {u.account for u in usages} <= keys
    assert len(keys) == 50
    engine = open_database(f"sqlite:///{tmp_path / 'bad.db'}")
    for bad in ({"accounts": 1}, {"days": 0}, {"p": 0.0}, {"q": -1.0}, {"start": -1}):
        with pytest.raises(L2gpuError):
            simulate_market_history(engine, **bad)
