"""The watcher: rebuilds the L2 from L1 alone, checks every batch, and fights for the truth.

One honest watcher anywhere is enough to keep the rollup safe. Each :meth:`Watcher.poll`
turns new L1 logs into actions:

- ``Queued``: remember the L1 operation (the L2 applies it in queue order).
- ``BatchPosted``: read the batch's bytes from the calldata of the ``submit_batch``
  transaction, replay it segment by segment on the honest state, and either accept it
  or challenge the first segment that does not hold (while the window is open).
- ``RootsRevealed`` on one of its challenges: find the single faulty step (or the
  co-signature) against the proposer's roots and prove it.
- ``ChallengeOpened`` against a batch it proposed (``defend``): reveal the honest roots.
- a game past its deadline: close it (``timeout``), which pays the winner.

Blob batches are not fraud-provable yet (their bytes are not readable on L1); the
watcher reports them and stops at them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.l2.codec import Batch, CodecError, split_batch
from l2gpu.core.l2.proofs.replay import SignatureFault, find_fault, run_segment
from l2gpu.core.l2.segments import Segment, segments_of_data
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import BlockContext, L1Operation
from l2gpu.core.types import Address, ChainId
from l2gpu.l1.chain import ContractEvent
from l2gpu.l1.contracts.dispute_game import DisputeClient
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.errors import ContractRevert
from l2gpu.l1.logs import LogPoller


@dataclass
class PostedBatch:
    """A batch as posted on L1; its data decoded when first needed."""

    index: int
    serial: int
    proposer: Address
    data: bytes
    queue_start: int
    queue_end: int
    segments: tuple[Segment, ...] = ()
    _decoded: tuple[Batch, tuple[bytes, ...]] | None = field(default=None, repr=False)

    def decode(self) -> None:
        """Decode the data once (raises CodecError if it does not decode)."""
        if self._decoded is None:
            self._decoded = split_batch(self.data)

    @property
    def batch(self) -> Batch:
        """The decoded batch."""
        self.decode()
        assert self._decoded is not None
        return self._decoded[0]

    @property
    def raw_commitments(self) -> tuple[bytes, ...]:
        """Each commitment's bytes as posted."""
        self.decode()
        assert self._decoded is not None
        return self._decoded[1]


@dataclass
class Game:
    """A dispute this watcher takes part in."""

    id: int
    batch: int
    serial: int
    segment: int
    role: str
    deadline: int
    roots: tuple[bytes, ...] | None = None
    acted: bool = False
    done: bool = False


