"""kill -9 at any durable step, restart, and get the state of a node that never crashed.

A Hypothesis state machine drives a real node (WAL in SQLite, batches posted to
the embedded L1) and, beside it, a reference sequencer that never crashes.
Transactions are accepted or refused, dropped (a signer that refuses, one that
is silent, a transfer over the balance) and resent with the same nonce; between
any two steps the node may be killed at its next durable step (a WAL write or an
L1 transaction), before or after that step took effect. A kill is an exception
that no handler in the node catches (a ``BaseException``), after which the node
object is thrown away, as the process would be, and a new one recovers from the
database and L1.

The reference gets exactly what the node made durable: an input whose log record
was written, and a seal whose records were written. After every step the two
agree on the state root, the mempool, the pending nonces and the bench of silent
signers, and L1 holds exactly the reference's batches.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Timestamp, Wei
from l2gpu.db import open_database
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.node.node import RollupNode
from l2gpu.node.sequencer import Rejected, Sequencer

from .node_world import Deployed

DEPLOYED: Deployed | None = None
HONEST, REFUSING, SILENT = (0, 1, 2), 3, None  # account 3 refuses; a silent one is absent


class Killed(BaseException):
    """The process died here (kill -9): nothing after this point ran."""


class Approving:
    """An in-process co-signer that signs whatever it is asked."""

    def __init__(self, key: Any) -> None:
        self.key = key

    def cosign(self, message: bytes, _commitment: object, _mine: object) -> bytes:
        return self.key.sign(message)


class Refusing:
    """An in-process co-signer that refuses everything."""

    def cosign(self, _message: bytes, _commitment: object, _mine: object) -> None:
        return None


class Crashes:
    """Counts the node's durable steps and kills it at the armed one."""

    def __init__(self) -> None:
        self.armed: tuple[int, str] | None = None  # (steps to go, "before" | "after")
        self.took_effect = False
        self.done: list[str] = []  # the durable steps that took effect, by name
        self.killed: list[str] = []  # where the kills fell, e.g. "after seal"

    def step(self, name: str, effect: Any) -> Any:
        """Run ``effect`` (a durable step), dying before or after it when armed."""
        if self.armed is not None:
            left, phase = self.armed
            if left == 0:
                self.armed = None
                self.took_effect = phase == "after"
                self.killed.append(f"{phase} {name}")
                if self.took_effect:
                    effect()
                    self.done.append(name)
                raise Killed
            self.armed = (left - 1, phase)
        result = effect()
        self.done.append(name)
        return result


def deployed() -> Deployed:
    global DEPLOYED
    if DEPLOYED is None:
        DEPLOYED = Deployed()
    return DEPLOYED


Kill = tuple[int, str] | None
# Most steps run to the end; some are killed at their first, second or third durable step.
KILLS = st.one_of(
    st.none(), st.none(), st.tuples(st.integers(0, 2), st.sampled_from(["before", "after"]))
)


