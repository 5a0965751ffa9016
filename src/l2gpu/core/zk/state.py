"""The zk ledger's state: accounts in a fixed-depth sparse Merkle tree hashed with Poseidon.

What the circuits prove a batch against (docs/zk.md). The tree is binary, of a
fixed ``depth`` (the circuits are compiled for one depth; the tests use 8, a
production ledger 24, the depth of the Keccak ledger's account tree):

- a parent is ``Poseidon([left, right])`` (circomlib's ``Poseidon(2)``);
- an empty leaf is 0, and an empty subtree of height h hashes to ``ZERO[h]``;
- an account's leaf is ``Poseidon([ax, ay, balance, nonce, eth_address])``: its
  EdDSA public key (a Baby Jubjub point), its balance in wei (below 2^128, as in
  ``core/l2``), its nonce (below 2^32) and the L1 address its withdrawals pay (a
  160-bit integer). Each field is its own input rather than balance and nonce
  packed into one: a wider Poseidon costs about 30 constraints per input, less than
  the bit decomposition packing would need in the circuit;
- index 0 is never an account: the public data marks a no-op slot with index 0, so
  leaf 0 stays empty forever (the circuits prove a no-op as "leaf 0 is 0 and stays 0");
- the lower half of the indices holds accounts (L1 assigns them, from 1 up), the
  upper half (from :attr:`ZkState.channel_base`, ``2^(depth-1)``) holds the payment
  channels of leases (``core/zk/channel.py``). A channel's leaf is
  ``Poseidon([CHANNEL_LEAF_TAG, renter, open_nonce, provider, deposit, expiry])``:
  six inputs, so circomlib's Poseidon of another width from an account's (a
  different permutation): no channel leaf can be opened as an account, nor an
  account as a channel. The halves keep L1's account numbering and the channels
  apart, so a deposit never lands on a channel's leaf.

A leaf is 0 only for an empty slot: an account's leaf is a Poseidon digest, and
finding a preimage of 0 is as hard as breaking Poseidon. So a circuit that opens a
leaf as the hash of an account's fields has also proved that the account exists.

Leaf ``index`` sits at the path whose direction bits, read from the leaf up, are
the bits of ``index`` from the least significant: bit i set means the node at
height i is a right child. The circuits read ``Num2Bits(depth)`` of the index the
same way.

Pure updates: :meth:`ZkState.with_account` returns a new state and leaves the old
one valid. The tree is persistent (path copying): an update makes ``depth + 1`` new
nodes and shares every other node with the old state, so an update costs the same
``depth + 1`` Poseidon hashes as one in place, and a caller that must undo a
transaction (a batch that fails halfway, the circuit's intermediate root between
the sender's and the receiver's update) keeps the old state instead of a checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from l2gpu.core.crypto import babyjubjub as bjj
from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.errors import InvalidValue, RuleViolation

BALANCE_BITS = 128
NONCE_BITS = 32
ADDRESS_BITS = 160
MAX_BALANCE = 2**BALANCE_BITS - 1
MAX_NONCE = 2**NONCE_BITS - 1
MAX_ADDRESS = 2**ADDRESS_BITS - 1
MAX_DEPTH = 32
"""Indices fit in 32 bits, like nonces; 24 is what a production ledger would use."""
PRODUCTION_DEPTH = 24
EMPTY_LEAF = 0


class ZkError(RuleViolation):
    """An input the zk ledger's rules reject; ``reason`` names the rule."""


def require(condition: bool, reason: str, fix: str) -> None:
    """Raise :class:`ZkError` with ``reason`` (and ``fix``, what to do) unless
    ``condition``: the rules of ``core/zk`` are written as a list of these."""
    if not condition:
        raise ZkError(reason, fix)


