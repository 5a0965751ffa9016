"""Groth16 proofs over BN254 for compiled circom circuits, with groth16py (arkworks).

The witness is computed by the project's toolchain (circom2's WebAssembly witness
calculator under Node, :func:`l2gpu.zk.toolchain.calculate_witness`), written as a
``.wtns`` file and proved by ``groth16py.prove_wtns``. groth16py's in-process
``prove(pk, inputs)`` is not used: it needs a key from its own ``setup_circom``,
which compiles the circuit again with the circom crates and circomlib vendored in
the wheel. That is a second compiler whose constraint system must match ours wire
for wire; the witness calculator we already test against the Python spec is the
one that should feed the prover.

Every proof is verified before :func:`prove` returns it: a proof that does not
verify (a key of another circuit, a bug in an encoding) raises :class:`ProofError`
and never reaches L1.

Encodings of a proof (:class:`Proof` holds the points as the curve defines them):

- ``Proof.b`` is ``((x0, x1), (y0, y1))``: each G2 coordinate an element
  ``c0 + c1·u`` of Fp2, as snarkjs's ``proof.json`` writes it;
- :meth:`Proof.evm_b` and :meth:`Proof.to_bytes` swap each pair to ``(c1, c0)``,
  the order the EVM pairing precompile (EIP-197) reads, which is also what a
  verifier contract's ``verifyProof(a, b, c, pub)`` takes.

Errors::

    L2gpuError
    ├── ProofError     no valid proof came out (the proof failed its own check)
    ├── WitnessError   (toolchain) the circuit refused the input
    └── KeyMismatch    (setup) keys made for another circuit
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import groth16py

from l2gpu.core.errors import L2gpuError
from l2gpu.zk.setup import Keys, check_keys, dev_setup
from l2gpu.zk.toolchain import (
    CompiledCircuit,
    InputValue,
    Toolchain,
    Witness,
    calculate_witness,
)

SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617
"""r: the order of BN254's groups; witnesses and public inputs live in [0, r)."""
BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583
"""p: the field of BN254's point coordinates."""

G1 = tuple[int, int]
G2 = tuple[tuple[int, int], tuple[int, int]]


_GROTH16_ERRORS = (
    groth16py.SetupError,
    groth16py.WitnessError,
    groth16py.EncodingError,
    groth16py.VerificationError,
    ValueError,
)
"""What groth16py raises for a key and a witness that do not fit together."""


class ProofError(L2gpuError):
    """The prover made no valid proof."""


@dataclass(frozen=True)
class Proof:
    """A Groth16 proof and the public signals it proves.

    ``a`` and ``c`` are G1 points ``(x, y)``; ``b`` is a G2 point
    ``((x0, x1), (y0, y1))`` in Fp2's natural order (see the module docstring for
    the EVM's). ``public`` are the circuit's public signals: its outputs, then its
    public inputs, in declaration order.
    """

    a: G1
    b: G2
    c: G1
    public: tuple[int, ...]

    def evm_b(self) -> G2:
        """``b`` as the EVM pairing precompile and the verifier contract read it:
        ``((x1, x0), (y1, y0))``."""
        (x0, x1), (y0, y1) = self.b
        return (x1, x0), (y1, y0)

    def to_bytes(self) -> bytes:
        """The 256-byte Ethereum encoding: a.x, a.y, b.x1, b.x0, b.y1, b.y0, c.x, c.y,
        each 32 bytes big-endian (groth16py's and snarkjs's calldata order)."""
        (bx1, bx0), (by1, by0) = self.evm_b()
        words = (*self.a, bx1, bx0, by1, by0, *self.c)
        return b"".join(word.to_bytes(32, "big") for word in words)

    @classmethod
    def from_bytes(cls, blob: bytes, public: Sequence[int]) -> Proof:
        """Read the 256-byte Ethereum encoding (:meth:`to_bytes`)."""
        if len(blob) != 256:
            raise ProofError(
                f"a Groth16 proof is 256 bytes, got {len(blob)}",
                "pass the a, b, c words of one proof, 32 bytes each",
            )
        w = [int.from_bytes(blob[i : i + 32], "big") for i in range(0, 256, 32)]
        return cls(
            a=(w[0], w[1]), b=((w[3], w[2]), (w[5], w[4])), c=(w[6], w[7]), public=tuple(public)
        )

    def to_snarkjs(self) -> dict[str, Any]:
        """The proof as snarkjs's ``proof.json`` (projective, decimal strings)."""
        (x0, x1), (y0, y1) = self.b
        return {
            "pi_a": [str(self.a[0]), str(self.a[1]), "1"],
            "pi_b": [[str(x0), str(x1)], [str(y0), str(y1)], ["1", "0"]],
            "pi_c": [str(self.c[0]), str(self.c[1]), "1"],
            "protocol": "groth16",
            "curve": "bn128",
        }

    def calldata(self) -> tuple[list[int], list[list[int]], list[int], list[int]]:
        """The arguments of the verifier contract's ``verifyProof(a, b, c, pub)``."""
        (bx1, bx0), (by1, by0) = self.evm_b()
        return list(self.a), [[bx1, bx0], [by1, by0]], list(self.c), list(self.public)


