"""A ZkRollup over the Batch(1, 2, 1, 8) verifier on the embedded chain, and zk nodes
over it on one SQLite database (a restart is a new node on the same file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.core.zk.state import ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer
from l2gpu.core.zk.withdrawal import WithdrawalTx, sign_withdrawal
from l2gpu.db import open_database
from l2gpu.l1 import Chain
from l2gpu.l1.build import CompiledContract
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
from l2gpu.node.zk.node import Prover, ZkNode
from l2gpu.node.zk.records import SignedTx
from l2gpu.node.zk.recovery import open_node
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain
from l2gpu.zk.verifier_contract import compile_verifier

ETH = 10**18
SHAPE = BatchShape(deposits=1, transfers=2, withdrawals=1)
DEPTH = 8
SECRETS = {i: bytes([i]) * 32 for i in (1, 2, 3)}  # the L2 keys of L1 accounts 1, 2, 3
FEE_ACCOUNT = 1  # L1 account 1 deposits first: it is the operator's fee account


def l2_key(who: int) -> tuple[int, int]:
    point = eddsa.public_key(SECRETS[who])
    return point.x, point.y


def transfer(who: int, to: int, amount: int, fee_code: int, nonce: int) -> SignedTx:
    tx = TransferTx(who, to, amount, fee_code, nonce)
    return SignedTx(tx, sign_transfer(SECRETS[who], tx))


def withdrawal(who: int, amount: int, nonce: int) -> SignedTx:
    tx = WithdrawalTx(who, amount, nonce)
    return SignedTx(tx, sign_withdrawal(SECRETS[who], tx))


@dataclass
class NodeWorld:
    chain: Chain
    circuit: CompiledCircuit
    keys: Keys
    toolchain: Toolchain
    database: Path
    circuit_hash: bytes | None = None
    validium: bool = False

    def __post_init__(self) -> None:
        built = compile_verifier(self.keys.verifying_key, title=self.circuit.name)
        verifier = self.chain.deploy(
            CompiledContract("BatchVerifier", built.abi, built.bytecode, "generated"),
            sender=self.chain.accounts[0],
        )
        circuit_hash = self.circuit_hash or bytes.fromhex(self.circuit.key)
        self.rollup = ZkRollupClient.deploy(
            self.chain, self.chain.accounts[0], genesis_root=ZkState.empty(DEPTH).root(),
            verifier=verifier, circuit_hash=circuit_hash, shape=SHAPE, depth=DEPTH,
            force_delay=3600, validium=self.validium,
        )  # fmt: skip

    def deposit(self, who: int, amount: int) -> None:
        self.rollup.deposit(self.chain.accounts[who], l2_key(who), amount)

    def node(self, prover: Prover | None = None, provers: int = 1) -> ZkNode:
        """A node on the world's database (a new one is a restart), proving ``provers``
        batches at once."""
        return open_node(
            ZkRollupClient(self.chain, self.rollup.contract),
            open_database(f"sqlite:///{self.database}"), self.chain.accounts[0],
            self.circuit, self.keys, fee_account=FEE_ACCOUNT, toolchain=self.toolchain,
            prover=prover, provers=provers,
        )  # fmt: skip
