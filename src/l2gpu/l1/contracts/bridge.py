"""Client of the shards' Bridge, and the deployment of N rollup shards around it.

Each shard is a whole Rollup (its own dispute game, sequencer and state) that names
the bridge, and the bridge lists the shards; neither can change later. As with a
rollup and its dispute game, the one deployed first must know the address of the
one deployed after it, so the bridge's address is *predicted* from the deployer's
nonce (every shard is five contracts), and the bridge's constructor checks that
each shard names it: a prediction spoiled by a transaction in between reverts the
bridge instead of leaving shards that trust a stranger.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.bls_points import g2_point
from l2gpu.core.l2.state import L2State
from l2gpu.core.shards.bridge import Move, bridge_domain
from l2gpu.core.types import Address
from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.l1 import Chain, DeployedContract, L1Error, Receipt, compile_contract
from l2gpu.l1.contracts.dispute_deploy import create_address
from l2gpu.l1.contracts.rollup import SEVEN_DAYS, TWELVE_HOURS, RollupClient
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient, deploy_hashers

CONTRACT_SOURCE = "bridge/Bridge.vy"
CONTRACTS_PER_SHARD = 5  # BlsVerifier, StepVerifier, SignatureVerifier, DisputeGame, Rollup


class BridgeClient:
    """Typed access to one deployed Bridge."""

    def __init__(self, chain: Chain, contract: DeployedContract) -> None:
        self.chain = chain
        self.contract = contract
        self.address = contract.address
        self.domain = bridge_domain(chain.chain_id, contract.address)

    @property
    def shard_count(self) -> int:
        """How many shards share the bridge."""
        return int(self.contract.call("shard_count"))

    def shard_addresses(self) -> list[Address]:
        """The shards' Rollup addresses, in shard order."""
        return [self.contract.call("shards", i) for i in range(self.shard_count)]

    def shard_of(self, address: Address) -> int:
        """The shard ``address`` belongs to, as L1 says."""
        return int(self.contract.call("shard_of", address))

    def deposit(self, account: LocalAccount, key: BlsSecretKey, amount: int) -> Receipt:
        """Deposit ``amount`` wei to ``account``'s own shard, with its BLS key."""
        return self.contract.transact(
            "deposit", key.public_key, key.prove_possession(), g2_point(key.public_key),
            sender=account, value=amount,
        )  # fmt: skip

    def deposit_zk(self, account: LocalAccount, key: tuple[int, int], amount: int) -> Receipt:
        """Deposit ``amount`` wei to ``account``'s own zk shard, with its Baby Jubjub key."""
        encoded = key[0].to_bytes(32, "big") + key[1].to_bytes(32, "big")
        return self.contract.transact("deposit", encoded, b"", b"", sender=account, value=amount)

    def front(self, provider: LocalAccount, move: Move, signature: bytes) -> Receipt:
        """Front ``move``: deliver its amount less its fee on the target shard now."""
        return self.contract.transact("front", move.as_tuple(), signature, sender=provider,
                                      value=move.amount - move.fee)  # fmt: skip

    def relay(
        self,
        sender: LocalAccount,
        move: Move,
        signature: bytes,
        state_at_batch: L2State,
        batch_index: int,
    ) -> Receipt:
        """Carry ``move`` with its exit's proof from the source state as of ``batch_index``."""
        parts = state_at_batch.parts()
        proof = (batch_index, state_at_batch.exit_tree.proof(move.exit_index), parts.accounts_root,
                 parts.channels_root, parts.deposits_processed, parts.exit_count)  # fmt: skip
        return self.contract.transact("relay", move.as_tuple(), signature, proof, sender=sender)

    def relay_proven(self, sender: LocalAccount, move: Move, signature: bytes,
                     withdrawal_slots: int) -> Receipt:  # fmt: skip
        """Carry ``move`` from a zk shard: its batch is proven whole, so the exit needs
        no Merkle proof, only its batch (``exit_index // withdrawal_slots``)."""
        proof: tuple[int, list[bytes], bytes, bytes, int, int] = (
            move.exit_index // withdrawal_slots,
            [],
            bytes(32),
            bytes(32),
            0,
            0,
        )
        return self.contract.transact("relay", move.as_tuple(), signature, proof, sender=sender)

    def landed(self, move: Move) -> bool:
        """Whether ``move``'s message has landed."""
        return bool(self.contract.call("landed", self.contract.call("message_of", move.as_tuple())))

    def fronted_by(self, move: Move) -> Address | None:
        """Who fronted ``move``'s message, if anyone."""
        who = self.contract.call("fronted_by", self.contract.call("message_of", move.as_tuple()))
        return None if who == Address(bytes(20)) else who


