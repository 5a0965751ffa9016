"""The ledger's scheme: how the state is committed to and how a transaction is authorized.

One state transition (``stf.py``) runs in two modes, which differ only in this:

- **KECCAK_SECP256K1**, the optimistic rollup: the state root is Keccak-256 over three
  indexed trees (accounts, channels, exits) and two counters (``records.root_of``);
  a user signs its transaction's envelope with its Ethereum key (secp256k1, EIP-712,
  checked by the sequencer and never posted) and co-signs the commitment that
  carries it with its BLS key (one aggregate signature per commitment, checked by
  ``commitment.apply_commitment`` and, in a dispute, by L1). What the state
  transition itself asks of the sender is only that it *can* co-sign: it holds a
  BLS key. A deposit sets that key when its proof of possession verifies.
- **POSEIDON_EDDSA** (``zk_scheme.py``), the zk rollup: the state root is
  ``core/zk``'s Poseidon sparse Merkle tree, and each user transaction carries its
  own EdDSA signature over Baby Jubjub, checked by the state transition itself,
  because the circuit proves exactly what the spec checks.

The scheme is a frozen value chosen when a state is created
(``L2State(chain, rollup, scheme)``) and read from the state by every rule that
depends on it, never a global or a flag: a state cannot change scheme, and the two
modes share every other line of the state transition.

A scheme gives three things (:class:`Scheme`):

- ``commitment()``: a fresh :class:`StateCommitment`, the mutable structure one
  state keeps in step with its records (the state writes every account, channel and
  exit through it, and undoes through it on rollback) and asks for the root;
- ``deposit_key(account, tx)``: the public key the account holds after an L1
  deposit, or None when the scheme skips the deposit (the zk scheme's rule for a key
  it cannot use);
- ``authorize(commitment, sender, tx, authorization)``: raise :class:`L2Error`
  unless ``sender`` authorized ``tx`` as the scheme requires. ``authorization`` is
  the transaction's own signature, for a scheme that verifies one per transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from l2gpu.core.crypto.bls import verify_possession
from l2gpu.core.l2.merkle import EMPTY_LEAF, IndexedMerkleTree
from l2gpu.core.l2.records import (
    NO_BLS_KEY,
    TREE_DEPTH,
    L2Error,
    RootParts,
    require,
    root_of,
)
from l2gpu.core.types import Hash32

if TYPE_CHECKING:
    from l2gpu.core.l2.records import Account, Exit, L2Channel
    from l2gpu.core.l2.transactions import Deposit, UserTx
    from l2gpu.core.zk.state import Channel as ZkChannel


ZK_CHANNELS_ONLY = "l2: zk channels need the poseidon-eddsa scheme"
"""The refusal of ``core/zk``'s channel operations under the optimistic scheme."""


@dataclass(frozen=True, slots=True)
class Authorization:
    """A user transaction's own signature: ``signature`` over the transaction and
    ``nonce``, the sender's nonce it was signed at. The zk scheme verifies it; the
    optimistic scheme needs none (its authorization is the commitment's co-signature)."""

    nonce: int
    signature: bytes


class StateCommitment(Protocol):
    """What a state keeps in step with its records and hashes into its root.

    Each ``put_*`` writes a record's leaf (creating or replacing it), each ``drop_*``
    empties the leaf again (only a rollback drops: records are never deleted)."""

    def put_account(self, account: Account) -> None:
        """Write ``account``'s leaf."""

    def drop_account(self, index: int) -> None:
        """Empty account ``index``'s leaf."""

    def put_channel(self, channel: L2Channel) -> None:
        """Write ``channel``'s leaf."""

    def drop_channel(self, index: int) -> None:
        """Empty channel ``index``'s leaf."""

    def put_zk_channel(self, slot: int, channel: ZkChannel) -> None:
        """Write a ``core/zk`` channel's leaf at ``slot`` (the zk scheme's only)."""

    def drop_zk_channel(self, slot: int) -> None:
        """Empty the ``core/zk`` channel leaf ``slot``."""

    def put_exit(self, exit_: Exit) -> None:
        """Write ``exit_``'s leaf."""

    def drop_exit(self, index: int) -> None:
        """Empty exit ``index``'s leaf."""

    def root(self, deposits_processed: int, exit_count: int) -> Hash32:
        """The state root, given the two counters the state keeps itself."""


