"""The liquidity provider's shell: its book (``core.shards.liquidity``), its watchers of
every shard, and the front and relay transactions it sends on L1.

It trusts L1 alone. Each shard is watched as ``l2gpu watch rollup`` watches it: its
batches read from L1's calldata and re-executed (:class:`~l2gpu.fraud.watcher.Watcher`,
which also challenges a wrong batch). A move is fronted only once its exit is in the
state of a batch that re-execution accepted, with the move's owner and amount; once
that batch is final, the provider relays the move itself (from the state replayed
up to it) and the bridge repays it. What it still risks, and states: that a batch it
checked is reverted anyway, which takes a proposer who does not defend a batch that
is right; its own watcher challenges one that is wrong.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.records import Exit
from l2gpu.core.l2.state import L2State
from l2gpu.core.shards.bridge import Move, message_of, move_signer
from l2gpu.core.shards.liquidity import (
    FRONTED,
    FRONTING,
    WAITING,
    Entry,
    ExitChecked,
    Expire,
    FrontDone,
    Landed,
    LpEvent,
    LpInput,
    LpState,
    LpTerms,
    Offered,
    offer_problem,
    pruned,
    state_transition,
)
from l2gpu.core.types import Address
from l2gpu.fraud.watcher import Watcher
from l2gpu.hub.journal import Journal
from l2gpu.l1 import Chain, ContractRevert, L1Error, compile_contract
from l2gpu.l1.contracts.bridge import BridgeClient
from l2gpu.l1.contracts.dispute_game import DisputeClient
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.liquidity.records import entry_from_json, entry_to_json

log = logging.getLogger(__name__)
JOURNAL = "lp-journal.jsonl"


class LpRefused(L2gpuError):
    """The provider does not take a move; ``what`` says why."""

    def __init__(self, what: str, fix: str = "", status: int = 400) -> None:
        super().__init__(what, fix)
        self.status = status


class LiquidityProvider:
    """Fronts signed moves between the shards of ``bridge`` from ``account``."""

    def __init__(self, chain: Chain, bridge: BridgeClient, account: LocalAccount,
                 terms: LpTerms, data_dir: Path) -> None:  # fmt: skip
        problem = terms.problem()
        if problem is not None:
            raise L2gpuError(problem, "see 'l2gpu bridge lp --help' for the terms")
        self.chain, self.bridge, self.account = chain, bridge, account
        self.me = Address.from_hex(account.address)
        self.rollups = [self._rollup(i, a) for i, a in enumerate(bridge.shard_addresses())]
        self.watchers = [Watcher(r, DisputeClient(chain, r.game), account, defend=False)
                         for r in self.rollups]  # fmt: skip
        self.journal = Journal(data_dir / JOURNAL, owner="liquidity provider")
        self._lock = threading.Lock()
        self.state = LpState(bridge.domain, len(self.rollups), terms)
        self._finals: dict[int, tuple[int, L2State]] = {}
        # What the last round saw, for the API (which must not touch the watchers while
        # a round replays a batch, nor wait on L1): L1's time, each shard's exits in
        # the batches checked, and whether a whole round has read every shard yet.
        self.l1_time: int | None = None
        self.posted: list[list[Exit]] = [[] for _ in self.rollups]
        self.shards_read = False
        self.last_error: str | None = None
        self._journal_lines = 0
        self._recover()

    def _rollup(self, shard: int, address: Address) -> RollupClient:
        """Shard ``shard``'s Rollup; a clear error for a zk shard, whose batches are
        proven, not re-executed (its moves are fronted by hand)."""
        try:
            return RollupClient(self.chain, self.chain.attach(compile_contract("rollup/Rollup.vy"),
                                                              address))  # fmt: skip
        except L1Error:  # no dispute game to read: a zk rollup
            raise L2gpuError(
                f"shard {shard} ({address.checksum}) is not an optimistic rollup: this "
                "daemon re-executes optimistic batches before it fronts",
                "front moves out of zk shards by hand ('l2gpu bridge front'), after "
                "reading the sealed batch from the shard's node",
            ) from None

    def _recover(self) -> None:
        """The book as the journal left it (the last line of each move wins), then the
        journal rewritten as that book."""
        entries: dict[bytes, Entry] = {}
        for number, record in enumerate(self.journal.replay(), start=1):
            try:
                if record.get("kind") != "entry":
                    raise ValueError(f"a line of kind {record.get('kind')!r}")
                message, entry = entry_from_json(record)
                if move_signer(self.state.domain, entry.move, entry.signature) != entry.move.owner:
                    raise ValueError("the entry's move is not signed by its owner")
            except (KeyError, TypeError, ValueError, OverflowError, AttributeError,
                    L2gpuError) as exc:  # fmt: skip
                raise L2gpuError(
                    f"the liquidity provider's journal {self.journal.path} has a record it "
                    f"cannot read at line {number}: {exc!r}",
                    "restore it from a copy: the provider does not start without its fronts",
                ) from None
            entries[message] = entry
        self.state = pruned(replace(self.state, entries=entries))
        self._compact()

    def _compact(self) -> None:
        """Rewrite the journal as the book (at start, and whenever it has grown to
        twice the book and a thousand lines: offers refused after they waited add lines
        that nothing else removes)."""
        self.journal.rewrite([entry_to_json(m, e) for m, e in self.state.entries.items()])
        self._journal_lines = len(self.state.entries)

    def _apply(self, event: LpInput) -> list[LpEvent]:
        """Apply ``event``, and journal every entry it changed (on disk first) before
        the new book is the provider's. The caller holds the lock."""
        after, events = state_transition(self.state, event)
        for message, entry in after.entries.items():
            if self.state.entries.get(message) != entry:
                self.journal.append(entry_to_json(message, entry))
                self._journal_lines += 1
        self.state = after
        if self._journal_lines > 2 * len(after.entries) + 1_000:
            self._compact()
        return events

    def apply(self, event: LpInput) -> list[LpEvent]:
        """Journal and apply one input."""
        with self._lock:
            return self._apply(event)

    # -- what the API asks --------------------------------------------------------------

    def offer(self, move: Move, signature: bytes) -> dict[str, Any]:
        """Take ``move`` into the book, or raise :class:`LpRefused` saying why not."""
        with self._lock:
            if not self.shards_read or self.l1_time is None:
                why = (f"L1 does not answer: {self.last_error}" if self.last_error
                       else "the provider is still reading the shards from L1")  # fmt: skip
                raise LpRefused(why, "try again in a minute", 503)
            counts = tuple(len(exits) for exits in self.posted)
            problem = offer_problem(self.state, move, signature, counts)
            if problem is not None:
                replay = problem.endswith("offered already")
                raise LpRefused(problem, "" if replay else "fix the move, or ask another provider",
                                409 if replay else 400)  # fmt: skip
            problem = self._exit_problem(move, counts[move.from_shard])
            if problem is not None:
                raise LpRefused(problem, "offer a move of your own exit, once it is on L1")
            self._apply(Offered(move, signature, self.l1_time, counts))
        return self.status_of(message_of(move))

    def _exit_problem(self, move: Move, posted: int) -> str | None:
        """What the batches checked say against ``move`` now: its exit is another's, or
        of another amount, or far beyond what the shard has posted."""
        if move.exit_index < posted:
            return _not_its_exit(move, self.posted[move.from_shard][move.exit_index])
        if move.exit_index >= posted + self.state.terms.max_open:
            return (f"exit {move.exit_index} is far beyond the {posted} exits shard "
                    f"{move.from_shard} has posted")  # fmt: skip
        return None

    def status_of(self, message: bytes) -> dict[str, Any]:
        """One entry of the book, by its move's message."""
        entry = self.state.entries.get(message)
        if entry is None:
            raise LpRefused(f"no move 0x{message.hex()} in this provider's book",
                            "offer it first (POST /lp/moves)", 404)  # fmt: skip
        return {"message": "0x" + message.hex(), "state": entry.state, "reason": entry.reason,
                "amount": str(entry.move.amount), "fee": str(entry.move.fee),
                "from_shard": entry.move.from_shard, "exit_index": entry.move.exit_index,
                "to_shard": entry.move.to_shard, "to": entry.move.to.checksum,
                "checked_batch": entry.batch or None}  # fmt: skip

    def info(self) -> dict[str, Any]:
        """The provider's address, bridge, terms and what its budget holds now."""
        terms = self.state.terms
        committed = self.state.committed()
        return {"provider": self.me.checksum, "bridge": self.bridge.address.checksum,
                "chain_id": self.chain.chain_id, "shards": self.state.shard_count,
                "min_fee_ppm": terms.min_fee_ppm, "max_move": str(terms.max_move),
                "budget": str(terms.budget), "committed": str(committed),
                "available": str(max(0, terms.budget - committed)), "open": self.state.open_count(),
                "max_open": terms.max_open, "wait_s": terms.wait_s, "l1_time": self.l1_time,
                "ready": self.shards_read,
                "last_error": self.last_error}  # fmt: skip

    # -- the loop -----------------------------------------------------------------------

    def step(self) -> list[str]:
        """One round: refuse moves that waited too long, read every shard's new batches,
        front the moves whose exits are checked, and relay the fronted ones whose batch
        is final. Returns what was done, one line each."""
        done: list[str] = []
        now = int(self.chain.timestamp())
        with self._lock:
            self.l1_time = now
            self._apply(Expire(now))
        for shard, watcher in enumerate(self.watchers):
            done += [f"shard {shard}: {line}" for line in watcher.poll()]
            with self._lock:  # the API reads the copy under the lock
                self._note_exits(shard, watcher.state.exits)
        self.shards_read = True
        for message, entry in self.state.in_state(WAITING):
            self._check(message, entry)
        for message, entry in self.state.in_state(FRONTING):
            done += self._front(message, entry)
        for message, entry in self.state.in_state(FRONTED):
            done += self._land(message, entry)
        return done

    def _final_state(self, shard: int) -> tuple[int, L2State]:
        """The latest batch of ``shard`` that is final and that its watcher accepted, and
        the state after it. Final batches never change, so the state is carried forward
        from one call to the next, replaying each batch once."""
        watcher, rollup = self.watchers[shard], self.rollups[shard]
        done, state = self._finals.get(shard, (0, None))
        if state is None:
            state = L2State(watcher.chain_id, rollup.contract.address)
        final = done
        while final < len(watcher.accepted) and rollup.is_final(watcher.accepted[final].index):
            final += 1
        for posted in watcher.accepted[done:final]:
            watcher.replay_onto(state, posted)
        state.commit()
        self._finals[shard] = (final, state)
        return (watcher.accepted[final - 1].index if final else 0), state

    def _note_exits(self, shard: int, exits: list[Exit]) -> None:
        """Keep the API's copy of ``shard``'s exits in checked batches: extended as
        batches are accepted, copied whole when one was reverted."""
        seen = self.posted[shard]
        if len(exits) >= len(seen) and (not seen or exits[len(seen) - 1] == seen[-1]):
            seen.extend(exits[len(seen) :])
        else:
            self.posted[shard] = list(exits)

    def _check(self, message: bytes, entry: Entry) -> None:
        move = entry.move
        watcher = self.watchers[move.from_shard]
        if move.exit_index >= len(watcher.state.exits) or not watcher.accepted:
            return  # not in a checked batch yet
        exit_ = watcher.state.exits[move.exit_index]
        rollup = self.rollups[move.from_shard].contract
        problem = _not_its_exit(move, exit_)
        if problem is None and rollup.call("frozen"):
            problem = f"shard {move.from_shard} is frozen: its exits leave by its escape hatch"
        elif problem is None and rollup.call("exit_claimed", move.exit_index):
            problem = "the exit was claimed on L1 already"
        self.apply(ExitChecked(message, watcher.accepted[-1].index, problem))

    def _front(self, message: bytes, entry: Entry) -> list[str]:
        """Send the front, once: L1 is asked first whether it happened (a crash between
        the transaction and its journal line), and refuses a second front anyway."""
        move = entry.move
        fronted = self.bridge.fronted_by(move)
        if fronted == self.me:
            self.apply(FrontDone(message, True))
            return []
        if fronted is not None or self.bridge.landed(move):
            self.apply(FrontDone(message, False, "another provider fronted it, or it landed"))
            return []
        try:
            receipt = self.bridge.front(self.account, move, entry.signature)
        except ContractRevert as exc:
            self.apply(FrontDone(message, False, f"L1 refused the front: {exc.what}"))
            return [f"front of 0x{message.hex()[:16]} refused: {exc.what}"]
        except L2gpuError as exc:  # no answer from L1, or too little ether: next round
            log.warning("front of 0x%s: %s", message.hex(), exc.what)
            return [f"front of 0x{message.hex()[:16]} not sent: {exc.what}"]
        self.apply(FrontDone(message, True))
        return [f"fronted {entry.outlay} wei to {move.to.checksum} on shard {move.to_shard} "
                f"(gas {receipt.gas_used})"]  # fmt: skip

    def _land(self, message: bytes, entry: Entry) -> list[str]:
        """Notice the move's landing, or relay it once its checked batch is final."""
        move = entry.move
        if self.bridge.landed(move):
            self.apply(Landed(message, self.bridge.fronted_by(move) == self.me))
            return [f"0x{message.hex()[:16]} landed"]
        batch, state = self._final_state(move.from_shard)
        if batch < entry.batch or move.exit_index >= len(state.exits):
            return []  # not final yet; or reverted, and this provider's loss unless it returns
        try:
            # The exit's proof against the latest final batch, from the state replayed up
            # to it: the provider needs no node, only L1.
            self.bridge.relay(self.account, move, entry.signature, state, batch)
        except L2gpuError as exc:
            log.warning("relay of 0x%s: %s", message.hex(), exc.what)
            return [f"relay of 0x{message.hex()[:16]} failed: {exc.what}"]
        self.apply(Landed(message, self.bridge.fronted_by(move) == self.me))
        return [f"relayed 0x{message.hex()[:16]}: repaid {move.amount} wei"]


def _not_its_exit(move: Move, exit_: Exit) -> str | None:
    """Why ``exit_`` is not the one ``move`` moves (another owner or amount), or None."""
    if (exit_.address, int(exit_.amount)) == (move.owner, move.amount):
        return None
    paid = f"{int(exit_.amount)} wei to {exit_.address.checksum}"
    return f"exit {move.exit_index} of shard {move.from_shard} pays {paid}, not this move"
