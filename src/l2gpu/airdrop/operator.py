"""The operator's side of one airdrop: eligibility, registrations, publication, erasure.

An airdrop lives in a folder of its own: ``data.db`` (the personal data, encrypted
per user: ``l2gpu.airdrop.vault``), ``keys.db`` (the users' data keys; keep it
apart from the data's backups) and, once published, ``published.json``: the
airdrop's address and each tier's reward, root and commitments, which is public
(every claimer needs the whole tier to build its proof without telling the
operator which leaf is theirs).

Each call rebuilds the registry's state from the vault and applies one input of
``core/airdrop/registration`` to it, then carries out its events. What the vault
holds per account: ``tier`` and ``reward`` (from eligibility), ``usage`` (the
GPU-seconds and first activity that made it eligible) and, until publication,
``commitment``. Publication deletes the commitments' links to accounts: the tiers
on L1 and in ``published.json`` are all that is needed afterwards. One operator
process works on a folder at a time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import create_engine

from l2gpu.airdrop.contract import AirdropClient, verifying_key_hash
from l2gpu.airdrop.vault import NotFound, PersonalDataVault
from l2gpu.core.airdrop import registration as reg
from l2gpu.core.airdrop.claims import Tier
from l2gpu.core.airdrop.eligibility import Eligible
from l2gpu.core.airdrop.identity import ClaimTarget, airdrop_id_of
from l2gpu.core.airdrop.tree import CommitmentTree
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address
from l2gpu.l1 import Chain
from l2gpu.zk.setup import Keys, verifying_key_digest

PUBLISHED = "published.json"
RECORD = "operator.json"
PHASES = ("registering", "publishing", "published")
PUBLISHED_FORMAT = "l2gpu-airdrop-published/1"


@dataclass(frozen=True, slots=True)
class PublishedTier:
    """A published tier as claimers read it."""

    name: str
    reward: int
    root: int
    leaves: tuple[int, ...]

    def tree(self) -> CommitmentTree:
        """The tier's tree, rebuilt from its leaves (checked against the root)."""
        tree = CommitmentTree.build(self.leaves)
        if tree.root != self.root:
            raise L2gpuError(
                f"tier {self.name}'s leaves do not hash to its published root",
                "the published file was changed: get it again from the operator",
            )
        return tree


@dataclass(frozen=True, slots=True)
class PublishedAirdrop:
    """``published.json``: where the airdrop is and what its tiers hold."""

    name: str
    chain_id: int
    address: Address
    airdrop_id: int
    deadline: int
    tiers: tuple[PublishedTier, ...]
    verifying_key_sha256: str

    def to_json(self) -> str:
        """The file's text."""
        return json.dumps(
            {
                "format": PUBLISHED_FORMAT,
                "name": self.name,
                "chain_id": self.chain_id,
                "address": str(self.address),
                "airdrop_id": str(self.airdrop_id),
                "deadline": self.deadline,
                "verifying_key_sha256": self.verifying_key_sha256,
                "tiers": [
                    {"name": t.name, "reward": str(t.reward), "root": str(t.root),
                     "leaves": [str(x) for x in t.leaves]}
                    for t in self.tiers
                ],
            },
            indent=1,
        )  # fmt: skip

    @classmethod
    def read(cls, path: Path) -> PublishedAirdrop:
        """Read a published file; :class:`L2gpuError` says what is wrong with it."""
        try:
            data = json.loads(path.read_text())
            if data.get("format") != PUBLISHED_FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            tiers = tuple(
                PublishedTier(t["name"], int(t["reward"]), int(t["root"]),
                              tuple(int(x) for x in t["leaves"]))
                for t in data["tiers"]
            )  # fmt: skip
            return cls(data["name"], int(data["chain_id"]), Address.from_hex(data["address"]),
                       int(data["airdrop_id"]), int(data["deadline"]), tiers,
                       str(data["verifying_key_sha256"]))  # fmt: skip
        except OSError as exc:
            raise L2gpuError(f"cannot read {path}: {exc.strerror}", "check the path") from exc
        except (ValueError, KeyError, TypeError, AttributeError, L2gpuError) as exc:
            raise L2gpuError(
                f"{path} is not an airdrop's published file: {exc}",
                "give the published.json the operator wrote",
            ) from exc

    def target(self) -> ClaimTarget:
        """What a claim for this airdrop is bound to."""
        return ClaimTarget(bytes(self.address), self.chain_id, self.airdrop_id)

    def tier_of(self, commitment: int) -> PublishedTier:
        """The tier whose leaves hold ``commitment``."""
        for tier in self.tiers:
            if commitment in tier.leaves:
                return tier
        raise L2gpuError(
            "your commitment is in no tier of this airdrop",
            "check that the secrets file is the one you registered for this airdrop",
        )


