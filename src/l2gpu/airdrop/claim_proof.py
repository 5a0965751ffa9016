"""The claim circuit compiled, its keys, and a claimer's proof.

The circuit is ``circuits/airdrop_claim.circom`` at the tree's depth
(:data:`l2gpu.core.airdrop.tree.DEPTH`). It is compiled once per machine and its
development keys made once (both cached by content hash: ``l2gpu.zk.toolchain``,
``l2gpu.zk.setup``); proving runs in process with groth16py and every proof is
verified before it is returned (``l2gpu.zk.prover.prove``).

The development keys are NOT FOR FUNDS: whoever ran their setup could forge claims.
``docs/airdrop.md`` says how a ceremony's keys replace them
(:func:`l2gpu.zk.setup.import_ceremony`).
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from l2gpu.core.airdrop.identity import ClaimTarget, Identity, binding_of
from l2gpu.core.airdrop.tree import DEPTH, CommitmentTree, root_of
from l2gpu.core.crypto.poseidon_constants import FIELD_MODULUS
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address
from l2gpu.zk.prover import Proof, prove
from l2gpu.zk.setup import (
    Keys,
    dev_keys_folder,
    dev_setup,
    import_ceremony,
    load_keys,
    verifying_key_digest,
)
from l2gpu.zk.toolchain import CompiledCircuit, InputValue, Toolchain, compile_circuit

PUBLIC_INPUTS = ("root", "nullifier_hash", "airdrop_id", "binding")
"""The circuit's public signals, in the order the verifier takes them."""


def claim_source(depth: int = DEPTH) -> str:
    """The circom file whose main component is the claim circuit at ``depth``."""
    return (
        'pragma circom 2.0.0;\ninclude "airdrop_claim.circom";\n'
        f"component main {{public [{', '.join(PUBLIC_INPUTS)}]}} = AirdropClaim({depth});\n"
    )


def compile_claim(
    depth: int = DEPTH, *, toolchain: Toolchain | None = None, cache_dir: Path | None = None
) -> CompiledCircuit:
    """The compiled claim circuit (cached: only the first call on a machine compiles)."""
    return compile_circuit(
        claim_source(depth), f"airdrop_claim_{depth}", toolchain=toolchain, cache_dir=cache_dir
    )


@dataclass(frozen=True, slots=True)
class ClaimProof:
    """What a claim sends to L1: the proof and its public inputs' values."""

    proof: Proof
    root: int
    nullifier_hash: int
    recipient: Address
    relayer: Address
    fee: int

    def to_json(self) -> dict[str, object]:
        """A claim file's content: everything a relayer needs to send it, nothing about
        the claimer's leaf or account."""
        return {
            "format": "l2gpu-airdrop-claim/1",
            "proof": self.proof.to_bytes().hex(),
            "root": str(self.root),
            "nullifier_hash": str(self.nullifier_hash),
            "recipient": str(self.recipient),
            "relayer": str(self.relayer),
            "fee": str(self.fee),
        }

    @classmethod
    def from_json(cls, data: object, target: ClaimTarget) -> ClaimProof:
        """Read a claim file (:class:`L2gpuError` says what is wrong with it)."""
        try:
            if not isinstance(data, dict) or data.get("format") != "l2gpu-airdrop-claim/1":
                raise ValueError("not a claim file")
            recipient = Address.from_hex(str(data["recipient"]))
            relayer = Address.from_hex(str(data["relayer"]))
            root, nullifier_hash = int(str(data["root"])), int(str(data["nullifier_hash"]))
            fee = int(str(data["fee"]))
            binding = binding_of(target, recipient, relayer, fee)
            public = (root, nullifier_hash, target.airdrop_id, binding)
            proof = Proof.from_bytes(bytes.fromhex(str(data["proof"])), public)
        except (KeyError, ValueError, TypeError, AttributeError, L2gpuError) as exc:
            raise L2gpuError(
                f"the claim file cannot be read: {exc}",
                "give the file 'l2gpu airdrop claim --out' wrote, unchanged",
            ) from exc
        return cls(proof, root, nullifier_hash, recipient, relayer, fee)


def prove_claim(
    identity: Identity,
    tree: CommitmentTree,
    *,
    target: ClaimTarget,
    recipient: Address,
    relayer: Address,
    fee: int,
    keys: Keys | None = None,
    circuit: CompiledCircuit | None = None,
    timings: dict[str, float] | None = None,
) -> ClaimProof:
    """Prove that ``identity``'s commitment is a leaf of ``tree`` and bind the claim to
    the airdrop ``target``, ``recipient``, ``relayer`` (the address that will send it)
    and ``fee``.

    Raises :class:`~l2gpu.core.airdrop.tree.NotInTree` when the commitment is not in
    the tier, and the prover's errors (``l2gpu.zk.prover``) if proving fails.
    """
    circuit = circuit if circuit is not None else compile_claim(tree.depth)
    keys = keys if keys is not None else dev_setup(circuit)
    commitment = identity.commitment()
    path = tree.path(commitment)
    # The tree and the circuit hash the same way; a mismatch is a bug, caught here
    # rather than as a witness error with no explanation.
    assert root_of(commitment, path) == tree.root
    nullifier_hash = identity.nullifier_hash(target.airdrop_id)
    inputs: dict[str, InputValue] = {
        "root": tree.root,
        "nullifier_hash": nullifier_hash,
        "airdrop_id": target.airdrop_id,
        "binding": binding_of(target, recipient, relayer, fee),
        "nullifier": identity.nullifier,
        "trapdoor": identity.trapdoor,
        "index": path.index,
        "siblings": list(path.siblings),
    }
    proof = prove(circuit, inputs, keys=keys, timings=timings)
    return ClaimProof(proof, tree.root, nullifier_hash, recipient, relayer, fee)


def generate_identity() -> Identity:
    """Fresh secrets from the operating system's random source (``secrets``)."""
    return Identity(_random_field_element(), _random_field_element())


def _random_field_element() -> int:
    # Rejection sampling keeps the value uniform over [1, r), not biased by a modulo.
    while True:
        value = secrets.randbits(254)
        if 0 < value < FIELD_MODULUS:
            return value


CEREMONY_ZKEY = "ceremony.zkey"


def export_claim_keys(keys: Keys, circuit: CompiledCircuit, dest: Path,
                      *, zkey: Path | None = None) -> None:  # fmt: skip
    """Copy the keys claimers prove with into ``dest``, published beside
    ``published.json``: the ceremony's ``zkey``, or the development keys' folder."""
    if dest.exists():
        shutil.rmtree(dest)
    if zkey is not None:
        dest.mkdir(parents=True)
        shutil.copyfile(zkey, dest / CEREMONY_ZKEY)
    else:
        shutil.copytree(dev_keys_folder(circuit), dest)


def load_claim_keys(folder: Path, circuit: CompiledCircuit, expected_digest: str) -> Keys:
    """The claim keys published in ``folder``, checked against the verifying key's
    digest in ``published.json``: proving with other keys would give a proof the
    airdrop's verifier refuses."""
    if not folder.is_dir():
        raise L2gpuError(
            f"no claim keys at {folder}",
            "get the claim-keys folder the operator published beside published.json "
            "and pass it with --keys",
        )
    zkey = folder / CEREMONY_ZKEY
    keys = import_ceremony(circuit, zkey) if zkey.exists() else load_keys(folder, circuit)
    if verifying_key_digest(keys) != expected_digest:
        raise L2gpuError(
            f"the claim keys in {folder} are not the ones this airdrop's verifier was made from",
            "get the claim-keys folder published with this airdrop's published.json",
        )
    return keys