@dataclass
class Watcher:
    """Replays the rollup from L1; challenges wrong batches; defends its own."""

    rollup: RollupClient
    game: DisputeClient
    account: LocalAccount
    defend: bool = True
    log: list[str] = field(default_factory=list)
    # The proposer's own watcher (``l2gpu up``) sets this: its node computed every root
    # of the batches it posted with the same state transition, so replaying them at
    # once would only repeat that work on the node's cores (a fifth of its CPU under
    # load). They are replayed, in order, as soon as anything needs the live honest
    # state: a batch by another proposer to check, or an open game. Defending a batch
    # does not wait on it (it replays from genesis, see state_at), and a foreign batch
    # can be challenged for a whole window, far longer than the replay takes. A third
    # party's watcher (``l2gpu watch rollup``) leaves it off and checks every batch.
    defer_own: bool = False

    def __post_init__(self) -> None:
        chain = self.rollup.chain
        self.me = Address.from_hex(self.account.address)
        self.chain_id = ChainId(chain.chain_id)
        self.state = L2State(self.chain_id, self.rollup.contract.address)
        self.accepted: list[PostedBatch] = []
        self.posted: dict[int, PostedBatch] = {}
        self.ops: dict[int, L1Operation] = {}
        self.games: dict[int, Game] = {}
        self.challenged: set[tuple[int, int]] = set()
        self.bad_segment: dict[int, int] = {}
        self.blocked_at: int | None = None
        self._events = LogPoller(chain, [self.rollup.contract, self.game.contract])
        # Its own queue reader: a client shared with a node has consumed the logs already.
        self._queue = RollupClient(chain, self.rollup.contract)
        self.replayed_txs = 0
        self.proofs: list[dict[str, Any]] = []

    # -- the loop -------------------------------------------------------------------------

    def poll(self) -> list[str]:
        """Read new L1 logs and act on them; return what was done, one line per action."""
        start = len(self.log)
        for op in self._queue.new_operations():
            self.ops[op.queue_index] = op
        for event in self._events.poll():
            self._on_event(event)
        self._check_batches(everything=not self.defer_own or self._state_needed())
        # Answer and prove only now: the honest state needs every batch checked first.
        for game in list(self.games.values()):
            if game.done or game.acted:
                continue
            try:
                if game.role == "defender":
                    game.acted = True
                    self._defend(game)
                elif game.roots is not None and self._provable(game):
                    game.acted = True
                    self._prove(game)
            except CodecError as exc:  # its batch does not decode: L1 and the codec disagree
                self.log.append(f"game {game.id}: batch {game.batch} does not decode ({exc}); "
                                "cannot play it")  # fmt: skip
        self._close_expired()
        return self.log[start:]

    def _on_event(self, event: ContractEvent) -> None:
        args: Any = event.args
        if event.name == "BatchPosted":
            self._on_batch(event)
        elif event.name == "BatchesReverted":
            self._on_revert(int(args["from_index"]))
        elif event.name == "ChallengeOpened":
            self._on_challenge(args)
        elif event.name == "RootsRevealed":
            game = self.games.get(int(args["id"]))
            if game is not None and game.role in ("challenger", "observer"):
                game.roots = tuple(bytes(r) for r in args["roots"])
                game.deadline = int(args["prove_by"])
        elif event.name == "ChallengeResolved":
            game = self.games.get(int(args["id"]))
            if game is not None:
                game.done = True
                self.log.append(f"game {game.id} on batch {game.batch}: outcome "
                                f"{int(args['outcome'])} ({args['reason']})")  # fmt: skip

    # -- batches --------------------------------------------------------------------------

    def _on_batch(self, event: ContractEvent) -> None:
        args: Any = event.args
        index = int(args["index"])
        tx = self.rollup.chain.w3.eth.get_transaction(event.tx_hash)  # type: ignore[arg-type]
        fn, params = self.rollup.contract._contract.decode_function_input(tx["input"])
        if fn.fn_name != "submit_batch":
            self.log.append(f"batch {index} was posted as a blob: not fraud-provable yet")
            self.blocked_at = index if self.blocked_at is None else self.blocked_at
            return
        proposer = Address.from_hex(str(args["proposer"]))
        start = int(self.rollup.contract.call("batch_queue_end", index - 1))
        posted = PostedBatch(index, int(args["serial"]), proposer, bytes(params["_data"]),
                             start, int(args["queue_end"]))  # fmt: skip
        if not (self.defer_own and proposer == self.me):
            # Its own batches, deferred, are decoded when replayed: decoding each one as
            # it landed took 4% of a loaded node's interpreter time, for nothing.
            try:
                posted.decode()
            except CodecError as exc:  # L1 checked the framing: the codec and L1 disagree
                self.log.append(f"batch {index} cannot be decoded ({exc}): watching stops there")
                self.blocked_at = index if self.blocked_at is None else self.blocked_at
                return
        self.posted[index] = posted

    def _on_revert(self, from_index: int) -> None:
        for index in [i for i in self.posted if i >= from_index]:
            del self.posted[index]
        self.log.append(f"batches from {from_index} on were reverted")
        if len(self.accepted) >= from_index:
            # An accepted batch was reverted (its proposer lost a game it could have
            # won): rebuild the honest state up to the batch before it.
            self.accepted = self.accepted[: from_index - 1]
            self.state = self.state_at(from_index, 0)
        self.blocked_at = None

    def _state_needed(self) -> bool:
        """Whether the honest state must be brought up to date now: a game is open, or
        a batch by another proposer waits to be checked."""
        if any(not game.done for game in self.games.values()):
            return True
        return any(p.proposer != self.me for i, p in self.posted.items() if i > len(self.accepted))

    @property
    def unchecked_own(self) -> int:
        """How many of its own posted batches wait, unreplayed (see ``defer_own``)."""
        return sum(1 for i in self.posted if i > len(self.accepted))

    def _check_batches(self, *, everything: bool = True) -> None:
        while self.blocked_at is None:
            index = len(self.accepted) + 1
            posted = self.posted.get(index)
            if posted is None:
                return
            if not everything and posted.proposer == self.me:
                return  # deferred: replayed when the state is needed (see defer_own)
            previous = self.state.root()
            try:
                posted.decode()
                posted.segments = segments_of_data(posted.data, previous)
            except CodecError as exc:  # L1 checks the framing, so this is not expected
                self.log.append(f"batch {index} does not decode: {exc}")
                self.blocked_at = index
                return
            bad = self._first_bad_segment(posted)
            if bad is None:
                self.accepted.append(posted)
                continue
            self.blocked_at = index
            self.bad_segment[index] = bad
            self._challenge(posted, bad)

    def _first_bad_segment(self, posted: PostedBatch) -> int | None:
        """Apply the batch to the state if every segment holds; else the first bad one."""
        mark = self.state.checkpoint()
        for segment, claimed in enumerate(posted.segments):
            txs, block, commitment = self.segment_inputs(posted, segment)
            run = run_segment(self.state, txs, block, commitment)
            self.replayed_txs += len(txs)
            honest = run.post_root() if txs else self.state.root()
            if honest != claimed.post_root:
                self.state.rollback(mark)
                self.state.commit()
                return segment
        self.state.commit()
        return None

    def segment_inputs(self, posted: PostedBatch, segment: int) -> tuple[Any, BlockContext, Any]:
        """The transactions, block context and commitment (None for segment 0)."""
        batch = posted.batch
        if segment == 0:
            ops = tuple(self.ops[i] for i in range(posted.queue_start, posted.queue_end))
            return ops, BlockContext(0, batch.fee_recipient), None  # type: ignore[arg-type]
        commitment = batch.commitments[segment - 1]
        block = BlockContext(commitment.timestamp, batch.fee_recipient)
        return commitment.txs, block, commitment

    @contextmanager
    def _state_before(self, batch_index: int, segment: int) -> Iterator[L2State]:
        """The state before ``segment`` of batch ``batch_index``, for the duration of the
        block. The usual case, the batch right after the last accepted one, is the live
        state plus a few segments under a checkpoint (undone on exit); older batches
        are replayed from genesis."""
        if batch_index != len(self.accepted) + 1 or batch_index not in self.posted:
            yield self.state_at(batch_index, segment)
            return
        posted = self.posted[batch_index]
        outer = self.state.recording
        mark = self.state.checkpoint()
        try:
            for s in range(segment):
                txs, block, commitment = self.segment_inputs(posted, s)
                run_segment(self.state, txs, block, commitment)
            yield self.state
        finally:
            self.state.rollback(mark)
            if not outer:
                self.state.commit()

    def state_at(self, batch_index: int, segment: int) -> L2State:
        """A fresh state as it was before ``segment`` of batch ``batch_index`` (replayed)."""
        state = L2State(self.chain_id, self.rollup.contract.address)
        for posted in (b for b in self.accepted if b.index < batch_index):
            self.replay_onto(state, posted)
        target = self.posted.get(batch_index)
        if target is not None:
            self.replay_onto(state, target, segment)
        state.commit()
        return state

    def replay_onto(self, state: L2State, posted: PostedBatch, segments: int | None = None) -> None:
        """Run the first ``segments`` segments of ``posted`` (all by default) on ``state``."""
        for s in range(len(posted.segments) if segments is None else segments):
            txs, block, commitment = self.segment_inputs(posted, s)
            run_segment(state, txs, block, commitment)

    # -- games ----------------------------------------------------------------------------

    def _challenge(self, posted: PostedBatch, segment: int) -> None:
        if (posted.serial, segment) in self.challenged:
            return
        self.challenged.add((posted.serial, segment))
        try:
            gid, _ = self.game.challenge(posted.index, posted.segments, segment, self.account)
        except ContractRevert as exc:
            self.log.append(f"could not challenge batch {posted.index}: {exc}")
            return
        deadline = int(self.game.status(gid)["deadline"])
        self.games[gid] = Game(gid, posted.index, posted.serial, segment, "challenger", deadline)
        self.log.append(f"challenged batch {posted.index} segment {segment} (game {gid})")

    def _on_challenge(self, args: Any) -> None:
        gid, index, segment = int(args["id"]), int(args["batch"]), int(args["segment"])
        if gid in self.games:
            return
        challenger = args["challenger"]
        challenger = challenger if isinstance(challenger, Address) else Address.from_hex(challenger)
        posted = self.posted.get(index)
        if posted is None:
            return
        deadline = int(args["respond_by"])
        if challenger == self.me:
            # One of ours, perhaps from before a restart: follow it to the end.
            self.challenged.add((posted.serial, segment))
            self.games[gid] = Game(gid, index, posted.serial, segment, "challenger", deadline)
        elif self.defend and posted.proposer == self.me:
            self.games[gid] = Game(gid, index, posted.serial, segment, "defender", deadline)
        else:
            # Someone else's game (perhaps the liar's own, opened to block ours): if it
            # names the segment we found wrong, we prove it when the roots come.
            self.games[gid] = Game(gid, index, posted.serial, segment, "observer", deadline)
            self.challenged.add((posted.serial, segment))

    def _defend(self, game: Game) -> None:
        posted = self.posted[game.batch]
        index, segment = game.batch, game.segment
        if not posted.segments:
            posted.segments = segments_of_data(posted.data, self.state_at(index, 0).root())
        state = self.state_at(index, segment)
        txs, block, commitment = self.segment_inputs(posted, segment)
        run = run_segment(state, txs, block, commitment)
        if txs and run.post_root() != posted.segments[segment].post_root:
            self.log.append(f"game {game.id}: my batch {index} segment {segment} is wrong; "
                            "not answering")  # fmt: skip
            return
        raw = posted.raw_commitments[segment - 1] if segment else b""
        try:
            self.game.respond(game.id, run.roots, raw, self.account)
        except ContractRevert as exc:
            self.log.append(f"game {game.id}: revealing the roots was refused: {exc}")
            return
        self.log.append(f"game {game.id}: revealed {len(run.roots)} roots for batch {index}")

    def _provable(self, game: Game) -> bool:
        """Ours, or someone else's on the very segment we found wrong."""
        if game.role == "challenger":
            return True
        return self.blocked_at == game.batch and self.bad_segment.get(game.batch) == game.segment

    def _prove(self, game: Game) -> None:
        posted = self.posted.get(game.batch)
        if posted is None or game.roots is None:
            return
        txs, block, commitment = self.segment_inputs(posted, game.segment)
        with self._state_before(game.batch, game.segment) as state:
            fault = find_fault(state, txs, block, commitment, game.roots)
        if fault is None:
            self.log.append(f"game {game.id}: the proposer's roots hold; nothing to prove")
            return
        raw = posted.raw_commitments[game.segment - 1] if game.segment else b""
        try:
            receipt = self.game.prove(game.id, game.roots, commitment, raw, fault, self.account)
        except ContractRevert as exc:
            self.log.append(f"game {game.id}: the proof was refused: {exc}")
            return
        what = "signature" if isinstance(fault, SignatureFault) else type(fault.tx).__name__
        self.proofs.append({"proves": what, "gas": receipt.gas_used, "l1_bytes": receipt.tx_bytes})
        self.log.append(f"game {game.id}: proved {type(fault).__name__} "
                        f"(gas {receipt.gas_used})")  # fmt: skip

    def _close_expired(self) -> None:
        now = self.rollup.chain.timestamp()
        for game in self.games.values():
            if game.done or now < game.deadline:
                continue
            try:
                self.game.timeout(game.id, self.account)
            except ContractRevert as exc:
                self.log.append(f"game {game.id}: timeout refused: {exc}")
            game.done = True
