"""TRANSFER in the zk ledger: the executable spec that ``circuits/transfer.circom`` matches.

A transfer moves ``amount`` wei from account ``from_index`` to account ``to_index``
and pays the fee ``fee_of(fee_code)`` (``fee_code * 10^12`` wei), signed with the
sender's EdDSA-Poseidon key. It is published as a 12-byte slot of the batch's public
data (``pubdata.TransferSlot``): the amount as a float40 code, the fee as its
one-byte code. Its signed message is one field element::

    Poseidon([TRANSFER_TAG, from_index, to_index, amount, fee_code, nonce])

``TRANSFER_TAG`` (1) keeps a transfer's signature from passing for another
operation with the same fields (a withdrawal signs with ``WITHDRAWAL_TAG``, 2).

The rules, in the order :func:`transfer_steps` makes them, each refusal a
:class:`ZkError` whose ``reason`` names it:

1. both indices are leaves of the tree (``zk: index out of range``) and neither is
   0 (``zk: index 0 is not an account``: index 0 marks a no-op slot); the amount
   has a float40 form (``zk: amount not representable``), the fee code is a byte
   (``zk: fee code out of range``) and the nonce is below 2^32
   (``zk: nonce out of range``);
2. the amount is not zero (``zk: zero amount``, as ``core/l2``);
3. the sender's slot holds an account (``zk: unknown sender``) whose key signed the
   message (``zk: bad signature``) and whose nonce equals ``nonce`` (``zk: wrong nonce``);
4. ``amount + fee <= balance`` (``zk: insufficient balance``) and the nonce can grow
   (``zk: nonce overflow``);
5. after the sender's update, the receiver's slot holds an account
   (``zk: unknown recipient``) whose balance plus ``amount`` stays below 2^128
   (``zk: balance overflow``).

The transition is two leaf updates, the sender's then the receiver's:
``sender.balance -= amount + fee; sender.nonce += 1``, then ``receiver.balance +=
amount``. The receiver is read after the sender's update, which is what makes a
transfer to oneself well defined (it pays the fee and uses a nonce, as in
``core/l2``) and what the circuit proves through an intermediate root.

The fee leaves the two accounts: the batch (``core/zk/batch.py``) credits the sum of
its transfers' fees to the operator's fee account in one leaf update at its end (one
Merkle path per batch instead of one per transfer). A transfer on its own, as
``circuits/transfer.circom``'s ``Transfer(depth)`` proves it, has no fee account.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.zk.pubdata import TransferSlot, encode_float40, fee_of
from l2gpu.core.zk.state import (
    MAX_BALANCE,
    MAX_NONCE,
    Account,
    ZkError,
    ZkState,
    require,
    signed_by_account,
)

TRANSFER_TAG = 1

CircuitInput = dict[str, int | list[int]]
"""The circuit's input signals by name."""


@dataclass(frozen=True, slots=True)
class TransferTx:
    """A transfer as signed: unchecked integers (a peer may send anything), checked by
    :func:`check_transfer`."""

    from_index: int
    to_index: int
    amount: int
    fee_code: int
    nonce: int

    @property
    def fee(self) -> int:
        """The fee in wei (:func:`pubdata.fee_of` the fee code)."""
        return fee_of(self.fee_code)

    @property
    def slot(self) -> TransferSlot:
        """The transfer as the batch's public data carries it."""
        return TransferSlot(self.from_index, self.to_index, self.amount, self.fee_code)


@dataclass(frozen=True, slots=True)
class TransferSteps:
    """The three states of one transfer: before, after the sender's update (the
    circuit's intermediate root), after the receiver's."""

    before: ZkState
    middle: ZkState
    after: ZkState


def message(tx: TransferTx) -> int:
    """The field element the sender signs. Raises :class:`ZkError` for fields out of
    range (they would not be canonical field elements, or would wrap around)."""
    _check_ranges(tx)
    fields = [TRANSFER_TAG, tx.from_index, tx.to_index, tx.amount, tx.fee_code, tx.nonce]
    return poseidon.hash(fields)


def sign_transfer(private_key: bytes, tx: TransferTx) -> eddsa.Signature:
    """The sender's signature of ``tx`` with its 32-byte EdDSA-Poseidon key."""
    return eddsa.sign(private_key, message(tx))


def check_transfer(state: ZkState, tx: TransferTx, signature: eddsa.Signature) -> None:
    """Raise :class:`ZkError` unless ``tx`` signed by ``signature`` applies to ``state``."""
    transfer_steps(state, tx, signature)


def apply_transfer(state: ZkState, tx: TransferTx, signature: eddsa.Signature) -> ZkState:
    """The state after ``tx``; ``state`` is unchanged. Raises :class:`ZkError`."""
    return transfer_steps(state, tx, signature).after


