"""BLAKE-512 against the specification's vectors and against @noble/hashes's blake512."""

from __future__ import annotations

import json
import subprocess

import pytest

from l2gpu.core.crypto.blake512 import blake512
from l2gpu.zk.toolchain import Toolchain

from ..parts import missing_part

# The BLAKE submission's appendix (final round, 2010): one zero byte, and 144 zero bytes.
SPEC_VECTORS = [
    (
        bytes(1),
        "97961587f6d970faba6d2478045de6d1fabd09b61ae50932054d52bc29d31be4"
        "ff9102b9f69e2bbdb83be13d4b9c06091e5fa0b48bd081b634058be0ec49beb3",
    ),
    (
        bytes(144),
        "313717d608e9cf758dcb1eb0f0c3cf9fc150b2d500fb33f51c52afc99d358a2f"
        "1374b8a38bba7974e7f6ef79cab16f22ce1e649d6e01ad9589c213045d545dde",
    ),
]

# Every length up to two blocks and a bit: the padding's edge cases (111, 112, 127,
# 128 bytes) and the counter of a block that holds padding only.
_NOBLE = """
const { blake512 } = require(process.argv[1] + "/@noble/hashes/blake1.js");
const out = [];
for (let n = 0; n < 260; n++) {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (i * 7 + 3) & 255;
    out.push(Buffer.from(blake512(data)).toString("hex"));
}
console.log(JSON.stringify(out));
"""


@pytest.mark.parametrize(("data", "digest"), SPEC_VECTORS)
def test_specification_vectors(data: bytes, digest: str) -> None:
    assert blake512(data).hex() == digest


def test_matches_noble_hashes_for_every_length(toolchain: Toolchain) -> None:
    """@noble/hashes comes with snarkjs (``make tools``): another implementation."""
    modules = toolchain.circomlib.parent
    if not (modules / "@noble/hashes/blake1.js").exists():
        missing_part("@noble/hashes (a dependency of snarkjs) is missing: run 'make tools'")
    proc = subprocess.run(
        [str(toolchain.node), "-e", _NOBLE, str(modules)],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(proc.stdout)
    for n, digest in enumerate(expected):
        data = bytes((i * 7 + 3) & 255 for i in range(n))
        assert blake512(data).hex() == digest, f"length {n}"
