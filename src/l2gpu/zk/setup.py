"""Groth16 keys for a compiled circuit: a development setup cached on disk, or a ceremony's.

A Groth16 proving key and verifying key come from a trusted setup. Two kinds exist
here, and a key always says which it is (:attr:`Keys.origin`):

- **development** (:func:`dev_setup`): groth16py's single-party setup from the
  circuit's ``.r1cs``. This machine drew the setup's secrets (the "toxic waste"), so
  whoever holds this machine can forge proofs of anything. It is for tests and local
  networks only; its folder holds a file that says so, and so does its metadata.
- **ceremony** (:func:`import_ceremony`): the final ``.zkey`` of a snarkjs phase-2
  ceremony, imported with groth16py's ``import_zkey``. Nobody knows its secrets as
  long as one contributor destroyed theirs. This is what a production verifier uses.

Development keys are cached under ``$XDG_CACHE_HOME/l2gpu/groth16/``, next to the
toolchain's ``circuits/``, in one folder per compiled circuit named by its content
hash (:attr:`CompiledCircuit.key`): the same circuit keeps the same keys across
processes (a deployed verifier contract holds the verifying key, so new keys would
need a new contract), and a changed circuit gets new ones.

Errors::

    L2gpuError
    ├── SetupFailed   groth16py could not make or import the keys
    ├── KeyMismatch   keys made for another circuit (another content hash)
    └── ZkeyError     a ceremony zkey that is not one, or of another circuit's shape
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import groth16py

from l2gpu.config import user_cache
from l2gpu.core.errors import L2gpuError
from l2gpu.zk.toolchain import CompiledCircuit, made_once
from l2gpu.zk.zkey import check_fits

DEV_SETUP_LABEL = (
    "DEVELOPMENT TRUSTED SETUP — single party, toxic waste known to this machine — NOT FOR FUNDS"
)
"""Written into every development key's metadata and into a file of its folder."""
DEV_SETUP_NOTICE = "DEVELOPMENT_TRUSTED_SETUP_NOT_FOR_FUNDS.txt"
_PROVING_KEY = "proving.key"
_VERIFYING_KEY = "verifying.key"
_SNARKJS_VK = "verification_key.json"
_METADATA = "metadata.json"

Origin = Literal["development", "ceremony"]


class SetupFailed(L2gpuError):
    """groth16py could not make or import a circuit's keys."""


class KeyMismatch(L2gpuError):
    """Keys made for another circuit than the one they are used with."""


@dataclass(frozen=True)
class Keys:
    """A circuit's Groth16 keys and where they came from.

    ``circuit_key`` is the content hash of the compiled circuit the keys were made
    for; :func:`check_keys` refuses to use them with any other.
    """

    circuit_name: str
    circuit_key: str
    origin: Origin
    label: str
    proving_key: groth16py.ProvingKey
    verifying_key: groth16py.VerifyingKey

    @property
    def n_public(self) -> int:
        """The number of public signals (outputs, then public inputs) of the circuit."""
        return self.verifying_key.n_public


_LOADED: dict[Path, Keys] = {}
"""Keys read or made in this process, by folder: a proving key takes seconds to load."""


def dev_setup(circuit: CompiledCircuit, *, cache_dir: Path | None = None) -> Keys:
    """The development keys of ``circuit``, made once and cached by its content hash.

    NOT FOR FUNDS: see :data:`DEV_SETUP_LABEL`. Raises :class:`SetupFailed`.
    """
    folder = dev_keys_folder(circuit, cache_dir=cache_dir)
    cached = _LOADED.get(folder)
    if cached is not None:
        return cached
    made = None
    if not (folder / _METADATA).exists():
        with made_once(folder):
            if not (folder / _METADATA).exists():  # or another process made them meanwhile
                made = _setup_into(folder, circuit)
    # Keys this process just made are the ones in the folder: reading them back would
    # cost a proving key's load (13 s of a core for the tests' batch circuit).
    keys = made if made is not None else load_keys(folder, circuit)
    _LOADED[folder] = keys
    return keys


def dev_keys_folder(circuit: CompiledCircuit, *, cache_dir: Path | None = None) -> Path:
    """The folder :func:`dev_setup` keeps ``circuit``'s development keys in (a copy of
    it is what :func:`load_keys` reads on another machine)."""
    root = (cache_dir if cache_dir is not None else user_cache()) / "groth16"
    return root / f"{circuit.name}-{circuit.key[:24]}"


def verifying_key_digest(keys: Keys) -> str:
    """SHA-256 of the verifying key's JSON: what a claimer checks its copy of the keys
    against before proving for a deployed verifier."""
    return hashlib.sha256(keys.verifying_key.to_json().encode()).hexdigest()