class Scheme(Protocol):
    """A hash and signature scheme of the ledger (see the module's docstring)."""

    @property
    def name(self) -> str:
        """A short name: ``keccak-secp256k1`` or ``poseidon-eddsa``."""

    @property
    def holds_fees(self) -> bool:
        """Whether a transaction's fee waits for the batch's end (``stf.credit_held_fees``)
        instead of reaching the fee recipient with the transaction."""

    def commitment(self) -> StateCommitment:
        """A fresh commitment for an empty state."""

    def deposit_key(self, account: Account, tx: Deposit) -> bytes | None:
        """The key ``account`` (new ones hold ``NO_BLS_KEY``) holds after ``tx``, or
        None when the scheme skips the deposit (counted, but nothing credited)."""

    def authorize(
        self,
        commitment: StateCommitment,
        sender: Account,
        tx: UserTx,
        authorization: Authorization | None,
    ) -> None:
        """Raise :class:`L2Error` unless ``sender`` authorized ``tx`` (``commitment``
        is the state's, for a scheme whose checks read its own tree)."""


class KeccakTrees:
    """The optimistic scheme's commitment: three indexed Keccak trees of depth 24.

    The fraud proofs, the node and the L1 contract read the trees themselves
    (``L2State.account_tree`` and its siblings return them)."""

    def __init__(self) -> None:
        """Three empty trees."""
        self.accounts = IndexedMerkleTree(TREE_DEPTH)
        self.channels = IndexedMerkleTree(TREE_DEPTH)
        self.exits = IndexedMerkleTree(TREE_DEPTH)

    def put_account(self, account: Account) -> None:
        """Write ``account.leaf()`` at its index."""
        self.accounts.set_leaf(account.index, account.leaf())

    def drop_account(self, index: int) -> None:
        """Empty account ``index``'s leaf."""
        self.accounts.set_leaf(index, EMPTY_LEAF)

    def put_channel(self, channel: L2Channel) -> None:
        """Write ``channel.leaf()`` at its index."""
        self.channels.set_leaf(channel.index, channel.leaf())

    def drop_channel(self, index: int) -> None:
        """Empty channel ``index``'s leaf."""
        self.channels.set_leaf(index, EMPTY_LEAF)

    def put_zk_channel(self, slot: int, channel: ZkChannel) -> None:
        """Refused: ``core/zk``'s channels have no leaf in these trees (``zk_channels.py``
        refuses their transactions under this scheme before any write)."""
        raise L2Error(ZK_CHANNELS_ONLY)

    def drop_zk_channel(self, slot: int) -> None:
        """Refused, as :meth:`put_zk_channel`."""
        raise L2Error(ZK_CHANNELS_ONLY)

    def put_exit(self, exit_: Exit) -> None:
        """Write ``exit_.leaf()`` at its index."""
        self.exits.set_leaf(exit_.index, exit_.leaf())

    def drop_exit(self, index: int) -> None:
        """Empty exit ``index``'s leaf."""
        self.exits.set_leaf(index, EMPTY_LEAF)

    def parts(self, deposits_processed: int, exit_count: int) -> RootParts:
        """What the root hashes: a proof of one part supplies the others."""
        return RootParts(
            self.accounts.root, self.channels.root, self.exits.root, deposits_processed, exit_count
        )

    def root(self, deposits_processed: int, exit_count: int) -> Hash32:
        """``records.root_of`` the parts."""
        return root_of(self.parts(deposits_processed, exit_count))


@dataclass(frozen=True, slots=True)
class KeccakSecp256k1:
    """The optimistic rollup's scheme (see the module's docstring)."""

    @property
    def name(self) -> str:
        """``keccak-secp256k1``."""
        return "keccak-secp256k1"

    @property
    def holds_fees(self) -> bool:
        """False: each fee reaches the block's fee recipient with its transaction."""
        return False

    def commitment(self) -> KeccakTrees:
        """Three empty Keccak trees."""
        return KeccakTrees()

    def deposit_key(self, account: Account, tx: Deposit) -> bytes:
        """The account's BLS key once set; else the deposit's, if its proof of
        possession verifies. Never skips: a bad proof is not an error (the money still
        arrives), the key is just not set, and the owner can deposit again with a good
        one."""
        if account.bls_key == NO_BLS_KEY and verify_possession(tx.bls_key, tx.proof_of_possession):
            return tx.bls_key
        return account.bls_key

    def authorize(
        self,
        commitment: StateCommitment,
        sender: Account,
        tx: UserTx,
        authorization: Authorization | None,
    ) -> None:
        """The sender holds a BLS key, so that it can co-sign the commitment carrying
        ``tx``: that co-signature is the authorization, checked per commitment, not
        here. ``authorization`` is not read (the envelope's secp256k1 signature is the
        sequencer's business and never reaches L1)."""
        require(sender.bls_key != NO_BLS_KEY, "l2: sender has no BLS key")


KECCAK_SECP256K1 = KeccakSecp256k1()
"""The optimistic scheme: every state is created with it unless told otherwise."""
