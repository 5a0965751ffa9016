"""An arena for fraud proofs: a rollup on a real L1, users, an honest sequencer, a
proposer that may lie, and an honest watcher. Used by the adversarial tests and by
``l2gpu bench fraud``.

The proposer runs an honest sequencer (users really co-sign) and then lies about
what it posts: a wrong root from a chosen step of a chosen segment on, a broken
co-signature, a transaction that breaks a rule, or a root with a wrong nonce. When
challenged it answers with the roots of its lie (honest up to the step, then its
own), or stays silent. The watcher knows nothing but L1.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2 import amounts
from l2gpu.core.l2.codec import Batch, Commitment
from l2gpu.core.l2.envelope import seal
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    CooperativeClose,
    L1Operation,
    OpenChannel,
    Transfer,
    UserTx,
    Withdraw,
)
from l2gpu.core.types import Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.fraud.watcher import Watcher
from l2gpu.l1.chain import Chain, Receipt
from l2gpu.l1.contracts.dispute_deploy import DisputeTerms
from l2gpu.l1.contracts.dispute_game import DisputeClient
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.node.cosigners import LocalCoSigner
from l2gpu.node.sequencer import Sequencer

ETH = 10**18
LIES = ("root", "signature", "invalid", "nonce", "silent", "overspend", "duplicate")
"""Ways to lie: a wrong root from a step on; a forged co-signature; a transaction from a
nonexistent sender; a root with a wrong nonce; no answer at all; an amount above the
balance; a transaction repeated (a double-spent channel close when it is a close)."""
GARBAGE = b"\xee" * 32


@dataclass
class Lie:
    """What the proposer lies about: ``kind`` at ``step`` of ``segment``."""

    kind: str
    segment: int
    step: int


class Arena:
    """Accounts: 0 proposes, 1 watches, 2.. are users (L2 accounts 1..)."""

    def __init__(self, chain: Chain, *, window: int = 3600, users: int = 3) -> None:
        self.chain = chain
        self.proposer: LocalAccount = chain.accounts[0]
        self.challenger: LocalAccount = chain.accounts[1]
        self.users = chain.accounts[2 : 2 + users]
        period = max(window // 7, 1)
        self.terms = DisputeTerms(ETH // 10, period, period)
        genesis = L2State(ChainId(1), Address(bytes(20))).root()
        self.client = RollupClient.deploy(chain, self.proposer, genesis_root=genesis,
                                          challenge_window=window, terms=self.terms)  # fmt: skip
        self.game = DisputeClient(chain, self.client.game)
        self.client.stake(self.proposer, ETH)
        everyone = [self.proposer, *self.users]
        self.keys = [PrivateKey(bytes(a.key)) for a in everyone]
        self.bls = [BlsSecretKey.from_seed(k.secret) for k in self.keys]
        for who, account in enumerate(everyone):
            self.client.deposit(account, self.bls[who], 10 * ETH)
        self.deposited = 10 * ETH * len(everyone)
        self.setup = chain.snapshot()
        self.reset()

    def reset(self) -> None:
        """Back to the state right after the deposits were queued (nothing posted)."""
        self.chain.revert(self.setup)
        self.setup = self.chain.snapshot()
        contract = self.client.contract
        self.l1 = RollupClient(self.chain, contract)
        self.state = L2State(ChainId(self.chain.chain_id), contract.address)
        self.cosigners: dict[int, LocalCoSigner] = {
            i: LocalCoSigner(i, key) for i, key in enumerate(self.bls)
        }
        self.sequencer = Sequencer(self.state, fee_recipient=0, cosigners=self.cosigners,
                                   clock=self.chain.timestamp)  # fmt: skip
        self.nonces: dict[int, int] = {}
        self.ops: list[L1Operation] = []
        self.watcher = Watcher(RollupClient(self.chain, contract), self.game, self.challenger,
                               defend=False)  # fmt: skip
        self.defender = Watcher(RollupClient(self.chain, contract), self.game, self.proposer)
        self.posted: list[tuple[int, Batch, list[list[bytes]]]] = []
        self.responses: list[Receipt] = []

    # -- building batches ------------------------------------------------------------

    def send(self, who: int, tx: UserTx) -> None:
        """L2 account ``who`` sends ``tx`` (and agrees to co-sign it; for a cooperative
        close the channel's other party agrees too)."""
        self.cosigners[who].expect(tx)
        channel = self.state.channel_at(tx.channel) if isinstance(tx, CooperativeClose) else None
        if channel is not None:
            other = channel.provider if channel.renter == who else channel.renter
            self.cosigners[other].expect(tx)
        nonce = self.nonces.get(who, 0)
        self.sequencer.submit(seal(self.keys[who], self.sequencer.domain, tx, nonce))
        self.nonces[who] = nonce + 1

    def random_traffic(self, rng: random.Random, count: int) -> None:
        """Transfers, withdrawals, channel opens and closes among the users."""
        n = len(self.keys)
        for _ in range(count):
            who = rng.randrange(1, n)
            pick = rng.random()
            live = [c for c in self.state.channels if c.live and c.renter == who]
            if pick < 0.5:
                amount = amounts.round_down(rng.randrange(10**12, 10**17))
                self.send(who, Transfer(who, rng.randrange(n), Wei(amount), Wei(10**9)))
            elif pick < 0.65:
                self.send(who, Withdraw(who, Wei(10**15), Wei(0)))
            elif pick < 0.85 or not live:
                provider = rng.choice([i for i in range(1, n) if i != who])
                expires = Timestamp(self.chain.timestamp() + 3600)
                self.send(who, OpenChannel(who, provider, Wei(10**16), expires, Seconds(600)))
            else:
                channel = live[0]
                self.send(who, CooperativeClose(who, channel.index, Wei(10**15)))

    def seal(self) -> Batch:
        """Seal the mempool (and new L1 operations) into a batch."""
        for op in self.l1.new_operations():
            self.ops.append(op)
            self.sequencer.deposit(op)
        report = self.sequencer.seal()
        assert report.batch is not None, f"nothing to seal: {report.dropped}"
        return report.batch

    def honest_roots(self, batch: Batch, pre: L2State) -> list[list[bytes]]:
        """The root after each transaction of each segment, replayed on a copy."""
        out: list[list[bytes]] = []
        ops = [op for op in self.ops if op.queue_index >= pre.deposits_processed]
        roots: list[bytes] = []
        for op in ops[: batch.deposits]:
            state_transition(pre, op, BlockContext(Timestamp(0), 0))
            roots.append(pre.root())
        out.append(roots)
        for commitment in batch.commitments:
            block = BlockContext(commitment.timestamp, batch.fee_recipient)
            roots = []
            for tx in commitment.txs:
                state_transition(pre, tx, block)
                roots.append(pre.root())
            out.append(roots)
        return out

    def replica(self) -> L2State:
        """A fresh L2 state with every posted batch applied honestly."""
        return self.replica_before(len(self.posted) + 1)

    def replica_before(self, index: int) -> L2State:
        """A fresh L2 state with the posted batches before ``index`` applied honestly."""
        state = L2State(ChainId(self.chain.chain_id), self.client.contract.address)
        for number, batch, _ in self.posted:
            if number < index:
                self.honest_roots(batch, state)
        return state

    def post(self, batch: Batch, lie: Lie | None = None) -> tuple[int, list[list[bytes]]]:
        """Post ``batch``, maybe with a lie; return its index and the roots it will reveal."""
        roots = self.honest_roots(batch, self.replica())
        claimed = [list(r) for r in roots]
        if lie is not None:
            batch, claimed = self._lie(batch, lie, claimed)
        queue_end = self.posted_queue_end() + batch.deposits
        index, _ = self.l1.submit(batch, queue_end, self.proposer)
        self.posted.append((index, batch, claimed))
        return index, claimed

    def posted_queue_end(self) -> int:
        """How far the posted batches consumed the L1 queue."""
        return sum(b.deposits for _, b, _ in self.posted)

    def _lie(
        self, batch: Batch, lie: Lie, claimed: list[list[bytes]]
    ) -> tuple[Batch, list[list[bytes]]]:
        roots = claimed[lie.segment]
        if lie.kind in ("root", "silent", "nonce"):
            bad = GARBAGE if lie.kind != "nonce" else self._nonce_root(batch, lie)
            roots[lie.step :] = [bad] * (len(roots) - lie.step)
            return self._with_post(batch, lie.segment, roots[-1]), claimed
        commitment = batch.commitments[lie.segment - 1]
        if lie.kind == "signature":
            forged = replace(commitment, signature=self.bls[1].sign(b"not the commitment"))
            return self._with_commitment(batch, lie.segment, forged), claimed
        # The transaction at the step breaks a rule (the co-signature no longer matches
        # either, but the first faulty step is what the watcher proves).
        txs = list(commitment.txs)
        tx = txs[lie.step]
        if lie.kind == "overspend" and hasattr(tx, "amount"):
            txs[lie.step] = replace(tx, amount=Wei(amounts.round_down(10**30)))  # type: ignore[arg-type]
        elif lie.kind == "duplicate" and len(txs) < 32:
            txs.insert(lie.step + 1, tx)
            roots.insert(lie.step + 1, roots[lie.step])
        else:
            txs[lie.step] = replace(tx, sender=(1 << 24) - 2)
        return self._with_commitment(
            batch, lie.segment, replace(commitment, txs=tuple(txs))
        ), claimed

    def _nonce_root(self, batch: Batch, lie: Lie) -> bytes:
        """The root after the step had the proposer bumped the sender's nonce once more."""
        if lie.segment == 0:
            return GARBAGE
        state = self.replica()
        earlier = replace(batch, commitments=batch.commitments[: lie.segment - 1])
        self.honest_roots(earlier, state)
        commitment = batch.commitments[lie.segment - 1]
        block = BlockContext(commitment.timestamp, batch.fee_recipient)
        for tx in commitment.txs[: lie.step + 1]:
            state_transition(state, tx, block)
        sender = state.accounts[commitment.txs[lie.step].sender]
        state.put_account(replace(sender, nonce=sender.nonce + 1))
        return state.root()

    @staticmethod
    def _with_post(batch: Batch, segment: int, post: bytes) -> Batch:
        if segment == 0:
            return replace(batch, deposits_root=post)
        commitment = replace(batch.commitments[segment - 1], post_root=post)
        return Arena._with_commitment(batch, segment, commitment)

    @staticmethod
    def _with_commitment(batch: Batch, segment: int, commitment: Commitment) -> Batch:
        commitments = list(batch.commitments)
        commitments[segment - 1] = commitment
        return replace(batch, commitments=tuple(commitments))

    # -- fighting ------------------------------------------------------------------------

    def answer(self, batch_index: int, claimed: list[list[bytes]], *, silent: bool) -> None:
        """The (lying) proposer answers every open challenge on its batch."""
        for gid in range(int(self.game.contract.call("challenge_count"))):
            record = self.game.status(gid)
            if record["batch"] != batch_index or record["status"] != 1 or silent:
                continue
            batch = next(b for i, b, _ in self.posted if i == batch_index)
            segment = int(record["segment"])
            raw = batch.commitments[segment - 1].encode() if segment else b""
            receipt = self.game.respond(gid, claimed[segment], raw, self.proposer)
            self.responses.append(receipt)

    def fight(self, batch_index: int, claimed: list[list[bytes]], *, silent: bool) -> list[str]:
        """Run the watcher against the posted batches until its games are over."""
        log = self.watcher.poll()
        self.answer(batch_index, claimed, silent=silent)
        log += self.watcher.poll()
        if silent:
            self.chain.time_travel(self.terms.response_period + 1)
            log += self.watcher.poll()
        return log + self.watcher.poll()

    def random_run(self, rng: random.Random) -> RunResult:
        """One evil-proposer run: honest batches, then a lie at a random step of a
        random segment of a random batch; the watcher fights it. Starts from reset()."""
        self.reset()
        batches = rng.randint(2, 3)
        evil = rng.randint(1, batches)
        for number in range(1, evil + 1):
            if number > 1:
                self.random_traffic(rng, rng.randint(1, 8))
            batch = self.seal()
            if number < evil:
                self.post(batch)
                continue
            segment = rng.randrange(len(batch.commitments) + 1) if batch.commitments else 0
            if segment == 0 and not batch.deposits:
                segment = 1
            count = batch.deposits if segment == 0 else len(batch.commitments[segment - 1].txs)
            kinds = LIES if segment else ("root", "silent")
            lie = Lie(rng.choice(kinds), segment, rng.randrange(count))
            index, claimed = self.post(batch, lie)
        log = self.fight(index, claimed, silent=lie.kind == "silent")
        return self.outcome(index, lie, log)

    def outcome(self, index: int, lie: Lie, log: list[str]) -> RunResult:
        """What the run ended with, on L1."""
        rollup = self.client.contract
        return RunResult(
            lie=lie,
            batch=index,
            reverted=int(rollup.call("batch_count")) == index,
            proposer_bond=int(rollup.call("bond", self.proposer.address)),
            game_balance=int(self.chain.balance(self.game.contract.address)),
            rollup_balance=int(self.chain.balance(rollup.address)),
            owed=self.deposited + int(rollup.call("bond", self.proposer.address)),
            log=log,
        )


@dataclass(frozen=True)
class RunResult:
    """The end of one evil-proposer run."""

    lie: Lie
    batch: int
    reverted: bool
    proposer_bond: int
    game_balance: int
    rollup_balance: int
    owed: int
    log: list[str]

    @property
    def honest_watcher_won(self) -> bool:
        """The lie was reverted, the liar slashed, and no funds are stray."""
        return (self.reverted and self.proposer_bond == 0 and self.game_balance == 0
                and self.rollup_balance == self.owed)  # fmt: skip
