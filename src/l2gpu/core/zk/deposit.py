"""DEPOSIT in the zk ledger: the executable spec that ``circuits/deposit.circom`` matches.

A deposit comes from L1's queue, not from a user's signature: the contract takes the
ether, assigns the leaf index of the depositor's (key, L1 address) pair and writes
the batch's deposit section itself (``pubdata.DepositSlot``). So the operator can
neither invent nor skip a deposit, and the ledger must be able to prove the batch
whatever the queue holds: a deposit never refuses the batch, it **applies** or is
**skipped**, and the circuit proves either outcome.

It applies, in the order :func:`apply_deposit` decides:

1. the key ``(ax, ay)`` is a canonical Baby Jubjub point (both coordinates below p,
   on the curve): otherwise ``SKIPPED_BAD_KEY`` (the account could never sign);
2. leaf ``index`` is empty: the account is **created** with ``balance = amount``,
   ``nonce = 0`` and the deposit's ``eth_address``;
3. or it holds an account with the same ``ax``, ``ay`` and ``eth_address``: the
   amount is **credited**; an account of another owner: ``SKIPPED_OTHER_OWNER``;
4. the new balance stays below 2^128: otherwise ``SKIPPED_OVERFLOW`` (the ledger's
   balances are 128-bit, as in ``core/l2``).

A skipped deposit changes no state, and its ether stays in the L1 contract: the
public data carries no outcome per deposit (its layout is fixed), so L1 cannot
refund it from the proof alone. None of the three can happen with an honest L1:
it assigns one index per (key, address) pair, so an index never holds another
owner; ether's whole supply is far below 2^128 wei; and L1 can check a key is a
curve point when it queues one (a few modular multiplications). The rules exist so
that the circuit is total, not as a path for funds.

What the spec does refuse (:class:`ZkError`) is what L1 never queues: index 0
(``zk: index 0 is not an account``, the no-op marker), an index beyond the tree
(``zk: index out of range``; at the production depth 24 every 3-byte index is a
leaf) and fields that do not fit their bytes (``pubdata.encode_deposit``'s reasons).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from l2gpu.core.crypto import babyjubjub as bjj
from l2gpu.core.zk.pubdata import DepositSlot, encode_deposit
from l2gpu.core.zk.state import MAX_BALANCE, Account, ZkState, require


class DepositOutcome(Enum):
    """What a deposit did to the state."""

    CREATED = "created"
    CREDITED = "credited"
    SKIPPED_BAD_KEY = "skipped: the key is not a Baby Jubjub point"
    SKIPPED_OTHER_OWNER = "skipped: the leaf holds another owner's account"
    SKIPPED_OVERFLOW = "skipped: the balance would reach 2^128"

    @property
    def applied(self) -> bool:
        """Whether the state changed."""
        return self in (DepositOutcome.CREATED, DepositOutcome.CREDITED)


@dataclass(frozen=True, slots=True)
class DepositStep:
    """One deposit's effect: the state after it and what happened."""

    after: ZkState
    outcome: DepositOutcome


def address_int(eth_address: bytes) -> int:
    """A 20-byte L1 address as the leaf's 160-bit integer (big-endian)."""
    return int.from_bytes(eth_address, "big")


def valid_key(ax: int, ay: int) -> bool:
    """Whether ``(ax, ay)`` is a canonical point of Baby Jubjub (what the circuit's
    ``Coordinate`` and on-curve checks compute)."""
    return bjj.is_on_curve(bjj.Point(ax, ay))  # refuses coordinates outside [0, p)


def apply_deposit(state: ZkState, slot: DepositSlot) -> DepositStep:
    """The state after deposit ``slot`` and its outcome. Raises :class:`ZkError` only
    for what L1 never queues (see the module's docstring)."""
    encode_deposit(slot)  # the fields fit their bytes; index 0 refused
    require(
        state.in_range(slot.index),
        "zk: index out of range",
        f"a deposit's index must be a leaf, in [1, {state.capacity})",
    )
    if not valid_key(slot.ax, slot.ay):
        return DepositStep(state, DepositOutcome.SKIPPED_BAD_KEY)
    address = address_int(slot.eth_address)
    current = state.account(slot.index)
    if current is None:
        require(
            state.leaf(slot.index) == 0,
            "zk: unknown leaf",
            f"leaf {slot.index} is set but its account is not known to this state",
        )
        if slot.amount > MAX_BALANCE:  # cannot happen: the amount is 16 bytes
            return DepositStep(state, DepositOutcome.SKIPPED_OVERFLOW)
        created = Account(slot.ax, slot.ay, slot.amount, 0, address)
        return DepositStep(state.with_account(slot.index, created), DepositOutcome.CREATED)
    if (current.ax, current.ay, current.eth_address) != (slot.ax, slot.ay, address):
        return DepositStep(state, DepositOutcome.SKIPPED_OTHER_OWNER)
    if current.balance + slot.amount > MAX_BALANCE:
        return DepositStep(state, DepositOutcome.SKIPPED_OVERFLOW)
    credited = replace(current, balance=current.balance + slot.amount)
    return DepositStep(state.with_account(slot.index, credited), DepositOutcome.CREDITED)