class AirdropOperator:
    """One airdrop's folder, as its operator works on it.

    ``operator.json`` in the folder is the operator's own record: the airdrop's name,
    chain and random salt (so its id is its own, whatever its name), and its phase:
    ``registering``, then ``publishing`` (the tiers fixed and stored, the contract
    being deployed and funded), then ``published``. It is never to be moved;
    ``published.json`` is an output for claimers. Every command holds the folder's
    lock, so a registration cannot slip in while the tiers are fixed.
    """

    def __init__(self, folder: Path, *, name: str, chain_id: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        record = _read_record(folder)
        if record is None:
            record = {"name": name, "chain_id": chain_id, "salt": os.urandom(16).hex(),
                      "phase": "registering"}  # fmt: skip
            _write_atomically(folder / RECORD, json.dumps(record))
        elif (record["name"], record["chain_id"]) != (name, chain_id):
            raise L2gpuError(
                f"{folder} holds airdrop {record['name']!r} on chain {record['chain_id']}",
                "give that name and chain id, or another folder for a new airdrop",
            )
        self.name = name
        self.chain_id = chain_id
        self.airdrop_id = airdrop_id_of(chain_id, name, bytes.fromhex(record["salt"]))
        self.domain = reg.registration_domain(chain_id)
        self.vault = PersonalDataVault(
            create_engine(f"sqlite:///{folder / 'data.db'}"),
            create_engine(f"sqlite:///{folder / 'keys.db'}"),
        )

    @property
    def phase(self) -> str:
        """``registering``, ``publishing`` or ``published``."""
        record = _read_record(self.folder)
        assert record is not None
        return str(record["phase"])

    # -- the registry's state, from the vault ------------------------------------

    def state(self) -> reg.RegistryState:
        """The registry as the vault holds it now."""
        eligible: dict[Address, str] = {}
        registered: dict[Address, int] = {}
        for account in self.vault.accounts():
            fields = self.vault.export(account)
            if "tier" in fields:
                eligible[Address.from_hex(account)] = fields["tier"]
            if "commitment" in fields:
                registered[Address.from_hex(account)] = int(fields["commitment"])
        closed = self.phase != "registering"
        return reg.RegistryState(self.airdrop_id, self.domain, eligible, registered, closed)

    def _apply(self, inp: reg.Input) -> list[reg.Event]:
        _, events = reg.state_transition(self.state(), inp)
        for event in events:
            if isinstance(event, reg.Refused):
                raise L2gpuError(event.problem, event.fix)
        return events

    # -- the operator's commands ------------------------------------------------

    def record_eligibility(self, eligible: Iterable[Eligible]) -> tuple[int, int]:
        """Store each eligible account's tier, reward and usage (encrypted per user);
        returns (recorded, skipped): an account that asked to be erased is skipped."""
        with _locked(self.folder):
            if self.phase != "registering":
                raise L2gpuError("the airdrop's tiers are fixed", "start a new airdrop folder")
            recorded = skipped = 0
            for e in eligible:
                account = e.account.lower()
                if self.vault.is_erased(account):
                    skipped += 1
                    continue
                self.vault.put(account, "tier", e.tier)
                self.vault.put(account, "reward", str(e.reward_wei))
                usage = {"first_active": e.first_active, "gpu_seconds": e.gpu_seconds}
                self.vault.put(account, "usage", json.dumps(usage))
                recorded += 1
            return recorded, skipped

    def accept(self, registration: reg.Register) -> str:
        """Record a signed registration; return its account's tier (refusals raise)."""
        with _locked(self.folder):
            events = self._apply(registration)
            registered = next(e for e in events if isinstance(e, reg.Registered))
            account = str(registration.account).lower()
            self.vault.put(account, "commitment", str(registration.commitment))
            return registered.tier

    def register(self, account: Address, commitment: int, signature: bytes) -> str:
        """:meth:`accept` of ``Register(account, commitment, signature)``."""
        return self.accept(reg.Register(account, commitment, signature))

    def publish(
        self,
        chain: Chain,
        operator: LocalAccount,
        *,
        keys: Keys,
        treasury: Address,
        deadline: int,
    ) -> PublishedAirdrop:
        """Fix the tiers, deploy the airdrop, publish every tier with its rewards paid
        in, write ``published.json``, and drop the accounts' links to commitments.

        Run again after a crash, it goes on from where it stopped: the tiers stored at
        the start, the contract recorded once deployed, published on L1 only if L1 has
        no tiers yet. It never deploys or funds a second airdrop."""
        if chain.chain_id != self.chain_id:
            raise L2gpuError(
                f"the chain's id is {chain.chain_id}, the airdrop's {self.chain_id}",
                "publish on the chain the airdrop was made for",
            )
        with _locked(self.folder):
            record = _read_record(self.folder)
            assert record is not None
            if record["phase"] == "published":
                return PublishedAirdrop.read(self.folder / PUBLISHED)
            if record["phase"] == "registering":
                state = self.state()
                events = self._apply(reg.Publish())
                fixed = next(e for e in events if isinstance(e, reg.TiersFixed))
                rewards = self._tier_rewards(state)
                record["tiers"] = [[name, rewards[name], [str(c) for c in leaves]]
                                   for name, leaves in fixed.tiers]  # fmt: skip
                record["phase"] = "publishing"
                _write_atomically(self.folder / RECORD, json.dumps(record))
            tiers = [(n, int(r), tuple(int(c) for c in leaves)) for n, r, leaves in record["tiers"]]
            trees = {name: CommitmentTree.build(leaves) for name, _, leaves in tiers}
            if record.get("address") is None:
                client = AirdropClient.deploy(
                    chain, operator, keys=keys, treasury=treasury, airdrop_id=self.airdrop_id,
                    deadline=deadline,
                )  # fmt: skip
                record["address"] = str(client.address)
                _write_atomically(self.folder / RECORD, json.dumps(record))
            else:
                client = AirdropClient.at(chain, Address.from_hex(record["address"]))
                if client.verifying_key_hash != verifying_key_hash(keys.verifying_key):
                    raise L2gpuError(
                        f"the airdrop at {client.address} checks proofs against other claim "
                        "keys than these",
                        "publish with the keys it was deployed with (the same --zkey, or "
                        "--dev-keys again)",
                    )
            if not client.tiers():
                client.publish(
                    operator,
                    [Tier(trees[name].root, reward, len(leaves)) for name, reward, leaves in tiers],
                )
            published = PublishedAirdrop(
                self.name, self.chain_id, client.address, self.airdrop_id, client.deadline,
                tuple(PublishedTier(name, reward, trees[name].root, leaves)
                      for name, reward, leaves in tiers),
                verifying_key_digest(keys),
            )  # fmt: skip
            _write_atomically(self.folder / PUBLISHED, published.to_json())
            record["phase"] = "published"
            _write_atomically(self.folder / RECORD, json.dumps(record))
            for account in self.vault.accounts():
                self.vault.delete_field(account, "commitment")
            return published

    def erase(self, account: Address) -> int:
        """Forget ``account``: its data key is deleted, so everything the vault held of
        it is unreadable; returns how many fields that was. An operator's command: the
        operator checks who is asking before it runs it (docs/privacy.md)."""
        with _locked(self.folder):
            self._apply(reg.Erase(account))
            return self.vault.erase(str(account).lower()).fields_unreadable

    def _tier_rewards(self, state: reg.RegistryState) -> dict[str, int]:
        rewards: dict[str, int] = {}
        for account, tier in state.eligible.items():
            try:
                reward = int(self.vault.get(str(account).lower(), "reward"))
            except NotFound:
                continue
            if rewards.setdefault(tier, reward) != reward:
                raise L2gpuError(
                    f"accounts of tier {tier} have different rewards",
                    "run 'l2gpu airdrop eligible' again with one reward per tier",
                )
        return rewards


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The folder's lock, held by one operator command at a time (flock: released by
    the kernel if the process dies)."""
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_record(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / RECORD).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise L2gpuError(
            f"the airdrop's record {folder / RECORD} cannot be read: {exc}",
            "restore it from the folder's backup; without it the airdrop cannot go on",
        ) from exc
    if not isinstance(data, dict) or data.get("phase") not in PHASES:
        raise L2gpuError(f"{folder / RECORD} is not an airdrop's record", "restore it")
    return data


def _write_atomically(path: Path, text: str) -> None:
    # A crash mid-write leaves the old file or none, never half of the new one.
    partial = path.with_suffix(".partial")
    with partial.open("w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
