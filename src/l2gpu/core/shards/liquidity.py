"""A liquidity provider's book of moves, as a state machine: the fast path's other side.

An owner who moves money between shards signs a :class:`~l2gpu.core.shards.bridge.Move`
with a fee for whoever fronts it. A liquidity provider (``l2gpu bridge lp``, as a
Connext router does for its chains) takes signed moves from anyone, and fronts a
move only once it has seen the move's exit in a source batch it re-executed itself
(a batch an honest watcher would defend), within terms it states:

- a fee of at least ``min_fee_ppm`` parts per million of the amount;
- no move above ``max_move`` wei;
- at most ``budget`` wei fronted and not yet repaid (checked when a move is offered,
  and again when its exit is checked: a move that only waits reserves nothing, so
  offers of exits that never come cannot lock the budget);
- at most ``max_open`` moves in its book that are not finished, of which at most
  half wait for exits not on L1 yet (moves anyone can sign for free).

The entries' life: ``waiting`` (accepted; the exit is not yet in a checked batch),
``fronting`` (checked; the front transaction is on its way), ``fronted`` (L1 says
this provider fronted it), ``repaid`` (the move landed and the bridge repaid the
amount), or ``refused`` (never fronted: the reason says why). A move already in the
book is refused as a replay; a refused offer that never entered the book leaves no
trace. Finished entries beyond :data:`KEEP_FINISHED` are forgotten, oldest first.

The terms decide what happens to a move when it happens, never again: the shell
journals the entries each input changed, not the inputs, so that a provider started
again with other terms keeps every move as it left it.

The shell (``l2gpu.liquidity``) turns offers, its watchers' checks and L1's answers
into inputs, journals the entries they change, and sends the front and relay
transactions this machine asks for (:class:`FrontNow`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.shards.bridge import ZERO, Move, message_of, move_signer
from l2gpu.core.transition import TransitionResult

PPM = 1_000_000
_NO_BUDGET = "this provider's budget does not cover the move now: try later or another provider"
KEEP_FINISHED = 1_000
"""Repaid and refused entries kept for ``status``; older ones are forgotten."""
WAITING, FRONTING, FRONTED, REPAID, REFUSED = "waiting", "fronting", "fronted", "repaid", "refused"
OPEN_STATES = (WAITING, FRONTING, FRONTED)
STATES = (*OPEN_STATES, REPAID, REFUSED)


@dataclass(frozen=True, slots=True)
class LpTerms:
    """What a liquidity provider fronts (amounts in wei)."""

    min_fee_ppm: int
    max_move: int
    budget: int
    max_open: int = 256
    wait_s: int = 600
    """How long a move may wait for its exit to appear in a checked batch."""

    def problem(self) -> str | None:
        """Why these terms cannot be served, or None."""
        if not 0 <= self.min_fee_ppm < PPM:
            return f"the minimum fee of {self.min_fee_ppm} ppm is outside 0..999999"
        if self.max_move <= 0 or self.budget <= 0:
            return "the largest move and the budget must be above zero"
        if not 1 <= self.max_open <= 100_000 or self.wait_s <= 0:
            return "the book holds 1..100000 open moves, and a move waits a positive time"
        return None


@dataclass(frozen=True, slots=True)
class Entry:
    """One move in the book."""

    move: Move
    signature: bytes
    state: str
    received_at: int
    reason: str = ""
    batch: int = 0
    """A checked source batch whose state holds the exit (set when it is fronted)."""

    @property
    def outlay(self) -> int:
        """What fronting the move costs (the amount less the fee)."""
        return self.move.amount - self.move.fee


@dataclass(frozen=True)
class LpState:
    """The book: every entry by its move's message, oldest first."""

    domain: Eip712Domain
    shard_count: int
    terms: LpTerms
    entries: dict[bytes, Entry] = field(default_factory=dict)

    def committed(self) -> int:
        """Wei being fronted or fronted and not repaid yet."""
        return sum(e.outlay for e in self.entries.values() if e.state in (FRONTING, FRONTED))

    def open_count(self) -> int:
        """Entries not finished."""
        return sum(1 for e in self.entries.values() if e.state in OPEN_STATES)

    def in_state(self, state: str) -> list[tuple[bytes, Entry]]:
        """The entries in ``state``, oldest first."""
        return [(m, e) for m, e in self.entries.items() if e.state == state]


# -- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Offered:
    """Someone hands the provider a signed move at ``now``; ``posted``: how many exits
    each shard had in the batches the provider checked (an exit beyond them is not on
    L1 yet, and nobody can tell a move of it from junk until it is)."""

    move: Move
    signature: bytes
    now: int
    posted: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ExitChecked:
    """The provider's watcher of the source shard found the move's exit in a batch it
    re-executed (``batch``): ``problem`` None when it is the move's (owner and amount)
    and may be fronted, else why not."""

    message: bytes
    batch: int
    problem: str | None


@dataclass(frozen=True, slots=True)
class Expire:
    """The clock: moves that waited longer than the terms allow are refused."""

    now: int


@dataclass(frozen=True, slots=True)
class FrontDone:
    """L1's answer to the front: ``fronted`` by this provider, else ``reason``."""

    message: bytes
    fronted: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Landed:
    """The move's message landed on L1; ``to_me``: the bridge repaid this provider."""

    message: bytes
    to_me: bool


LpInput = Offered | ExitChecked | Expire | FrontDone | Landed


# -- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accepted:
    """The move entered the book; it is fronted once its exit is seen in a checked batch."""

    message: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """The move is not (or no longer) going to be fronted, because ``reason``."""

    message: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class FrontNow:
    """Send the front transaction of ``message``'s move."""

    message: bytes


