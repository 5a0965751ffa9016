"""The header of a circom ``.r1cs`` file: how many constraints and wires a circuit has.

The format is iden3's (``r1csfile``): the magic ``r1cs``, a version (1), the number
of sections, then each section as ``type (u32) | size (u64) | bytes``, all integers
little-endian. Section 1, the header, holds ``field_size (u32) | prime | n_wires (u32)
| n_pub_out (u32) | n_pub_in (u32) | n_prv_in (u32) | n_labels (u64) |
n_constraints (u32)``. Read here rather than through ``snarkjs r1cs info``, which
starts Node and loads the whole file to print the same numbers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from l2gpu.core.errors import L2gpuError

_MAGIC = b"r1cs"
_HEADER_SECTION = 1


class R1csError(L2gpuError):
    """The file is not a circom constraint system this reader knows."""


@dataclass(frozen=True, slots=True)
class R1csHeader:
    """The counts of a constraint system, as ``snarkjs r1cs info`` prints them."""

    prime: int
    wires: int
    public_outputs: int
    public_inputs: int
    private_inputs: int
    labels: int
    constraints: int


def read_header(path: Path) -> R1csHeader:
    """The header of the ``.r1cs`` file at ``path`` (reads only up to the header)."""
    with path.open("rb") as file:
        magic, version, sections = struct.unpack("<4sII", _exactly(file.read(12), 12, path))
        if magic != _MAGIC or version != 1:
            raise R1csError(
                f"{path} is not a version 1 circom .r1cs file", "compile the circuit again"
            )
        for _ in range(sections):
            kind, size = struct.unpack("<IQ", _exactly(file.read(12), 12, path))
            if kind != _HEADER_SECTION:
                file.seek(size, 1)  # the constraints and wire map come before it sometimes
                continue
            (field_size,) = struct.unpack("<I", _exactly(file.read(4), 4, path))
            prime = int.from_bytes(_exactly(file.read(field_size), field_size, path), "little")
            wires, out, pub, prv, labels, constraints = struct.unpack(
                "<IIIIQI", _exactly(file.read(28), 28, path)
            )
            return R1csHeader(prime, wires, out, pub, prv, labels, constraints)
    raise R1csError(f"{path} has no header section", "compile the circuit again")


def _exactly(data: bytes, size: int, path: Path) -> bytes:
    if len(data) != size:
        raise R1csError(f"{path} ends early", "compile the circuit again")
    return data
