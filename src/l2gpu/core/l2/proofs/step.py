"""One step of the L2 state transition, re-executed from Merkle witnesses alone.

This is the rule a fraud proof runs on L1 (``contracts/rollup/StepVerifier.vy``
ports it): given the state root *parts* before one transaction, the transaction,
and a :class:`StepWitness` (the leaves the transaction reads, each with its
Merkle proof, and one sibling path per leaf it writes), compute the state root
after the transaction — or the name of the rule it breaks.

Why a witness-backed state that the real STF runs over, instead of a second copy
of the rules: :class:`WitnessState` answers exactly the questions
:func:`l2gpu.core.l2.stf.state_transition` asks of an :class:`L2State` (an
account by index, a channel by index, how many channels exist, the exit count),
each from a proven leaf, and turns every write into a root update along a
supplied path. So the Python one-step verifier *is* the specification; the
Vyper port is tested against it with shared witnesses and differential fuzzing.

A witness that does not prove what it claims (a bad path, a missing leaf the
rules need) is the prover's error, :class:`WitnessError`, not a fault of the
transaction: on L1 the proof transaction reverts and nothing changes.

Account indices of L1 operations: the Rollup contract assigns an address its L2
account index at its first deposit (``account_index_of``), in queue order, which
is also the order in which the L2 creates accounts. The verifier takes that index
from the queue entry, because an indexed tree cannot prove that an address is
*absent* from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.merkle import EMPTY_LEAF, path_root, verify_proof
from l2gpu.core.l2.scheme import KECCAK_SECP256K1, KeccakSecp256k1
from l2gpu.core.l2.state import TREE_DEPTH, Account, Exit, L2Channel, RootParts, root_of
from l2gpu.core.l2.stf import L2Error, state_transition
from l2gpu.core.l2.transactions import BlockContext, Deposit, ForcedWithdraw, L2Tx
from l2gpu.core.types import Address, ChainId, Hash32, Wei

NO_ACCOUNT = (1 << 24) - 1
"""The L1 queue's account index for an address that has never deposited."""


