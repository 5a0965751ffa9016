"""The batch circuit of one shape and tree depth: its circom source, compiled and cached.

``Batch(nDeposits, nTransfers, nWithdrawals, nOpens, nCloses, nReclaims,
nForcedExits, depth, validium)`` of ``circuits/batch.circom`` with its one public
input, as ``ZkRollup.vy`` verifies it (``validium`` 1: the public input of a batch
whose transfer and channel sections stay off L1). The source and name are the ones
the tests compile, so a node and the tests share the compiled circuit and
its development keys (both cached by content hash).
"""

from __future__ import annotations

from pathlib import Path

from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain, compile_circuit


def batch_source(shape: BatchShape, depth: int, *, validium: bool = False) -> str:
    """The circom file whose main component is the batch circuit of ``shape``/``depth``."""
    return (
        'pragma circom 2.0.0;\ninclude "batch.circom";\n'
        "component main {public [input_hash]} = "
        f"Batch({', '.join(str(n) for n in shape.sections)}, {depth}, {int(validium)});\n"
    )


def batch_name(shape: BatchShape, depth: int, *, validium: bool = False) -> str:
    """The circuit's name (it names its files): ``batch_D_T_W_O_C_R_F_depth``, or
    ``validium_D_T_W_O_C_R_F_depth``."""
    kind = "validium" if validium else "batch"
    return f"{kind}_{'_'.join(str(n) for n in shape.sections)}_{depth}"


def compile_batch(
    shape: BatchShape,
    depth: int,
    *,
    validium: bool = False,
    toolchain: Toolchain | None = None,
    cache_dir: Path | None = None,
) -> CompiledCircuit:
    """The compiled batch circuit (cached by hash: only the first call compiles).
    Raises :class:`~l2gpu.zk.toolchain.ToolchainMissing` and
    :class:`~l2gpu.zk.toolchain.CircuitCompileError`."""
    return compile_circuit(batch_source(shape, depth, validium=validium),
                           batch_name(shape, depth, validium=validium),
                           toolchain=toolchain, cache_dir=cache_dir)  # fmt: skip
