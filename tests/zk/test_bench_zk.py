"""``l2gpu bench zk``'s pieces at depth 8 with tiny shapes: every figure follows what
was compiled, proven and sent to L1 (more transfers, more constraints and bytes), none
is written down. The default run (depth 24) is the same code with larger circuits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from l2gpu.bench import zk
from l2gpu.core.zk.pubdata import DEPOSIT_BYTES, HEADER_BYTES, TRANSFER_BYTES, BatchShape
from l2gpu.zk.r1cs import R1csError, read_header
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

from . import snarkjs

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

DEPTH = 8
# each with one slot to open, close and reclaim a channel, and a 71-byte header
# (and one forced exit's)
SMALL = BatchShape(1, 2, 1)  # 307 bytes of public data: 5 SHA-256 blocks
LARGE = BatchShape(1, 3, 1)  # 319 bytes: 6 blocks with SHA's padding; one more ABI word


def test_the_r1cs_header_is_what_snarkjs_reads(
    preimage_circuit: CompiledCircuit, snarkjs_tool: Toolchain
) -> None:
    header = read_header(preimage_circuit.r1cs)
    info = snarkjs.run(snarkjs_tool, "r1cs", "info", preimage_circuit.r1cs).stdout
    found = dict(re.findall(r"# of (\w[\w ]*\w): (\d+)", info))
    assert header.constraints == int(found["Constraints"])
    assert header.wires == int(found["Wires"])
    assert (header.public_outputs, header.public_inputs) == (1, 0)


def test_a_file_that_is_not_r1cs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.r1cs"
    path.write_bytes(b"wtns" + bytes(20))
    with pytest.raises(R1csError, match="not a version 1"):
        read_header(path)


def test_sha256_blocks_follow_the_public_data() -> None:
    assert [zk.sha256_blocks(s) for s in (SMALL, LARGE)] == [5, 6]
    assert zk.sha256_blocks(BatchShape(1, 7, 1)) == 6  # 367 bytes: the length still fits
    assert zk.sha256_blocks(BatchShape(1, 8, 1)) == 7  # 379 bytes: the length spills over


def test_a_slot_crossing_a_sha256_block_is_charged_its_share_only() -> None:
    block = 30_000
    # two transfers more, one SHA-256 block more: each transfer's own 10,000 plus 12/64
    low, high = BatchShape(1, 6, 1), BatchShape(1, 8, 1)
    cost = zk.slot_cost((low, 100_000), (high, 150_000), TRANSFER_BYTES, block)
    assert cost.between_shapes == 25_000
    assert cost.amortized == 10_000 + 12 * block / 64


def test_a_full_batch_has_only_signed_transfers() -> None:
    shape = BatchShape(1, 5, 1)
    batch = zk.full_of_transfers(shape, DEPTH)
    start = HEADER_BYTES + DEPOSIT_BYTES
    size = TRANSFER_BYTES
    slots = [batch.result.pubdata[start + size * i : start + size * (i + 1)] for i in range(5)]
    assert all(slot[:3] != bytes(3) for slot in slots)  # no no-op among them
    assert batch.result.new_state.root() != batch.genesis.root()
    assert zk.full_of_transfers(shape, DEPTH, seed=1).result.pubdata != batch.result.pubdata


def test_the_projection_is_the_line_through_the_points() -> None:
    assert zk.line_at(((2, 300), (4, 500)), 1_000) == 300 + 100 * 998


def test_figures_follow_the_batches(toolchain: Toolchain) -> None:
    figures = zk.run(depth=DEPTH, small=SMALL, large=LARGE, rounds=1, slot_kinds=False,
                     provers=2)  # fmt: skip
    # constraints: read from the two compiled circuits, one transfer slot apart
    more, fewer = (
        figures["constraints_batch_1_3_1_1_1_1_1"],
        figures["constraints_batch_1_2_1_1_1_1_1"],
    )
    assert more > fewer
    assert figures["constraints_per_transfer_between_shapes"] == more - fewer
    # the two shapes are a SHA-256 block apart: a transfer is charged its 12 bytes' share
    block = figures["sha256_constraints_per_block"]
    assert zk.sha256_blocks(LARGE) - zk.sha256_blocks(SMALL) == 1
    assert figures["constraints_per_transfer"] == round(more - fewer - block + 12 * block / 64)
    # L1: the signed transactions of two accepted batches
    sizes, gas = figures["l1_bytes_batch"], figures["submit_batch_gas"]
    calldata = figures["l1_calldata_bytes_batch"]
    # 36 transfer bytes take one ABI word more
    assert calldata["1_3_1_1_1_1_1"] == calldata["1_2_1_1_1_1_1"] + 32
    # the signed transactions add their signatures, whose r and s drop a leading zero
    # byte in RLP one time in 256 each
    assert abs(sizes["1_3_1_1_1_1_1"] - sizes["1_2_1_1_1_1_1"] - 32) <= 2
    assert all(sizes[s] - calldata[s] in range(100, 120) for s in sizes)
    assert abs(figures["l1_bytes_per_transfer"] - 32) <= 2
    assert figures["pubdata_bytes_per_transfer"] == TRANSFER_BYTES
    assert gas["1_3_1_1_1_1_1"] > gas["1_2_1_1_1_1_1"] > figures["verify_gas_per_batch"] > 150_000
    assert figures["l1_gas_per_transfer"]["1_2_1_1_1_1_1"] == gas["1_2_1_1_1_1_1"] / 2
    # the line through the two batches (less their proofs' random bytes) at 1,000
    line = figures["l1_gas_per_transfer_1000_projected_line"]
    assert figures["l1_gas_per_transfer_marginal"] < line < gas["1_3_1_1_1_1_1"] / 3
    floor = figures["l1_gas_per_transfer_1000_projected_floor"]
    assert floor > zk.FLOOR_GAS_PER_TOKEN * TRANSFER_BYTES  # at least one token per byte
    assert figures["l1_gas_per_transfer_1000_projected"] == max(floor, line)
    # proving: real proofs, timed
    assert len(figures["prove_seconds_batch_runs"]) == 1
    assert figures["prove_seconds_witness"] + figures["prove_seconds_groth16"] > 0
    # measured, not assumed: the CPU the Groth16 part kept busy, in cores
    assert 0 < figures["prove_groth16_cores_used"] <= figures["cores"] + 0.1
    assert figures["prove_seconds_per_transfer"] == round(figures["prove_seconds_batch"] / 3, 3)
    # the prover's rate over the large batch's constraints, and a transfer's own cost at
    # it (from the unrounded seconds: within the rounding of prove_seconds_batch)
    rate = figures["prove_seconds_batch"] / more
    assert figures["prove_us_per_constraint"] == pytest.approx(1e6 * rate, rel=1e-3)
    at_scale = figures["prove_seconds_per_transfer_at_scale"]
    assert at_scale == pytest.approx(figures["constraints_per_transfer"] * rate, rel=1e-3)
    assert 0 < at_scale < figures["prove_seconds_per_transfer"]  # the fixed slots, shared
    # two more large batches proven at once, a thread each, as a node with --provers 2
    wave = figures["prove_seconds_parallel_wave"]
    assert figures["prove_parallel_provers"] == 2
    assert figures["prove_seconds_parallel_wave_runs"] == [wave]
    assert figures["prove_seconds_per_transfer_parallel"] == pytest.approx(wave / 6, abs=1e-3)
    speedup = 2 * figures["prove_seconds_batch"] / wave
    assert figures["prove_parallel_speedup"] == pytest.approx(speedup, abs=0.02)
    # the figure is rounded to 3 places (a clean clone's run saw 0.407 for 0.4065)
    assert figures["prove_seconds_per_transfer_at_scale_parallel"] == pytest.approx(
        figures["constraints_per_transfer"] * wave / (2 * more), abs=1e-3
    )
