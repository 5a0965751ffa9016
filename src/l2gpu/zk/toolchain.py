"""Compile circom circuits and compute their witnesses with the project's toolchain.

The toolchain is what ``make tools`` installs from npm into ``.tools/``: circom 2 as
WebAssembly under Node (the ``circom2`` package), circomlib and snarkjs. No native
circom binary is needed, so a machine with Node and npm has all of it.

A compiled circuit is cached on disk under the user's cache folder, keyed by a hash
of its source, of every ``.circom`` file in the project's ``circuits/`` folder (a
circuit may include any of them), of the circom and circomlib versions and of the
compiler flags: a change to any of these compiles again, nothing else does.

Errors::

    L2gpuError
    ├── ToolchainMissing      node, circom2 or circomlib is not installed
    ├── CircuitCompileError   circom rejected a circuit
    └── WitnessError          the witness calculator refused an input (a failed
                              constraint assertion, a missing or extra input signal)
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from l2gpu.config import user_cache
from l2gpu.core.errors import L2gpuError

REPO = Path(__file__).resolve().parents[3]
TOOLS = REPO / ".tools"
CIRCUITS = REPO / "circuits"
FLAGS = ("--O2", "--r1cs", "--wasm", "--sym")
"""circom's flags: full constraint simplification, and the outputs a prover and the
witness calculator need."""
_WITNESS_JS = Path(__file__).resolve().parent / "witness.js"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_INSTALL = "run 'make tools' (needs node and npm)"

InputValue = int | Sequence["InputValue"]
"""One input signal's value: a field element, or a (nested) array of them."""


class ToolchainMissing(L2gpuError):
    """Node, circom2 or circomlib is not installed."""


class CircuitCompileError(L2gpuError):
    """circom could not compile a circuit."""


class WitnessError(L2gpuError):
    """The witness calculator refused an input: a failed ``===`` or ``assert``, or a
    missing or unknown input signal."""


@dataclass(frozen=True)
class Toolchain:
    """Where the tools are and which versions they are."""

    node: Path
    circom_cli: Path
    circomlib: Path
    circom_version: str
    circomlib_version: str


@dataclass(frozen=True)
class CompiledCircuit:
    """A circuit compiled by circom: its outputs on disk and its signals by name."""

    name: str
    key: str
    folder: Path

    @functools.cached_property
    def signals(self) -> Mapping[str, int]:
        """Each signal that survived ``--O2`` (the main component's inputs and outputs
        always do) by name, with its index in the witness.

        Read on first use: the batch circuit's ``.sym`` is 95 MB and takes a second of
        CPU to read, and a prover, a node or a benchmark never looks a signal up.
        """
        return _read_signals(self.folder / f"{self.name}.sym")

    @property
    def r1cs(self) -> Path:
        """The constraint system (for a prover's setup)."""
        return self.folder / f"{self.name}.r1cs"

    @property
    def wasm(self) -> Path:
        """The witness calculator's WebAssembly."""
        return self.folder / f"{self.name}_js" / f"{self.name}.wasm"


@dataclass(frozen=True)
class Witness:
    """The values of every wire of a circuit for one input."""

    circuit: CompiledCircuit
    values: tuple[int, ...]

    def __getitem__(self, signal: str) -> int:
        """The value of ``signal`` by its full name, e.g. ``"main.out"``."""
        index = self.circuit.signals.get(signal)
        if index is None:
            raise KeyError(
                f"{self.circuit.name} has no signal {signal!r} in its witness (names look "
                f"like 'main.out'; --O2 drops intermediate signals)"
            )
        return self.values[index]


def find_toolchain(tools: Path | None = None) -> Toolchain:
    """The toolchain under ``tools`` (default: the source tree's ``.tools``).

    Raises :class:`ToolchainMissing` when node, circom2 or circomlib is not there.
    """
    modules = (tools if tools is not None else TOOLS) / "node_modules"
    node = shutil.which("node")
    if node is None:
        raise ToolchainMissing("node is not on PATH", _INSTALL)
    circom_cli = modules / "circom2" / "cli.js"
    circomlib = modules / "circomlib"
    for part, path in (("circom2", circom_cli), ("circomlib", circomlib / "circuits")):
        if not path.exists():
            raise ToolchainMissing(f"{part} is not installed in {modules}", _INSTALL)
    return Toolchain(
        node=Path(node),
        circom_cli=circom_cli,
        circomlib=circomlib,
        circom_version=_package_version(modules / "circom2"),
        circomlib_version=_package_version(circomlib),
    )


def compile_circuit(
    source: str,
    name: str,
    *,
    toolchain: Toolchain | None = None,
    cache_dir: Path | None = None,
) -> CompiledCircuit:
    """Compile the circom ``source`` (a whole file with a ``main`` component), cached.

    ``source`` may ``include "circomlib/circuits/..."`` and any file of the project's
    ``circuits/`` folder by its path inside it. Raises :class:`ToolchainMissing` and
    :class:`CircuitCompileError`.
    """
    if not name.isidentifier():
        raise ValueError(f"circuit name {name!r} must be an identifier (it names files)")
    tc = toolchain if toolchain is not None else find_toolchain()
    key = circuit_key(source, tc)
    root = (cache_dir if cache_dir is not None else user_cache()) / "circuits"
    folder = root / f"{name}-{key[:24]}"
    sym = folder / f"{name}.sym"
    if not sym.exists():
        with made_once(folder):
            if not sym.exists():  # another process may have compiled it meanwhile
                _compile_into(folder, source, name, tc)
    return CompiledCircuit(name=name, key=key, folder=folder)


