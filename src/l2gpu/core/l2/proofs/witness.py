"""Build the witness of one L2 step from the full state (the watcher's side).

The witness names every leaf the step's rules may read (a superset is harmless:
the verifier only checks the proofs) and records, in order, the sibling path of
every leaf the step writes, taken just before the write. The state is left as it
was: the step runs under a checkpoint and is rolled back.
"""

from __future__ import annotations

from typing import Any

from l2gpu.core.l2.proofs.step import NO_ACCOUNT, AccountRead, ChannelRead, StepWitness
from l2gpu.core.l2.state import TREE_DEPTH, Account, Exit, L2Channel, L2State
from l2gpu.core.l2.stf import L2Error, state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    ChannelTx,
    Deposit,
    ForcedWithdraw,
    L2Tx,
    OpenChannel,
    Transfer,
)
from l2gpu.core.types import Address, Wei


def l1_account_index(state: L2State, tx: Deposit | ForcedWithdraw) -> int:
    """The account index the L1 queue gives this operation (see ``step.py``)."""
    account = state.account_of(tx.address)
    if account is not None:
        return account.index
    return len(state.accounts) if isinstance(tx, Deposit) else NO_ACCOUNT


def read_indices(state: L2State, tx: L2Tx, block: BlockContext) -> tuple[set[int], set[int]]:
    """Account and channel indices the rules of ``tx`` may read (a superset)."""
    if isinstance(tx, Deposit | ForcedWithdraw):
        index = l1_account_index(state, tx)
        return ({index} if index != NO_ACCOUNT else set()), set()
    accounts = {tx.sender, block.fee_recipient}
    channels: set[int] = set()
    if isinstance(tx, Transfer):
        accounts.add(tx.to)
    elif isinstance(tx, OpenChannel):
        accounts.add(tx.provider)
        count = len(state.channels)
        channels |= {count, count - 1} - {-1}
    elif isinstance(tx, ChannelTx):
        channels.add(tx.channel)
        channel = state.channel_at(tx.channel)
        if channel is not None:
            accounts |= {channel.renter, channel.provider}
    limit = 1 << TREE_DEPTH
    return {i for i in accounts if 0 <= i < limit}, {i for i in channels if 0 <= i < limit}


class _Recorder:
    """Delegates to an L2State, recording the sibling path of each leaf before it is written."""

    def __init__(self, state: L2State) -> None:
        self._state = state
        self.paths: list[tuple[bytes, ...]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)

    def put_account(self, account: Account) -> None:
        self.paths.append(tuple(self._state.account_tree.proof(account.index)))
        self._state.put_account(account)

    def put_channel(self, channel: L2Channel) -> None:
        self.paths.append(tuple(self._state.channel_tree.proof(channel.index)))
        self._state.put_channel(channel)

    def add_exit(self, address: Address, amount: Wei) -> Exit:
        self.paths.append(tuple(self._state.exit_tree.proof(len(self._state.exits))))
        return self._state.add_exit(address, amount)

    def count_deposit(self) -> None:
        self._state.count_deposit()


def step_witness(state: L2State, tx: L2Tx, block: BlockContext) -> StepWitness:
    """The witness for re-executing ``tx`` on ``state`` (left unchanged)."""
    account_ids, channel_ids = read_indices(state, tx, block)
    reads = tuple(
        AccountRead(i, state.account(i), tuple(state.account_tree.proof(i)))
        for i in sorted(account_ids)
    )
    creads = tuple(
        ChannelRead(i, state.channel_at(i), tuple(state.channel_tree.proof(i)))
        for i in sorted(channel_ids)
    )
    recorder = _Recorder(state)
    outer = state.recording
    mark = state.checkpoint()
    try:
        state_transition(recorder, tx, block)  # type: ignore[arg-type]
    except L2Error:
        pass
    finally:
        state.rollback(mark)
        if not outer:
            state.commit()
    return StepWitness(reads, creads, tuple(recorder.paths), len(state.channels))