@dataclass
class ShardSet:
    """A bridge and its shards, in shard order."""

    bridge: BridgeClient
    shards: list[RollupClient]


def deploy_shards(
    chain: Chain,
    sender: LocalAccount,
    count: int,
    *,
    genesis_root: bytes,
    challenge_window: int = SEVEN_DAYS,
    force_delay: int = TWELVE_HOURS,
    min_bond: int = 10**18,
    cache_dir: Path | None = None,
) -> ShardSet:
    """Deploy ``count`` rollup shards and the bridge they share, all from ``sender``."""
    _check_count(count)
    me = Address.from_hex(sender.address)
    start = chain.w3.eth.get_transaction_count(sender.address, "pending")
    predicted = create_address(me, start + CONTRACTS_PER_SHARD * count)
    shards = [
        RollupClient.deploy(
            chain,
            sender,
            genesis_root=genesis_root,
            challenge_window=challenge_window,
            force_delay=force_delay,
            min_bond=min_bond,
            bridge=predicted,
            cache_dir=cache_dir,
        )
        for _ in range(count)
    ]
    return ShardSet(_deploy_bridge(chain, sender, shards, predicted, cache_dir), shards)


def _check_count(count: int) -> None:
    if not 1 <= count <= 64:
        raise L1Error(f"{count} shards is outside 1..64", "deploy between 1 and 64 shards")


def _deploy_bridge(
    chain: Chain,
    sender: LocalAccount,
    shards: list[RollupClient] | list[ZkRollupClient],
    predicted: Address,
    cache_dir: Path | None,
) -> BridgeClient:
    """The bridge of ``shards``, checked to be where they expect it."""
    compiled = compile_contract(CONTRACT_SOURCE, cache_dir=cache_dir)
    contract = chain.deploy(compiled, [s.address for s in shards], sender=sender)
    if contract.address != predicted:
        raise L1Error(
            "the bridge was not deployed where its shards expect it",
            "deploy again from an account with no transactions in flight",
        )
    return BridgeClient(chain, contract)


@dataclass
class ZkShardSet:
    """A bridge and its zk shards, in shard order, over one verifier."""

    bridge: BridgeClient
    shards: list[ZkRollupClient]


def deploy_zk_shards(
    chain: Chain,
    sender: LocalAccount,
    count: int,
    *,
    genesis_root: int,
    verifier: DeployedContract,
    circuit_hash: bytes,
    shape: BatchShape,
    depth: int,
    force_delay: int = TWELVE_HOURS,
    validium: bool = False,
    cache_dir: Path | None = None,
) -> ZkShardSet:
    """Deploy ``count`` zk rollup shards over one verifier and one set of Poseidon
    contracts, and the bridge they share, all from ``sender``; as with
    :func:`deploy_shards`, the bridge's address is predicted from the nonce."""
    _check_count(count)
    hashers = deploy_hashers(chain, sender, cache_dir)
    me = Address.from_hex(sender.address)
    predicted = create_address(
        me, chain.w3.eth.get_transaction_count(sender.address, "pending") + count
    )
    shards = [
        ZkRollupClient.deploy(
            chain,
            sender,
            genesis_root=genesis_root,
            verifier=verifier,
            circuit_hash=circuit_hash,
            shape=shape,
            depth=depth,
            force_delay=force_delay,
            validium=validium,
            bridge=predicted,
            hashers=hashers,
            cache_dir=cache_dir,
        )
        for _ in range(count)
    ]
    return ZkShardSet(_deploy_bridge(chain, sender, shards, predicted, cache_dir), shards)