def prove(
    circuit: CompiledCircuit,
    inputs: Mapping[str, InputValue],
    *,
    keys: Keys | None = None,
    toolchain: Toolchain | None = None,
    timings: dict[str, float] | None = None,
) -> Proof:
    """A verified proof that ``inputs`` satisfy ``circuit``.

    ``keys`` default to the circuit's development keys (:func:`dev_setup`, NOT FOR
    FUNDS). ``timings``, when given, receives the seconds of each part: ``witness``
    (the calculator under Node, starting it included), ``groth16`` (writing the
    ``.wtns`` and groth16py's proof) and ``check`` (verifying it), and ``groth16_cpu``
    the CPU seconds the process spent in the ``groth16`` part.

    Raises :class:`~l2gpu.zk.setup.KeyMismatch` for another circuit's keys,
    :class:`~l2gpu.zk.toolchain.WitnessError` when the circuit refuses ``inputs``, and
    :class:`ProofError` when the proof does not verify under ``keys``.
    """
    keys = keys if keys is not None else dev_setup(circuit)
    check_keys(keys, circuit)
    started = time.perf_counter()
    witness = calculate_witness(circuit, inputs, toolchain=toolchain)
    witnessed, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="l2gpu-wtns-") as folder:
        wtns = Path(folder) / f"{circuit.name}.wtns"
        write_wtns(wtns, witness.values)
        try:
            blob = groth16py.prove_wtns(keys.proving_key, str(wtns))
        except _GROTH16_ERRORS as exc:
            raise ProofError(
                f"groth16py could not prove {circuit.name}: {exc}",
                "check that the keys were made from this circuit's .r1cs",
            ) from exc
    proved, groth16_cpu = time.perf_counter(), time.process_time() - cpu
    proof = Proof.from_bytes(blob, public_signals(witness, keys.n_public))
    # The check that makes "never return a bad proof" true whatever went wrong above.
    valid = verify(keys.verifying_key, proof, proof.public)
    if timings is not None:
        timings["witness"] = witnessed - started
        timings["groth16"] = proved - witnessed
        timings["check"] = time.perf_counter() - proved
        # CPU seconds of every thread of this process: groth16py 0.2.0 proves on one
        # core (this over ``groth16`` is 1.0), which the benchmark reports.
        timings["groth16_cpu"] = groth16_cpu
    if not valid:
        raise ProofError(
            f"the proof of {circuit.name} does not verify under its own verifying key "
            f"({keys.origin} keys: {keys.label})",
            "the keys do not belong to this circuit's constraint system: make them again "
            "from its .r1cs",
        )
    return proof


