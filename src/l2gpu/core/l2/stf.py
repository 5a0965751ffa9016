"""The L2 state transition: the executable specification of the rollup.

``state_transition(state, tx, block)`` checks a transaction (``validate_*``, one
check per line, each a named reason) and only then changes the state
(``apply_*``). A rejected transaction raises :class:`L2Error` and leaves the
state untouched. Channel transactions run the very same rules as the L1
ChannelManager (``l2gpu.core.channel.machine``); only the money moves between
L2 balances instead of L1 transfers. Under the zk scheme a lease's channel is
``core/zk``'s instead (OPEN, co-signed CLOSE, RECLAIM), run by ``zk_channels.py``.

The rules are the same under every scheme (``scheme.py``); what differs is read
from the state's scheme in two places only: the key a deposit leaves on its
account (``apply_deposit``) and the authorization of a user transaction
(``validate_sender``); besides, ``core/zk``'s channel operations run under the zk
scheme only (``zk_channels.py`` reads the scheme's tree). How leaves are hashed and
the root computed is the state's own business (it writes every leaf through the
scheme's commitment).

Unlike the other machines of the core, this one does not return
:class:`~l2gpu.core.transition.TransitionResult`. Its state holds every account,
channel and exit of the rollup with their Merkle trees, so copying it for each
transaction would cost far more than the transaction itself; as execution-specs
does with its ``State``, it changes the state in place and returns only a
:class:`TxEffects` (the balance changes and the exit the transaction made). That
is why every check runs before the first write: a rejected transaction leaves the
state as it was, and a caller that may have to undo accepted ones (a commitment
whose later transaction fails) takes ``state.checkpoint()`` and ``rollback()``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from l2gpu.core.channel import ChannelError, ChannelParams, ManagerState
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel import state_transition as channel_transition
from l2gpu.core.channel.events import ChannelSettled, Payout, VoucherAccepted
from l2gpu.core.l2.records import MAX_BALANCE, Account, L2Channel
from l2gpu.core.l2.records import L2Error as L2Error  # raised by every rule; read from here
from l2gpu.core.l2.records import require as require
from l2gpu.core.l2.scheme import Authorization
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import (
    BlockContext,
    ChannelTx,
    CloseByProvider,
    CloseByRenter,
    CloseZkChannel,
    CooperativeClose,
    Deposit,
    ForcedWithdraw,
    L2Tx,
    OpenChannel,
    OpenZkChannel,
    ReclaimZkChannel,
    SettleChannel,
    SubmitVoucher,
    TopUpChannel,
    Transfer,
    UserTx,
    Withdraw,
    ZkChannelTx,
)
from l2gpu.core.l2.zk_channels import apply_zk_channel
from l2gpu.core.types import ZERO_ADDRESS, Address, Timestamp, Wei
from l2gpu.core.zk.channel import ChannelSteps


@dataclass(frozen=True, slots=True)
class TxEffects:
    """What one applied transaction did: balance changes per account, and its exit if any.

    Not a new state: :func:`state_transition` changed the state in place.
    """

    deltas: tuple[tuple[int, int], ...]
    exit_index: int | None = None
    channel_steps: ChannelSteps | None = None
    """A ``core/zk`` channel operation's steps (the zk batch's circuit input reads them)."""


def signers(state: L2State, tx: UserTx) -> tuple[int, ...]:
    """The accounts that must co-sign the commitment carrying ``tx``."""
    if isinstance(tx, CooperativeClose):
        channel = state.channel_at(tx.channel)
        if channel is not None:
            return tuple(sorted({channel.renter, channel.provider}))
    return (tx.sender,)


def state_transition(
    state: L2State,
    tx: L2Tx | ZkChannelTx,
    block: BlockContext,
    authorization: Authorization | None = None,
) -> TxEffects:
    """Apply ``tx`` to ``state`` in place, or raise L2Error and change nothing.

    ``authorization`` is a user transaction's own signature, which the state's
    scheme may require (the zk scheme does; the optimistic one authorizes by the
    commitment's co-signature instead and reads none). ``core/zk``'s channel
    operations run under the zk scheme only (``zk_channels.py``)."""
    if isinstance(tx, OpenZkChannel | CloseZkChannel | ReclaimZkChannel):
        deltas, steps = apply_zk_channel(state, tx, block, authorization)
        return TxEffects(deltas, channel_steps=steps)
    if isinstance(tx, Deposit):
        return apply_deposit(state, tx)
    if isinstance(tx, ForcedWithdraw):
        return apply_forced_withdraw(state, tx)
    sender = validate_sender(state, tx, block, authorization)
    if isinstance(tx, Transfer):
        return apply_transfer(state, sender, tx, block)
    if isinstance(tx, Withdraw):
        return apply_withdraw(state, sender, tx, block)
    if isinstance(tx, OpenChannel):
        return apply_open_channel(state, sender, tx, block)
    return apply_channel_tx(state, sender, tx, block)


def validate_sender(
    state: L2State, tx: UserTx, block: BlockContext, authorization: Authorization | None = None
) -> Account:
    """The sender exists, authorized ``tx`` as the state's scheme requires (under the
    optimistic scheme: holds a BLS key, to co-sign), and the fee recipient exists."""
    sender = state.account(tx.sender)
    require(sender is not None, "l2: unknown sender")
    assert sender is not None
    state.scheme.authorize(state.commitment, sender, tx, authorization)
    require(state.account(block.fee_recipient) is not None, "l2: unknown fee recipient")
    return sender


def apply_deposit(state: L2State, tx: Deposit) -> TxEffects:
    """Credit an L1 deposit, in queue order; a new address gets the next index. The
    state's scheme says which key the account holds after it, or skips it (counted,
    nothing credited: the zk scheme's rule for a key it cannot use)."""
    require(tx.queue_index == state.deposits_processed, "l2: deposit out of order")
    account = state.account_of(tx.address) or Account(len(state.accounts), tx.address)
    key = state.scheme.deposit_key(account, tx)
    if key is None:
        state.count_deposit()
        return TxEffects(())
    require(account.balance + tx.amount <= MAX_BALANCE, "l2: balance overflow")
    state.put_account(replace(account, balance=Wei(account.balance + tx.amount), bls_key=key))
    state.count_deposit()
    return TxEffects(((account.index, tx.amount),))


