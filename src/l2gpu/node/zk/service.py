"""The running zk node's pieces beside the HTTP API: its contracts on L1 and its
sealing loop. ``l2gpu up --design zk`` (``cli/zk_node.py``) puts them together.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount

from l2gpu.core.errors import L2gpuError
from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.core.zk.state import ZkState
from l2gpu.l1 import Chain
from l2gpu.l1.build import CompiledContract
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.pending import section_of
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit
from l2gpu.zk.verifier_contract import compile_verifier

log = logging.getLogger("l2gpu.up")


def deploy_zk_rollup(
    chain: Chain,
    sender: LocalAccount,
    circuit: CompiledCircuit,
    keys: Keys,
    *,
    shape: BatchShape,
    depth: int,
    force_delay: int,
    validium: bool = False,
) -> ZkRollupClient:
    """Deploy the verifier generated from ``keys`` and a ZkRollup over it, whose
    ``CIRCUIT_HASH`` is ``circuit``'s content hash and whose genesis is the empty tree
    (``validium``: ``circuit`` is the validium batch circuit)."""
    built = compile_verifier(keys.verifying_key, title=circuit.name)
    verifier = chain.deploy(
        CompiledContract("BatchVerifier", built.abi, built.bytecode, "generated"), sender=sender
    )
    return ZkRollupClient.deploy(
        chain, sender, genesis_root=ZkState.empty(depth).root(), verifier=verifier,
        circuit_hash=bytes.fromhex(circuit.key), shape=shape, depth=depth,
        force_delay=force_delay, validium=validium,
    )  # fmt: skip


@dataclass
class ZkSealer:
    """Seals a batch once the oldest pending transaction or queued deposit has waited
    ``interval`` seconds, or once a section of the batch is full.

    The node keeps no arrival times (its log is the order, not the clock), so the
    sealer notes when it first saw something waiting; what a seal leaves behind has
    waited long enough already and goes in the next batch at once.
    """

    node: ZkNode
    interval: float = 2.0
    poll: float = 0.25
    stop: threading.Event = field(default_factory=threading.Event)
    _waiting_since: float | None = None
    _posted: int | None = None
    _error: str | None = None

    def due(self, now: float) -> bool:
        """Whether a batch should be sealed now (reads L1's deposit and forced-exit
        queues)."""
        node = self.node
        with node.l1_lock:
            queued, queued_exits = node.rollup.queues()
            clock = node.clock()
        with node.lock:
            deposits = len(queued) - node.sequencer.deposits_taken
            exits = len(queued_exits) - node.sequencer.forced_exits_taken
            sections = [section_of(p.signed) for p in node.sequencer.pending]
            expired = node.sequencer.reclaimable(clock)
        if not deposits and not sections and not expired and not exits:
            self._waiting_since = None
            return False
        if self._waiting_since is None:
            self._waiting_since = now
        counts = [deposits] + [sections.count(k) for k in range(1, 5)]
        full = any(n >= room for n, room in zip(counts, node.shape.sections, strict=False))
        full = full or exits >= node.shape.forced_exits
        return full or now - self._waiting_since >= self.interval

    def step(self) -> int | None:
        """One round: seal if due; the batch's number, or None. Nothing here raises:
        a failure (L1 unreachable, no fee account yet) is logged and retried."""
        self._report_posted()
        try:
            if not self.due(time.monotonic()):
                return None
            number = self.node.seal()
        except L2gpuError as exc:
            log.error("sealing failed (nothing was applied): %s", exc)
            return None
        except Exception:  # a bug or an L1 answering nonsense: the next round retries
            log.exception("sealing failed (nothing was applied)")
            return None
        if number is not None:
            status = self.node.status()
            log.info("sealed batch %d (%d pending left); proving in the background",
                     number, status["pending"])  # fmt: skip
        return number

    def _report_posted(self) -> None:
        # The prover thread logs nothing itself: say here what reached L1 since.
        status = self.node.status()
        posted = status["batches_posted"]
        if self._posted is not None and posted > self._posted:
            numbers = ", ".join(str(n) for n in range(self._posted, posted))
            log.info("L1 accepted batch %s; the last proof took %s s", numbers,
                     status["last_proof_seconds"])  # fmt: skip
        if status["last_error"] and status["last_error"] != self._error:
            log.error("proving or posting failed (retried): %s", status["last_error"])
        self._error = status["last_error"]
        self._posted = posted

    def run(self) -> None:
        """Seal until :attr:`stop` is set."""
        while not self.stop.is_set():
            self.step()
            self.stop.wait(self.poll)

    def start(self) -> threading.Thread:
        """Run :meth:`run` in a daemon thread."""
        thread = threading.Thread(target=self.run, name="zk-sealer", daemon=True)
        thread.start()
        return thread
