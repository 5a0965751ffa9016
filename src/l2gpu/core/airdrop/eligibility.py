"""Who gets an airdrop, and how much: the eligibility rules, pure.

Rogers splits a product's eventual adopters, in order of adoption, into innovators
(the first 2.5 %) and early adopters (the next 13.5 %, up to 16 %), then the
majorities and the laggards. An airdrop to early adopters rewards the first two
segments. The shell (``l2gpu.airdrop.eligibility``) reads the market's leases and
turns the 2.5 % and 16 % marks into two times; the rules here take those times as
given:

1. An account's *first activity* is the start of its first lease, as renter or as
   provider. Its *GPU-seconds* are the GPU-seconds it rented plus those it provided.
2. An account whose first activity is before ``innovators_until`` is an innovator;
   otherwise, one whose first activity is before ``early_adopters_until`` is an
   early adopter; any later account is not eligible. Both bounds are exclusive: an
   account first active exactly at ``innovators_until`` is an early adopter.
3. An account with fewer than ``min_gpu_seconds`` GPU-seconds is not eligible,
   whatever its tier: creating an address and renting one GPU for one second costs
   almost nothing, so a sybil's many addresses must each pay for real use.
4. Every eligible account of a tier receives that tier's reward, in integer wei.
5. Each account appears once in the input; a repeated account is an error, not
   something to add up (it means the caller aggregated wrongly).

The result is sorted by (first activity, account), so that two runs over the same
data publish the same list in the same order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeGuard

from l2gpu.core.errors import L2gpuError

INNOVATORS = "innovators"
EARLY_ADOPTERS = "early_adopters"
TIERS: tuple[str, ...] = (INNOVATORS, EARLY_ADOPTERS)
"""The reward tiers, earliest first."""

# Rogers' cumulative shares of eventual adopters at which each tier ends, as exact
# fractions (per mille) so that the shell's observed counts stay in integers.
TIER_END_PER_MILLE: dict[str, int] = {INNOVATORS: 25, EARLY_ADOPTERS: 160}

_ACCOUNT = re.compile(r"0x[0-9a-f]{40}")


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int in Python; True wei or True seconds is always a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def _require_int(value: object, name: str, *, minimum: int) -> None:
    if not _is_int(value):
        raise L2gpuError(f"{name} is {value!r}, not an integer", f"give {name} as a whole number")
    if value < minimum:
        raise L2gpuError(f"{name} is {value}, below {minimum}", f"give {name} >= {minimum}")


@dataclass(frozen=True, slots=True)
class AccountUsage:
    """What the market's records say of one account.

    ``account`` is ``0x`` + 40 lowercase hex digits (one spelling per account, so that
    equal accounts compare equal); ``first_active`` is the Unix second its first
    lease started, as renter or provider.
    """

    account: str
    first_active: int
    gpu_seconds_rented: int
    gpu_seconds_provided: int

    def __post_init__(self) -> None:
        if not isinstance(self.account, str) or not _ACCOUNT.fullmatch(self.account):
            raise L2gpuError(
                f"account {self.account!r} is not 0x followed by 40 lowercase hex digits",
                "write accounts as '0x' + bytes.hex() of the 20-byte address",
            )
        _require_int(self.first_active, "first_active", minimum=0)
        _require_int(self.gpu_seconds_rented, "gpu_seconds_rented", minimum=0)
        _require_int(self.gpu_seconds_provided, "gpu_seconds_provided", minimum=0)

    @property
    def gpu_seconds(self) -> int:
        """GPU-seconds rented plus GPU-seconds provided."""
        return self.gpu_seconds_rented + self.gpu_seconds_provided


@dataclass(frozen=True, slots=True)
class EligibilityRules:
    """The two tier bounds (Unix seconds, exclusive), the minimum use, the rewards.

    ``rewards`` pairs each tier name of :data:`TIERS` with its reward per account in
    wei, each tier exactly once.
    """

    innovators_until: int
    early_adopters_until: int
    min_gpu_seconds: int
    rewards: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        _require_int(self.innovators_until, "innovators_until", minimum=0)
        _require_int(self.early_adopters_until, "early_adopters_until", minimum=0)
        _require_int(self.min_gpu_seconds, "min_gpu_seconds", minimum=0)
        if self.innovators_until > self.early_adopters_until:
            raise L2gpuError(
                f"innovators_until ({self.innovators_until}) is after early_adopters_until "
                f"({self.early_adopters_until})",
                "innovators come first: give innovators_until <= early_adopters_until",
            )
        if not isinstance(self.rewards, tuple):
            raise L2gpuError(
                "rewards is not a tuple of (tier, wei) pairs",
                f"give one pair for each of {', '.join(TIERS)}",
            )
        names = []
        for pair in self.rewards:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise L2gpuError(f"reward {pair!r} is not a (tier, wei) pair", "give (tier, wei)")
            tier, wei = pair
            if tier not in TIERS:
                raise L2gpuError(f"unknown tier {tier!r}", f"name one of {', '.join(TIERS)}")
            if not _is_int(wei) or wei <= 0:
                raise L2gpuError(
                    f"the reward of {tier} is {wei!r}, not a positive integer",
                    "give rewards in wei, as whole numbers above 0",
                )
            names.append(tier)
        if sorted(names) != sorted(TIERS):
            raise L2gpuError(
                f"rewards name the tiers {names}, not each of {list(TIERS)} once",
                "give exactly one reward per tier",
            )

    def reward_of(self, tier: str) -> int:
        """The reward, in wei, of one account of ``tier``."""
        return dict(self.rewards)[tier]

    def tier_of(self, first_active: int) -> str | None:
        """The tier of an account first active at ``first_active``; None if too late."""
        if first_active < self.innovators_until:
            return INNOVATORS
        if first_active < self.early_adopters_until:
            return EARLY_ADOPTERS
        return None


@dataclass(frozen=True, slots=True)
class Eligible:
    """An account that earned a reward: its tier, the wei, and why (time and use)."""

    account: str
    tier: str
    reward_wei: int
    first_active: int
    gpu_seconds: int


def assign(usages: Iterable[AccountUsage], rules: EligibilityRules) -> tuple[Eligible, ...]:
    """The eligible accounts under ``rules``, sorted by (first activity, account).

    Raises :class:`L2gpuError` if an account appears twice.
    """
    seen: set[str] = set()
    eligible = []
    for usage in usages:
        if usage.account in seen:
            raise L2gpuError(
                f"account {usage.account} appears twice in the usage records",
                "sum each account's usage into one record before assigning tiers",
            )
        seen.add(usage.account)
        if usage.gpu_seconds < rules.min_gpu_seconds:
            continue
        tier = rules.tier_of(usage.first_active)
        if tier is None:
            continue
        eligible.append(
            Eligible(
                account=usage.account,
                tier=tier,
                reward_wei=rules.reward_of(tier),
                first_active=usage.first_active,
                gpu_seconds=usage.gpu_seconds,
            )
        )
    eligible.sort(key=lambda e: (e.first_active, e.account))
    return tuple(eligible)


def tier_totals(eligible: Iterable[Eligible]) -> dict[str, tuple[int, int]]:
    """Per tier of :data:`TIERS` (empty tiers included): (accounts, total wei).

    The totals are what the operator must deposit, so they are summed as Python
    integers, never as floats.
    """
    totals = {tier: (0, 0) for tier in TIERS}
    for entry in eligible:
        if entry.tier not in totals:
            raise L2gpuError(f"unknown tier {entry.tier!r}", f"use one of {', '.join(TIERS)}")
        count, wei = totals[entry.tier]
        totals[entry.tier] = (count + 1, wei + entry.reward_wei)
    return totals


def total_wei(eligible: Iterable[Eligible]) -> int:
    """The wei the whole airdrop pays: every eligible account's reward, summed."""
    return sum(wei for _, wei in tier_totals(eligible).values())