def apply_forced_withdraw(state: L2State, tx: ForcedWithdraw) -> TxEffects:
    """An L1-queued withdrawal: take what the balance allows (maybe nothing) to an exit."""
    require(tx.queue_index == state.deposits_processed, "l2: deposit out of order")
    account = state.account_of(tx.address)
    state.count_deposit()
    if account is None or account.balance == 0:
        return TxEffects(())
    amount = min(tx.amount, account.balance)
    state.put_account(replace(account, balance=Wei(account.balance - amount)))
    exit_ = state.add_exit(account.address, Wei(amount))
    return TxEffects(((account.index, -amount),), exit_.index)


def apply_transfer(state: L2State, sender: Account, tx: Transfer, block: BlockContext) -> TxEffects:
    """Move ``amount`` to an existing account; the fee to the fee recipient."""
    recipient = state.account(tx.to)
    require(recipient is not None, "l2: unknown recipient")
    assert recipient is not None
    require(tx.amount > 0, "l2: zero amount")
    require(sender.balance >= tx.amount + tx.fee, "l2: insufficient balance")
    require(
        tx.to == tx.sender or recipient.balance + tx.amount <= MAX_BALANCE, "l2: balance overflow"
    )
    debit(state, sender.index, tx.amount + tx.fee, bump_nonce=True)
    credit(state, tx.to, tx.amount)
    fee_delta = pay_fee(state, block.fee_recipient, tx.fee)
    return TxEffects(((tx.sender, -(tx.amount + tx.fee)), (tx.to, tx.amount), *fee_delta))


def apply_withdraw(state: L2State, sender: Account, tx: Withdraw, block: BlockContext) -> TxEffects:
    """Burn on L2, create an exit claimable on L1 once a root containing it is final."""
    require(tx.amount > 0, "l2: zero amount")
    require(sender.balance >= tx.amount + tx.fee, "l2: insufficient balance")
    debit(state, sender.index, tx.amount + tx.fee, bump_nonce=True)
    fee_delta = pay_fee(state, block.fee_recipient, tx.fee)
    exit_ = state.add_exit(sender.address, tx.amount)
    return TxEffects(((tx.sender, -(tx.amount + tx.fee)), *fee_delta), exit_.index)


def pay_fee(state: L2State, fee_recipient: int, fee: int) -> tuple[tuple[int, int], ...]:
    """Credit ``fee`` to the fee recipient now, or hold it for the batch's end under a
    scheme that credits fees once per batch (the zk scheme: its circuit updates the
    fee account's leaf once, after every slot); the balance change it made now."""
    if state.scheme.holds_fees:
        state.hold_fee(fee)
        return ()
    credit(state, fee_recipient, fee)
    return ((fee_recipient, fee),)


def credit_held_fees(state: L2State, fee_recipient: int) -> TxEffects:
    """End a batch under a scheme that holds fees: credit every held fee to
    ``fee_recipient`` in one write (also when they sum to 0, as the circuit's one
    update of the fee account's leaf), or raise L2Error and change nothing."""
    account = state.account(fee_recipient)
    require(account is not None, "l2: unknown fee recipient")
    assert account is not None
    require(account.balance + state.held_fees <= MAX_BALANCE, "l2: balance overflow")
    fees = state.release_fees()
    state.put_account(replace(account, balance=Wei(account.balance + fees)))
    return TxEffects(((fee_recipient, fees),))


