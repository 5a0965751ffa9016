"""The L2's records (accounts, channels, exits), their Keccak leaves, and the rules' error.

These sit below everything else in ``core/l2``: the state (``state.py``), the
schemes that commit to it (``scheme.py``, ``zk_scheme.py``) and the state
transition (``stf.py``) all read them, so they live apart from each to keep the
imports one way.

The leaves and :func:`root_of` are the optimistic scheme's commitment
(``KECCAK_SECP256K1``); the fraud proofs and the L1 contract hash the very same
bytes. The zk scheme (``POSEIDON_EDDSA``) hashes the same records differently
(``zk_scheme.py``).

In both schemes ``Account.bls_key`` holds the account's public key for the
scheme's signatures: a BLS12-381 G2 key (96 bytes, zeros while unset) under
``KECCAK_SECP256K1``, a Baby Jubjub point ``ax || ay`` (64 bytes) under
``POSEIDON_EDDSA``. The name is the optimistic mode's, kept because the node, the
L1 dispute encoding and the write-ahead log read it under that name.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.channel import Channel, ChannelStatus
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import RuleViolation
from l2gpu.core.types import Address, Hash32, Wei


class L2Error(RuleViolation):
    """A transaction the L2 rules reject; ``reason`` is its name."""


def require(condition: bool, reason: str) -> None:
    """Raise L2Error(reason) unless ``condition`` holds."""
    if not condition:
        raise L2Error(reason)


TREE_DEPTH = 24
MAX_BALANCE = 2**128 - 1
NO_BLS_KEY = bytes(96)


@dataclass(frozen=True, slots=True)
class Account:
    """One L2 account."""

    index: int
    address: Address
    balance: Wei = Wei(0)
    nonce: int = 0
    bls_key: bytes = NO_BLS_KEY

    def leaf(self) -> bytes:
        """The account's leaf in the accounts tree."""
        return keccak256(
            self.address
            + self.balance.to_bytes(16, "big")
            + self.nonce.to_bytes(8, "big")
            + self.bls_key
        )


@dataclass(frozen=True, slots=True)
class L2Channel:
    """A channel inside the rollup: the core channel plus its parties' account indices."""

    index: int
    channel: Channel
    renter: int
    provider: int

    def leaf(self) -> bytes:
        """The channel's leaf in the channels tree."""
        c = self.channel
        return keccak256(
            c.params.id
            + self.renter.to_bytes(3, "big")
            + self.provider.to_bytes(3, "big")
            + c.deposit.to_bytes(16, "big")
            + c.best_amount.to_bytes(16, "big")
            + c.expires_at.to_bytes(8, "big")
            + c.close_deadline.to_bytes(8, "big")
            + bytes((int(c.status),))
        )

    @property
    def live(self) -> bool:
        """Open or closing."""
        return self.channel.status in (ChannelStatus.OPEN, ChannelStatus.CLOSING)


@dataclass(frozen=True, slots=True)
class Exit:
    """A withdrawal to L1, claimable once a root that contains it is final."""

    index: int
    address: Address
    amount: Wei

    def leaf(self) -> bytes:
        """The exit's leaf in the exits tree."""
        return keccak256(
            self.address + self.amount.to_bytes(16, "big") + self.index.to_bytes(8, "big")
        )


@dataclass(frozen=True, slots=True)
class RootParts:
    """The inputs of the state root."""

    accounts_root: bytes
    channels_root: bytes
    exits_root: bytes
    deposits_processed: int
    exit_count: int


def root_of(parts: RootParts) -> Hash32:
    """keccak256(accounts || channels || exits || uint64 deposits || uint64 exits)."""
    return Hash32(
        keccak256(
            parts.accounts_root
            + parts.channels_root
            + parts.exits_root
            + parts.deposits_processed.to_bytes(8, "big")
            + parts.exit_count.to_bytes(8, "big")
        )
    )