@dataclass(frozen=True, slots=True)
class Account:
    """One account of the zk ledger: EdDSA-Poseidon public key, balance, nonce and the
    L1 address (a 160-bit integer) that its withdrawals pay."""

    ax: int
    ay: int
    balance: int
    nonce: int = 0
    eth_address: int = 0

    def __post_init__(self) -> None:
        """Refuse fields the circuit's range checks would refuse."""
        if not bjj.is_on_curve(bjj.Point(self.ax, self.ay)):
            raise InvalidValue(
                "public key", (self.ax, self.ay), "is not a Baby Jubjub point",
                "use eddsa_poseidon.public_key(private_key)",
            )  # fmt: skip
        if not 0 <= self.balance <= MAX_BALANCE:
            raise InvalidValue("balance", self.balance, "is outside [0, 2^128)", "")
        if not 0 <= self.nonce <= MAX_NONCE:
            raise InvalidValue("nonce", self.nonce, "is outside [0, 2^32)", "")
        if not 0 <= self.eth_address <= MAX_ADDRESS:
            raise InvalidValue("L1 address", self.eth_address, "is outside [0, 2^160)", "")

    @property
    def public_key(self) -> bjj.Point:
        """The account's EdDSA-Poseidon public key."""
        return bjj.Point(self.ax, self.ay)

    @property
    def leaf(self) -> int:
        """``Poseidon([ax, ay, balance, nonce, eth_address])``, the account's leaf."""
        return account_leaf(self.ax, self.ay, self.balance, self.nonce, self.eth_address)


def account_leaf(ax: int, ay: int, balance: int, nonce: int, eth_address: int = 0) -> int:
    """The leaf of an account's fields, unchecked (a test forges leaves with it)."""
    return poseidon.hash([ax, ay, balance % poseidon.FIELD_MODULUS, nonce, eth_address])


def hash_pair(left: int, right: int) -> int:
    """A parent node: ``Poseidon([left, right])``."""
    return poseidon.hash([left, right])


@cache
def zero_hashes(depth: int) -> tuple[int, ...]:
    """``ZERO[h]`` for h = 0 .. depth: the hash of an empty subtree of height h."""
    zeros = [EMPTY_LEAF]
    for _ in range(depth):
        zeros.append(hash_pair(zeros[-1], zeros[-1]))
    return tuple(zeros)


def root_from_path(leaf: int, index: int, siblings: Sequence[int]) -> int:
    """The root that ``leaf`` at ``index`` hashes up to with ``siblings`` (leaf up),
    as the circuit's Merkle path checker computes it."""
    node = leaf
    for height, sibling in enumerate(siblings):
        right = (index >> height) & 1
        node = hash_pair(sibling, node) if right else hash_pair(node, sibling)
    return node


@dataclass(frozen=True, slots=True)
class MerkleProof:
    """Leaf ``index``'s value and its ``siblings`` from the leaf up (``depth`` of them)."""

    index: int
    leaf: int
    siblings: tuple[int, ...]

    def root(self) -> int:
        """The root this proof opens to."""
        return root_from_path(self.leaf, self.index, self.siblings)

    def verify(self, root: int) -> None:
        """Raise :class:`ZkError` unless this proof opens to ``root`` (what the circuit
        checks of every path it is given)."""
        if self.root() != root:
            raise ZkError(
                "zk: proof does not match the root",
                f"leaf {self.index}'s path hashes to {self.root():#x}, not {root:#x}",
            )


CHANNEL_LEAF_TAG = 1
"""The first input of a channel's leaf: names the kind of leaf (with its width)."""
EXPIRY_BITS = 32
MAX_EXPIRY = 2**EXPIRY_BITS - 1


@dataclass(frozen=True, slots=True)
class Channel:
    """A lease's payment channel in the zk ledger: ``renter`` (an account index) locked
    ``deposit`` wei for ``provider`` (an account index) until ``expiry`` (unix seconds);
    ``open_nonce`` is the renter's nonce that the open used, which makes the pair
    ``(renter, open_nonce)`` name this channel for ever (vouchers sign it)."""

    renter: int
    open_nonce: int
    provider: int
    deposit: int
    expiry: int

    def __post_init__(self) -> None:
        """Refuse fields the circuit's range checks would refuse."""
        for name, value, bound in (
            ("renter", self.renter, MAX_INDEX_FIELD),
            ("provider", self.provider, MAX_INDEX_FIELD),
            ("open nonce", self.open_nonce, MAX_NONCE),
            ("deposit", self.deposit, MAX_BALANCE),
            ("expiry", self.expiry, MAX_EXPIRY),
        ):
            if not 0 <= value <= bound:
                raise InvalidValue(f"channel {name}", value, "is out of range", "")

    @property
    def leaf(self) -> int:
        """``Poseidon([CHANNEL_LEAF_TAG, renter, open_nonce, provider, deposit, expiry])``."""
        return channel_leaf(self.renter, self.open_nonce, self.provider, self.deposit,
                            self.expiry)  # fmt: skip


