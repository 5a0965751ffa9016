"""FORCED EXIT in the zk ledger: the executable spec that ``ForcedExitSlot`` of
``circuits/withdrawal.circom`` matches.

A forced exit is how an account leaves when the operator keeps posting batches but
leaves its withdrawals out. The account's L1 address asks L1 itself
(``ZkRollup.force_exit``), which queues ``(index, address, requested)``: the
address's own account index, the address, and the wei it asks for. As with
deposits, L1 writes that part of the batch's forced-exit section from its queue,
in order, so the operator cannot skip or reorder one; an entry left waiting past
the forced-inclusion delay lets anyone freeze the rollup (then the escape hatch pays
every balance). The operator supplies only ``paid``, and the proof binds it:

1. the slot's index is an account's (``zk: index out of range``, ``zk: index 0 is
   not an account``, ``zk: not an account index``) and ``0 < requested < 2^128``
   (``zk: zero amount``, ``zk: amount out of range``);
2. the leaf holds an account whose L1 address is the slot's (``zk: unknown
   sender``, ``zk: forced exit of another owner``): L1 queues an exit only for the
   sender's own index and only once the deposit that created it is in an accepted
   batch, so neither refusal can meet an entry an honest L1 queued;
3. ``paid = min(requested, balance)``: all of it, or what the balance holds (maybe
   nothing). The balance pays it; the nonce does not move, since nothing is signed
   (L1's queue takes each entry once, so there is nothing to replay).

L1 credits ``paid`` to the address when the batch's proof verifies, as it credits a
withdrawal. ``core/l2``'s ``ForcedWithdraw`` is the same rule (``min(amount,
balance)`` to an exit, no signature, no nonce), and ``core/l2/zk_batch.py`` hands it
the section's entries after the reclaims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.zk.pubdata import ForcedExitSlot
from l2gpu.core.zk.state import MAX_BALANCE, ZkState, require


@dataclass(frozen=True, slots=True)
class ForcedExitRequest:
    """An exit L1 queued: ``requested`` wei out of account ``index`` to ``eth_address``
    (20 bytes), the address that asked."""

    index: int
    eth_address: bytes
    requested: int


@dataclass(frozen=True, slots=True)
class ForcedExitStep:
    """One forced exit's effect: the state after it and its public data slot."""

    after: ZkState
    slot: ForcedExitSlot


def apply_forced_exit(state: ZkState, request: ForcedExitRequest) -> ForcedExitStep:
    """Pay ``min(requested, balance)`` of the account to its L1 address; raises
    :class:`ZkError` on the first rule broken, in the order of the module's docstring."""
    index = request.index
    require(state.in_range(index), "zk: index out of range",
            f"index must be in [0, {state.capacity}) (got {index})")  # fmt: skip
    require(index != 0, "zk: index 0 is not an account", "index 0 marks a no-op slot")
    require(not state.is_channel_index(index), "zk: not an account index",
            f"leaf {index} is in the channels' half of the tree")  # fmt: skip
    require(0 <= request.requested <= MAX_BALANCE, "zk: amount out of range",
            "requested below 2^128")  # fmt: skip
    require(request.requested > 0, "zk: zero amount", "ask for at least 1 wei")
    require(len(request.eth_address) == 20, "zk: an L1 address is 20 bytes",
            "give the 20-byte address that asked L1")  # fmt: skip
    account = state.account(index)
    require(account is not None, "zk: unknown sender", f"leaf {index} holds no account")
    assert account is not None
    require(
        account.eth_address == int.from_bytes(request.eth_address, "big"),
        "zk: forced exit of another owner",
        f"leaf {index} belongs to another L1 address: L1 queues an exit for the asker's own",
    )
    paid = min(request.requested, account.balance)
    after = state.with_account(index, replace(account, balance=account.balance - paid))
    slot = ForcedExitSlot(index, bytes(request.eth_address), request.requested, paid)
    return ForcedExitStep(after, slot)
