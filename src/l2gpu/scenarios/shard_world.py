"""Rollup shards on one embedded L1, sharing one bridge, each with a sequencer in
process: what the bridge's tests and ``l2gpu bench shards`` (the cross-shard
figures) run transfers between shards on.

Every shard is the whole rollup (its contract, dispute game and the Python
sequencer the node runs); only the HTTP around a node is left out, since a move
between shards is about L1 and the two sequencers, not about transport. The
throughput figures of ``bench shards`` run real ``l2gpu up`` processes instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.codec import Batch
from l2gpu.core.l2.envelope import seal
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import Transfer, UserTx, Withdraw
from l2gpu.core.shards.bridge import Move, sign_move
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.types import Address, ChainId, Timestamp, Wei
from l2gpu.l1 import Chain, Receipt
from l2gpu.l1.contracts.bridge import ShardSet, deploy_shards
from l2gpu.l1.contracts.rollup import SEVEN_DAYS, RollupClient
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.cosigners import LocalCoSigner
from l2gpu.node.sequencer import Sequencer

ETH = 10**18
FEE = Wei(10**12)


@dataclass
class Shard:
    """One shard: its contract, its L2 state and its sequencer, and what it posted."""

    number: int
    client: RollupClient
    state: L2State
    sequencer: Sequencer
    cosigners: dict[int, LocalCoSigner] = field(default_factory=dict)
    nonces: dict[int, int] = field(default_factory=dict)
    # The state as of each posted batch (index -> state), for exit proofs.
    posted: dict[int, L2State] = field(default_factory=dict)


class ShardWorld:
    """``count`` shards and their bridge on an embedded chain; the chain's accounts
    1.. are users (each on its own shard), account 0 operates every shard."""

    def __init__(self, count: int, *, chain: Chain | None = None,
                 challenge_window: int = SEVEN_DAYS) -> None:  # fmt: skip
        self.chain: Any = chain or start_embedded_chain()
        self.operator: LocalAccount = self.chain.accounts[0]
        self.challenge_window = challenge_window
        genesis = L2State(ChainId(self.chain.chain_id), Address(bytes(20))).root()
        self.set: ShardSet = deploy_shards(self.chain, self.operator, count, genesis_root=genesis,
                                           challenge_window=challenge_window)  # fmt: skip
        self.bridge = self.set.bridge
        for client in self.set.shards:
            client.stake(self.operator, ETH)
        self._setup = self.chain.snapshot()
        self.shards: list[Shard] = []
        self._fresh_shards()

    def reset(self) -> None:
        """Back to the shards as deployed and bonded: nothing deposited or posted."""
        self.chain.revert(self._setup)
        self._setup = self.chain.snapshot()
        self._fresh_shards()

    def _fresh_shards(self) -> None:
        self.shards = []
        for number, deployed in enumerate(self.set.shards):
            client = RollupClient(self.chain, deployed.contract)  # its own log reader
            state = L2State(ChainId(self.chain.chain_id), client.address)
            cosigners: dict[int, LocalCoSigner] = {}
            sequencer = Sequencer(state, fee_recipient=0, cosigners=cosigners,
                                  clock=lambda: Timestamp(self.chain.timestamp()))  # fmt: skip
            self.shards.append(Shard(number, client, state, sequencer, cosigners))

    # -- users -------------------------------------------------------------------------

    def account(self, who: int) -> LocalAccount:
        """The chain's account ``who``."""
        account: LocalAccount = self.chain.accounts[who]
        return account

    def address(self, who: int) -> Address:
        """Account ``who``'s address."""
        return Address.from_hex(self.account(who).address)

    def key(self, who: int) -> PrivateKey:
        """Account ``who``'s secp256k1 key."""
        return PrivateKey(bytes(self.account(who).key))

    def bls(self, who: int) -> BlsSecretKey:
        """Account ``who``'s BLS key (derived from its secp256k1 key)."""
        return BlsSecretKey.from_seed(self.key(who).secret)

    def home(self, who: int) -> Shard:
        """The shard account ``who`` lives on (the routing rule)."""
        return self.shards[shard_of(self.address(who), len(self.shards))]

    def users_on(self, shard: int, count: int) -> list[int]:
        """The first ``count`` user accounts (1..) that live on ``shard``."""
        found = [w for w in range(1, len(self.chain.accounts)) if self.home(w).number == shard]
        return found[:count]

    def index(self, shard: Shard, who: int) -> int:
        """Account ``who``'s L2 index on ``shard``."""
        return shard.state.by_address[self.address(who)]

    def deposit(self, who: int, amount: int) -> Receipt:
        """Deposit through the bridge (to ``who``'s own shard)."""
        return self.bridge.deposit(self.account(who), self.bls(who), amount)

    def send(self, shard: Shard, who: int, tx: UserTx) -> None:
        """``who`` signs ``tx`` and hands it to ``shard``'s sequencer."""
        index = self.index(shard, who)
        shard.cosigners.setdefault(index, LocalCoSigner(index, self.bls(who))).expect(tx)
        nonce = shard.nonces.get(index, 0)
        shard.sequencer.submit(seal(self.key(who), shard.sequencer.domain, tx, nonce))
        shard.nonces[index] = nonce + 1

    def post(self, shard: Shard) -> int | None:
        """Seal what waits (L1's queue first) and post it; the batch index, or None."""
        batch = self.seal_waiting(shard)
        if batch is None:
            return None
        index, _ = shard.client.submit(batch, shard.state.deposits_processed, self.operator)
        shard.posted[index] = copy.deepcopy(shard.state)
        return index

    def post_lie(self, shard: Shard, owner: int, amount: int) -> tuple[int, int]:
        """A lying proposer: seal what waits, and post it with a root whose exits hold
        one more, ``amount`` for ``owner``, that nobody burned; (batch, that exit).
        ``posted`` keeps the lie, so that a proof against it checks."""
        report = self.seal_waiting(shard)
        if report is None or not report.commitments:
            raise ValueError("a lie needs a commitment to hang on: send a transaction first")
        fake = copy.deepcopy(shard.state)
        exit_ = fake.add_exit(self.address(owner), Wei(amount))
        last = replace(report.commitments[-1], post_root=fake.root())
        batch = replace(report, commitments=(*report.commitments[:-1], last))
        index, _ = shard.client.submit(batch, shard.state.deposits_processed, self.operator)
        shard.posted[index] = fake
        return index, exit_.index

    def seal_waiting(self, shard: Shard) -> Batch | None:
        """Seal what waits on ``shard`` (L1's queue first), without posting it."""
        for operation in shard.client.new_operations():
            shard.sequencer.deposit(operation)
        return shard.sequencer.seal().batch

    def balance(self, shard: Shard, who: int) -> int:
        """``who``'s L2 balance on ``shard`` (0 without an account)."""
        account = shard.state.account_of(self.address(who))
        return 0 if account is None else int(account.balance)

    # -- moves between shards -----------------------------------------------------------

    def burn(self, who: int, amount: int) -> tuple[Shard, int, int]:
        """``who`` withdraws ``amount`` on its shard to move it; (shard, exit, batch)."""
        shard = self.home(who)
        self.send(shard, who, Withdraw(self.index(shard, who), Wei(amount), FEE))
        batch = self.post(shard)
        assert batch is not None
        return shard, len(shard.state.exits) - 1, batch

    def move(self, who: int, exit_index: int, to_shard: int, to: int, amount: int,
             fee: int = 0) -> tuple[Move, bytes]:  # fmt: skip
        """``who``'s signed move of exit ``exit_index`` to account ``to`` on ``to_shard``."""
        move = Move(self.home(who).number, exit_index, self.address(who), amount, to_shard,
                    self.address(to), fee)  # fmt: skip
        return move, sign_move(self.key(who), self.bridge.domain, move)

    def relay(self, move: Move, signature: bytes, batch: int, sender: int = 0) -> Receipt:
        """Carry ``move`` with a proof from the source shard's state as of ``batch``."""
        source = self.shards[move.from_shard]
        return self.bridge.relay(self.account(sender), move, signature, source.posted[batch], batch)

    def transfer(self, shard: Shard, sender: int, to: int, amount: int) -> None:
        """An L2 transfer on ``shard`` (both accounts live there)."""
        self.send(shard, sender, Transfer(self.index(shard, sender), self.index(shard, to),
                                          Wei(amount), FEE))  # fmt: skip