class NodeUnderKills(RuleBasedStateMachine):
    """A node killed at random durable steps, against one that never crashes."""

    @initialize()
    def start(self) -> None:
        self.world = deployed()
        self.world.reset()
        self.folder = tempfile.TemporaryDirectory(prefix="l2gpu-crash-")
        self.database = Path(self.folder.name) / "node.db"
        self.now = Timestamp(self.world.chain.timestamp())
        keys = self.world.bls
        self.cosigners: dict[int, Any] = {i: Approving(keys[i]) for i in HONEST}
        self.cosigners[REFUSING] = Refusing()
        self.crashes = Crashes()
        self.node = self._new_node()
        # The reference: the same sequencer rules on a state that never crashes.
        self.reference = Sequencer(
            L2State(self.node.state.chain_id, self.node.state.rollup), fee_recipient=0,
            cosigners=self.cosigners, clock=lambda: self.now,
        )  # fmt: skip
        self.ref_roots: list[bytes] = []
        self.l1_checked = 0
        for op in RollupClient(self.world.chain, self.world.contract).new_operations():
            self.reference.deposit(op)
        self._seal()

    def teardown(self) -> None:
        self.folder.cleanup()

    def _new_node(self) -> RollupNode:
        """A new process: a node over the same database and L1, recovered (killable)."""
        world, crashes = self.world, self.crashes
        rollup = RollupClient(world.chain, world.contract)
        node = RollupNode(rollup, open_database(f"sqlite:///{self.database}"), world.operator,
                          cosigners=self.cosigners, clock=lambda: self.now)  # fmt: skip
        wal = node.wal
        append, append_many, submit = wal.append, wal.append_many, rollup.submit
        group = wal.append_envelopes
        wal.append = lambda *a: crashes.step("append", lambda: append(*a))  # type: ignore[method-assign]
        wal.append_many = lambda *a: crashes.step("seal", lambda: append_many(*a))  # type: ignore[method-assign]
        rollup.submit = lambda *a: crashes.step("post", lambda: submit(*a))  # type: ignore[method-assign]
        node.group_commit._write = lambda *a: crashes.step("append", lambda: group(*a))
        node.recover()
        return node

    def _restart(self) -> None:
        while True:  # a kill during recovery is one more kill: recover again
            try:
                self.node = self._new_node()
                self.node.follow_l1()
                return
            except Killed:
                continue

    # -- rules -------------------------------------------------------------------------

    @rule(
        sender=st.sampled_from([0, 1, 2, 3]),
        to=st.sampled_from([0, 1, 2, 3]),
        amount=st.sampled_from([10**15, 3 * 10**17, 2 * 10**18]),  # the last is over the balance
        nonce_shift=st.sampled_from([0, 0, 0, -1, 1]),
        kill=KILLS,
    )
    def submit(
        self, sender: int, to: int, amount: int, nonce_shift: int, kill: Kill = None
    ) -> None:
        self.crashes.armed = kill
        if sender == 2 and self.cosigners.get(2) is not None and amount == 3 * 10**17:
            self.cosigners.pop(2)  # from now on account 2 is silent: it will be benched
        account = self.reference.state.accounts[sender]
        nonce = account.nonce + self.reference.pending_per_sender.get(sender, 0) + nonce_shift
        if nonce < 0:
            return
        envelope = self.world.envelope(self.node, sender, Transfer(sender, to, Wei(amount),
                                                                   Wei(10**12)), nonce)  # fmt: skip
        try:
            self.reference.check(envelope)
            ref_ok = True
        except Rejected:
            ref_ok = False
        try:
            self.node.submit(envelope)
            node_ok = True
        except Rejected:
            node_ok = False
        except Killed:
            # Killed around its log write: accepted if the record was written (the
            # client never heard back), else never seen; either way, no refusal.
            logged = self.crashes.took_effect
            self._restart()
            if logged:
                assert ref_ok
                self.reference.enqueue(envelope)
            return
        if ref_ok and node_ok:
            self.reference.enqueue(envelope)
        assert node_ok == ref_ok, "the node and the reference disagree on admission"

    @rule(kill=KILLS)
    def seal(self, kill: Kill = None) -> None:
        self.crashes.armed = kill
        self._seal()

    def _seal(self) -> None:
        self.crashes.done.clear()
        try:
            self.node.seal_and_post()
        except Killed:
            self._restart()
        # The seal's records are written in one transaction: all of the seal or none.
        if "seal" in self.crashes.done:
            report = self.reference.seal(released=contextlib.nullcontext)  # as the node: a round
            if report.batch is not None:
                self.ref_roots.append(report.batch.post_root)

    @rule(kill=KILLS)
    def restart(self, kill: Kill = None) -> None:
        self.crashes.armed = kill
        self._restart()
        self.crashes.armed = None

    # -- what must always hold -------------------------------------------------------------

    @invariant()
    def same_as_a_node_that_never_crashed(self) -> None:
        if currently_in_test_context():  # statistics: where the kills fell
            for where in self.crashes.killed:
                event(f"killed {where}")
            self.crashes.killed.clear()
        node, ref = self.node, self.reference
        assert node.state.root() == ref.state.root()
        assert [p.envelope for p in node.sequencer.mempool] == [p.envelope for p in ref.mempool]
        assert node.sequencer.pending_per_sender == ref.pending_per_sender
        assert node.sequencer.silences.benched == ref.silences.benched
        assert not node.unposted  # a killed post is posted by the restarted node
        # L1 holds the reference's batches (each read once: an L1 call costs ~50 ms here).
        contract = self.world.contract
        count = int(contract.call("batch_count")) - 1  # batch 0 is the genesis root
        assert count == len(self.ref_roots)
        for i in range(self.l1_checked, count):
            assert bytes(contract.call("batch_root", i + 1)) == self.ref_roots[i]
        self.l1_checked = count


NodeUnderKills.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_a_killed_node_comes_back_as_if_it_never_crashed = NodeUnderKills.TestCase


@pytest.mark.parametrize("step", [0, 1, 2], ids=["seal", "post", "posted"])
@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_kill_at_each_durable_step_of_a_seal(step: int, phase: str) -> None:
    machine = NodeUnderKills()
    machine.start()
    try:
        machine.submit(sender=3, to=2, amount=10**15, nonce_shift=0)  # 3 refuses: dropped
        machine.seal()
        machine.submit(sender=1, to=2, amount=10**15, nonce_shift=0)
        machine.submit(sender=2, to=1, amount=10**15, nonce_shift=0)
        machine.seal(kill=(step, phase))
        assert machine.crashes.killed == [f"{phase} {['seal', 'post', 'append'][step]}"]
        machine.same_as_a_node_that_never_crashed()
        machine.submit(sender=3, to=1, amount=10**15, nonce_shift=0)  # the nonce after the drop
        machine.submit(sender=1, to=2, amount=10**15, nonce_shift=0, kill=(0, phase))
        machine.same_as_a_node_that_never_crashed()
        for _ in range(3):  # a seal is one round: what a refusal put back goes next
            machine.seal()
            machine.same_as_a_node_that_never_crashed()
        assert machine.node.state.accounts[1].nonce == 1 + (phase == "after")
    finally:
        machine.teardown()


def test_the_kill_switch_dies_before_or_after_the_armed_step() -> None:
    effects: list[int] = []
    for phase, expected in (("after", [1, 2]), ("before", [1])):
        crashes = Crashes()
        crashes.armed = (1, phase)
        crashes.step("one", lambda: effects.append(1))
        with pytest.raises(Killed):
            crashes.step("two", lambda: effects.append(2))
        assert effects == expected
        assert crashes.took_effect is (phase == "after")
        assert crashes.killed == [f"{phase} two"]
        effects.clear()
