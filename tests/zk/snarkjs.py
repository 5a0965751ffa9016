"""snarkjs (installed by ``make tools``) driven from the tests, to cross-check groth16py.

Everything slow is cached on disk by content under the cache folder's ``snarkjs/``:
a powers-of-tau file by its power and the snarkjs version, a circuit's zkey by the
ptau's name and the ``.r1cs`` bytes. A cold run of the small test circuit takes a
few seconds; the transfer circuit's ceremony (power 14) would take minutes, which
is why the zkey tests use a small circuit.

The entropy is fixed: these files are a test's, made to be reproducible, and no
more secret than groth16py's development setup.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from l2gpu.config import user_cache
from l2gpu.zk.toolchain import TOOLS, CompiledCircuit, Toolchain

CLI = TOOLS / "node_modules" / "snarkjs" / "build" / "cli.cjs"
ENTROPY = "l2gpu test ceremony, not secret"


def version() -> str:
    """The installed snarkjs version (part of every cache key)."""
    data = json.loads((CLI.parents[1] / "package.json").read_text())
    return str(data["version"])


def run(
    toolchain: Toolchain, *args: str | Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``snarkjs args...`` under Node; with ``check``, fail with its output."""
    proc = subprocess.run(
        [str(toolchain.node), str(CLI), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snarkjs {' '.join(map(str, args))} failed:\n{proc.stdout}{proc.stderr}"
        )
    return proc


def _cached(path: Path, make: Any) -> Path:
    """``path`` if it exists, else made by ``make(tmp)`` in a temporary file beside it
    and renamed into place (a concurrent run never reads half a file)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=path.suffix)
    os.close(fd)
    try:
        make(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def ptau(toolchain: Toolchain, power: int) -> Path:
    """A phase-1 powers of tau for circuits of up to 2^power constraints, prepared
    for phase 2: new, one contribution, prepare phase2."""
    key = hashlib.sha256(f"snarkjs {version()}\nbn128 {power}\n{ENTROPY}".encode()).hexdigest()
    target = user_cache() / "snarkjs" / f"pot{power}-{key[:16]}.ptau"

    def make(out: Path) -> None:
        with tempfile.TemporaryDirectory() as work:
            fresh, contributed = Path(work) / "0.ptau", Path(work) / "1.ptau"
            run(toolchain, "powersoftau", "new", "bn128", str(power), fresh)
            run(toolchain, "powersoftau", "contribute", fresh, contributed, "--name=l2gpu tests",
                f"-e={ENTROPY}")  # fmt: skip
            run(toolchain, "powersoftau", "prepare", "phase2", contributed, out)

    return _cached(target, make)


def zkey(toolchain: Toolchain, circuit: CompiledCircuit, power: int) -> Path:
    """The final zkey of a phase-2 ceremony for ``circuit``: groth16 setup over
    :func:`ptau`, then one contribution."""
    phase1 = ptau(toolchain, power)
    digest = hashlib.sha256(f"{phase1.name}\n{ENTROPY}\n".encode() + circuit.r1cs.read_bytes())
    target = user_cache() / "snarkjs" / f"{circuit.name}-{digest.hexdigest()[:16]}.zkey"

    def make(out: Path) -> None:
        with tempfile.TemporaryDirectory() as work:
            initial = Path(work) / "0.zkey"
            run(toolchain, "groth16", "setup", circuit.r1cs, phase1, initial)
            run(
                toolchain, "zkey", "contribute", initial, out, "--name=l2gpu tests", f"-e={ENTROPY}"
            )

    return _cached(target, make)


def uncontributed_zkey(toolchain: Toolchain, circuit: CompiledCircuit, power: int) -> Path:
    """The zkey ``groth16 setup`` writes before any phase-2 contribution (its delta is
    still gamma): what an operator might pass by mistake."""
    phase1 = ptau(toolchain, power)
    digest = hashlib.sha256(f"{phase1.name}\nuncontributed\n".encode() + circuit.r1cs.read_bytes())
    target = user_cache() / "snarkjs" / f"{circuit.name}-{digest.hexdigest()[:16]}-0.zkey"

    def make(out: Path) -> None:
        run(toolchain, "groth16", "setup", circuit.r1cs, phase1, out)

    return _cached(target, make)


def export_vk(toolchain: Toolchain, zkey_path: Path, work: Path) -> dict[str, Any]:
    """snarkjs's own ``verification_key.json`` of a zkey."""
    out = work / "verification_key.json"
    run(toolchain, "zkey", "export", "verificationkey", zkey_path, out)
    return dict(json.loads(out.read_text()))


def prove(
    toolchain: Toolchain, zkey_path: Path, wtns: Path, work: Path
) -> tuple[dict[str, Any], list[int]]:
    """snarkjs's proof (``proof.json``) and public signals for a witness file."""
    proof, public = work / "proof.json", work / "public.json"
    run(toolchain, "groth16", "prove", zkey_path, wtns, proof, public)
    return json.loads(proof.read_text()), [int(v) for v in json.loads(public.read_text())]


def verify(
    toolchain: Toolchain, vk: str, public: list[int], proof: dict[str, Any], work: Path
) -> bool:
    """Whether ``snarkjs groth16 verify`` accepts ``proof`` of ``public`` under ``vk``
    (a verification_key.json text)."""
    files = {
        "vk.json": vk,
        "public.json": json.dumps([str(v) for v in public]),
        "proof.json": json.dumps(proof),
    }
    for name, text in files.items():
        (work / name).write_text(text)
    proc = run(toolchain, "groth16", "verify", work / "vk.json", work / "public.json",
               work / "proof.json", check=False)  # fmt: skip
    return proc.returncode == 0 and "OK" in proc.stdout


def installed() -> bool:
    """Whether snarkjs is in the toolchain (``make tools``)."""
    return CLI.exists() and shutil.which("node") is not None
