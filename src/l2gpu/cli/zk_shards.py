"""``l2gpu up --design zk --shards N``: N zk rollups (or validiums) on one L1 sharing
one bridge, one process each, as ``l2gpu up --shards N`` runs optimistic shards
(``shards_cmd.py``).

The launcher compiles the batch circuit and makes (or imports) its keys once, deploys
one verifier, one set of Poseidon contracts, the N ZkRollups and the bridge, and
starts ``l2gpu up --design zk --shard I --bridge ADDRESS`` for each: the shard
processes find the circuit and keys in the cache by the circuit's hash, and each
checks that its ZkRollup was deployed for exactly that circuit before it proves.
A zk bridge is recorded apart from an optimistic one (``ZkBridge``,
``ValidiumBridge``), so that a data folder never attaches one design's shards to
the other's node.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.config import Settings
    from l2gpu.core.zk.pubdata import BatchShape
    from l2gpu.l1 import Chain
    from l2gpu.l1.contracts.zk_rollup import ZkRollupClient


@dataclass(frozen=True)
class ZkShardPlan:
    """The zk shards' circuit: the batch shape (as given, and parsed), tree depth, form
    and keys."""

    shape_text: str
    shape: BatchShape
    depth: int
    validium: bool = False
    zkey: Path | None = None
    provers: int | None = None
    """Batches each shard proves at once; by default the cores shared among the shards."""

    @property
    def design(self) -> str:
        """The ``--design`` each shard process runs."""
        return "validium" if self.validium else "zk"

    @property
    def record(self) -> str:
        """The name the bridge is recorded under in the data folder."""
        return "ValidiumBridge" if self.validium else "ZkBridge"

    def options(self, count: int) -> list[str]:
        """The ``up`` options each of the ``count`` shard processes gets."""
        from l2gpu.zk.prover import default_provers

        provers = self.provers if self.provers is not None else default_provers(count)
        out = ["--design", self.design, "--zk-shape", self.shape_text,
               "--zk-depth", str(self.depth), "--provers", str(provers)]  # fmt: skip
        return out + (["--zkey", str(self.zkey)] if self.zkey is not None else [])

    def deploy(
        self, chain: Chain, settings: Settings, operator: LocalAccount, count: int, delay: int
    ) -> Address:
        """Compile the circuit, make or import its keys, deploy the verifier, ``count``
        ZkRollups and their bridge; the bridge's address."""
        from l2gpu.core.zk.state import ZkState
        from l2gpu.l1.build import CompiledContract
        from l2gpu.l1.contracts.bridge import deploy_zk_shards
        from l2gpu.zk.batch_circuit import compile_batch
        from l2gpu.zk.setup import dev_setup, import_ceremony
        from l2gpu.zk.verifier_contract import compile_verifier

        shape = self.shape
        circuit = compile_batch(shape, self.depth, validium=self.validium,
                                cache_dir=settings.cache_dir)  # fmt: skip
        keys = (import_ceremony(circuit, self.zkey) if self.zkey is not None
                else dev_setup(circuit, cache_dir=settings.cache_dir))  # fmt: skip
        built = compile_verifier(keys.verifying_key, title=circuit.name)
        verifier = chain.deploy(
            CompiledContract("BatchVerifier", built.abi, built.bytecode, "generated"),
            sender=operator,
        )
        shards = deploy_zk_shards(
            chain, operator, count, genesis_root=ZkState.empty(self.depth).root(),
            verifier=verifier, circuit_hash=bytes.fromhex(circuit.key), shape=shape,
            depth=self.depth, force_delay=delay, validium=self.validium,
            cache_dir=settings.cache_dir,
        )  # fmt: skip
        return shards.bridge.address


def attach_zk_shard(
    chain: Chain, settings: Settings, bridge_text: str | None, shard: int, validium: bool
) -> ZkRollupClient:
    """Shard ``shard``'s ZkRollup, named by the bridge at ``bridge_text`` (else the one
    the data folder records), checked to be a zk shard of the wanted form."""
    from l2gpu.cli.shards_cmd import shard_address
    from l2gpu.l1 import L1Error
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.contracts.zk_rollup import CONTRACT_SOURCE, ZkRollupClient

    record = "ValidiumBridge" if validium else "ZkBridge"  # ZkShardPlan.record
    address = shard_address(chain, settings, bridge_text, shard, record)
    compiled = compile_contract(CONTRACT_SOURCE, cache_dir=settings.cache_dir)
    rollup = ZkRollupClient(chain, chain.attach(compiled, address))
    try:
        is_validium = rollup.validium()
    except L1Error:  # the call reverted: no VALIDIUM() there
        raise L2gpuError(f"shard {shard} ({address.checksum}) is not a zk rollup",
                         "start it without --design zk: its bridge's shards are "
                         "optimistic rollups") from None  # fmt: skip
    if is_validium != validium:
        kinds = ("zk", "validium")
        raise L2gpuError(f"shard {shard} ({address.checksum}) is a {kinds[is_validium]}",
                         f"pass --design {kinds[is_validium]}")  # fmt: skip
    return rollup
