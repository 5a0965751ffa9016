"""The specification of a zk shard's side of the bridge (core/shards/zk_exits.py): its
refusals one by one. tests/zk/test_zk_shards.py holds ZkRollup.vy to it."""

from __future__ import annotations

import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.shards import bridge
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


def accepted(*withdrawals) -> spec.Accept:
    return spec.Accept(tuple(withdrawals) + (None,) * (SLOTS - len(withdrawals)))


def test_an_exit_is_numbered_by_its_batch_and_slot() -> None:
    assert spec.exit_index(3, 2, SLOTS) == 14
    assert spec.exit_batch(14, SLOTS) == 3
    with pytest.raises(ValueError, match="not one of the batch's 4"):
        spec.exit_index(0, SLOTS, SLOTS)


def test_a_fronted_owner_pulls_only_what_its_moves_do_not_owe() -> None:
    state, events = run(spec.ZkShardExits(SLOTS), accepted(None, (ALICE, 5), (BOB, 7)))
    assert events == [spec.Credited(ALICE, 5), spec.Credited(BOB, 7)]
    assert state.exit_claimed(0)  # an accepted batch's: its owner may pull already
    assert not state.exit_claimed(SLOTS)  # the next batch's: not accepted yet
    # alice's fronted moves owe 3: she pulls 2, then nothing more until they land
    after, events = run(state, spec.PullCredit(ALICE, owed=3), spec.PullCredit(ALICE, owed=3))
    assert events == [spec.Pulled(ALICE, 2), spec.Rejected(spec.OWED)]
    refusals = {
        spec.Carry(1, 1, ALICE, 3): "not in that batch",
        spec.Carry(0, 1, ALICE, 4): "does not cover the move",  # 3 left
        spec.Carry(0, 1, MALLORY, 1): "does not cover the move",  # no credit at all
    }
    for call, reason in refusals.items():
        assert reason in run(after, call)[1][0].reason  # type: ignore[union-attr]
    # her own move, not fronted, cannot take what the fronted one owes
    assert run(after, spec.Carry(2, 8, ALICE, 1, owed=3))[1] == [spec.Rejected(spec.CREDIT_SHORT)]
    # any exit index of hers: the provider is repaid from her, wherever it landed
    after, events = run(after, spec.Carry(2, 9, ALICE, 3, fronted=True, owed=3))
    assert events == [spec.Carried(9, ALICE, 3)]
    assert after.credit == {ALICE: 0, BOB: 7}
    assert "carried already" in run(after, spec.Carry(2, 9, ALICE, 3))[1][0].reason  # type: ignore[union-attr]


def test_a_move_named_by_another_owner_blocks_nothing() -> None:
    """The carried set is keyed by (index, owner, amount): mallory, moving her own credit
    under bob's exit index, leaves bob's move of that exit free."""
    state, _ = run(spec.ZkShardExits(SLOTS), accepted((BOB, 7), (MALLORY, 3)))
    state, events = run(state, spec.Carry(0, 0, MALLORY, 3))
    assert events == [spec.Carried(0, MALLORY, 3)]
    state, events = run(state, spec.Carry(0, 0, BOB, 7))
    assert events == [spec.Carried(0, BOB, 7)]
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


def test_a_zk_shard_owner_has_one_fronted_move_at_a_time_and_can_cancel_others() -> None:
    """core/shards/bridge.py on a shard whose exits are positions (``positional``)."""
    key = PrivateKey(b"\x05" * 32)
    domain = bridge.bridge_domain(1, Address(b"\x0b" * 20))
    state = bridge.BridgeState(domain, 2, positional=frozenset({0}))
    owner, lp = key.address, Address(b"\x0c" * 20)

    def signed(index: int, amount: int, fee: int = 0) -> tuple[bridge.Move, bytes]:
        move = bridge.Move(0, index, owner, amount, 1, owner, fee)
        return move, bridge.sign_move(key, domain, move)

    first, second = signed(1, 10, 1), signed(2**200, 10, 9)
    state, events = bridge.state_transition(state, bridge.Front(*first, lp, 9))
    assert state.owed_by(0, owner) == 10
    assert bridge.state_transition(state, bridge.Front(*second, owner, 1))[1] == [
        bridge.Rejected(
            "bridge: a move of this owner out of that shard is fronted and has not landed yet"
        )
    ]
    refusals = {
        bridge.Cancel(first[0], owner): "the move is fronted",
        bridge.Cancel(second[0], lp): "only the move's owner",
    }
    for call, reason in refusals.items():
        assert reason in bridge.state_transition(state, call)[1][0].reason  # type: ignore[union-attr]
    cancelled, events = bridge.state_transition(state, bridge.Cancel(second[0], owner))
    assert events == [bridge.Cancelled(bridge.message_of(second[0]))]
    assert "landed already" in bridge.state_transition(
        cancelled, bridge.Relay(*second))[1][0].reason  # type: ignore[union-attr]  # fmt: skip
    landed, _ = bridge.state_transition(state, bridge.Relay(*first))
    assert landed.owed_by(0, owner) == 0  # the next move of the owner's may be fronted
    too_much = signed(3, 2**128)
    assert "at most 2**128 - 1 wei" in bridge.state_transition(
        landed, bridge.Front(*too_much, lp, 2**128))[1][0].reason  # type: ignore[union-attr]  # fmt: skip
