"""The circom toolchain helper: clear errors, the cache, signals by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.zk import toolchain as tc
from l2gpu.zk.toolchain import (
    CircuitCompileError,
    Toolchain,
    ToolchainMissing,
    calculate_witness,
    compile_circuit,
    find_toolchain,
)

SQUARE = """pragma circom 2.0.0;
template Square() {
    signal input x;
    signal output y;
    y <== x * x;
    x * (x - 1) === 0;  // only 0 and 1 pass
}
component main = Square();
"""


def test_a_missing_toolchain_says_run_make_tools(tmp_path: Path) -> None:
    with pytest.raises(ToolchainMissing, match="make tools"):
        find_toolchain(tmp_path)


def test_compiles_once_then_reads_the_cache(toolchain: Toolchain, tmp_path: Path) -> None:
    first = compile_circuit(SQUARE, "square", toolchain=toolchain, cache_dir=tmp_path)
    assert first.r1cs.exists()
    assert first.wasm.exists()
    assert set(first.signals) >= {"main.x", "main.y"}
    marker = first.folder / "square.sym"
    before = marker.stat().st_mtime_ns
    again = compile_circuit(SQUARE, "square", toolchain=toolchain, cache_dir=tmp_path)
    assert again == first
    assert marker.stat().st_mtime_ns == before
    changed = compile_circuit(SQUARE + "\n", "square", toolchain=toolchain, cache_dir=tmp_path)
    assert changed.key != first.key
    assert changed.folder != first.folder


def test_witness_by_signal_name_and_refusals(toolchain: Toolchain, tmp_path: Path) -> None:
    circuit = compile_circuit(SQUARE, "square", toolchain=toolchain, cache_dir=tmp_path)
    witness = calculate_witness(circuit, {"x": 1}, toolchain=toolchain)
    assert witness["main.y"] == 1
    assert witness.values[0] == 1  # wire 0 is the constant one
    with pytest.raises(KeyError, match="no signal"):
        witness["main.z"]
    with pytest.raises(tc.WitnessError, match="Assert Failed"):
        calculate_witness(circuit, {"x": 2}, toolchain=toolchain)
    with pytest.raises(tc.WitnessError, match="Not all inputs"):
        calculate_witness(circuit, {}, toolchain=toolchain)


def test_a_compile_error_shows_circoms_message(toolchain: Toolchain, tmp_path: Path) -> None:
    source = "pragma circom 2.0.0;\ncomponent main = Missing();\n"
    with pytest.raises(CircuitCompileError, match="unknown symbol"):
        compile_circuit(source, "broken", toolchain=toolchain, cache_dir=tmp_path)
    # only the entry's lock file, which holds no output, is left
    left = [p.name for p in (tmp_path / "circuits").iterdir()]
    assert [n for n in left if not n.endswith(".lock")] == [], "no half-written cache entry"


def test_the_key_covers_the_tool_versions(toolchain: Toolchain) -> None:
    newer = Toolchain(
        node=toolchain.node,
        circom_cli=toolchain.circom_cli,
        circomlib=toolchain.circomlib,
        circom_version=toolchain.circom_version,
        circomlib_version=toolchain.circomlib_version + "-next",
    )
    assert tc.circuit_key(SQUARE, newer) != tc.circuit_key(SQUARE, toolchain)