def apply_open_channel(
    state: L2State, sender: Account, tx: OpenChannel, block: BlockContext
) -> TxEffects:
    """Open a channel from the renter's L2 balance, under the channel rules."""
    provider = state.account(tx.provider)
    require(provider is not None, "l2: unknown provider")
    assert provider is not None
    require(sender.balance >= tx.amount, "l2: insufficient balance")
    # The salt is the renter's nonce: every channel a renter opens has a fresh id.
    params = ChannelParams(sender.address, provider.address, ZERO_ADDRESS,
                           tx.challenge_period, sender.nonce.to_bytes(32, "big"),
                           tx.virtual)  # fmt: skip
    channel_input = ci.Open(
        sender.address, block.timestamp, params, tx.amount, tx.expires_at, tx.amount
    )
    return _run_channel_rules(state, sender, None, sender.index, provider.index, channel_input)


def apply_channel_tx(
    state: L2State, sender: Account, tx: ChannelTx, block: BlockContext
) -> TxEffects:
    """Run the channel rules of ``l2gpu.core.channel`` and move the money on L2."""
    existing = validate_channel(state, tx.channel)
    if isinstance(tx, TopUpChannel):
        require(sender.balance >= tx.amount, "l2: insufficient balance")
    channel_input = _channel_input(sender.address, block.timestamp, existing.channel.params, tx)
    return _run_channel_rules(
        state, sender, existing, existing.renter, existing.provider, channel_input
    )


def _run_channel_rules(
    state: L2State,
    sender: Account,
    existing: L2Channel | None,
    renter: int,
    provider: int,
    channel_input: ci.ChannelInput,
) -> TxEffects:
    params = channel_input.params
    known = {} if existing is None else {params.id: existing.channel}
    manager = ManagerState(state.chain_id, state.rollup, known)
    try:
        new_manager, events = channel_transition(manager, channel_input)
    except ChannelError as exc:
        raise L2Error(exc.reason) from exc
    # Validation is over: apply.
    locked = channel_input.value if isinstance(channel_input, ci.Open | ci.TopUp) else 0
    debit(state, sender.index, locked, bump_nonce=True)
    deltas: list[tuple[int, int]] = [(sender.index, -locked)]
    index = existing.index if existing is not None else len(state.channels)
    state.put_channel(L2Channel(index, new_manager.channels[params.id], renter, provider))
    for event in events:
        if isinstance(event, VoucherAccepted) and params.virtual is not None:
            assert isinstance(channel_input, ci.SubmitVoucher | ci.CloseByProvider)
            state.record_virtual_voucher(index, channel_input.amount, channel_input.signature)
        if isinstance(event, ChannelSettled):
            state.record_settlement(index, event.provider_payout, event.renter_payout)
        if isinstance(event, Payout):
            target = renter if event.to == params.renter else provider
            credit(state, target, event.amount)
            deltas.append((target, event.amount))
    return TxEffects(tuple(deltas))


def validate_channel(state: L2State, index: int) -> L2Channel:
    """The channel at ``index`` exists."""
    channel = state.channel_at(index)
    require(channel is not None, "l2: unknown channel")
    assert channel is not None
    return channel


def _channel_input(
    sender: Address, now: Timestamp, params: ChannelParams, tx: ChannelTx
) -> ci.ChannelInput:
    t = now
    if isinstance(tx, TopUpChannel):
        return ci.TopUp(sender, t, params, tx.amount, tx.expires_at, tx.amount)
    if isinstance(tx, CloseByRenter):
        return ci.CloseByRenter(sender, t, params, tx.amount)
    if isinstance(tx, SubmitVoucher):
        return ci.SubmitVoucher(sender, t, params, tx.amount, tx.signature)
    if isinstance(tx, CloseByProvider):
        return ci.CloseByProvider(sender, t, params, tx.amount, tx.signature)
    if isinstance(tx, SettleChannel):
        return ci.Settle(sender, t, params)
    if isinstance(tx, CooperativeClose):
        # Both parties co-signed the commitment (see signers()): that is the two
        # approvals the L1 contract checks as two EIP-712 signatures.
        return ci.ApprovedCooperativeClose(sender, t, params, tx.amount)
    raise L2Error(f"l2: unknown transaction {type(tx).__name__}")


def debit(state: L2State, index: int, amount: int, *, bump_nonce: bool) -> None:
    """Take ``amount`` from an account (checked before), counting the transaction."""
    account = state.accounts[index]
    nonce = account.nonce + 1 if bump_nonce else account.nonce
    state.put_account(replace(account, balance=Wei(account.balance - amount), nonce=nonce))


def credit(state: L2State, index: int, amount: int) -> None:
    """Add ``amount`` to an account."""
    if amount:
        account = state.accounts[index]
        state.put_account(replace(account, balance=Wei(account.balance + amount)))