@contextlib.contextmanager
def made_once(folder: Path) -> Iterator[None]:
    """Hold the machine-wide lock of the cache entry ``folder`` while making it.

    A batch circuit takes minutes to compile and its keys seconds of a core to set up:
    processes that need the same entry at once (the node, a CLI, test workers) wait for
    the first to make it instead of each making it again. The rename into place stays
    the guard against a half-made entry; this lock only saves the repeated work."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def circuit_key(source: str, toolchain: Toolchain) -> str:
    """SHA-256 over the tool versions, the flags, ``source`` and the project's circuits."""
    digest = hashlib.sha256(
        f"circom2 {toolchain.circom_version}\ncircomlib {toolchain.circomlib_version}\n"
        f"{' '.join(FLAGS)}\n".encode()
    )
    digest.update(source.encode() + b"\0")
    if CIRCUITS.is_dir():
        for path in sorted(CIRCUITS.rglob("*.circom")):
            digest.update(str(path.relative_to(CIRCUITS)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def calculate_witness(
    circuit: CompiledCircuit,
    inputs: Mapping[str, InputValue],
    *,
    toolchain: Toolchain | None = None,
) -> Witness:
    """The witness of ``circuit`` for ``inputs`` (main's input signals by short name).

    Raises :class:`WitnessError` when the circuit's assertions reject the input.
    """
    (result,) = calculate_witnesses(circuit, [inputs], toolchain=toolchain)
    if isinstance(result, WitnessError):
        raise result
    return result


def calculate_witnesses(
    circuit: CompiledCircuit,
    inputs: Sequence[Mapping[str, InputValue]],
    *,
    toolchain: Toolchain | None = None,
) -> list[Witness | WitnessError]:
    """One witness, or the error that refused it, per input: one Node process for all."""
    tc = toolchain if toolchain is not None else find_toolchain()
    calculator = circuit.folder / f"{circuit.name}_js" / "witness_calculator.js"
    payload = json.dumps([_decimal(dict(one)) for one in inputs])
    proc = subprocess.run(  # noqa: S603 - fixed program and arguments, no shell
        [str(tc.node), str(_WITNESS_JS), str(calculator), str(circuit.wasm)],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise WitnessError(
            f"the witness calculator of {circuit.name} crashed: {_tail(proc.stderr)}",
            f"delete {circuit.folder} to compile it again",
        )
    results: list[Witness | WitnessError] = []
    for item in json.loads(proc.stdout):
        if "error" in item:
            results.append(
                WitnessError(
                    f"{circuit.name} refused the input: {_tail(item['error'])}",
                    "check the input against the circuit's constraints",
                )
            )
        else:
            results.append(Witness(circuit, tuple(int(v) for v in item["witness"])))
    return results


def _compile_into(folder: Path, source: str, name: str, tc: Toolchain) -> None:
    """Compile in a fresh folder beside ``folder`` and rename it into place, so that
    another process compiling the same circuit never sees half of the outputs."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{name}-")).resolve()
    try:
        (work / f"{name}.circom").write_text(source)
        libraries = [tc.circomlib.resolve().parent]
        if CIRCUITS.is_dir():
            libraries.append(CIRCUITS.resolve())
        # circom2 runs under WASI, which reaches only folders below its working
        # directory and follows no symlinks: run it from a common ancestor of real paths.
        cwd = Path(os.path.commonpath([work, *libraries]))
        args = [str(tc.node), str(tc.circom_cli.resolve()), str(work / f"{name}.circom")]
        args += [*FLAGS, "-o", str(work)]
        for library in libraries:
            args += ["-l", str(library)]
        proc = subprocess.run(  # noqa: S603 - fixed program and arguments, no shell
            args, cwd=cwd, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0 or not (work / f"{name}.sym").exists():
            raise CircuitCompileError(
                f"circom could not compile {name}: {_tail(proc.stdout + proc.stderr)}",
                "fix the circuit, or run 'make tools' if circom itself failed",
            )
        try:
            work.rename(folder)
        except OSError:
            if not (folder / f"{name}.sym").exists():
                raise  # not a race with another compiler of the same circuit
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)


def _read_signals(sym: Path) -> dict[str, int]:
    """Signal name → witness index, from circom's ``.sym`` file (one
    ``label,witness,component,name`` per line; witness -1 for a dropped signal)."""
    signals: dict[str, int] = {}
    for line in sym.read_text().splitlines():
        _label, witness, _component, name = line.split(",", 3)
        if int(witness) >= 0:
            signals[name] = int(witness)
    return signals


def _decimal(value: Any) -> Any:
    """Field elements as decimal strings, as the witness calculator reads them."""
    if isinstance(value, bool):
        raise TypeError("a signal's value is an integer, not a bool")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return {key: _decimal(item) for key, item in value.items()}
    return [_decimal(item) for item in value]


def _package_version(folder: Path) -> str:
    data = json.loads((folder / "package.json").read_text())
    return str(data["version"])


def _tail(text: str, lines: int = 6) -> str:
    """The last lines of a tool's output, without ANSI colours, on one line."""
    plain = _ANSI.sub("", text)
    kept = [line.strip() for line in plain.splitlines() if line.strip()][-lines:]
    return " | ".join(kept)
