"""A claimer's secrets, the commitment registered for them, and the nullifier hash.

A claimer makes two random field elements, the *nullifier* and the *trapdoor*, and
keeps them. What the operator (and, inside a Merkle root, the chain) ever sees:

- the **commitment** ``Poseidon([nullifier, trapdoor])``, registered once, off
  chain, beside the account that earned the reward;
- at claim time, the **nullifier hash** ``Poseidon([nullifier, airdrop_id])``,
  which L1 records so that the same secrets claim once. It cannot be linked to the
  commitment without the nullifier (Poseidon is one-way), and it differs from one
  airdrop to the next, so claims of two airdrops by one person are not linkable
  either. The trapdoor keeps a commitment from being opened by guessing the
  nullifier alone.

This is Semaphore's construction (identity commitment, external nullifier) reduced
to what an airdrop needs; ``circuits/airdrop_claim.circom`` computes the same two
hashes inside the proof.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from l2gpu.core.crypto import poseidon
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.poseidon_constants import FIELD_MODULUS
from l2gpu.core.errors import L2gpuError

SECRETS_FORMAT = "l2gpu-airdrop-identity/1"


class BadIdentity(L2gpuError):
    """A secrets file or a commitment that cannot be one of ours."""


def _field_element(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadIdentity(
            f"{name} is not an integer", "use the file 'l2gpu airdrop register' wrote"
        )
    if not 0 < value < FIELD_MODULUS:
        raise BadIdentity(
            f"{name} is not a nonzero element of BN254's scalar field",
            "use the file 'l2gpu airdrop register' wrote",
        )
    return value


@dataclass(frozen=True, slots=True)
class Identity:
    """A claimer's two secrets. Whoever holds them can claim the reward: keep the file
    that holds them as you would a private key."""

    nullifier: int
    trapdoor: int

    def __post_init__(self) -> None:
        _field_element(self.nullifier, "the nullifier")
        _field_element(self.trapdoor, "the trapdoor")

    def commitment(self) -> int:
        """What the claimer registers: ``Poseidon([nullifier, trapdoor])``."""
        return poseidon.hash([self.nullifier, self.trapdoor])

    def nullifier_hash(self, airdrop_id: int) -> int:
        """What L1 records when this identity claims from airdrop ``airdrop_id``."""
        return poseidon.hash([self.nullifier, airdrop_id])

    def to_json(self) -> str:
        """The secrets file's text."""
        return json.dumps(
            {
                "format": SECRETS_FORMAT,
                "nullifier": str(self.nullifier),
                "trapdoor": str(self.trapdoor),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Identity:
        """Read a secrets file; :class:`BadIdentity` says what is wrong with it."""
        try:
            data = json.loads(text)
            if data.get("format") != SECRETS_FORMAT:
                raise BadIdentity(
                    f"not an airdrop secrets file (format {data.get('format')!r})",
                    "give the file 'l2gpu airdrop register' wrote",
                )
            return cls(_decimal(data["nullifier"]), _decimal(data["trapdoor"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadIdentity(
                f"the secrets file cannot be read: {exc}",
                "give the file 'l2gpu airdrop register' wrote, unchanged",
            ) from exc


def _decimal(value: object) -> int:
    # Only the decimal strings to_json writes: a bool, a float or "1e5" is not a secret.
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,78}", value):
        raise ValueError("a secret is written as a string of decimal digits")
    return int(value)


def check_commitment(commitment: int) -> int:
    """``commitment`` if it can be a leaf (a nonzero field element; 0 marks an empty
    leaf), else :class:`BadIdentity`."""
    return _field_element(commitment, "the commitment")


def airdrop_id_of(chain_id: int, name: str, salt: bytes) -> int:
    """The airdrop's identifier as the circuit and ``Airdrop.vy`` take it: keccak256
    of the chain, the airdrop's name and its operator's random ``salt``, reduced into
    the field. A claim's nullifier hash depends on it, so two airdrops' claims by one
    person are unlinkable, and a registration signed for one airdrop is refused by
    every other, whatever its name."""
    digest = keccak256(chain_id.to_bytes(32, "big") + salt + name.encode())
    return int.from_bytes(digest, "big") % FIELD_MODULUS


@dataclass(frozen=True, slots=True)
class ClaimTarget:
    """The one deployed airdrop a claim is for: its contract, its chain and its id."""

    airdrop: bytes
    chain_id: int
    airdrop_id: int


def binding_of(target: ClaimTarget, recipient: bytes, relayer: bytes, fee: int) -> int:
    """The claim's ``binding`` public input, as ``Airdrop.vy`` computes it:
    ``keccak256(abi.encode(airdrop, chain_id, recipient, relayer, fee))`` shifted right
    by 3 bits, so it is below the field's modulus without a reduction the contract
    would have to do. The contract's address and chain are in it so that a proof is
    good for one deployment only, even if another shares the airdrop id and roots."""
    if len(target.airdrop) != 20 or len(recipient) != 20 or len(relayer) != 20:
        raise ValueError("the airdrop, recipient and relayer are 20-byte addresses")
    if not 0 <= fee < 2**256:
        raise ValueError("fee out of range")
    encoded = (
        bytes(12) + target.airdrop + target.chain_id.to_bytes(32, "big")
        + bytes(12) + recipient + bytes(12) + relayer + fee.to_bytes(32, "big")
    )  # fmt: skip
    return int.from_bytes(keccak256(encoded), "big") >> 3