@dataclass(frozen=True, slots=True)
class Repaid:
    """The bridge repaid ``amount`` wei for ``message`` (the fee is the difference)."""

    message: bytes
    amount: int


LpEvent = Accepted | Refused | FrontNow | Repaid


def state_transition(state: LpState, event: LpInput) -> TransitionResult[LpState, LpEvent]:
    """Apply one input to the book; a refusal leaves it as it was."""
    if isinstance(event, Offered):
        return _offered(state, event)
    if isinstance(event, Expire):
        return _expired(state, event.now)
    entry = state.entries.get(event.message)
    if entry is None:
        return TransitionResult(state, [])
    if isinstance(event, ExitChecked):
        if entry.state != WAITING:
            return TransitionResult(state, [])
        if event.problem is not None:
            return _refuse(state, event.message, event.problem)
        if state.committed() + entry.outlay > state.terms.budget:
            return _refuse(state, event.message, _NO_BUDGET)
        fronting = _set(state, event.message, state=FRONTING, batch=event.batch)
        return TransitionResult(fronting, [FrontNow(event.message)])
    if isinstance(event, FrontDone):
        if entry.state != FRONTING:
            return TransitionResult(state, [])
        if event.fronted:
            return TransitionResult(_set(state, event.message, state=FRONTED), [])
        return _refuse(state, event.message, event.reason)
    # Landed
    if entry.state in (REPAID, REFUSED):
        return TransitionResult(state, [])
    if entry.state == FRONTED and event.to_me:
        repaid = pruned(_set(state, event.message, state=REPAID))
        return TransitionResult(repaid, [Repaid(event.message, entry.move.amount)])
    return _refuse(state, event.message, "the move landed without this provider's front")


def offer_problem(
    state: LpState, move: Move, signature: bytes, posted: tuple[int, ...] = ()
) -> str | None:
    """Why the provider will not take ``move`` into its book, or None."""
    terms = state.terms
    if not (move.from_shard < state.shard_count and move.to_shard < state.shard_count):
        named = max(move.from_shard, move.to_shard)
        return f"there are {state.shard_count} shards: shard {named} is none of them"
    if move.from_shard == move.to_shard:
        return "the move's target is its source shard"
    if ZERO in (move.to, move.owner):
        return "the move names no owner or no recipient"
    if not 0 <= move.fee < move.amount:
        return "the fee must be less than the amount"
    if move_signer(state.domain, move, signature) != move.owner:
        return "the move is not signed by its exit's owner for this bridge"
    if message_of(move) in state.entries:
        return "this move's exit was offered already"
    if move.amount > terms.max_move:
        return f"the amount is above this provider's largest move ({terms.max_move} wei)"
    if move.fee * PPM < terms.min_fee_ppm * move.amount:
        least = -(-terms.min_fee_ppm * move.amount // PPM)
        return f"the fee is below this provider's {terms.min_fee_ppm} ppm: at least {least} wei"
    if state.committed() + move.amount - move.fee > terms.budget:
        return _NO_BUDGET
    if state.open_count() >= terms.max_open:
        return "this provider's book is full: try later or another provider"
    if posted and move.exit_index >= posted[move.from_shard]:
        # Anyone can sign moves of exits to come, for free: they may fill half the book
        # at most, so that moves of exits on L1 always find room.
        ahead = sum(1 for e in state.entries.values() if e.state == WAITING
                    and e.move.exit_index >= posted[e.move.from_shard])  # fmt: skip
        if 2 * (ahead + 1) > terms.max_open:
            return ("too many offers wait for exits not on L1 yet: offer the move once "
                    "the batch holding its exit is posted")  # fmt: skip
    return None


def _offered(state: LpState, event: Offered) -> TransitionResult[LpState, LpEvent]:
    message = message_of(event.move)
    problem = offer_problem(state, event.move, event.signature, event.posted)
    if problem is not None:
        return TransitionResult(state, [Refused(message, problem)])
    entry = Entry(event.move, event.signature, WAITING, event.now)
    return TransitionResult(
        replace(state, entries={**state.entries, message: entry}), [Accepted(message)]
    )


def _expired(state: LpState, now: int) -> TransitionResult[LpState, LpEvent]:
    late = [m for m, e in state.in_state(WAITING) if now - e.received_at > state.terms.wait_s]
    reason = f"its exit was not in a checked batch of its shard within {state.terms.wait_s} s"
    for message in late:
        state = _set(state, message, state=REFUSED, reason=reason)
    return TransitionResult(pruned(state), [Refused(m, reason) for m in late])


def _refuse(state: LpState, message: bytes, reason: str) -> TransitionResult[LpState, LpEvent]:
    refused = _set(state, message, state=REFUSED, reason=reason)
    return TransitionResult(pruned(refused), [Refused(message, reason)])


def _set(book: LpState, message: bytes, **changes: object) -> LpState:
    entries = dict(book.entries)
    entries[message] = replace(entries[message], **changes)  # type: ignore[arg-type]
    return replace(book, entries=entries)


def pruned(state: LpState) -> LpState:
    """Forget the oldest finished entries beyond :data:`KEEP_FINISHED`."""
    finished = [m for m, e in state.entries.items() if e.state not in OPEN_STATES]
    if len(finished) <= KEEP_FINISHED:
        return state
    gone = set(finished[: len(finished) - KEEP_FINISHED])
    return replace(state, entries={m: e for m, e in state.entries.items() if m not in gone})