def import_ceremony(circuit: CompiledCircuit, zkey: Path) -> Keys:
    """The keys of a snarkjs phase-2 ceremony's final ``zkey`` for ``circuit``.

    The zkey must have been made from this circuit's ``.r1cs`` (``snarkjs groth16
    setup``): one of another shape (wires, public signals, constraints) is refused
    here with :class:`~l2gpu.zk.zkey.ZkeyError`; one of the same shape but other
    constraints gives proofs that fail the prover's own check. Raises
    :class:`SetupFailed` for a file groth16py cannot import.
    """
    check_fits(zkey, circuit.r1cs, circuit.name)
    try:
        proving_key, verifying_key = groth16py.import_zkey(str(zkey))
    except (groth16py.SetupError, groth16py.EncodingError, OSError) as exc:
        raise SetupFailed(
            f"could not import the ceremony key {zkey}: {exc}",
            "pass the final .zkey of a snarkjs Groth16 ceremony over the BN254 curve",
        ) from exc
    vk = json.loads(verifying_key.to_json())
    if vk["vk_delta_2"] == vk["vk_gamma_2"]:
        # snarkjs's groth16 setup leaves delta = gamma (the generator) until the first
        # contribution; with them equal, anyone can forge a proof of anything.
        raise SetupFailed(
            f"{zkey} has no phase-2 contribution (its delta is its gamma): anyone could "
            "forge proofs with it",
            "contribute to it (snarkjs zkey contribute) and pass the final zkey",
        )
    digest = hashlib.sha256(zkey.read_bytes()).hexdigest()
    return Keys(
        circuit_name=circuit.name,
        circuit_key=circuit.key,
        origin="ceremony",
        label=f"snarkjs ceremony zkey sha256 {digest}",
        proving_key=proving_key,
        verifying_key=verifying_key,
    )


def load_keys(folder: Path, circuit: CompiledCircuit) -> Keys:
    """Keys saved in ``folder`` by :func:`dev_setup`, checked to be ``circuit``'s.

    Raises :class:`KeyMismatch` when they were made for another circuit and
    :class:`SetupFailed` when the folder is not a set of keys.
    """
    try:
        metadata = json.loads((folder / _METADATA).read_text())
        proving_key = groth16py.ProvingKey.load(str(folder / _PROVING_KEY))
        verifying_key = groth16py.VerifyingKey.load(str(folder / _VERIFYING_KEY))
    except (OSError, ValueError, groth16py.EncodingError) as exc:
        raise SetupFailed(
            f"{folder} does not hold readable Groth16 keys: {exc}",
            f"delete {folder} to make the development keys again",
        ) from exc
    keys = Keys(
        circuit_name=str(metadata["circuit_name"]),
        circuit_key=str(metadata["circuit_key"]),
        origin="development",
        label=str(metadata["setup"]),
        proving_key=proving_key,
        verifying_key=verifying_key,
    )
    check_keys(keys, circuit)
    return keys


def check_keys(keys: Keys, circuit: CompiledCircuit) -> None:
    """Refuse ``keys`` unless they were made for ``circuit`` (same content hash).

    A proof made with another circuit's key would not verify, or, worse, would verify
    against an old verifier contract for the circuit as it was before an upgrade.
    Raises :class:`KeyMismatch`.
    """
    if keys.circuit_key != circuit.key:
        raise KeyMismatch(
            f"the Groth16 keys were made for circuit {keys.circuit_name} with hash "
            f"{keys.circuit_key[:16]}…, not for {circuit.name} with hash {circuit.key[:16]}…",
            "make keys for this circuit (dev_setup, or a ceremony zkey of its .r1cs) and "
            "deploy the verifier contract generated from them",
        )


def _setup_into(folder: Path, circuit: CompiledCircuit) -> Keys | None:
    """Run the setup in a fresh folder beside ``folder`` and rename it into place, so
    that a process reading the cache never sees keys without their metadata.

    Returns the keys made, or None where another process's keys took the place first
    (they are the ones to use: read them from ``folder``)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{circuit.name}-"))
    try:
        try:
            proving_key, verifying_key = groth16py.setup(str(circuit.r1cs))
        except (groth16py.SetupError, OSError) as exc:
            raise SetupFailed(
                f"the development setup of {circuit.name} failed: {exc}",
                f"delete {circuit.folder} to compile the circuit again",
            ) from exc
        proving_key.save(str(work / _PROVING_KEY))
        verifying_key.save(str(work / _VERIFYING_KEY))
        (work / _SNARKJS_VK).write_text(verifying_key.to_json())
        (work / DEV_SETUP_NOTICE).write_text(
            f"{DEV_SETUP_LABEL}\n\nThese keys come from groth16py's single-party setup run "
            "on this machine. Whoever can read its memory or this folder's history could "
            "forge proofs. Use them for tests and local networks only; production keys "
            "come from a snarkjs phase-2 ceremony (l2gpu.zk.setup.import_ceremony).\n"
        )
        metadata = {
            "setup": DEV_SETUP_LABEL,
            "circuit_name": circuit.name,
            "circuit_key": circuit.key,
            "groth16py": groth16py.__version__,
            "n_public": verifying_key.n_public,
        }
        # The metadata is written last: its presence marks a complete set of keys.
        (work / _METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
        try:
            work.rename(folder)
        except OSError:
            if not (folder / _METADATA).exists():
                raise  # not a race with another process making the same keys
            return None
        return Keys(
            circuit_name=circuit.name,
            circuit_key=circuit.key,
            origin="development",
            label=DEV_SETUP_LABEL,
            proving_key=proving_key,
            verifying_key=verifying_key,
        )
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