MAX_INDEX_FIELD = 2**MAX_DEPTH - 1


def channel_leaf(renter: int, open_nonce: int, provider: int, deposit: int, expiry: int) -> int:
    """The leaf of a channel's fields, unchecked."""
    return poseidon.hash([CHANNEL_LEAF_TAG, renter, open_nonce, provider, deposit, expiry])


@dataclass(frozen=True, slots=True)
class _Node:
    """A node of the persistent tree; ``account`` is set on an account's leaf only."""

    hash: int
    left: _Node | None = None
    right: _Node | None = None
    account: Account | None = None
    channel: Channel | None = None


@dataclass(frozen=True, slots=True)
class ZkState:
    """The zk ledger's accounts: a persistent Poseidon sparse Merkle tree of ``depth``.

    Build one with :meth:`empty`, then :meth:`with_account`. A missing node (None)
    is an empty subtree.
    """

    depth: int
    top: _Node | None = None

    def __post_init__(self) -> None:
        """Refuse a depth the circuits and the index encoding cannot take."""
        if not 1 <= self.depth <= MAX_DEPTH:
            raise InvalidValue("tree depth", self.depth, f"is outside [1, {MAX_DEPTH}]", "")

    @classmethod
    def empty(cls, depth: int = PRODUCTION_DEPTH) -> ZkState:
        """A tree of ``depth`` with no accounts."""
        return cls(depth)

    @property
    def capacity(self) -> int:
        """How many accounts fit: 2^depth."""
        return 1 << self.depth

    def in_range(self, index: int) -> bool:
        """Whether ``index`` names a leaf of this tree."""
        return 0 <= index < self.capacity

    def root(self) -> int:
        """The root hash, the state's commitment on L1."""
        return self.top.hash if self.top is not None else zero_hashes(self.depth)[self.depth]

    @property
    def channel_base(self) -> int:
        """The first channel index, ``2^(depth-1)``: accounts lie below it, channels
        from it up."""
        return 1 << (self.depth - 1)

    def is_channel_index(self, index: int) -> bool:
        """Whether ``index`` lies in the channels' half of the tree."""
        return self.channel_base <= index < self.capacity

    def account(self, index: int) -> Account | None:
        """The account at ``index``, None for an empty slot (or a channel's)."""
        node = self._leaf_node(index)
        return node.account if node is not None else None

    def channel(self, index: int) -> Channel | None:
        """The channel at ``index``, None for an empty slot (or an account's)."""
        node = self._leaf_node(index)
        return node.channel if node is not None else None

    def channels(self) -> list[tuple[int, Channel]]:
        """Every channel in the tree with its index, in index order (walks only the
        non-empty part of the channels' half)."""
        found: list[tuple[int, Channel]] = []

        def walk(node: _Node | None, height: int, index: int) -> None:
            if node is None:
                return
            if height == 0:
                if node.channel is not None:
                    found.append((index, node.channel))
                return
            walk(node.left, height - 1, index << 1)
            walk(node.right, height - 1, (index << 1) | 1)

        walk(self.top.right if self.top is not None else None, self.depth - 1, 1)
        return found

    def with_channel(self, index: int, channel: Channel) -> ZkState:
        """A new state with ``channel`` at ``index``, which must be a channel index."""
        if not self.is_channel_index(index):
            raise ZkError(
                "zk: not a channel index",
                f"channels lie at indices [{self.channel_base}, {self.capacity})",
            )
        return self._with_leaf(index, _Node(channel.leaf, channel=channel))

    def without_leaf(self, index: int) -> ZkState:
        """A new state with leaf ``index`` emptied (a closed channel's)."""
        return self._with_leaf(index, _Node(EMPTY_LEAF))

    def leaf(self, index: int) -> int:
        """The leaf value at ``index`` (0 when empty)."""
        node = self._leaf_node(index)
        return node.hash if node is not None else EMPTY_LEAF

    def proof(self, index: int) -> MerkleProof:
        """The Merkle proof of leaf ``index`` under :meth:`root`."""
        self._require_index(index)
        zeros = zero_hashes(self.depth)
        siblings: list[int] = []
        node = self.top
        for height in range(self.depth, 0, -1):
            right = (index >> (height - 1)) & 1
            near = None if node is None else (node.right if right else node.left)
            far = None if node is None else (node.left if right else node.right)
            siblings.append(far.hash if far is not None else zeros[height - 1])
            node = near
        siblings.reverse()
        return MerkleProof(index, node.hash if node is not None else EMPTY_LEAF, tuple(siblings))

    def with_account(self, index: int, account: Account) -> ZkState:
        """A new state with ``account`` at ``index``; this one is unchanged. Index 0 is
        refused (``zk: index 0 is not an account``): it marks the no-op slots."""
        if index == 0:
            raise ZkError("zk: index 0 is not an account", "use an index from 1 up")
        return self._with_leaf(index, _Node(account.leaf, account=account))

    def with_leaf(self, index: int, leaf: int) -> ZkState:
        """A new state with the raw ``leaf`` value at ``index`` (no account behind it):
        for a leaf known only by its hash, or a forged one in a test."""
        if not 0 <= leaf < poseidon.FIELD_MODULUS:
            raise InvalidValue("leaf", leaf, "is not a field element", "")
        return self._with_leaf(index, _Node(leaf))

    def _with_leaf(self, index: int, leaf: _Node) -> ZkState:
        self._require_index(index)
        zeros = zero_hashes(self.depth)

        def put(node: _Node | None, height: int) -> _Node:
            if height == 0:
                return leaf
            right = (index >> (height - 1)) & 1
            left_child = node.left if node is not None else None
            right_child = node.right if node is not None else None
            if right:
                right_child = put(right_child, height - 1)
            else:
                left_child = put(left_child, height - 1)
            below = zeros[height - 1]
            left_hash = left_child.hash if left_child is not None else below
            right_hash = right_child.hash if right_child is not None else below
            return _Node(hash_pair(left_hash, right_hash), left_child, right_child)

        return ZkState(self.depth, put(self.top, self.depth))

    def _leaf_node(self, index: int) -> _Node | None:
        self._require_index(index)
        node = self.top
        for height in range(self.depth, 0, -1):
            if node is None:
                return None
            node = node.right if (index >> (height - 1)) & 1 else node.left
        return node

    def _require_index(self, index: int) -> None:
        if not self.in_range(index):
            raise InvalidValue(
                "account index", index, f"is outside a tree of depth {self.depth}",
                f"use an index in [0, {self.capacity})",
            )  # fmt: skip


def signed_by_account(
    state: ZkState, index: int, digest: int, signature: eddsa.Signature, nonce: int, what: str
) -> Account:
    """The account at ``index``, once it is shown to have signed ``digest`` at its current
    nonce: the rules every signed operation (a transfer, a withdrawal) starts with, in
    the order the circuits check them. Raises :class:`ZkError` (``zk: unknown sender``,
    ``zk: bad signature``, ``zk: wrong nonce``)."""
    account = state.account(index)
    require(account is not None, "zk: unknown sender", f"slot {index} is empty")
    assert account is not None
    require(
        eddsa.verify(digest, signature, account.public_key),
        "zk: bad signature",
        f"sign message(tx) with the key of account {index}",
    )
    require(
        nonce == account.nonce,
        "zk: wrong nonce",
        f"account {index}'s nonce is {account.nonce}, the {what}'s {nonce}",
    )
    return account
