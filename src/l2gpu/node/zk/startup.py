"""The zk node's start-up checks: the keys, the circuit and the verifier on L1 agree.

A node whose keys were made for another circuit than the contract verifies, or whose
verifying key is not the deployed verifier's (development keys on one side and a
ceremony's on the other), would make proofs L1 refuses: it is refused at start, with
what to do, rather than at its first post.
"""

from __future__ import annotations

from l2gpu.core.errors import L2gpuError
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
from l2gpu.zk.setup import Keys, check_keys
from l2gpu.zk.toolchain import CompiledCircuit
from l2gpu.zk.verifier_contract import compile_verifier


class CircuitMismatch(L2gpuError):
    """The node's keys were made for another circuit than the contract verifies."""


def check_circuit(rollup: ZkRollupClient, circuit: CompiledCircuit, keys: Keys) -> None:
    """Refuse keys of another circuit, and a contract whose verifier was generated for
    another circuit (after an upgrade of one side only). Raises :class:`CircuitMismatch`
    or :class:`~l2gpu.zk.setup.KeyMismatch`."""
    check_keys(keys, circuit)
    on_l1 = rollup.circuit_hash()
    if on_l1 != bytes.fromhex(keys.circuit_key):
        raise CircuitMismatch(
            f"ZkRollup {rollup.address} verifies circuit {on_l1.hex()[:16]}…, but the node's "
            f"keys are for {circuit.name} with hash {keys.circuit_key[:16]}…: its proofs "
            "would be refused",
            "start the node with the circuit and keys the contract was deployed for, or "
            "deploy a ZkRollup with the verifier generated from these keys",
        )


def check_verifier(rollup: ZkRollupClient, circuit: CompiledCircuit, keys: Keys) -> None:
    """Refuse a deployed rollup whose verifier holds another verifying key of this
    circuit than ``keys``'s: development keys on L1 and a ceremony's in the node, or the
    other way round (the circuit hash alone cannot tell them apart). Run when a node
    attaches to a rollup it did not deploy in this process. Raises
    :class:`CircuitMismatch`."""
    # The verifier holds its key as constants: its runtime code is part of the code its
    # deployment ran, and another key gives other code (compiled once, cached on disk).
    ours = compile_verifier(keys.verifying_key, title=circuit.name).bytecode
    deployed = rollup.verifier_code()
    if not deployed or deployed not in ours:
        raise CircuitMismatch(
            f"ZkRollup {rollup.address} verifies {circuit.name} under another verifying key "
            f"than the node's {keys.origin} keys ({keys.label}): its proofs would be refused",
            "start the node with the keys the contract was deployed for (the same --zkey, "
            "or none for development keys), or use another --data-dir to deploy anew",
        )