def verify(vk: groth16py.VerifyingKey, proof: Proof, public_inputs: Sequence[int]) -> bool:
    """Whether ``proof`` proves ``public_inputs`` under ``vk``.

    False, never an exception, for anything that is not a valid proof: a wrong
    number of inputs, an input outside ``[0, r)`` (it would alias ``input - r``), a
    coordinate outside ``[0, p)``, a point off the curve or outside its subgroup.
    """
    if len(public_inputs) != vk.n_public:
        return False
    if any(not 0 <= value < SCALAR_FIELD for value in public_inputs):
        return False
    words = (*proof.a, *proof.b[0], *proof.b[1], *proof.c)
    if any(not 0 <= word < BASE_FIELD for word in words):
        return False
    try:
        return groth16py.Verifier(vk).verify(proof.to_bytes(), list(public_inputs))
    except (groth16py.EncodingError, groth16py.VerificationError):
        return False


MAX_DEFAULT_PROVERS = 4
"""The most batches a node proves at once unless told otherwise: each proof holds its
own witness and the prover's buffers in memory (hundreds of MB at depth 24)."""


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU
    quota where one is set (a container limited to 2 CPUs on a 64-core host)."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota == "max":
            return cores
        return max(1, min(cores, int(quota) // max(1, int(period))))
    except (OSError, ValueError):
        return cores  # no cgroup v2 quota here, or one this does not read


PROOF_MEMORY_PER_R1CS_BYTE = 6.5
"""What one proof in flight adds to a process's memory, per byte of the circuit's
``.r1cs``: measured on the tests' batch circuit (an 83 MB ``.r1cs``; the peak resident
memory rose by 526 MB for one proof and by 1,049 MB for two at once)."""


def default_provers(processes: int = 1, r1cs: Path | None = None) -> int:
    """How many batches a zk node proves at once by default: one per usable core, shared
    among ``processes`` nodes on this machine, at least 1 and at most
    :data:`MAX_DEFAULT_PROVERS`. groth16py proves on one thread, so a second core
    proves a second batch, not the same batch faster. Given the circuit's ``r1cs``,
    also no more proofs than half the memory available now holds
    (:data:`PROOF_MEMORY_PER_R1CS_BYTE`)."""
    provers = min(MAX_DEFAULT_PROVERS, usable_cores() // max(1, processes))
    available = _available_memory() if r1cs is not None else None
    if r1cs is not None and available is not None:
        per_proof = PROOF_MEMORY_PER_R1CS_BYTE * r1cs.stat().st_size
        provers = min(provers, int(available / 2 / max(1, processes) // max(1.0, per_proof)))
    return max(1, provers)


def _available_memory() -> int | None:
    """The memory this process may still take, in bytes: /proc/meminfo's MemAvailable,
    capped by a cgroup v2 memory limit where one is set (a container's); None where
    neither can be read."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        available = None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            left = max(0, int(limit) - used)
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass  # no cgroup v2 memory limit here, or one this does not read
    return available


def public_signals(witness: Witness, n_public: int) -> tuple[int, ...]:
    """The public signals of a circom witness: wires 1 to ``n_public`` (wire 0 is
    the constant 1; circom numbers the outputs, then the public inputs, first)."""
    return witness.values[1 : 1 + n_public]


def write_wtns(path: Path, values: Sequence[int]) -> None:
    """Write ``values`` as an iden3 binary witness (``.wtns``, version 2), the file
    snarkjs and ``groth16py.prove_wtns`` read.

    Layout: magic ``wtns``, version, section count; section 1 (field size in bytes,
    the prime r, the number of wires); section 2 (each wire, little-endian). All
    integers little-endian.
    """
    size = 32
    header = struct.pack("<I", size) + SCALAR_FIELD.to_bytes(size, "little")
    header += struct.pack("<I", len(values))
    body = b"".join(value.to_bytes(size, "little") for value in values)
    with path.open("wb") as out:
        out.write(b"wtns" + struct.pack("<II", 2, 2))
        out.write(struct.pack("<IQ", 1, len(header)) + header)
        out.write(struct.pack("<IQ", 2, len(body)) + body)
