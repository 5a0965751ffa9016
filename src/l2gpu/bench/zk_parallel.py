"""The ``zk`` suite's proving throughput with several provers: what a zk node started
with ``--provers P`` proves per second on this machine.

groth16py proves on one thread, so one proof at a time keeps one core busy whatever
the machine has. The node proves up to ``P`` sealed batches at once, a thread each
(groth16py releases the GIL while it proves), sharing one loaded proving key, and
posts them in order (:meth:`l2gpu.node.zk.node.ZkNode.prove_and_post`). This module
times exactly that: ``P`` different batches of the same shape, each full of real
signed transfers, proven side by side by ``prove`` in a thread each, the wall time
from the first start to the last proof (each proof checked before it counts).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.zk.prover import prove
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit


@dataclass(frozen=True, slots=True)
class WaveTimes:
    """Median wall seconds of proving ``provers`` batches at once, over the rounds."""

    provers: int
    seconds: float
    runs: tuple[float, ...]


def timed_waves(circuit: CompiledCircuit, keys: Keys, inputs: list[Any], rounds: int) -> WaveTimes:
    """Prove every one of ``inputs`` (one batch's circuit input each) at once, a thread
    each, ``rounds`` times; the median wall seconds of a round."""
    runs = []
    with ThreadPoolExecutor(len(inputs), thread_name_prefix="zk-prover") as pool:
        for _ in range(rounds):
            started = time.perf_counter()
            futures = [pool.submit(prove, circuit, batch, keys=keys) for batch in inputs]
            for future in futures:
                future.result()  # a proof that does not verify raises here
            runs.append(time.perf_counter() - started)
    return WaveTimes(len(inputs), statistics.median(runs), tuple(runs))


def parallel_figures(
    wave: WaveTimes, one_batch_seconds: float, shape: BatchShape, batch_constraints: int,
    constraints_per_transfer: int,
) -> dict[str, Any]:  # fmt: skip
    """The figures of ``wave`` (batches of ``shape``), beside one batch alone's
    ``one_batch_seconds``: throughput per transfer, and at scale (a transfer's own
    constraints at the rate the provers reached together)."""
    batches = wave.provers
    return {
        "prove_parallel_provers": batches,
        "prove_seconds_parallel_wave": round(wave.seconds, 3),
        "prove_seconds_parallel_wave_runs": [round(t, 3) for t in wave.runs],
        "prove_parallel_speedup": round(batches * one_batch_seconds / wave.seconds, 2),
        "prove_seconds_per_transfer_parallel": round(wave.seconds / (batches * shape.transfers), 3),
        "prove_us_per_constraint_parallel": round(
            1e6 * wave.seconds / (batches * batch_constraints), 2
        ),
        "prove_seconds_per_transfer_at_scale_parallel": round(
            constraints_per_transfer * wave.seconds / (batches * batch_constraints), 3
        ),
    }
