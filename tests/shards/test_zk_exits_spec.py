"""The specification of a zk shard's side of the bridge (core/shards/zk_exits.py): its
refusals one by one. tests/zk/test_zk_shards.py holds ZkRollup.vy to it."""

from __future__ import annotations

import pytest

from l2gpu.core.shards import zk_exits as spec
from l2gpu.core.types import Address

ALICE, BOB, MALLORY = (Address(bytes([n]) * 20) for n in (1, 2, 3))
SLOTS = 4


def run(state: spec.ZkShardExits, *calls: spec.ZkShardInput):
    events: list[spec.ZkShardEvent] = []
    for call in calls:
        state, more = spec.state_transition(state, call)
        events += more
    return state, events


def accepted(*withdrawals, fronted=frozenset()) -> spec.Accept:
    slots = tuple(withdrawals) + (None,) * (SLOTS - len(withdrawals))
    return spec.Accept(slots, frozenset(fronted))


def test_an_exit_is_numbered_by_its_batch_and_slot() -> None:
    assert spec.exit_index(3, 2, SLOTS) == 14
    assert spec.exit_batch(14, SLOTS) == 3
    with pytest.raises(ValueError, match="not one of the batch's 4"):
        spec.exit_index(0, SLOTS, SLOTS)


def test_a_fronted_withdrawal_is_held_and_leaves_only_to_the_bridge() -> None:
    state, events = run(spec.ZkShardExits(SLOTS),
                        accepted(None, (ALICE, 5), (BOB, 7), fronted={(1, ALICE, 5)}))  # fmt: skip
    assert events == [spec.Held(1, ALICE, 5), spec.Credited(BOB, 7)]
    assert state.credit == {BOB: 7}
    assert not state.exit_claimed(1)  # held: the bridge may still take it
    assert state.exit_claimed(2)
    assert state.exit_claimed(0)
    assert not state.exit_claimed(SLOTS)  # the next batch's: not accepted yet
    refusals = {
        spec.Carry(0, 1, ALICE, 6): "another owner or amount",
        spec.Carry(0, 1, MALLORY, 5): "another owner or amount",
        spec.Carry(1, 1, ALICE, 5): "not in that batch",
        spec.Carry(1, SLOTS, ALICE, 5): "not proven yet",
        spec.Carry(0, 0, MALLORY, 1): "pulled its credit",  # mallory has no credit
    }
    for call, reason in refusals.items():
        assert reason in run(state, call)[1][0].reason  # type: ignore[union-attr]
    after, events = run(state, spec.Carry(0, 1, ALICE, 5))
    assert events == [spec.Carried(1, ALICE, 5, True)]
    assert after.exit_claimed(1)
    assert after.credit == {BOB: 7}
    assert "carried already" in run(after, spec.Carry(0, 1, ALICE, 5))[1][0].reason  # type: ignore[union-attr]


def test_a_move_named_by_another_owner_blocks_nothing() -> None:
    """The carried set is keyed by (index, owner, amount): mallory, moving her own credit
    under bob's exit index, leaves bob's move of that exit free."""
    state, _ = run(spec.ZkShardExits(SLOTS), accepted((BOB, 7), (MALLORY, 3)))
    state, events = run(state, spec.Carry(0, 0, MALLORY, 3))
    assert events == [spec.Carried(0, MALLORY, 3, False)]
    state, events = run(state, spec.Carry(0, 0, BOB, 7))
    assert events == [spec.Carried(0, BOB, 7, False)]
    assert state.credit == {BOB: 0, MALLORY: 0}


def test_an_arrival_is_queued_or_credited_on_l1_never_refused() -> None:
    key = (5, 6)
    state, _ = run(spec.ZkShardExits(SLOTS), spec.FirstDeposit(ALICE, key),
                   spec.FirstDeposit(ALICE, (7, 8)))  # fmt: skip
    assert state.account_keys == {ALICE: key}  # the first deposit's key stays
    assert run(state, spec.Arrive(ALICE, 9))[1] == [spec.Queued(ALICE, key, 9)]
    expected = {
        spec.Arrive(BOB, 9): spec.NO_ACCOUNT,
        spec.Arrive(ALICE, spec.MAX_AMOUNT + 1): spec.TOO_LARGE,
    }
    for call, reason in expected.items():
        after, events = run(state, call)
        assert events == [spec.ArrivalCreditedOnL1(call.account, call.amount, reason)]
        assert after.credit[call.account] == call.amount
    frozen, _ = run(state, spec.Freeze())
    assert run(frozen, spec.Arrive(ALICE, 9))[1][0].reason == spec.FROZEN  # type: ignore[union-attr]
    pulled, events = run(frozen, spec.Arrive(ALICE, 9), spec.PullCredit(ALICE),
                         spec.PullCredit(ALICE))  # fmt: skip
    assert events[1:] == [
        spec.Pulled(ALICE, 9),
        spec.Rejected("nothing to withdraw for this address"),
    ]
    assert pulled.credit[ALICE] == 0
