"""A zk batch run by ``core/l2``: the ledger's one state transition under the zk
scheme applies the batch that ``circuits/batch.circom`` proves.

:func:`apply_zk_batch` takes what ``core/zk/batch.py``'s ``apply_batch`` takes (the
batch's operations as the zk node, its clients and L1 name them: ``core/zk`` leaf
indices, fee codes, unpacked signatures) and an :class:`L2State` of the
``PoseidonEddsa`` scheme. It hands ``stf.state_transition`` one ``core/l2``
transaction per operation, in the batch's order (deposits, transfers, withdrawals,
opens, closes, reclaims, forced exits: the order of the circuit's sections), each at the batch's
timestamp (``BlockContext.timestamp``: the channel operations read it), then
credits the held fees to the fee account in one write (``stf.credit_held_fees``:
under the zk scheme a fee waits for the batch's end, as the circuit's one update of
the fee account's leaf). The circuit's input is built from the states ``core/l2``
passed through: a slot's state before and after it, a transfer's intermediate
state (the tree after the sender's debit, from the commitment's trail) and a
channel operation's ``core/zk`` steps, which ``core/l2`` ran on its own tree before
writing its records (``zk_channels.py``).

Every operation must apply: the first refusal rolls the state back to where it was
and raises :class:`ZkError` with ``core/l2``'s reason (the node leaves the operation
out and builds the batch again), as ``apply_batch`` refuses. Two checks that
``core/zk`` does not need, since there L1's queue names the leaf:

- a deposit's leaf must be the one ``core/l2`` gives its L1 address (an address's
  existing account, or the next index for a new one, as ZkRollup.vy numbers them):
  ``zk: deposit index is not the ledger's``;
- a deposit ``core/l2`` skips for its key (a key that is no Baby Jubjub point,
  another key for the address) or a full accounts half is one ZkRollup.vy refuses
  to queue, so a batch holding one is refused: ``zk: deposit skipped by the
  ledger``. ``core/zk`` would prove it skipped; its ether would stay locked in the
  contract. A deposit that would take a balance to 2^128 wei (L1 bounds each
  deposit, not the account's sum) is skipped by both, as the circuit proves it.

A forced exit is ``core/l2``'s ``ForcedWithdraw`` of the leaf's own address for
``MAX_BALANCE`` (``min(amount, balance)``: the whole balance, to an exit, no
signature); its queue index is the ledger's one L1 counter, which under the zk
scheme counts deposits and forced exits together. The refusals L1 never meets (a
channel's index, an empty leaf) are ``core/zk``'s checks, made on the tree first, so
both ledgers give the same reason.

``tests/l2/test_zk_batch.py`` checks the result equals ``apply_batch``'s (state,
public data, public input and every circuit signal) on seeded random batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.l2.records import MAX_BALANCE, L2Error
from l2gpu.core.l2.scheme import Authorization
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import TxEffects, credit_held_fees, state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    CloseZkChannel,
    Deposit,
    ForcedWithdraw,
    OpenZkChannel,
    ReclaimZkChannel,
    Transfer,
    Withdraw,
)
from l2gpu.core.l2.zk_channels import l2_index
from l2gpu.core.l2.zk_scheme import PoseidonTree, key_bytes, zk_index
from l2gpu.core.types import Address, Timestamp, Wei
from l2gpu.core.zk.batch import BatchResult, check_fit
from l2gpu.core.zk.batch_input import SlotTrace, batch_signals
from l2gpu.core.zk.channel import CloseChannelTx, OpenChannelTx, ReclaimTx
from l2gpu.core.zk.forced_exit import ForcedExitRequest, apply_forced_exit
from l2gpu.core.zk.pubdata import (
    BatchShape,
    DepositSlot,
    ForcedExitSlot,
    WithdrawalSlot,
    batch_public_input,
    encode_batch,
)
from l2gpu.core.zk.state import ZkError, require
from l2gpu.core.zk.transfer import TransferTx
from l2gpu.core.zk.withdrawal import WithdrawalTx

_pack = eddsa.pack_signature


def apply_zk_batch(
    state: L2State,
    shape: BatchShape,
    fee_account: int,
    deposits: Sequence[DepositSlot],
    transfers: Sequence[TransferTx],
    withdrawals: Sequence[WithdrawalTx],
    signatures: Sequence[eddsa.Signature],
    *,
    opens: Sequence[tuple[OpenChannelTx, eddsa.Signature]] = (),
    closes: Sequence[CloseChannelTx] = (),
    reclaims: Sequence[ReclaimTx] = (),
    forced_exits: Sequence[ForcedExitRequest] = (),
    timestamp: int = 0,
    validium: bool = False,
) -> BatchResult:
    """Apply a batch to ``state`` in place (arguments as ``core/zk``'s ``apply_batch``,
    ``fee_account`` a ``core/zk`` leaf); return its result, whose ``new_state`` is the
    state's tree after it. Raises :class:`ZkError` and leaves ``state`` unchanged for
    any refusal (module docstring)."""
    tree = state.commitment
    scheme = state.scheme.name
    require(isinstance(tree, PoseidonTree), "zk: not a zk ledger",
            f"a zk batch runs on a state of the poseidon-eddsa scheme, not {scheme}")  # fmt: skip
    assert isinstance(tree, PoseidonTree)
    check_fit(shape, deposits, transfers, withdrawals, signatures, opens, closes, reclaims,
              forced_exits)  # fmt: skip
    require(0 < fee_account < tree.tree.capacity, "zk: unknown fee account",
            f"the fee account must be an account's index in [1, {tree.tree.capacity})")  # fmt: skip
    start = tree.tree
    block = BlockContext(Timestamp(timestamp), l2_index(fee_account))
    # all of the batch or none of it: a refusal rolls the state back
    with _as_zk_error(), state.atomic(BaseException):
        run = _Run(state, tree, block)
        for slot in deposits:
            run.deposit(slot)
        # Deposits alone create accounts, and they come first: core/zk's check at the
        # batch's end, made before the first transfer names the fee recipient.
        require(state.account(block.fee_recipient) is not None, "zk: unknown fee account",
                f"leaf {fee_account} holds no account: deposit into it on L1 first")  # fmt: skip
        for tx, signature in zip(transfers, signatures[: len(transfers)], strict=True):
            run.transfer(tx, signature)
        withdrawal_slots = [
            run.withdrawal(wtx, signature)
            for wtx, signature in zip(withdrawals, signatures[len(transfers) :], strict=True)
        ]
        for otx, signature in opens:
            opening = OpenZkChannel(otx.channel_index, l2_index(otx.renter),
                                    l2_index(otx.provider), Wei(otx.deposit),
                                    Timestamp(otx.expiry))  # fmt: skip
            authorization = Authorization(otx.nonce, _pack(signature))
            run.channel(opening, authorization, open=(otx, signature))
        for ctx in closes:
            close = CloseZkChannel(ctx.channel_index, Wei(ctx.amount), _pack(ctx.voucher),
                                   _pack(ctx.provider_signature))  # fmt: skip
            run.channel(close, None, close_tx=ctx)
        for rtx in reclaims:
            run.channel(ReclaimZkChannel(rtx.channel_index), None, reclaim_tx=rtx)
        exit_slots = [run.forced_exit(request) for request in forced_exits]
        before_fees = tree.tree  # the fee account's path is under this root
        credit_held_fees(state, block.fee_recipient)
        # still inside: a public data field out of range (a timestamp past 2^32) undoes it
        after = tree.tree
        data = encode_batch(
            shape, start.root(), after.root(), fee_account, list(deposits),
            [tx.slot for tx in transfers], withdrawal_slots, [otx.slot for otx, _ in opens],
            [ctx.slot for ctx in closes], [rtx.slot for rtx in reclaims], timestamp,
            forced_exits=exit_slots,
        )  # fmt: skip
        digest = batch_public_input(shape, data, validium=validium)
        signals = batch_signals(shape, start, run.traces, before_fees, fee_account,
                                after.root(), digest, timestamp)  # fmt: skip
    return BatchResult(after, data, digest, signals)


class _Run:
    """One batch under way: each operation through ``state_transition``, and its trace."""

    def __init__(self, state: L2State, tree: PoseidonTree, block: BlockContext) -> None:
        self.state, self.tree, self.block = state, tree, block
        self.traces: list[SlotTrace] = []

    def deposit(self, slot: DepositSlot) -> None:
        """L1's queued deposit ``slot``, at the leaf ``core/l2`` gives its address."""
        address = Address(slot.eth_address)
        known = self.state.account_of(address)
        index = known.index if known is not None else len(self.state.accounts)
        require(zk_index(index) == slot.index, "zk: deposit index is not the ledger's",
                f"L1 queued leaf {slot.index} for an address the ledger puts at leaf "
                f"{zk_index(index)}: L1 and the ledger disagree, nothing is sealed")  # fmt: skip
        before = self.tree.tree
        tx = Deposit(self.state.deposits_processed, address, Wei(slot.amount),
                     key_bytes(slot.ax, slot.ay), b"")  # fmt: skip
        effects = self._apply(tx, None)
        # Skipped for overflow (2^128 wei: unreachable with ether's supply) as core/zk
        # and the circuit skip it; any other skip is a deposit L1 refuses to queue.
        overflow = known is not None and known.balance + slot.amount > MAX_BALANCE
        require(bool(effects.deltas) or overflow, "zk: deposit skipped by the ledger",
                f"the deposit to leaf {slot.index} names a key the ledger cannot use, which "
                "L1 refuses to queue: L1 and the ledger disagree, nothing is sealed")  # fmt: skip
        self.traces.append(SlotTrace(before, self.tree.tree, deposit=slot))

    def transfer(self, tx: TransferTx, signature: eddsa.Signature) -> None:
        """A signed transfer; its intermediate state is the tree after the debit."""
        before = self.tree.tree
        l2tx = Transfer(l2_index(tx.from_index), l2_index(tx.to_index), Wei(tx.amount),
                        Wei(tx.fee))  # fmt: skip
        self.tree.trail = []
        try:
            self._apply(l2tx, Authorization(tx.nonce, _pack(signature)))
            middle = self.tree.trail[0]  # the sender's debit, then the receiver's credit
        finally:
            self.tree.trail = None
        self.traces.append(SlotTrace(before, self.tree.tree, transfer=(tx, signature, middle)))

    def withdrawal(self, tx: WithdrawalTx, signature: eddsa.Signature) -> WithdrawalSlot:
        """A signed withdrawal; its public slot pays the exit ``core/l2`` made."""
        before = self.tree.tree
        l2tx = Withdraw(l2_index(tx.from_index), Wei(tx.amount), Wei(0))
        effects = self._apply(l2tx, Authorization(tx.nonce, _pack(signature)))
        assert effects.exit_index is not None, "a withdrawal makes an exit"
        exit_ = self.state.exits[effects.exit_index]
        slot = WithdrawalSlot(tx.from_index, exit_.address, exit_.amount)
        self.traces.append(SlotTrace(before, self.tree.tree, withdrawal=(tx, signature, slot)))
        return slot

    def forced_exit(self, request: ForcedExitRequest) -> ForcedExitSlot:
        """L1's queued full exit: ``core/l2``'s ``ForcedWithdraw`` of the leaf's address
        for all it holds."""
        before = self.tree.tree
        expected = apply_forced_exit(before, request)  # L1's guarantees, core/zk's reasons
        account = before.account(request.index)
        assert account is not None, "apply_forced_exit refuses an empty leaf"
        address = Address(account.eth_address.to_bytes(20, "big"))
        tx = ForcedWithdraw(self.state.deposits_processed, address, Wei(MAX_BALANCE))
        effects = self._apply(tx, None)
        paid = 0 if effects.exit_index is None else self.state.exits[effects.exit_index].amount
        slot = ForcedExitSlot(request.index, paid)
        assert slot == expected.slot, "core/l2 pays what core/zk pays"
        assert self.tree.tree.root() == expected.after.root(), "core/l2 wrote core/zk's tree"
        self.traces.append(SlotTrace(before, self.tree.tree, forced_exit=slot))
        return slot

    def channel(
        self,
        tx: OpenZkChannel | CloseZkChannel | ReclaimZkChannel,
        authorization: Authorization | None,
        *,
        open: tuple[OpenChannelTx, eddsa.Signature] | None = None,
        close_tx: CloseChannelTx | None = None,
        reclaim_tx: ReclaimTx | None = None,
    ) -> None:
        """A channel's OPEN, CLOSE or RECLAIM with the ``core/zk`` steps it ran."""
        before = self.tree.tree
        steps = self._apply(tx, authorization).channel_steps
        assert steps is not None, "a zk channel operation returns its steps"
        assert steps.after.root() == self.tree.tree.root(), "core/l2 wrote core/zk's tree"
        self.traces.append(SlotTrace(
            before, self.tree.tree,
            open=None if open is None else (*open, steps),
            close=None if close_tx is None else (close_tx, steps),
            reclaim=None if reclaim_tx is None else (reclaim_tx, steps),
        ))  # fmt: skip

    def _apply(
        self,
        tx: Deposit
        | ForcedWithdraw
        | Transfer
        | Withdraw
        | OpenZkChannel
        | CloseZkChannel
        | ReclaimZkChannel,
        authorization: Authorization | None,
    ) -> TxEffects:
        return state_transition(self.state, tx, self.block, authorization)


@contextmanager
def _as_zk_error() -> Iterator[None]:
    """A refusal of ``core/l2``'s surfaces as :class:`ZkError` with its reason (the zk
    node's callers catch that one)."""
    try:
        yield
    except L2Error as exc:
        raise ZkError(exc.reason, exc.fix) from exc