def transfer_steps(state: ZkState, tx: TransferTx, signature: eddsa.Signature) -> TransferSteps:
    """Check every rule and make both updates; raises :class:`ZkError` on the first
    rule broken, in the order of the module's docstring."""
    if not (state.in_range(tx.from_index) and state.in_range(tx.to_index)):
        raise ZkError(
            "zk: index out of range",
            f"from_index and to_index must be in [0, {state.capacity}) "
            f"(got {tx.from_index} and {tx.to_index})",
        )
    require(
        tx.from_index != 0 and tx.to_index != 0,
        "zk: index 0 is not an account",
        "index 0 marks a no-op slot",
    )
    digest = message(tx)
    require(tx.amount > 0, "zk: zero amount", "transfer at least 1 wei")
    sender = signed_by_account(state, tx.from_index, digest, signature, tx.nonce, "transfer")
    require(
        tx.amount + tx.fee <= sender.balance,
        "zk: insufficient balance",
        f"amount + fee is {tx.amount + tx.fee}, the balance {sender.balance}",
    )
    require(sender.nonce < MAX_NONCE, "zk: nonce overflow", "the account's nonces are used up")
    paid = replace(sender, balance=sender.balance - tx.amount - tx.fee, nonce=sender.nonce + 1)
    middle = state.with_account(tx.from_index, paid)
    receiver = middle.account(tx.to_index)
    require(receiver is not None, "zk: unknown recipient", f"slot {tx.to_index} is empty")
    assert receiver is not None
    require(
        receiver.balance + tx.amount <= MAX_BALANCE,
        "zk: balance overflow",
        f"account {tx.to_index} would hold 2^128 wei or more",
    )
    credited = replace(receiver, balance=receiver.balance + tx.amount)
    return TransferSteps(state, middle, middle.with_account(tx.to_index, credited))


def check_statement(
    state: ZkState, tx: TransferTx, signature: eddsa.Signature, new_root: int
) -> None:
    """Raise :class:`ZkError` unless ``tx`` takes ``state`` to ``new_root``: the
    circuit's public statement, checked by the spec."""
    after = apply_transfer(state, tx, signature).root()
    require(
        after == new_root,
        "zk: wrong new root",
        f"the transfer takes root {state.root():#x} to {after:#x}, not {new_root:#x}",
    )


def circuit_input(state: ZkState, tx: TransferTx, signature: eddsa.Signature) -> CircuitInput:
    """The input signals of ``circuits/transfer.circom`` for a valid transfer:
    public ``old_root`` and ``new_root``, and the private rest. The sender's proof is
    under the old root, the receiver's under the intermediate one."""
    steps = transfer_steps(state, tx, signature)
    sender = state.account(tx.from_index)
    receiver = steps.middle.account(tx.to_index)
    assert sender is not None  # transfer_steps checked both
    assert receiver is not None
    return input_signals(state, steps.middle, steps.after, tx, signature, sender, receiver)


def input_signals(
    state: ZkState,
    middle: ZkState,
    after: ZkState,
    tx: TransferTx,
    signature: eddsa.Signature,
    sender: Account,
    receiver: Account,
) -> CircuitInput:
    """The circuit's signals from the three states a transfer passes through (before,
    after the sender's update, after the receiver's), whatever made them: the spec
    (:func:`circuit_input`) or a test forging a dishonest prover's input."""
    return {
        "old_root": state.root(),
        "new_root": after.root(),
        "from_index": tx.from_index,
        "to_index": tx.to_index,
        "amount_code": encode_float40(tx.amount),
        "fee_code": tx.fee_code,
        "nonce": tx.nonce,
        "R8x": signature.r8.x,
        "R8y": signature.r8.y,
        "S": signature.s,
        "sender_ax": sender.ax,
        "sender_ay": sender.ay,
        "sender_balance": sender.balance,
        "sender_nonce": sender.nonce,
        "sender_address": sender.eth_address,
        "sender_path": list(state.proof(tx.from_index).siblings),
        "receiver_ax": receiver.ax,
        "receiver_ay": receiver.ay,
        "receiver_balance": receiver.balance,
        "receiver_nonce": receiver.nonce,
        "receiver_address": receiver.eth_address,
        "receiver_path": list(middle.proof(tx.to_index).siblings),
    }


def _check_ranges(tx: TransferTx) -> None:
    encode_float40(tx.amount)  # raises "zk: amount not representable" (or out of range)
    require(0 <= tx.fee_code <= 255, "zk: fee code out of range", "a fee code is one byte")
    require(0 <= tx.nonce <= MAX_NONCE, "zk: nonce out of range", "nonce must be in [0, 2^32)")
    for name, index in (("from_index", tx.from_index), ("to_index", tx.to_index)):
        require(
            0 <= index < poseidon.FIELD_MODULUS,
            "zk: index out of range",
            f"{name} must be a leaf of the tree",
        )
