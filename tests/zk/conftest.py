"""Fixtures of the zk tests: the circom toolchain and circuits compiled once per session.

The circuits are cached on disk by hash (``l2gpu.zk.toolchain``), so only the first
run on a machine pays for compiling them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from l2gpu.core.zk.transfer import circuit_input
from l2gpu.zk.prover import Proof, prove
from l2gpu.zk.setup import Keys, dev_setup
from l2gpu.zk.toolchain import (
    CompiledCircuit,
    Toolchain,
    ToolchainMissing,
    compile_circuit,
    find_toolchain,
)

from ..parts import missing_part
from . import snarkjs, test_zk_batch
from .test_zk_transfer import BASE, DEPTH, MAIN

PREIMAGE = """pragma circom 2.0.0;
include "circomlib/circuits/poseidon.circom";
// Knowledge of a and b with Poseidon([a, b]) = out: one public signal, 240 constraints.
template Preimage() {
    signal input a;
    signal input b;
    signal output out;
    component hash = Poseidon(2);
    hash.inputs[0] <== a;
    hash.inputs[1] <== b;
    out <== hash.out;
}
component main = Preimage();
"""


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    """node, circom2 and circomlib as ``make tools`` installs them; the test fails
    (never skips silently) where they are missing."""
    try:
        return find_toolchain()
    except ToolchainMissing as exc:
        missing_part(str(exc))
        raise


@pytest.fixture(scope="session")
def circomlib_circuit(toolchain: Toolchain) -> Callable[[str, str, str], CompiledCircuit]:
    """Compile ``component main = <main>;`` over one circomlib file, cached by hash."""
    compiled: dict[str, CompiledCircuit] = {}

    def build(name: str, library_file: str, main: str) -> CompiledCircuit:
        if name not in compiled:
            source = (
                "pragma circom 2.0.0;\n"
                f'include "circomlib/circuits/{library_file}";\n'
                f"component main = {main};\n"
            )
            compiled[name] = compile_circuit(source, name, toolchain=toolchain)
        return compiled[name]

    return build


@pytest.fixture(scope="session")
def snarkjs_tool(toolchain: Toolchain) -> Toolchain:
    """The toolchain, checked to have snarkjs too; fails (never skips) without it."""
    if not snarkjs.installed():
        missing_part(f"snarkjs is not installed at {snarkjs.CLI}; run 'make tools'")
    return toolchain


@pytest.fixture(scope="session")
def transfer_circuit(toolchain: Toolchain) -> CompiledCircuit:
    """``Transfer(8)``, the circuit of test_zk_transfer.py."""
    return compile_circuit(MAIN, f"transfer_{DEPTH}", toolchain=toolchain)


@pytest.fixture(scope="session")
def transfer_keys(transfer_circuit: CompiledCircuit) -> Keys:
    """The development keys of ``Transfer(8)`` (cached on disk by its hash)."""
    return dev_setup(transfer_circuit)


@pytest.fixture(scope="session")
def transfer_proof(
    transfer_circuit: CompiledCircuit, transfer_keys: Keys, toolchain: Toolchain
) -> Proof:
    """A proof of test_zk_transfer.py's base transfer (3 pays 130 100 wei, fee 7)."""
    values = circuit_input(BASE.state, BASE.tx, BASE.signature())
    return prove(transfer_circuit, values, keys=transfer_keys, toolchain=toolchain)


@pytest.fixture(scope="session")
def preimage_circuit(toolchain: Toolchain) -> CompiledCircuit:
    """A small circuit with one public signal, for snarkjs's ceremony and gas figures."""
    return compile_circuit(PREIMAGE, "preimage", toolchain=toolchain)


@pytest.fixture(scope="session")
def batch_circuit(toolchain: Toolchain) -> CompiledCircuit:
    """``Batch(1, 2, 1, 1, 1, 1, 8)`` with ``input_hash`` public, the circuit of
    test_zk_batch.py."""
    return compile_circuit(test_zk_batch.MAIN, test_zk_batch.NAME, toolchain=toolchain)


@pytest.fixture(scope="session")
def batch_keys(batch_circuit: CompiledCircuit) -> Keys:
    """The development keys of ``Batch(1, 2, 1, 1, 1, 1, 8)`` (cached on disk by its hash)."""
    return dev_setup(batch_circuit)


@pytest.fixture(scope="session")
def validium_circuit(toolchain: Toolchain) -> CompiledCircuit:
    """``Batch(1, 2, 1, 1, 1, 1, 8, 1)``: the same batch as a validium, whose public input
    hashes the part L1 keeps and the digest of the part it does not."""
    from l2gpu.zk.batch_circuit import compile_batch

    return compile_batch(test_zk_batch.SHAPE, test_zk_batch.DEPTH, validium=True,
                         toolchain=toolchain)  # fmt: skip


@pytest.fixture(scope="session")
def validium_keys(validium_circuit: CompiledCircuit) -> Keys:
    """The development keys of the validium batch (cached on disk by its hash)."""
    return dev_setup(validium_circuit)