class WitnessError(L2gpuError):
    """The witness does not prove what the step needs; ``reason`` says what."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class AccountRead:
    """An account leaf (``None``: empty) and its path in the *pre-step* accounts tree."""

    index: int
    account: Account | None
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ChannelRead:
    """A channel leaf (``None``: empty) and its path in the *pre-step* channels tree."""

    index: int
    channel: L2Channel | None
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class StepWitness:
    """Reads against the pre-step roots, and one sibling path per write, in write order.

    ``channel_count`` is the number of channels before the step; it is proven by
    the reads of channel ``channel_count - 1`` (present) and ``channel_count``
    (empty), which every witness that opens a channel includes.
    """

    accounts: tuple[AccountRead, ...] = ()
    channels: tuple[ChannelRead, ...] = ()
    writes: tuple[tuple[bytes, ...], ...] = ()
    channel_count: int = 0


@dataclass(frozen=True, slots=True)
class StepVerdict:
    """The post-step root of an honest execution, or the rule the transaction breaks."""

    post_root: Hash32 | None
    fault: str | None = None
    post_parts: RootParts | None = None


class _Proven(Sequence[object]):
    """A sparse list view (``state.accounts`` / ``state.channels``) over proven leaves."""

    def __init__(self, items: dict[int, object], length: int | None, what: str) -> None:
        self.items = items
        self.length = length
        self.what = what

    def __len__(self) -> int:
        if self.length is None:
            raise WitnessError(f"witness: the step needs the number of {self.what}")
        return self.length

    def __getitem__(self, index: object) -> object:  # type: ignore[override]
        assert isinstance(index, int)
        if index not in self.items:
            raise WitnessError(f"witness: {self.what} {index} is not in the witness")
        value = self.items[index]
        if value is None:
            raise WitnessError(f"witness: {self.what} {index} is empty")
        return value

    def __iter__(self) -> Iterator[object]:
        raise WitnessError(f"witness: the step cannot list all {self.what}")


@dataclass
class WitnessState:
    """The slice of an :class:`L2State` that one step touches, proven leaf by leaf."""

    chain_id: ChainId
    rollup: Address
    parts: RootParts
    witness: StepWitness
    l1_account_index: int = NO_ACCOUNT
    _accounts: dict[int, Account | None] = field(default_factory=dict)
    _channels: dict[int, L2Channel | None] = field(default_factory=dict)
    _writes: int = 0
    # Only the optimistic scheme has fraud proofs (its witness is Keccak paths): the
    # STF reads the scheme from the state, and its authorization reads no commitment.
    scheme: ClassVar[KeccakSecp256k1] = KECCAK_SECP256K1
    commitment: ClassVar[None] = None

    def __post_init__(self) -> None:
        for read in self.witness.accounts:
            leaf = EMPTY_LEAF if read.account is None else read.account.leaf()
            if read.account is not None and read.account.index != read.index:
                raise WitnessError("witness: account index does not match its leaf")
            if not verify_proof(self.parts.accounts_root, read.index, leaf, read.proof):
                raise WitnessError(f"witness: bad proof for account {read.index}")
            self._accounts[read.index] = read.account
        for cread in self.witness.channels:
            leaf = EMPTY_LEAF if cread.channel is None else cread.channel.leaf()
            if cread.channel is not None and cread.channel.index != cread.index:
                raise WitnessError("witness: channel index does not match its leaf")
            if not verify_proof(self.parts.channels_root, cread.index, leaf, cread.proof):
                raise WitnessError(f"witness: bad proof for channel {cread.index}")
            self._channels[cread.index] = cread.channel
        count = self.witness.channel_count
        self._channel_count: int | None = None
        if self._channels.get(count, 1) is None and (
            count == 0 or self._channels.get(count - 1) is not None
        ):
            self._channel_count = count
        self.deposits_processed = self.parts.deposits_processed
        self.exit_count = self.parts.exit_count
        self._roots = [self.parts.accounts_root, self.parts.channels_root, self.parts.exits_root]

    # -- what the STF reads ---------------------------------------------------------

    @property
    def accounts(self) -> _Proven:
        """Accounts by index; ``len`` is the L1-assigned index of a new depositor."""
        present = {i: a for i, a in self._accounts.items() if a is not None}
        length = self.l1_account_index if self._accounts.get(self.l1_account_index, 1) is None \
            else None  # fmt: skip
        return _Proven(dict(present), length, "accounts")

    @property
    def channels(self) -> _Proven:
        """Channels by index; ``len`` is proven by the witness (see StepWitness)."""
        return _Proven(dict(self._channels), self._channel_count, "channels")

    def channel_at(self, index: int) -> L2Channel | None:
        """The channel at ``index`` (None if the proven leaf is empty)."""
        if not 0 <= index < 1 << TREE_DEPTH:
            return None
        if index not in self._channels:
            raise WitnessError(f"witness: channel {index} is not in the witness")
        return self._channels[index]

    def account(self, index: int) -> Account | None:
        """The account at ``index`` (None if the proven leaf is empty)."""
        if not 0 <= index < 1 << TREE_DEPTH:
            return None
        if index not in self._accounts:
            raise WitnessError(f"witness: account {index} is not in the witness")
        return self._accounts[index]

    def account_of(self, address: Address) -> Account | None:
        """An L1 operation's account: the one at the index the L1 queue assigned."""
        if self.l1_account_index == NO_ACCOUNT:
            return None
        account = self.account(self.l1_account_index)
        if account is not None and account.address != address:
            raise WitnessError("witness: the queue's account index holds another address")
        return account

    # -- what the STF writes ----------------------------------------------------------

    def _write(self, tree: int, index: int, old: bytes, new: bytes) -> None:
        if self._writes >= len(self.witness.writes):
            raise WitnessError("witness: fewer write paths than the step writes")
        path = self.witness.writes[self._writes]
        self._writes += 1
        if not verify_proof(self._roots[tree], index, old, path):
            raise WitnessError(f"witness: bad write path #{self._writes}")
        self._roots[tree] = path_root(new, index, path)

    def put_account(self, account: Account) -> None:
        """Update (or create) an account leaf along the next write path."""
        old = self._accounts.get(account.index)
        self._write(0, account.index, EMPTY_LEAF if old is None else old.leaf(), account.leaf())
        self._accounts[account.index] = account

    def record_settlement(self, index: int, to_provider: Wei, to_renter: Wei) -> None:
        """Nothing to prove: what a settled channel paid is in no root (L2State keeps it
        for people reading the channel, a step's witness does not need it)."""

    def record_virtual_voucher(self, index: int, amount: Wei, signature: bytes) -> None:
        """Nothing to prove either: the best voucher on a virtual channel's end is in the
        batch that proved it, and only its credited amount is in the leaf."""

    def put_channel(self, channel: L2Channel) -> None:
        """Update (or create) a channel leaf along the next write path."""
        old = self._channels.get(channel.index)
        self._write(1, channel.index, EMPTY_LEAF if old is None else old.leaf(), channel.leaf())
        if old is None and self._channel_count == channel.index:
            self._channel_count = channel.index + 1
        self._channels[channel.index] = channel

    def add_exit(self, address: Address, amount: Wei) -> Exit:
        """Append an exit at index ``exit_count`` (an empty leaf before)."""
        exit_ = Exit(self.exit_count, address, amount)
        self._write(2, exit_.index, EMPTY_LEAF, exit_.leaf())
        self.exit_count += 1
        return exit_

    def count_deposit(self) -> None:
        """One more L1 operation processed."""
        self.deposits_processed += 1

    def post_parts(self) -> RootParts:
        """The root parts after the step."""
        return RootParts(self._roots[0], self._roots[1], self._roots[2],
                         self.deposits_processed, self.exit_count)  # fmt: skip

    @property
    def writes_used(self) -> int:
        """How many write paths the step consumed."""
        return self._writes


def verify_step(
    chain_id: ChainId,
    rollup: Address,
    pre: RootParts,
    tx: L2Tx,
    block: BlockContext,
    witness: StepWitness,
    l1_account_index: int = NO_ACCOUNT,
) -> StepVerdict:
    """Re-execute ``tx`` from ``pre`` and ``witness``: the post root, or the broken rule.

    ``l1_account_index`` is the queue entry's account index for a Deposit or a
    ForcedWithdraw (ignored otherwise). Raises :class:`WitnessError` when the
    witness is incomplete or wrong.
    """
    index = l1_account_index if isinstance(tx, Deposit | ForcedWithdraw) else NO_ACCOUNT
    view = WitnessState(chain_id, rollup, pre, witness, index)
    try:
        state_transition(view, tx, block)  # type: ignore[arg-type]
    except L2Error as exc:
        return StepVerdict(None, exc.reason)
    if view.writes_used != len(witness.writes):
        raise WitnessError("witness: more write paths than the step writes")
    parts = view.post_parts()
    return StepVerdict(root_of(parts), None, parts)
