"""What an account's channels lock, on every rail: ``l2gpu account show``'s arithmetic.

A renter's deposit is locked from the channel's open until its settlement, whatever
the rail: a rollup channel (``hybrid``: pending, open or closing), a ChannelManager
channel on L1 (``channel-l1``, a loan's channel included: open or closing), a zk
rollup channel (``zk``: pending or open), a Plasma lease lock (``plasma``: its coins,
while the lock lives). Each rail's reader (a shell) turns what its node or contract
says into :class:`Holding` records; this module sums them, per rail and in all.
Amounts are integer wei. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from l2gpu.core.types import Wei

LOCKING_STATUSES = frozenset({"pending", "open", "closing"})
"""The statuses in which a channel's deposit is not the renter's to spend."""


@dataclass(frozen=True, slots=True)
class Holding:
    """One channel of the account as renter: its rail, id, deposit and status."""

    rail: str
    channel: str
    deposit: Wei
    status: str

    @property
    def is_locking(self) -> bool:
        """Whether its deposit is still locked (not yet settled, closed or dropped)."""
        return self.status in LOCKING_STATUSES


@dataclass(frozen=True, slots=True)
class Locked:
    """Wei locked and channels locking it: in all, and per rail (in the order read)."""

    total: Wei
    channels: int
    by_rail: dict[str, tuple[Wei, int]]


def compute_locked(holdings: Iterable[Holding]) -> Locked:
    """The sums of the deposits of the locking ``holdings``, per rail and in all (a rail
    read with no locking channel shows 0 in 0)."""
    by_rail: dict[str, tuple[Wei, int]] = {}
    for holding in holdings:
        wei, count = by_rail.get(holding.rail, (Wei(0), 0))
        if holding.is_locking:
            wei, count = Wei(wei + holding.deposit), count + 1
        by_rail[holding.rail] = (wei, count)
    total = Wei(sum(wei for wei, _ in by_rail.values()))
    return Locked(total, sum(count for _, count in by_rail.values()), by_rail)


def rollup_holdings(address: str, channels: Iterable[Mapping[str, Any]]) -> list[Holding]:
    """The rollup node's channels (``GET /l2/accounts/{a}/channels``) that ``address``
    pays from as renter."""
    return [
        Holding("hybrid", str(c.get("channel_id", c.get("id", ""))), Wei(int(c["deposit"])),
                str(c.get("status", "open")))
        for c in channels
        if str(c["renter"]).lower() == address.lower()
    ]  # fmt: skip


def zk_holdings(renter_index: int, channels: Iterable[Mapping[str, Any]]) -> list[Holding]:
    """The zk node's channels (``GET /zk/accounts/{i}/channels``) of the account at
    ``renter_index`` as renter (``closed`` and ``dropped`` ones lock nothing)."""
    return [
        Holding("zk", f"{c['renter']}/{c['open_nonce']}", Wei(int(c["deposit"])), str(c["status"]))
        for c in channels
        if int(c["renter"]) == renter_index
    ]


def plasma_locked_ranges(
    held: Iterable[tuple[int, int]], free: Iterable[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The coin ranges ``[start, end)`` of ``held`` that are not in ``free``: those under
    a live lease lock (both lists as the operator answers them, sorted, not overlapping)."""
    free_sorted = sorted(free)
    out: list[tuple[int, int]] = []
    for start, end in sorted(held):
        at = start
        for f_start, f_end in free_sorted:
            if f_end <= at or f_start >= end:
                continue
            if f_start > at:
                out.append((at, f_start))
            at = max(at, f_end)
        if at < end:
            out.append((at, end))
    return out
