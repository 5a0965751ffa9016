"""What ``l2gpu l2`` prints for people (issue #23, item 7): ETH, local times and
countdowns, from the node's JSON answers."""

from __future__ import annotations

import pytest

from l2gpu.cli.l2_views import (
    batch_text,
    batches_text,
    channel_text,
    exit_text,
    format_duration,
    status_text,
)
from l2gpu.clock import format_timestamp

NOW = 1_800_000_000
EXIT = {"exit_index": 3, "amount": 5 * 10**17, "batch": 7, "final_at": NOW + 7 * 86_400 - 60,
        "seconds_until_final": 7 * 86_400 - 60, "held_by_challenge": False,
        "claimable": True, "claimed": False}  # fmt: skip


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"), (-5, "0 s"), (45, "45 s"), (60, "1 min"), (725, "12 min 5 s"),
    (3_600, "1 h"), (12_000, "3 h 20 min"), (86_400, "1 d"), (7 * 86_400 - 60, "6 d 23 h"),
])  # fmt: skip
def test_durations_read_in_at_most_two_units(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_withdrawal_says_where_it_stands() -> None:
    assert exit_text(EXIT, NOW) == (
        f"withdrawal 3: 0.5 ETH, claimable in 6 d 23 h (from {format_timestamp(EXIT['final_at'])})"
    )
    assert "claimable now" in exit_text(EXIT, NOW + 7 * 86_400)
    assert "waiting for the node's next batch" in exit_text({**EXIT, "final_at": None}, NOW)
    assert "held by an open challenge of its batch 7" in exit_text(
        {**EXIT, "held_by_challenge": True}, NOW)  # fmt: skip
    assert exit_text({**EXIT, "claimed": True}, NOW).endswith("claimed on L1")


def test_a_batch_shows_its_window() -> None:
    batch = {"index": 2, "posted_at": NOW, "seconds_left": 3_700, "challenged": False,
             "final": False}  # fmt: skip
    assert batch_text(batch).endswith("in its challenge window, final in 1 h 1 min")
    assert batch_text({**batch, "final": True}).endswith(": final")
    assert "challenged" in batch_text({**batch, "challenged": True})
    assert batches_text([]) == "no batch posted yet"


def test_a_channel_shows_money_in_eth_and_the_deadline_that_matters() -> None:
    channel = {"channel_id": "0x" + "ab" * 32, "renter": "0xR", "provider": "0xP",
               "deposit": "20000000000000000", "best_amount": "5000000000000000",
               "provider_payout": "5000000000000000", "expires_at": NOW + 90,
               "close_deadline": 0, "status": "open"}  # fmt: skip
    open_ = channel_text(channel, NOW)
    assert "deposit   0.02 ETH" in open_
    assert "vouched   0.005 ETH" in open_
    assert "(in 1 min 30 s)" in open_
    closing = channel_text({**channel, "status": "closing", "close_deadline": NOW + 3_600}, NOW)
    assert "until" in closing
    assert "(in 1 h)" in closing
    assert "settle-channel" in closing
    settled = {
        **channel,
        "status": "settled",
        "deposit": "0",
        "best_amount": "0",
        "paid_to_provider": "5000000000000000",
        "refunded_to_renter": "15000000000000000",
    }
    shown = channel_text(settled, NOW)
    assert "settled   0.005 ETH to the provider, 0.015 ETH back to the renter" in shown
    assert "deposit" not in shown  # the zeros of a settled leaf are not shown as money


def test_status_names_a_degraded_node_and_lists_the_callers_withdrawals() -> None:
    node = {"rollup": "0xRollup", "chain_id": 31337, "status": "degraded",
            "degraded_reason": "L1 unreachable", "batches_posted": 12,
            "batches_waiting_for_l1": 1, "mempool": 0, "accounts": 3, "time": NOW}  # fmt: skip
    batches = [{"index": i, "posted_at": NOW, "seconds_left": 10, "challenged": False,
                "final": False} for i in range(12)]  # fmt: skip
    text = status_text(node, batches, [EXIT])
    assert "degraded: L1 unreachable" in text
    assert "batch 1 " not in text
    assert "batch 11 " in text
    assert "the newest 10 of 12" in text
    assert "withdrawal 3: 0.5 ETH" in text
    assert status_text(node, [], []).endswith("no withdrawal")
    assert "withdrawal" not in status_text(node, [], None)
