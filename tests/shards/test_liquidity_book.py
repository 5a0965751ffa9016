"""The liquidity provider's book (``core.shards.liquidity``): which offers it takes,
what each move's life is, and that its budget and size hold whatever is offered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.shards import liquidity as lp
from l2gpu.core.shards.bridge import Move, bridge_domain, message_of, sign_move
from l2gpu.core.types import Address

DOMAIN = bridge_domain(31337, Address(b"\x42" * 20))
OWNER = PrivateKey(b"\x01" * 32)
TO = Address(b"\x07" * 20)
ETH = 10**18
TERMS = lp.LpTerms(min_fee_ppm=1_000, max_move=ETH, budget=2 * ETH, max_open=4, wait_s=600)


def book(terms: lp.LpTerms = TERMS) -> lp.LpState:
    return lp.LpState(DOMAIN, 2, terms)


def signed(exit_index: int = 0, amount: int = ETH // 2, fee: int = ETH // 1000,
           key: PrivateKey = OWNER, **changes: object) -> tuple[Move, bytes]:  # fmt: skip
    move = replace(Move(0, exit_index, key.address, amount, 1, TO, fee), **changes)  # type: ignore[arg-type]
    return move, sign_move(key, DOMAIN, move)


def offer(
    state: lp.LpState, move: Move, signature: bytes, now: int = 100
) -> tuple[lp.LpState, list[object]]:
    state, events = lp.state_transition(state, lp.Offered(move, signature, now))
    return state, list(events)


def test_a_signed_move_within_the_terms_enters_the_book_waiting() -> None:
    move, signature = signed()
    state, events = offer(book(), move, signature)
    assert events == [lp.Accepted(message_of(move))]
    entry = state.entries[message_of(move)]
    assert (entry.state, entry.received_at, entry.outlay) == (
        lp.WAITING,
        100,
        move.amount - move.fee,
    )
    assert state.committed() == 0  # a move that only waits reserves nothing
    assert state.open_count() == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"to_shard": 0}, "target is its source shard"),
        ({"to_shard": 2}, "2 is none of them"),
        ({"to": Address(bytes(20))}, "no owner or no recipient"),
        ({"fee": ETH // 2}, "fee must be less than the amount"),
        ({"amount": ETH + 1, "fee": ETH}, "above this provider's largest move"),
        (
            {"fee": ETH // 2 // 1000 - 1},
            "below this provider's 1000 ppm: at least 500000000000000 wei",
        ),
    ],
)
def test_a_move_outside_the_terms_is_refused_and_leaves_no_trace(
    changes: dict[str, object], reason: str
) -> None:
    move, signature = signed(**changes)  # type: ignore[arg-type]
    state, events = offer(book(), move, signature)
    assert [type(e) for e in events] == [lp.Refused], events
    assert reason in events[0].reason  # type: ignore[attr-defined]
    assert state == book()


def test_a_forged_or_altered_move_is_refused() -> None:
    move, signature = signed()
    thief = PrivateKey(b"\x09" * 32)
    for forged, sig in [
        (replace(move, to=thief.address), signature),  # the recipient changed after signing
        (replace(move, fee=move.fee + 1), signature),
        (move, sign_move(thief, DOMAIN, move)),  # signed by someone else than the owner
        (move, sign_move(OWNER, bridge_domain(1, Address(b"\x42" * 20)), move)),  # another chain
        (move, b"\x00" * 65),
        (move, signature[:64]),
    ]:
        state, events = offer(book(), forged, sig)
        assert [type(e) for e in events] == [lp.Refused], forged
        assert "not signed by its exit's owner" in events[0].reason  # type: ignore[attr-defined]
        assert state == book()


def test_a_move_offered_again_is_refused_as_a_replay_whatever_its_recipient() -> None:
    move, signature = signed()
    state, _ = offer(book(), move, signature)
    again, again_sig = signed(to=OWNER.address)  # the same exit to another recipient: one message
    for m, s in [(move, signature), (again, again_sig)]:
        after, events = offer(state, m, s)
        assert "offered already" in events[0].reason  # type: ignore[attr-defined]
        assert after == state


def test_the_budget_bounds_what_is_fronted_whatever_waits() -> None:
    state = book()
    moves = [signed(i, amount=6 * ETH // 10, fee=ETH // 1000) for i in range(4)]
    for move, signature in moves:  # waiting moves reserve nothing: all four enter
        state, events = offer(state, move, signature)
        assert isinstance(events[0], lp.Accepted)
    # 3 x (0.6 ETH less the fee) fits in 2 ETH; the 4th is refused when its exit is checked
    for move, _ in moves[:3]:
        state, events = lp.state_transition(state, lp.ExitChecked(message_of(move), 1, None))
        assert events == [lp.FrontNow(message_of(move))]
    last = message_of(moves[3][0])
    state, events = lp.state_transition(state, lp.ExitChecked(last, 1, None))
    assert [type(e) for e in events] == [lp.Refused]
    assert "budget does not cover" in state.entries[last].reason
    assert state.committed() == 3 * (6 * ETH // 10 - ETH // 1000) <= TERMS.budget
    # ... and an offer the fronted moves leave no room for is refused at once.
    _, events = offer(state, *signed(5, amount=6 * ETH // 10, fee=ETH // 1000))
    assert "budget does not cover" in events[0].reason  # type: ignore[attr-defined]
    small = book(replace(TERMS, budget=100 * ETH))
    for i in range(4):
        small, _ = offer(small, *signed(i))
    _, events = offer(small, *signed(9))
    assert "book is full" in events[0].reason  # type: ignore[attr-defined]


def test_a_move_lives_from_checked_to_fronted_to_repaid() -> None:
    move, signature = signed()
    message = message_of(move)
    state, _ = offer(book(), move, signature)
    state, events = lp.state_transition(state, lp.ExitChecked(message, 7, None))
    assert events == [lp.FrontNow(message)]
    assert (state.entries[message].state, state.entries[message].batch) == (lp.FRONTING, 7)
    assert lp.state_transition(state, lp.ExitChecked(message, 8, None)).events == []  # once
    state, events = lp.state_transition(state, lp.FrontDone(message, True))
    assert state.entries[message].state == lp.FRONTED
    assert events == []
    assert state.committed() == move.amount - move.fee  # still out until repaid
    state, events = lp.state_transition(state, lp.Landed(message, to_me=True))
    assert events == [lp.Repaid(message, move.amount)]
    assert state.entries[message].state == lp.REPAID
    assert state.committed() == 0
    assert lp.state_transition(state, lp.Landed(message, to_me=True)).events == []


def test_a_bad_exit_a_refused_front_or_a_slow_exit_frees_the_budget() -> None:
    first, second, third = signed(0), signed(1), signed(2)
    state = book()
    for move, signature in (first, second, third):
        state, _ = offer(state, move, signature, now=100)
    m1, m2, m3 = (message_of(m) for m, _ in (first, second, third))
    state, events = lp.state_transition(state, lp.ExitChecked(m1, 3, "exit 0 pays 1 wei to X"))
    assert events == [lp.Refused(m1, "exit 0 pays 1 wei to X")]
    state, _ = lp.state_transition(state, lp.ExitChecked(m2, 3, None))
    state, events = lp.state_transition(state, lp.FrontDone(m2, False, "L1 refused the front"))
    assert events == [lp.Refused(m2, "L1 refused the front")]
    state, events = lp.state_transition(state, lp.Expire(100 + 600))
    assert events == []  # not past the wait yet
    state, events = lp.state_transition(state, lp.Expire(100 + 601))
    assert [e.message for e in events] == [m3]
    assert "within 600 s" in state.entries[m3].reason
    assert state.committed() == 0
    assert state.open_count() == 0


def test_a_move_that_lands_without_this_providers_front_is_not_counted_as_repaid() -> None:
    move, signature = signed()
    message = message_of(move)
    state, _ = offer(book(), move, signature)
    state, _events = lp.state_transition(state, lp.Landed(message, to_me=False))
    assert state.entries[message].state == lp.REFUSED
    assert "without this provider" in state.entries[message].reason
    assert lp.state_transition(state, lp.Landed(b"\x00" * 32, to_me=True)).events == []  # unknown


def test_finished_entries_are_forgotten_beyond_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "KEEP_FINISHED", 3)
    state = book(replace(TERMS, budget=100 * ETH, max_open=100))
    for i in range(6):
        move, signature = signed(i)
        state, _ = offer(state, move, signature)
        state, _ = lp.state_transition(state, lp.ExitChecked(message_of(move), 1, "bad"))
    assert len(state.entries) == 3
    assert [e.move.exit_index for e in state.entries.values()] == [3, 4, 5]


@pytest.mark.parametrize(
    "terms",
    [replace(TERMS, min_fee_ppm=-1), replace(TERMS, min_fee_ppm=10**6), replace(TERMS, budget=0),
     replace(TERMS, max_move=0), replace(TERMS, max_open=0), replace(TERMS, wait_s=0)],
)  # fmt: skip
def test_terms_that_cannot_be_served_say_why(terms: lp.LpTerms) -> None:
    assert terms.problem() is not None
    assert TERMS.problem() is None


def test_moves_of_exits_not_on_l1_yet_fill_half_the_book_at_most() -> None:
    """Anyone can sign moves of exits to come, for free: they must leave room."""
    state = book(replace(TERMS, budget=100 * ETH, max_open=4))
    posted = (3, 0)  # shard 0 has three exits in checked batches
    for i in range(2):
        state, events = lp.state_transition(state, lp.Offered(*signed(3 + i), 1, posted))
        assert isinstance(events[0], lp.Accepted)
    _, events = lp.state_transition(state, lp.Offered(*signed(5), 1, posted))
    assert "exits not on L1 yet" in events[0].reason  # type: ignore[attr-defined]
    for i in range(2):  # moves of posted exits still find room
        state, events = lp.state_transition(state, lp.Offered(*signed(i), 1, posted))
        assert isinstance(events[0], lp.Accepted)
    assert state.open_count() == 4
