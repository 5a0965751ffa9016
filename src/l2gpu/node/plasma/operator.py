"""The Plasma operator: the child chain's shell around ``core/plasma/chain``.

It turns the world into the chain's inputs: L1's ``Deposited`` and ``ExitFinalized``
logs, users' signed transfers and lease locks (through the API), and its own clock
(a block every interval while transfers wait). Every input goes to the
write-ahead log before it is acknowledged or applied; a restart replays the log
through the same state transition and posts the roots L1 does not hold yet, in
order. Block ``n``'s transfers are served to anyone (``block``): withholding them is
the one thing an honest operator never does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine

from l2gpu.core.errors import L2gpuError
from l2gpu.core.plasma.chain import (
    Accepted,
    ChildChain,
    Event,
    Input,
    LockCoins,
    LockRefused,
    RecordDeposit,
    RecordExit,
    SealBlock,
    Sealed,
    SubmitTransfer,
    state_transition,
)
from l2gpu.core.plasma.root_chain import SubmitBlock
from l2gpu.core.plasma.transactions import Deposit, SignedTransfer
from l2gpu.core.types import Address
from l2gpu.l1.contracts.plasma import PlasmaClient
from l2gpu.l1.logs import LogPoller
from l2gpu.node.plasma import records
from l2gpu.node.wal import WriteAheadLog

log = logging.getLogger("l2gpu.plasma")


class PlasmaOperator:
    """The operator of one Plasma contract (``client``), posting roots as ``account``,
    logging to ``engine``; ``clock`` gives the time locks expire by (L1's)."""

    def __init__(
        self, client: PlasmaClient, account: LocalAccount, engine: Engine, clock: Callable[[], int]
    ) -> None:
        self.client = client
        self.account = account
        self.clock = clock
        self.wal = WriteAheadLog(engine)
        self.lock = threading.Lock()  # the chain's state
        self.l1_lock = threading.Lock()  # one L1 sender: the operator's nonces must not race
        self.state = ChildChain(client.domain)
        self.blocks: dict[int, tuple[SignedTransfer, ...]] = {}
        self.deposits: list[Deposit] = []
        self.posted = 0  # blocks L1 holds
        self.exits_seen: set[int] = set()
        self.stop = threading.Event()
        self._replay()
        self.poller = LogPoller(client.chain, [client.contract], from_block=0)

    # -- the log ------------------------------------------------------------------------

    def _apply(self, input_: Input) -> list[Event]:
        self.state, events = state_transition(self.state, input_)
        for event in events:
            if isinstance(event, Sealed):
                self.blocks[event.number] = event.transfers
            deposit = getattr(event, "deposit", None)
            if deposit is not None:
                self.deposits.append(deposit)
        return events

    def _replay(self) -> None:
        for _, kind, payload in self.wal.records():
            if kind == records.EXIT_SEEN:
                self.exits_seen.add(records.decode_exit_seen(payload))
            elif kind.startswith("plasma-"):
                self._apply(records.decode(kind, payload))
        self.posted = min(self.client.height(), self.state.height)
        log.info(
            "replayed the log: %d blocks, %d deposits, L1 holds %d blocks",
            self.state.height,
            len(self.deposits),
            self.posted,
        )

    def _logged(self, input_: Input) -> list[Event]:
        """Log ``input_``, then apply it (the caller holds ``self.lock``)."""
        kind, payload = records.encode(input_)
        self.wal.append(kind, payload)
        return self._apply(input_)

    # -- users' inputs ------------------------------------------------------------------

    def submit(self, signed: SignedTransfer, claim: bytes = b"") -> Event:
        """Accept a transfer for the next block (``claim``: the lease provider's, for
        locked coins), or say why not (nothing is logged)."""
        with self.lock:
            probe = SubmitTransfer(signed, self.clock(), claim)
            _, events = state_transition(self.state, probe)
            if not isinstance(events[0], Accepted):
                return events[0]
            return self._logged(probe)[0]

    def lock_coins(self, input_: LockCoins) -> Event:
        """Hold a lease's lock, or say why not."""
        with self.lock:
            probe = LockCoins(input_.signed, self.clock())
            _, events = state_transition(self.state, probe)
            if isinstance(events[0], LockRefused):
                return events[0]
            return self._logged(probe)[0]

    # -- L1 --------------------------------------------------------------------------------

    def follow_l1(self) -> None:
        """Record new deposits and finalized exits from L1's logs."""
        with self.l1_lock:
            events = self.poller.poll()
        for event in events:
            name = getattr(event, "name", "")
            if name == "Deposited":
                self._record_deposit(event.args)
            elif name == "ExitFinalized":
                exit_id = int(event.args["exit_id"])
                with self.l1_lock:
                    stored = self.client.exit(exit_id)
                with self.lock:
                    if exit_id not in self.exits_seen:
                        # One database transaction for both: a crash between them would
                        # leave the exit seen and its coins still spendable here.
                        exit_input = RecordExit(int(stored["start"]), int(stored["end"]))
                        self.wal.append_many(
                            [
                                (records.EXIT_SEEN, records.encode_exit_seen(exit_id)),
                                records.encode(exit_input),
                            ]
                        )
                        self.exits_seen.add(exit_id)
                        self._apply(exit_input)

    def _record_deposit(self, args: dict[str, Any]) -> None:
        start, end, owner = int(args["start"]), int(args["end"]), args["owner"]
        with self.lock:
            if start < self.state.coins:
                return  # replayed already
            if start != self.state.coins:
                raise L2gpuError(
                    f"L1 numbered a deposit from coin {start}, the child chain expected "
                    f"{self.state.coins}",
                    "this is a bug in l2gpu",
                )
            # L1's height, not ours: we may have sealed a block L1 does not hold yet.
            self._logged(RecordDeposit(Address(bytes(owner)), end - start, int(args["block"])))

    def seal(self) -> int | None:
        """Make the waiting transfers a block and post its root; None if none wait."""
        with self.lock:
            if not self.state.pending:
                return None
            number = self.state.height + 1
            self._logged(SealBlock())
        self.post()
        return number

    def post(self) -> None:
        """Post, in order, the roots of sealed blocks that L1 does not hold yet."""
        with self.l1_lock:
            while self.posted < self.state.height:
                number = self.posted + 1
                root = self.state.roots[number - 1]
                on_l1 = self.client.height()
                if on_l1 >= number:
                    if self.client.root(number) != root:
                        raise L2gpuError(
                            f"L1 holds another root for block {number}",
                            "another operator posts to this contract: stop one",
                        )
                else:
                    self.client.apply(
                        SubmitBlock(Address.from_hex(self.account.address), root), self.account
                    )
                self.posted = number

    def step(self, *, seal: bool) -> None:
        """One round: follow L1, seal if ``seal``, and post any root L1 lacks (one
        whose posting failed is posted again here, every round)."""
        self.follow_l1()
        if seal:
            self.seal()
        if self.posted < self.state.height:
            self.post()

    def run(self, interval: float) -> None:
        """Follow L1 every second (or ``interval``, if shorter) and seal every
        ``interval`` seconds, until :attr:`stop` is set."""
        poll = min(interval, 1.0)
        last_seal = time.monotonic()
        while not self.stop.is_set():
            due = time.monotonic() - last_seal >= interval
            if due:
                last_seal = time.monotonic()
            try:
                self.step(seal=due)
            except Exception as exc:  # L1 down or answering nonsense: retry next round
                log.error("operating failed: %s", exc)
            self.stop.wait(poll)

    def start(self, interval: float) -> threading.Thread:
        """Run :meth:`run` on a daemon thread."""
        thread = threading.Thread(
            target=self.run, args=(interval,), name="plasma-operator", daemon=True
        )
        thread.start()
        return thread

    # -- what it serves ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Height, blocks on L1, coins, waiting transfers, locks."""
        with self.lock:
            return {
                "plasma": self.client.address.checksum,
                "chain_id": self.client.chain.chain_id,
                "height": self.state.height,
                "posted": self.posted,
                "coins": self.state.coins,
                "pending": len(self.state.pending),
                "locks": len(self.state.locks),
                "deposits": len(self.deposits),
            }

    def block(self, number: int) -> tuple[bytes, tuple[SignedTransfer, ...]] | None:
        """Block ``number``'s root and transfers; None if it was not sealed."""
        with self.lock:
            if not 1 <= number <= self.state.height:
                return None
            return self.state.roots[number - 1], self.blocks.get(number, ())

    def coins_of(self, owner: Address, *, free: bool = False) -> list[dict[str, int]]:
        """The coin ranges ``owner`` holds, each with the block it received them in
        (``free``: less those a live lease lock holds). One sweep over the sorted
        segments and the owner's locks (which never overlap): it runs under the lock."""
        with self.lock:
            now = self.clock() if free else 0
            locks = sorted(
                (k.start, k.end) for k in self.state.locks if k.owner == owner and k.until > now
            ) if free else []  # fmt: skip
            out, i = [], 0
            for s in self.state.segments:
                if s.owner != owner:
                    continue
                at = s.start
                while i < len(locks) and locks[i][1] <= at:
                    i += 1
                j = i
                while j < len(locks) and locks[j][0] < s.end:
                    if locks[j][0] > at:
                        out.append({"start": at, "end": locks[j][0], "received": s.received})
                    at = max(at, locks[j][1])
                    j += 1
                if at < s.end:
                    out.append({"start": at, "end": s.end, "received": s.received})
            return out

    def lock_at(self, coin: int) -> dict[str, Any] | None:
        """The live lease lock holding ``coin``, if any."""
        with self.lock:
            now = self.clock()
            for k in self.state.locks:
                if k.start <= coin < k.end and k.until > now:
                    return {
                        "owner": k.owner.checksum,
                        "start": str(k.start),
                        "end": str(k.end),
                        "provider": k.provider.checksum,
                        "until": k.until,
                    }
            return None

    def owner_of(self, coin: int) -> dict[str, Any] | None:
        """Who holds ``coin`` and since which block; None if no one (never deposited,
        or exited)."""
        with self.lock:
            for s in self.state.owners(coin, coin + 1):
                return {"owner": s.owner.checksum, "received": s.received}
            return None
