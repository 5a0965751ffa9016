"""A deployed rollup on one embedded chain, shared by a test module, and nodes over it.

The chain is set up once (deploy, bond, four users' deposits) and rolled back to
that snapshot for each test, so every test starts from the same L1 and a fresh
node database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.envelope import Envelope, seal
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import UserTx
from l2gpu.core.types import Address, ChainId
from l2gpu.db import open_database
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.cosigning import CoSigners
from l2gpu.node.node import RollupNode

USERS = 4
ETH = 10**18


@dataclass
class Deployed:
    """The chain, the rollup's contract and the users' keys (user i is account i)."""

    chain: Any = field(default_factory=start_embedded_chain)

    def __post_init__(self) -> None:
        self.operator = self.chain.accounts[0]
        users = self.chain.accounts[1 : 1 + USERS]
        self.keys = [PrivateKey(bytes(a.key)) for a in users]
        self.bls = [BlsSecretKey.from_seed(k.secret) for k in self.keys]
        genesis = L2State(ChainId(1), Address(bytes(20))).root()
        client = RollupClient.deploy(self.chain, self.operator, genesis_root=genesis)
        client.stake(self.operator, ETH)
        for account, key in zip(users, self.bls, strict=True):
            client.deposit(account, key, ETH)
        self.contract = client.contract
        self.snapshot = self.chain.snapshot()

    def reset(self) -> None:
        """Back to the state right after the deposits."""
        self.chain.revert(self.snapshot)
        self.snapshot = self.chain.snapshot()

    def node(self, database: Path, cosigners: CoSigners, **options: Any) -> RollupNode:
        """A node over the rollup, recovered from ``database`` (new or not)."""
        client = RollupClient(self.chain, self.contract)
        node = RollupNode(client, open_database(f"sqlite:///{database}"), self.operator,
                          cosigners=cosigners, **options)  # fmt: skip
        node.recover()
        return node

    def envelope(self, node: RollupNode, user: int, tx: UserTx, nonce: int) -> Envelope:
        """``tx`` signed by ``user`` with ``nonce``."""
        return seal(self.keys[user], node.sequencer.domain, tx, nonce)


def wire(envelope: Envelope) -> dict[str, Any]:
    """The JSON body of ``POST /l2/transactions`` for ``envelope``."""
    kind = kind_of(envelope.tx)
    return {"kind": kind, "body": "0x" + encode_tx(kind, envelope.tx).hex(),
            "nonce": envelope.nonce, "signature": "0x" + envelope.signature.hex()}  # fmt: skip
