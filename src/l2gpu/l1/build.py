"""Compile the Vyper sources under ``contracts/`` with the ``vyper`` package.

Outputs are cached on disk by a content hash of every ``.vy`` module and ``.vyi``
interface under the contracts root (a contract may import any of them) and the
compiler version, so a change to any source, imported module or interface, or to
the compiler rebuilds, and nothing else does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import vyper
from vyper.cli.vyper_compile import compile_files
from vyper.exceptions import VyperException

from l2gpu.config import user_cache
from l2gpu.l1.errors import CompileError

_PACKAGE_CONTRACTS = Path(__file__).resolve().parent.parent / "_contracts"
_SOURCE_TREE_CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


@dataclass(frozen=True)
class CompiledContract:
    """A compiled contract: its name, ABI, creation bytecode and the hash of its sources."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    source_hash: str


def contracts_root() -> Path:
    """The folder holding the Vyper sources (the wheel's copy, else the source tree's)."""
    for candidate in (_PACKAGE_CONTRACTS, _SOURCE_TREE_CONTRACTS):
        if candidate.is_dir():
            return candidate
    raise CompileError(
        "no contracts folder found next to the l2gpu package",
        "reinstall l2gpu with 'make install' from a full checkout",
    )


SOURCE_SUFFIXES = (".vy", ".vyi")
"""What the compiler reads: contracts and modules (``.vy``) and interfaces (``.vyi``)."""


def source_hash(root: Path) -> str:
    """SHA-256 over the compiler version and every source file's path and bytes.

    Every ``.vy`` and ``.vyi`` file counts, not only the contract compiled: an
    ``import``ed module or interface is compiled into its users, so a change to it
    must not reuse a build made before it.
    """
    digest = hashlib.sha256(f"vyper {vyper.__version__}\n".encode())
    sources = (path for path in root.rglob("*") if path.suffix in SOURCE_SUFFIXES)
    for path in sorted(sources):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


SHARED_CACHE_DIR: Path | None = user_cache()
"""Where :func:`compile_contract` caches when no ``cache_dir`` is given: the user's
cache folder, keyed by the sources' hash, so that a command or a node compiles each
contract once per source tree, not once per process (a rollup's contracts take
tens of seconds). The test suite points ``XDG_CACHE_HOME`` at one folder of the
checkout, for itself and the commands it runs."""


def compile_contract(
    relative_path: str, *, cache_dir: Path | None = None, root: Path | None = None
) -> CompiledContract:
    """Compile ``contracts/<relative_path>`` (e.g. ``"tokens/TestToken.vy"``), cached.

    Raises :class:`CompileError` when the file is missing or does not compile.
    """
    cache_dir = cache_dir if cache_dir is not None else SHARED_CACHE_DIR
    root = root or contracts_root()
    path = (root / relative_path).resolve()
    if not path.is_file():
        known = ", ".join(str(p.relative_to(root)) for p in sorted(root.rglob("*.vy")))
        raise CompileError(f"no contract {relative_path} under {root}", f"known: {known}")
    tree_hash = source_hash(root)
    name = path.stem
    cache_file = None
    if cache_dir is not None:
        key = hashlib.sha256(f"{tree_hash}:{relative_path}".encode()).hexdigest()[:32]
        cache_file = cache_dir / "contracts" / f"{name}-{key}.json"
        cached = _read_cache(cache_file)
        if cached is not None:
            return cached
    compiled = _compile_uncached(path, root, name, tree_hash)
    if cache_file is not None:
        with contextlib.suppress(OSError):  # a read-only or full cache: compile next time
            _write_cache(cache_file, compiled)
    return compiled


@lru_cache(maxsize=64)
def _compile_in_process(path: Path, root: Path, tree_hash: str) -> tuple[str, str]:
    try:
        out = compile_files([str(path)], ("abi", "bytecode"), paths=[str(root)])
    except VyperException as exc:
        raise CompileError(f"{path.name} does not compile:\n{exc}") from exc
    result = next(iter(out.values()))
    return json.dumps(result["abi"]), result["bytecode"]


def _compile_uncached(path: Path, root: Path, name: str, tree_hash: str) -> CompiledContract:
    abi_json, bytecode_hex = _compile_in_process(path, root, tree_hash)
    return CompiledContract(
        name=name,
        abi=tuple(json.loads(abi_json)),
        bytecode=bytes.fromhex(bytecode_hex.removeprefix("0x")),
        source_hash=tree_hash,
    )


def _read_cache(cache_file: Path) -> CompiledContract | None:
    try:
        data = json.loads(cache_file.read_text())
        return CompiledContract(
            name=data["name"],
            abi=tuple(data["abi"]),
            bytecode=bytes.fromhex(data["bytecode"]),
            source_hash=data["source_hash"],
        )
    except (OSError, ValueError, KeyError):
        return None  # a missing or damaged cache entry is rebuilt


def _write_cache(cache_file: Path, compiled: CompiledContract) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(
        {
            "name": compiled.name,
            "abi": list(compiled.abi),
            "bytecode": compiled.bytecode.hex(),
            "source_hash": compiled.source_hash,
        }
    )
    # Write then rename, so that a crash never leaves a half-written cache entry.
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(payload)
    os.replace(tmp, cache_file)
