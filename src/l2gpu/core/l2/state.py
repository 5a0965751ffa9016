"""The L2 state: accounts, channels and exits, with a Merkle root over all of them.

Why a mutable state: the L2 holds up to 16.7 million accounts, and copying it
per transaction (as the small channel machine does) would cost far more than
the transaction. As in Ethereum's execution specs, the state object is changed
in place by ``apply_*`` functions, and every ``validate_*`` check runs *before*
the first change, so a rejected transaction leaves the state exactly as it was.

The state is created with its scheme (``scheme.py``), and writes every leaf
through the scheme's commitment. Under the optimistic scheme,
``KECCAK_SECP256K1`` (the default):

    state root = keccak256(accounts_root || channels_root || exits_root ||
                           uint64 deposits_processed || uint64 exit_count)

- accounts: indexed tree, leaf = keccak256(address || uint128 balance ||
  uint64 nonce || bls_key (96 bytes, zeros if unset)); index = creation order.
- channels: indexed tree, leaf = keccak256(channel id || renter index ||
  provider index || uint128 deposit || uint128 best || uint64 expires_at ||
  uint64 close_deadline || uint8 status); index = opening order.
- exits: indexed tree of withdrawals to L1, leaf = keccak256(address ||
  uint128 amount || uint64 exit index). A withdrawal is claimed on L1 with a
  proof against a final state root.

Under the zk scheme, ``POSEIDON_EDDSA``, the root is ``core/zk``'s Poseidon tree
over the accounts and ``core/zk``'s lease channels (``zk_channels`` here, by their
leaf; ``zk_scheme.py`` says what it leaves out and why).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from l2gpu.core.l2.merkle import IndexedMerkleTree
from l2gpu.core.l2.records import (
    MAX_BALANCE,
    NO_BLS_KEY,
    TREE_DEPTH,
    Account,
    Exit,
    L2Channel,
    L2Error,
    RootParts,
    root_of,
)
from l2gpu.core.l2.scheme import KECCAK_SECP256K1, KeccakTrees, Scheme
from l2gpu.core.types import Address, ChainId, Hash32, Wei
from l2gpu.core.zk.state import Channel as ZkChannel

# The records moved to records.py (below the schemes); they are still read from here.
__all__ = [
    "MAX_BALANCE",
    "NO_BLS_KEY",
    "TREE_DEPTH",
    "Account",
    "Exit",
    "L2Channel",
    "L2State",
    "RootParts",
    "root_of",
]


class L2State:
    """All L2 state of one rollup deployment."""

    def __init__(
        self, chain_id: ChainId, rollup: Address, scheme: Scheme = KECCAK_SECP256K1
    ) -> None:
        """An empty state for the rollup contract ``rollup`` on chain ``chain_id``,
        committed to and authorized under ``scheme`` for its whole life."""
        self.chain_id = chain_id
        self.scheme = scheme
        self.rollup = rollup
        self.accounts: list[Account] = []
        self.by_address: dict[Address, int] = {}
        self.channels: list[L2Channel] = []
        self.channel_by_id: dict[Hash32, int] = {}
        self.exits: list[Exit] = []
        self.deposits_processed = 0
        # What each settled channel paid (to the provider, back to the renter), by
        # channel index. In no root: a settled leaf zeroes its amounts, as the L1
        # contract's does, and this keeps the outcome for people reading the channel.
        self.settlements: dict[int, tuple[Wei, Wei]] = {}
        # The best voucher proven on each end of a virtual channel, as (amount signed,
        # signature), by channel index. In no root either: it is in the batch that
        # proved it, and the other end's payee reads it here to claim the same voucher.
        self.virtual_vouchers: dict[int, tuple[Wei, bytes]] = {}
        # Under the zk scheme only: core/zk's lease channels by their leaf in core/zk's
        # tree (``zk_channels.py``); their renter and provider are core/zk leaf indices.
        self.zk_channels: dict[int, ZkChannel] = {}
        # Under a scheme that credits fees once per batch (the zk scheme, as its
        # circuit does): the fees of the batch's transfers so far, in no account yet.
        self.held_fees = 0
        # Every leaf is written through the scheme's commitment, so the root is the
        # scheme's without any rule below asking which scheme it is.
        self.commitment = scheme.commitment()
        # Undo records while a checkpoint is open: (kind, index, old value or None).
        self._journal: list[tuple[str, int, object]] | None = None

    # -- checkpoints (a sequencer tries a commitment, then keeps or drops it) -------

    @property
    def recording(self) -> bool:
        """True while a checkpoint is open (an outer caller will commit or roll back)."""
        return self._journal is not None

    def checkpoint(self) -> int:
        """Start (or nest) recording changes; return a mark for :meth:`rollback`."""
        if self._journal is None:
            self._journal = []
        return len(self._journal)

    def commit(self) -> None:
        """Keep every change and stop recording."""
        self._journal = None

    def rollback(self, mark: int) -> None:
        """Undo every change recorded since ``mark``."""
        assert self._journal is not None, "rollback without a checkpoint"
        while len(self._journal) > mark:
            kind, index, old = self._journal.pop()
            if kind == "account":
                self._restore_account(index, old)
            elif kind == "channel":
                self._restore_channel(index, old)
            elif kind == "zk_channel":
                self._restore_zk_channel(index, old)
            elif kind == "exit":
                self.exits.pop()
                self.commitment.drop_exit(index)
            elif kind == "deposits":
                self.deposits_processed = index
            elif kind == "settlement":
                self.settlements.pop(index, None)
            elif kind == "virtual_voucher":
                if old is None:
                    self.virtual_vouchers.pop(index, None)
                else:
                    self.virtual_vouchers[index] = old  # type: ignore[assignment]
            elif kind == "fees":
                self.held_fees = index

    @contextmanager
    def atomic(self, *undone_by: type[BaseException]) -> Iterator[None]:
        """The changes made inside stand or fall together: an exception of
        ``undone_by`` raised inside rolls them back and propagates. Nested inside a
        caller's checkpoint, the caller's stays open (it commits or rolls back)."""
        outer = self.recording
        mark = self.checkpoint()
        try:
            yield
        except undone_by:
            self.rollback(mark)
            if not outer:
                self.commit()
            raise
        if not outer:
            self.commit()

    def count_deposit(self) -> None:
        """One more L1 deposit has been processed."""
        if self._journal is not None:
            self._journal.append(("deposits", self.deposits_processed, None))
        self.deposits_processed += 1

    def hold_fee(self, amount: int) -> None:
        """Keep a transaction's fee for the batch's end (``stf.credit_held_fees``)."""
        if self._journal is not None:
            self._journal.append(("fees", self.held_fees, None))
        self.held_fees += amount

    def release_fees(self) -> int:
        """Take every held fee (to credit them to the fee account); return their sum."""
        if self._journal is not None:
            self._journal.append(("fees", self.held_fees, None))
        fees, self.held_fees = self.held_fees, 0
        return fees

    def record_settlement(self, index: int, to_provider: Wei, to_renter: Wei) -> None:
        """Channel ``index`` settled: keep what it paid each side (see ``settlements``)."""
        if self._journal is not None:
            self._journal.append(("settlement", index, None))
        self.settlements[index] = (to_provider, to_renter)

    def record_virtual_voucher(self, index: int, amount: Wei, signature: bytes) -> None:
        """A voucher for ``amount`` was proven on channel ``index``, one end of a
        virtual channel: keep it (see ``virtual_vouchers``)."""
        if self._journal is not None:
            self._journal.append(("virtual_voucher", index, self.virtual_vouchers.get(index)))
        self.virtual_vouchers[index] = (amount, signature)

    def _restore_account(self, index: int, old: object) -> None:
        if old is None:
            gone = self.accounts.pop()
            del self.by_address[gone.address]
            self.commitment.drop_account(index)
        else:
            assert isinstance(old, Account)
            self.accounts[index] = old
            self.commitment.put_account(old)

    def _restore_channel(self, index: int, old: object) -> None:
        if old is None:
            gone = self.channels.pop()
            del self.channel_by_id[gone.channel.params.id]
            self.commitment.drop_channel(index)
        else:
            assert isinstance(old, L2Channel)
            self.channels[index] = old
            self.commitment.put_channel(old)

    def _restore_zk_channel(self, slot: int, old: object) -> None:
        if old is None:
            del self.zk_channels[slot]
            self.commitment.drop_zk_channel(slot)
        else:
            assert isinstance(old, ZkChannel)
            self.zk_channels[slot] = old
            self.commitment.put_zk_channel(slot, old)

    # -- reading -------------------------------------------------------------------

    def account(self, index: int) -> Account | None:
        """The account at ``index``, if it exists."""
        return self.accounts[index] if 0 <= index < len(self.accounts) else None

    def account_of(self, address: Address) -> Account | None:
        """The account of ``address``, if it exists."""
        index = self.by_address.get(address)
        return None if index is None else self.accounts[index]

    def channel_at(self, index: int) -> L2Channel | None:
        """The channel at ``index``, if it exists."""
        return self.channels[index] if 0 <= index < len(self.channels) else None

    def channel(self, cid: Hash32) -> L2Channel | None:
        """The channel with id ``cid``, if it was ever opened."""
        index = self.channel_by_id.get(cid)
        return None if index is None else self.channels[index]

    def root(self) -> Hash32:
        """The state root, as the state's scheme commits to it."""
        return self.commitment.root(self.deposits_processed, len(self.exits))

    def parts(self) -> RootParts:
        """What the optimistic scheme's root hashes: a proof of one part supplies the
        others. Only a state of that scheme has them."""
        return self._keccak_trees().parts(self.deposits_processed, len(self.exits))

    @property
    def account_tree(self) -> IndexedMerkleTree:
        """The optimistic scheme's accounts tree (the fraud proofs open it)."""
        return self._keccak_trees().accounts

    @property
    def channel_tree(self) -> IndexedMerkleTree:
        """The optimistic scheme's channels tree."""
        return self._keccak_trees().channels

    @property
    def exit_tree(self) -> IndexedMerkleTree:
        """The optimistic scheme's exits tree (L1 claims open it)."""
        return self._keccak_trees().exits

    def _keccak_trees(self) -> KeccakTrees:
        if not isinstance(self.commitment, KeccakTrees):
            raise L2Error(
                f"l2: no Keccak trees under the {self.scheme.name} scheme",
                "fraud proofs and exit claims need a state of the keccak-secp256k1 scheme",
            )
        return self.commitment

    def total_value(self) -> int:
        """Balances plus live channel deposits: conserved except by deposits and exits."""
        return (
            sum(a.balance for a in self.accounts)
            + sum(c.channel.deposit for c in self.channels if c.live)
            + sum(c.deposit for c in self.zk_channels.values())
            + self.held_fees
        )

    # -- writing (only after validation) -------------------------------------------

    def put_account(self, account: Account) -> None:
        """Create or replace an account and update its leaf."""
        if self._journal is not None:
            previous = self.accounts[account.index] if account.index < len(self.accounts) else None
            self._journal.append(("account", account.index, previous))
        if account.index == len(self.accounts):
            self.accounts.append(account)
            self.by_address[account.address] = account.index
        else:
            self.accounts[account.index] = account
        self.commitment.put_account(account)

    def put_channel(self, channel: L2Channel) -> None:
        """Create or replace a channel and update its leaf."""
        if self._journal is not None:
            previous = self.channels[channel.index] if channel.index < len(self.channels) else None
            self._journal.append(("channel", channel.index, previous))
        if channel.index == len(self.channels):
            self.channels.append(channel)
            self.channel_by_id[channel.channel.params.id] = channel.index
        else:
            self.channels[channel.index] = channel
        self.commitment.put_channel(channel)

    def put_zk_channel(self, slot: int, channel: ZkChannel) -> None:
        """Open ``core/zk``'s ``channel`` in leaf ``slot`` (empty before) and write its leaf."""
        if self._journal is not None:
            self._journal.append(("zk_channel", slot, self.zk_channels.get(slot)))
        self.zk_channels[slot] = channel
        self.commitment.put_zk_channel(slot, channel)

    def drop_zk_channel(self, slot: int) -> None:
        """Empty the ``core/zk`` channel leaf ``slot`` (a close or a reclaim)."""
        if self._journal is not None:
            self._journal.append(("zk_channel", slot, self.zk_channels[slot]))
        del self.zk_channels[slot]
        self.commitment.drop_zk_channel(slot)

    def add_exit(self, address: Address, amount: Wei) -> Exit:
        """Append a withdrawal to L1."""
        exit_ = Exit(len(self.exits), address, amount)
        if self._journal is not None:
            self._journal.append(("exit", exit_.index, None))
        self.exits.append(exit_)
        self.commitment.put_exit(exit_)
        return exit_
