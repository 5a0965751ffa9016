"""FORCED EXIT in the zk ledger: the executable spec that ``ForcedExitSlot`` of
``circuits/withdrawal.circom`` matches.

A forced exit is how an account leaves when the operator keeps posting batches but
leaves its withdrawals out. The account's L1 address asks L1 itself
(``ZkRollup.force_exit``), which queues the address's own account index and stores
the address beside it. As with deposits, L1 writes the index of that part of the
batch's forced-exit section from its queue, in order, so the operator cannot skip
or reorder one; an entry left waiting past the forced-inclusion delay lets anyone
freeze the rollup (then the escape hatch pays every balance). It is a full exit, as
zkSync's priority exit is: the operator supplies only ``paid``, and the proof binds
it to the whole balance:

1. the slot's index is an account's (``zk: index out of range``, ``zk: index 0 is
   not an account``, ``zk: not an account index``);
2. the leaf holds an account (``zk: unknown sender``): L1 queues an exit only for
   an index it assigned to the sender and only once the deposit that created it is
   in an accepted batch, so an honest L1 never queues an empty leaf;
3. ``paid`` is the balance, maybe nothing, and the balance becomes 0; the nonce does
   not move, since nothing is signed (L1's queue takes each entry once, so there is
   nothing to replay).

Who is paid is L1's to say, not the slot's: L1 credits ``paid`` to the address it
stored with the request when the batch's proof verifies, as it credits a
withdrawal. That is the leaf's own address: L1 assigns an index to one address at
its first deposit and writes that address into the leaf in the same deposit slot,
and no operation changes a leaf's address. A full exit keeps the slot at 19 bytes
(no address, no requested amount), which keeps the tests' batch circuit under 2^18
constraints (docs/zk.md, "Forced exits"). ``core/l2``'s ``ForcedWithdraw`` of the
whole balance is the same rule, and ``core/l2/zk_batch.py`` hands it the section's
entries after the reclaims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.zk.pubdata import ForcedExitSlot
from l2gpu.core.zk.state import ZkState, require


@dataclass(frozen=True, slots=True)
class ForcedExitRequest:
    """A full exit L1 queued: the whole balance of account ``index``, to the L1
    address that asked (which L1 keeps and pays; the ledger needs only the index)."""

    index: int


@dataclass(frozen=True, slots=True)
class ForcedExitStep:
    """One forced exit's effect: the state after it and its public data slot."""

    after: ZkState
    slot: ForcedExitSlot


def _check_index(state: ZkState, index: int) -> None:
    """Raise :class:`ZkError` unless ``index`` is a leaf of the accounts' half."""
    require(state.in_range(index), "zk: index out of range",
            f"index must be in [0, {state.capacity}) (got {index})")  # fmt: skip
    require(index != 0, "zk: index 0 is not an account", "index 0 marks a no-op slot")
    require(not state.is_channel_index(index), "zk: not an account index",
            f"leaf {index} is in the channels' half of the tree")  # fmt: skip


def apply_forced_exit(state: ZkState, request: ForcedExitRequest) -> ForcedExitStep:
    """Pay the whole balance of the account out of the ledger; raises
    :class:`ZkError` on the first rule broken, in the order of the module's docstring."""
    index = request.index
    _check_index(state, index)
    account = state.account(index)
    require(account is not None, "zk: unknown sender", f"leaf {index} holds no account")
    assert account is not None
    after = state.with_account(index, replace(account, balance=0))
    return ForcedExitStep(after, ForcedExitSlot(index, account.balance))


def check_queued_owner(state: ZkState, index: int, eth_address: bytes) -> None:
    """Raise ``zk: forced exit of another owner`` when L1's queue entry would pay
    ``eth_address`` the balance of a leaf that holds another L1 address.

    The circuit does not check this (the address is not in the slot): an honest L1
    queues an exit only for the index it assigned to the asker. A node checks it
    before sealing so that a wrong L1 (another contract, a bug) halts the node with a
    reason instead of proving a payment to the wrong address."""
    account = state.account(index) if state.in_range(index) else None
    if account is None:
        return  # apply_forced_exit gives this entry's reason
    require(
        account.eth_address == int.from_bytes(eth_address, "big"),
        "zk: forced exit of another owner",
        f"leaf {index} belongs to another L1 address than the one L1 queued to pay",
    )
