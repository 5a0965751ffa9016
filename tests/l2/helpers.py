"""A small rollup world for tests: funded accounts with keys and co-signers."""

from __future__ import annotations

from dataclasses import dataclass, field

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.envelope import Envelope, seal
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import Deposit, UserTx
from l2gpu.core.types import Address, ChainId, Timestamp, Wei
from l2gpu.node.cosigners import LocalCoSigner
from l2gpu.node.sequencer import Sequencer

CHAIN, ROLLUP = ChainId(31337), Address(b"\x11" * 20)
T0 = 1_800_000_000


@dataclass
class World:
    """Accounts 0..n-1 (0 is the operator, collecting fees) and a sequencer."""

    n: int = 4
    balance: int = 10**18
    state: L2State = field(init=False)
    keys: list[PrivateKey] = field(init=False)
    bls: list[BlsSecretKey] = field(init=False)
    cosigners: dict[int, LocalCoSigner] = field(init=False)
    sequencer: Sequencer = field(init=False)
    now: int = T0
    nonces: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.state = L2State(CHAIN, ROLLUP)
        self.keys = [PrivateKey((i + 100).to_bytes(32, "big")) for i in range(self.n)]
        self.bls = [BlsSecretKey.from_seed(k.secret) for k in self.keys]
        self.cosigners = {i: LocalCoSigner(i, self.bls[i]) for i in range(self.n)}
        self.nonces = [0] * self.n
        self.sequencer = Sequencer(
            self.state, fee_recipient=0, cosigners=self.cosigners, clock=lambda: Timestamp(self.now)
        )
        for i in range(self.n):
            self.sequencer.deposit(self.deposit(i, i, self.balance))
        self.sequencer.seal()

    def deposit(self, queue_index: int, account: int, amount: int) -> Deposit:
        key = self.bls[account]
        address = self.keys[account].address
        return Deposit(queue_index, address, Wei(amount), key.public_key, key.prove_possession())

    def send(self, tx: UserTx, *, cosign: bool = True) -> Envelope:
        sender = tx.sender
        envelope = seal(self.keys[sender], self.sequencer.domain, tx, self.nonces[sender])
        self.sequencer.submit(envelope)
        self.nonces[sender] += 1
        if cosign:
            self.cosigners[sender].expect(tx)
        return envelope

    def expect(self, account: int, tx: UserTx) -> None:
        self.cosigners[account].expect(tx)

    def balance_of(self, account: int) -> int:
        return self.state.accounts[account].balance
