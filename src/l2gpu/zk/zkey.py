"""The header of a snarkjs ``.zkey``: the circuit shape a ceremony's keys were made for.

groth16py's ``import_zkey`` takes any Groth16 zkey over BN254 and nothing ties it to
the circuit it will prove; keys of another circuit only show up as proofs that fail
the prover's own check, at the first batch. The zkey's Groth16 header says how many
wires, public signals and evaluation points the ceremony's circuit had, so a zkey
made from another ``.r1cs`` is refused before anything starts (:func:`check_fits`).

The format is iden3's binary file (``binfileutils``): the magic ``zkey``, a version,
the number of sections, then each section as ``type (u32) | size (u64) | bytes``,
little-endian. Section 1 holds the protocol (1 is Groth16); section 2 the Groth16
header ``n8q (u32) | q | n8r (u32) | r | n_vars (u32) | n_public (u32) |
domain_size (u32) | points...``. Read here because groth16py exposes none of it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from l2gpu.core.errors import L2gpuError
from l2gpu.zk.r1cs import read_header

_MAGIC = b"zkey"
_PROTOCOL_SECTION, _GROTH16_SECTION = 1, 2
_GROTH16 = 1


class ZkeyError(L2gpuError):
    """The file is not a snarkjs Groth16 zkey, or not one of this circuit."""


@dataclass(frozen=True, slots=True)
class ZkeyHeader:
    """What a Groth16 zkey says of the circuit its keys were made for."""

    wires: int
    public: int  # the public signals: outputs, then public inputs
    domain_size: int  # a power of two above constraints + public signals


def read_zkey_header(path: Path) -> ZkeyHeader:
    """The Groth16 header of the zkey at ``path`` (reads only its first sections)."""
    try:
        with path.open("rb") as file:
            return _read(file, path)
    except OSError as exc:
        raise ZkeyError(f"cannot read the zkey {path}: {exc.strerror or exc}",
                        "pass the path of a ceremony's final .zkey") from exc  # fmt: skip


def _read(file: BinaryIO, path: Path) -> ZkeyHeader:
    magic, _version, sections = struct.unpack("<4sII", _exactly(file.read(12), 12, path))
    if magic != _MAGIC:
        raise ZkeyError(f"{path} is not a snarkjs .zkey (it does not start with 'zkey')",
                        "pass the final .zkey of a snarkjs Groth16 ceremony")  # fmt: skip
    protocol: int | None = None
    for _ in range(sections):
        kind, size = struct.unpack("<IQ", _exactly(file.read(12), 12, path))
        if kind == _PROTOCOL_SECTION:
            (protocol,) = struct.unpack("<I", _exactly(file.read(4), 4, path))
            file.seek(size - 4, 1)
            if protocol != _GROTH16:
                break
        elif kind == _GROTH16_SECTION and protocol == _GROTH16:
            (n8q,) = struct.unpack("<I", _exactly(file.read(4), 4, path))
            file.seek(n8q, 1)
            (n8r,) = struct.unpack("<I", _exactly(file.read(4), 4, path))
            file.seek(n8r, 1)
            wires, public, domain = struct.unpack("<III", _exactly(file.read(12), 12, path))
            return ZkeyHeader(wires, public, domain)
        else:
            file.seek(size, 1)
    raise ZkeyError(
        f"{path} is not a Groth16 zkey (no Groth16 header before its keys)",
        "make the ceremony with 'snarkjs groth16 setup', not plonk or fflonk",
    )


def check_fits(zkey: Path, r1cs: Path, circuit_name: str) -> None:
    """Refuse ``zkey`` unless it was made for a circuit of ``r1cs``'s shape: the same
    wires and public signals, and a domain that holds its constraints.

    The shape is what a zkey records of its circuit: one with the same counts but
    other constraints passes here and fails the prover's check at the first proof.
    """
    theirs, ours = read_zkey_header(zkey), read_header(r1cs)
    public = ours.public_outputs + ours.public_inputs
    needed = ours.constraints + public + 1  # snarkjs adds a row per public signal, and one
    if theirs.wires != ours.wires or theirs.public != public or theirs.domain_size < needed:
        raise ZkeyError(
            f"{zkey} was made for another circuit: {theirs.wires} wires and "
            f"{theirs.public} public signals over a domain of {theirs.domain_size}, but "
            f"{circuit_name} has {ours.wires} wires, {public} public signals and "
            f"{ours.constraints} constraints",
            f"run the ceremony's phase 2 on {circuit_name}'s .r1cs ({r1cs.name}) and pass "
            "its final zkey",
        )


def _exactly(data: bytes, size: int, path: Path) -> bytes:
    if len(data) != size:
        raise ZkeyError(f"{path} ends early: it is not a whole zkey",
                        "copy the ceremony's final zkey again")  # fmt: skip
    return data
