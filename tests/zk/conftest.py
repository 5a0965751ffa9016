"""Fixtures of the zk tests: the circom toolchain and circuits compiled once per session.

The circuits are cached on disk by hash (``l2gpu.zk.toolchain``), so only the first
run on a machine pays for compiling them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from l2gpu.zk.toolchain import (
    CompiledCircuit,
    Toolchain,
    ToolchainMissing,
    compile_circuit,
    find_toolchain,
)

from ..parts import missing_part


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
