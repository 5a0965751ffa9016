"""What ``l2gpu l2`` prints for people: amounts in ETH, times in local time, waits as
durations ("final in 6 d 23 h"). ``--json`` prints the node's answers instead, in wei
and unix seconds, for scripts.

Each function takes the node's JSON answers (and the node's clock where a countdown
is shown) and returns the text; the commands only choose between this and JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from l2gpu.clock import format_timestamp
from l2gpu.core.types import format_wei

Json = Mapping[str, Any]


def format_duration(seconds: int) -> str:
    """A wait for people: ``0 s``, ``45 s``, ``12 min 5 s``, ``3 h 20 min``, ``6 d 23 h``
    (two units at most: a countdown reads better rounded than exact)."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def eth(wei: int | str) -> str:
    """An amount in wei (an int, or the node's decimal string) for people."""
    return format_wei(int(wei))


def account_text(account: Json, title: str = "L2 account") -> str:
    """An account's balance, index and nonce."""
    return (f"{title} {account['address']} (index {account['index']}): "
            f"{eth(account['balance'])}, nonce {account['nonce']}")  # fmt: skip


def exit_text(exit_: Json, now: int) -> str:
    """One withdrawal: its amount and where it stands (waiting for a batch, in its
    challenge window with the time left, claimable, claimed)."""
    head = f"withdrawal {exit_['exit_index']}: {eth(exit_['amount'])}"
    if exit_["claimed"]:
        return f"{head}, claimed on L1"
    final_at = exit_.get("final_at")
    if final_at is None:
        return f"{head}, waiting for the node's next batch"
    if exit_.get("held_by_challenge"):
        return f"{head}, held by an open challenge of its batch {exit_['batch']}"
    if exit_["claimable"] and int(final_at) <= now:
        return f"{head}, claimable now ('l2gpu l2 withdraw --claim')"
    return (f"{head}, claimable in {format_duration(int(final_at) - now)} "
            f"(from {format_timestamp(int(final_at))})")  # fmt: skip


def batch_text(batch: Json) -> str:
    """One posted batch and the state of its challenge window."""
    head = f"batch {batch['index']} posted {format_timestamp(int(batch['posted_at']))}"
    if batch["final"]:
        return f"{head}: final"
    if batch["challenged"]:
        return f"{head}: challenged, held until the challenge is decided"
    left = int(batch["seconds_left"])
    return f"{head}: in its challenge window, final in {format_duration(left)}"


def batches_text(batches: Iterable[Json]) -> str:
    """Every posted batch, one line each (or a line saying there is none)."""
    lines = [batch_text(b) for b in batches]
    return "\n".join(lines) if lines else "no batch posted yet"


def channel_text(channel: Json, now: int) -> str:
    """A rollup channel: its parties, money, status and the deadline that matters now."""
    status = str(channel["status"])
    lines = [
        f"channel {channel.get('channel_id', '?')} ({status})",
        f"  renter    {channel.get('renter', '?')}",
        f"  provider  {channel.get('provider', '?')}",
    ]
    if status != "settled":  # a settled leaf holds zeros: its outcome is shown instead
        lines += [f"  deposit   {eth(channel.get('deposit', 0))}",
                  f"  vouched   {eth(channel.get('best_amount', 0))} (the best voucher "
                  "proven so far)"]  # fmt: skip
    expires = int(channel.get("expires_at") or 0)
    deadline = int(channel.get("close_deadline") or 0)
    if status == "open" and expires:
        lines.append(f"  expires   {format_timestamp(expires)} "
                     f"({_from_now(expires, now)})")  # fmt: skip
    elif status == "closing" and deadline:
        lines.append(f"  closing   the provider may prove a better voucher until "
                     f"{format_timestamp(deadline)} ({_from_now(deadline, now)}); then "
                     "'l2gpu l2 settle-channel' pays both sides")  # fmt: skip
    elif status == "settled" and "paid_to_provider" in channel:
        lines.append(f"  settled   {eth(channel['paid_to_provider'])} to the provider, "
                     f"{eth(channel['refunded_to_renter'])} back to the renter")  # fmt: skip
    return "\n".join(lines)


def status_text(node: Json, batches: list[Json], exits: list[Json] | None) -> str:
    """The node's health and size, its batches, and the caller's withdrawals."""
    now = int(node["time"])
    health = str(node.get("status", "ok"))
    if node.get("degraded_reason"):
        health = f"{health}: {node['degraded_reason']}"
    lines = [
        f"rollup {node['rollup']} on chain {node['chain_id']}: {health}",
        f"  {node['batches_posted']} batches posted, {node['batches_waiting_for_l1']} "
        f"waiting for L1; {node['mempool']} transactions pending; "
        f"{node['accounts']} accounts",
        f"  node clock (L1 time) {format_timestamp(now)}",
    ]
    lines += ["", batches_text(batches[-10:])]
    if len(batches) > 10:
        lines.append(f"(the newest 10 of {len(batches)}; 'l2gpu l2 batches' lists all)")
    if exits is not None:
        lines += ["", *(exit_text(e, now) for e in exits)] if exits else ["", "no withdrawal"]
    return "\n".join(lines)


def _from_now(at: int, now: int) -> str:
    return f"in {format_duration(at - now)}" if at > now else "passed"
