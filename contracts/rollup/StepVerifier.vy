# pragma version ~=0.4.3
"""
@title StepVerifier
@license Apache-2.0
@notice One step of the L2 state transition, re-executed on L1 from Merkle
        witnesses: the heart of a fraud proof. Given the state-root parts before one
        transaction, the transaction (read from a posted commitment, or an L1 queue
        entry) and the leaves it touches with their proofs, it returns the state
        root after the transaction, or the name of the rule the transaction breaks.
        A witness that does not prove what it claims reverts ("witness: ...").
@dev    The specification is src/l2gpu/core/l2/stf.py run over the witness-backed
        state of src/l2gpu/core/l2/proofs/step.py; every check below mirrors one
        `require` there, in the same order, with the same reason, and the writes
        happen in the same order along the supplied paths. Tests compare the two
        on random steps (tests/l2/test_step_verifier.py).
"""

from common import vouchers
from interfaces import IBlsVerifier
from interfaces import IStepVerifier
from . import state_leaves

implements: IStepVerifier

NO_ACCOUNT: constant(uint256) = 2**24 - 1
UNPROVEN: constant(uint256) = max_value(uint256)
MAX_BALANCE: constant(uint256) = 2**128 - 1
MAX_TIMESTAMP: constant(uint256) = 2**64 - 1
# The contract's floor, not the market's policy minimum (3600 s, core/market/settlement.py).
MIN_CHALLENGE_PERIOD: constant(uint256) = 1
MAX_CHALLENGE_PERIOD: constant(uint256) = 365 * 24 * 3600
PPM: constant(uint256) = 1_000_000
OPEN: constant(uint256) = 1
CLOSING: constant(uint256) = 2
SETTLED: constant(uint256) = 3
KIND_DEPOSIT: constant(uint256) = 1
OK: constant(String[1]) = ""

BLS: public(immutable(IBlsVerifier))

# The working state of one step, in transient storage (EIP-1153): passing it by value
# between internal functions made the bytecode twice the EIP-170 limit.
_roots: transient(bytes32[3])
_deposits: transient(uint256)
_exit_count: transient(uint256)
_channel_count: transient(uint256)
_now: transient(uint256)
_fee_recipient: transient(uint256)
_paths: transient(HashMap[uint256, bytes32[state_leaves.DEPTH]])
_paths_total: transient(uint256)
_paths_used: transient(uint256)
_accounts: transient(HashMap[uint256, state_leaves.Account])
_accounts_n: transient(uint256)
_channels: transient(HashMap[uint256, state_leaves.Channel])
_channels_n: transient(uint256)


@deploy
def __init__(_bls: address):
    """
    @param _bls The BlsVerifier contract (proofs of possession in deposits).
    """
    BLS = IBlsVerifier(_bls)


# -- entry points -----------------------------------------------------------------------

@external
def verify_tx(_chain_id: uint256, _rollup: address, _pre: state_leaves.RootParts, _commitment: Bytes[state_leaves.MAX_COMMITMENT], _position: uint256, _fee_recipient: uint256, _w: state_leaves.Witness) -> (String[64], bytes32):
    """
    @notice Re-execute transaction `_position` of a posted commitment.
    @dev Not a view only because it keeps its working state in transient storage.
    @return ("", post-state root) if it applies, else (the broken rule, empty).
    """
    item: state_leaves.Tx = state_leaves._tx_at(_commitment, _position)
    self._load(_pre, _w)
    self._now = convert(slice(_commitment, 2, 8), uint256)
    self._fee_recipient = _fee_recipient
    fault: String[64] = self._user_tx(_chain_id, _rollup, item)
    if fault != OK:
        return fault, empty(bytes32)
    assert self._paths_used == self._paths_total, "witness: more write paths than the step writes"
    return OK, self._root()


@external
def verify_l1_op(_pre: state_leaves.RootParts, _op: state_leaves.L1Op, _w: state_leaves.Witness) -> (String[64], bytes32):
    """
    @notice Re-execute an L1 queue operation (deposit or forced withdrawal).
    @dev The caller (the Rollup) has checked `_op` against its queue entry.
    """
    self._load(_pre, _w)
    if _op.queue_index != self._deposits:
        return "l2: deposit out of order", empty(bytes32)
    account: state_leaves.Account = empty(state_leaves.Account)
    if _op.account_index != NO_ACCOUNT:
        account = self._account(_op.account_index)
        assert not account.present or account.addr == _op.sender, "witness: the queue's account index holds another address"
    self._deposits += 1
    if _op.kind == KIND_DEPOSIT:
        if not account.present:
            account = state_leaves.Account(index=_op.account_index, present=True, addr=_op.sender, balance=0, nonce=0, bls_key=empty(Bytes[96]))
        if account.balance + _op.amount > MAX_BALANCE:
            return "l2: balance overflow", empty(bytes32)
        if self._no_key(account.bls_key) and self._possession(_op):
            account.bls_key = _op.bls_key
        account.balance += _op.amount
        self._put_account(account)
    elif account.present and account.balance > 0:
        amount: uint256 = min(_op.amount, account.balance)
        account.balance -= amount
        self._put_account(account)
        self._add_exit(account.addr, amount)
    assert self._paths_used == self._paths_total, "witness: more write paths than the step writes"
    return OK, self._root()


# -- user transactions (stf.py) ----------------------------------------------------------

@internal
def _user_tx(_chain_id: uint256, _rollup: address, _tx: state_leaves.Tx) -> String[64]:
    """
    @dev Mirrors core/l2/stf.py state_transition for a user transaction: validate_sender, then the apply_* of its kind.
    """
    sender: state_leaves.Account = self._account(_tx.sender)
    if not sender.present:
        return "l2: unknown sender"
    if self._no_key(sender.bls_key):
        return "l2: sender has no BLS key"
    if not self._account(self._fee_recipient).present:
        return "l2: unknown fee recipient"
    if _tx.op == state_leaves.TX_TRANSFER:
        return self._transfer(_tx, sender)
    if _tx.op == state_leaves.TX_WITHDRAW:
        if _tx.amount == 0:
            return "l2: zero amount"
        if sender.balance < _tx.amount + _tx.fee:
            return "l2: insufficient balance"
        self._debit(_tx.sender, _tx.amount + _tx.fee)
        self._credit(self._fee_recipient, _tx.fee)
        self._add_exit(sender.addr, _tx.amount)
        return OK
    if _tx.op == state_leaves.TX_OPEN:
        return self._open(_tx, sender)
    return self._channel_tx(_chain_id, _rollup, _tx, sender)


@internal
def _transfer(_tx: state_leaves.Tx, _sender: state_leaves.Account) -> String[64]:
    """
    @dev Mirrors core/l2/stf.py apply_transfer.
    """
    recipient: state_leaves.Account = self._account(_tx.target)
    if not recipient.present:
        return "l2: unknown recipient"
    if _tx.amount == 0:
        return "l2: zero amount"
    if _sender.balance < _tx.amount + _tx.fee:
        return "l2: insufficient balance"
    if _tx.target != _tx.sender and recipient.balance + _tx.amount > MAX_BALANCE:
        return "l2: balance overflow"
    self._debit(_tx.sender, _tx.amount + _tx.fee)
    self._credit(_tx.target, _tx.amount)
    self._credit(self._fee_recipient, _tx.fee)
    return OK


@internal
def _open(_tx: state_leaves.Tx, _sender: state_leaves.Account) -> String[64]:
    """
    @dev Mirrors core/l2/stf.py apply_open_channel (with core/channel/machine.py handle_open).
    """
    provider: state_leaves.Account = self._account(_tx.target)
    if not provider.present:
        return "l2: unknown provider"
    if _sender.balance < _tx.amount:
        return "l2: insufficient balance"
    # The channel rules of core/channel/machine.py handle_open (the renter is the sender).
    if provider.addr == empty(address) or provider.addr == _sender.addr:
        return "channel: provider must be another account"
    if _tx.period < MIN_CHALLENGE_PERIOD or _tx.period > MAX_CHALLENGE_PERIOD:
        return "channel: challenge period out of range"
    if _tx.amount == 0 or _tx.amount > MAX_BALANCE:
        return "channel: deposit out of range"
    if self._now >= _tx.expires_at or _tx.expires_at > MAX_TIMESTAMP:
        return "channel: expiry must be in the future"
    if _tx.virtual and (_tx.signer == empty(address) or _tx.virtual_id == empty(bytes32) or _tx.fee_ppm > PPM):
        return "channel: bad virtual terms"
    index: uint256 = self._channel_count
    assert index != UNPROVEN, "witness: the step needs the number of channels"
    # The salt is the renter's nonce, so every channel a renter opens has a fresh id.
    params: state_leaves.ChannelParams = state_leaves.ChannelParams(renter=_sender.addr, provider=provider.addr, token=empty(address), challenge_period=_tx.period, salt=convert(_sender.nonce, bytes32), signer=_tx.signer, virtual_id=_tx.virtual_id, fee_ppm=_tx.fee_ppm)
    self._debit(_tx.sender, _tx.amount)
    self._put_channel(state_leaves.Channel(index=index, present=True, params=params, renter_index=_tx.sender, provider_index=_tx.target, deposit=_tx.amount, best=0, expires_at=_tx.expires_at, close_deadline=0, status=OPEN))
    return OK


@internal
def _channel_tx(_chain_id: uint256, _rollup: address, _tx: state_leaves.Tx, _sender: state_leaves.Account) -> String[64]:
    """
    @dev Mirrors core/l2/stf.py apply_channel_tx and _run_channel_rules (the handle_* of core/channel/machine.py).
    """
    channel: state_leaves.Channel = self._channel(_tx.target)
    if not channel.present:
        return "l2: unknown channel"
    if _tx.op == state_leaves.TX_TOP_UP and _sender.balance < _tx.amount:
        return "l2: insufficient balance"
    # The channel rules (core/channel/machine.py), with the sender's address.
    if channel.status == SETTLED:
        return "channel: already settled"
    deadline: uint256 = channel.close_deadline
    if channel.status != CLOSING:
        deadline = channel.expires_at + channel.params.challenge_period
    locked: uint256 = 0
    payout: bool = False
    to_provider: uint256 = 0
    if _tx.op == state_leaves.TX_TOP_UP:
        if channel.status != OPEN:
            return "channel: closing"
        if _sender.addr != channel.params.renter:
            return "channel: only the renter may top up"
        if self._now >= channel.expires_at:
            return "channel: expired"
        if _tx.expires_at < channel.expires_at or _tx.expires_at > MAX_TIMESTAMP:
            return "channel: expiry cannot move earlier"
        if channel.deposit + _tx.amount > MAX_BALANCE:
            return "channel: deposit out of range"
        channel.deposit += _tx.amount
        channel.expires_at = _tx.expires_at
        locked = _tx.amount
    elif _tx.op == state_leaves.TX_CLOSE_BY_RENTER:
        if channel.status != OPEN:
            return "channel: closing"
        if _sender.addr != channel.params.renter:
            return "channel: only the renter may start a close"
        if _tx.amount > MAX_BALANCE:
            return "channel: amount out of range"
        channel.best = max(channel.best, _tx.amount)
        channel.close_deadline = self._now + channel.params.challenge_period
        channel.status = CLOSING
    elif _tx.op == state_leaves.TX_SUBMIT_VOUCHER:
        if self._now >= deadline:
            return "channel: deadline passed"
        if _tx.amount > MAX_BALANCE:
            return "channel: amount out of range"
        credited: uint256 = self._credited(channel.params, _tx.amount)
        if credited <= channel.best:
            return "channel: voucher not above the best"
        if not self._voucher_ok(_chain_id, _rollup, channel.params, _tx.amount, _tx.signature):
            return "channel: bad voucher signature"
        channel.best = credited
    elif _tx.op == state_leaves.TX_CLOSE_BY_PROVIDER:
        if _sender.addr != channel.params.provider:
            return "channel: only the provider may close at once"
        if self._now >= deadline:
            return "channel: deadline passed"
        if _tx.amount > MAX_BALANCE:
            return "channel: amount out of range"
        credited: uint256 = self._credited(channel.params, _tx.amount)
        if credited > channel.best:
            if not self._voucher_ok(_chain_id, _rollup, channel.params, _tx.amount, _tx.signature):
                return "channel: bad voucher signature"
            channel.best = credited
        payout = True
        to_provider = min(channel.best, channel.deposit)
    elif _tx.op == state_leaves.TX_COOPERATIVE_CLOSE:
        if _tx.amount > channel.deposit:
            return "channel: amount above deposit"
        payout = True
        to_provider = _tx.amount
    else:
        if self._now < deadline:
            return "channel: challenge period not over"
        payout = True
        to_provider = min(channel.best, channel.deposit)
    # Validation is over: apply, in the order of stf._run_channel_rules.
    self._debit(_tx.sender, locked)
    to_renter: uint256 = 0
    if payout:
        to_renter = channel.deposit - to_provider
        channel.deposit = 0
        channel.expires_at = 0
        channel.best = 0
        channel.close_deadline = 0
        channel.status = SETTLED
    self._put_channel(channel)
    if payout:
        self._credit(channel.provider_index, to_provider)
        self._credit(channel.renter_index, to_renter)
    return OK


# -- the witness-backed state (proofs/step.py) --------------------------------------------

@internal
def _load(_pre: state_leaves.RootParts, _w: state_leaves.Witness):
    """
    @dev Mirrors core/l2/proofs/step.py WitnessState.__post_init__: every read proven against the pre-state.
    """
    self._roots = [_pre.accounts_root, _pre.channels_root, _pre.exits_root]
    self._deposits = _pre.deposits_processed
    self._exit_count = _pre.exit_count
    self._channel_count = UNPROVEN
    self._accounts_n = 0
    self._channels_n = 0
    self._paths_used = 0
    self._paths_total = len(_w.writes)
    for i: uint256 in range(state_leaves.MAX_WRITES):
        if i >= len(_w.writes):
            break
        self._paths[i] = _w.writes[i]
    for read: state_leaves.AccountRead in _w.accounts:
        assert state_leaves._merkle(state_leaves._account_leaf(read.account), read.account.index, read.proof) == _pre.accounts_root, "witness: bad account proof"
        self._accounts[self._accounts_n] = read.account
        self._accounts_n += 1
    count_present: bool = _w.channel_count == 0
    count_empty: bool = False
    for cread: state_leaves.ChannelRead in _w.channels:
        assert state_leaves._merkle(state_leaves._channel_leaf(cread.channel), cread.channel.index, cread.proof) == _pre.channels_root, "witness: bad channel proof"
        self._channels[self._channels_n] = cread.channel
        self._channels_n += 1
        if cread.channel.index == _w.channel_count and not cread.channel.present:
            count_empty = True
        if cread.channel.index + 1 == _w.channel_count and cread.channel.present:
            count_present = True
    if count_present and count_empty:
        self._channel_count = _w.channel_count


@view
@internal
def _slot_of_account(_index: uint256) -> uint256:
    for i: uint256 in range(state_leaves.MAX_READS):
        if i >= self._accounts_n:
            break
        if self._accounts[i].index == _index:
            return i
    return state_leaves.MAX_READS


@view
@internal
def _account(_index: uint256) -> state_leaves.Account:
    """
    @dev Mirrors core/l2/proofs/step.py WitnessState.account.
    """
    slot: uint256 = self._slot_of_account(_index)
    assert slot < state_leaves.MAX_READS, "witness: an account the step reads is not in the witness"
    return self._accounts[slot]


@view
@internal
def _slot_of_channel(_index: uint256) -> uint256:
    for i: uint256 in range(2):
        if i >= self._channels_n:
            break
        if self._channels[i].index == _index:
            return i
    return 2


@view
@internal
def _channel(_index: uint256) -> state_leaves.Channel:
    """
    @dev Mirrors core/l2/proofs/step.py WitnessState.channel_at.
    """
    slot: uint256 = self._slot_of_channel(_index)
    assert slot < 2, "witness: a channel the step reads is not in the witness"
    return self._channels[slot]


@internal
def _debit(_index: uint256, _amount: uint256):
    """
    @dev Mirrors core/l2/stf.py debit (bump_nonce=True).
    """
    account: state_leaves.Account = self._account(_index)
    account.balance -= _amount
    account.nonce += 1
    self._put_account(account)


@internal
def _credit(_index: uint256, _amount: uint256):
    """
    @dev Mirrors core/l2/stf.py credit.
    """
    if _amount == 0:
        return
    account: state_leaves.Account = self._account(_index)
    account.balance += _amount
    self._put_account(account)


@internal
def _put_account(_account: state_leaves.Account):
    """
    @dev Mirrors core/l2/proofs/step.py WitnessState.put_account.
    """
    slot: uint256 = self._slot_of_account(_account.index)
    old: bytes32 = empty(bytes32)
    if slot < state_leaves.MAX_READS:
        old = state_leaves._account_leaf(self._accounts[slot])
    else:
        assert self._accounts_n < state_leaves.MAX_READS, "witness: too many accounts"
        slot = self._accounts_n
        self._accounts_n += 1
    self._write(0, _account.index, old, state_leaves._account_leaf(_account))
    self._accounts[slot] = _account


@internal
def _put_channel(_channel: state_leaves.Channel):
    """
    @dev Mirrors core/l2/proofs/step.py WitnessState.put_channel.
    """
    slot: uint256 = self._slot_of_channel(_channel.index)
    old: bytes32 = empty(bytes32)
    if slot < 2:
        old = state_leaves._channel_leaf(self._channels[slot])
    else:
        assert self._channels_n < 2, "witness: too many channels"
        slot = self._channels_n
        self._channels_n += 1
    self._write(1, _channel.index, old, state_leaves._channel_leaf(_channel))
    if old == empty(bytes32) and self._channel_count == _channel.index:
        self._channel_count = _channel.index + 1
    self._channels[slot] = _channel


@internal
def _add_exit(_to: address, _amount: uint256):
    """
    @dev Mirrors core/l2/proofs/step.py WitnessState.add_exit.
    """
    index: uint256 = self._exit_count
    self._write(2, index, empty(bytes32), state_leaves._exit_leaf(_to, _amount, index))
    self._exit_count = index + 1


@internal
def _write(_tree: uint256, _index: uint256, _old: bytes32, _new: bytes32):
    """
    @dev Mirrors core/l2/proofs/step.py WitnessState._write.
    """
    used: uint256 = self._paths_used
    assert used < self._paths_total, "witness: fewer write paths than the step writes"
    path: bytes32[state_leaves.DEPTH] = self._paths[used]
    self._paths_used = used + 1
    assert state_leaves._merkle(_old, _index, path) == self._roots[_tree], "witness: bad write path"
    self._roots[_tree] = state_leaves._merkle(_new, _index, path)


@view
@internal
def _root() -> bytes32:
    """
    @dev Mirrors core/l2/proofs/step.py WitnessState.post_parts, then core/l2/state.py root_of.
    """
    return keccak256(concat(self._roots[0], self._roots[1], self._roots[2], convert(convert(self._deposits, uint64), bytes8), convert(convert(self._exit_count, uint64), bytes8)))


# -- leaves, proofs, signatures ------------------------------------------------------------

@pure
@internal
def _no_key(_key: Bytes[96]) -> bool:
    return len(_key) == 0 or _key == concat(empty(bytes32), empty(bytes32), empty(bytes32))


@view
@internal
def _possession(_op: state_leaves.L1Op) -> bool:
    if len(_op.bls_key) != 96 or len(_op.proof_of_possession) != 48:
        return False
    return staticcall BLS.verify_same_message(_op.bls_key, True, [_op.bls_key], [_op.key_point], _op.proof_of_possession, _op.pop_point)


@pure
@internal
def _voucher_signer(_chain_id: uint256, _rollup: address, _params: state_leaves.ChannelParams, _amount: uint256, _signature: Bytes[65]) -> address:
    """
    @dev Mirrors core/channel/vouchers.py Voucher.signer: vouchers on the rollup are
         signed for the Rollup contract's domain (channel_domain(chain_id, rollup)).
    """
    return vouchers._voucher_signer(vouchers._domain_separator(_chain_id, _rollup), state_leaves._channel_id(_params), _amount, _signature)


@pure
@internal
def _voucher_ok(_chain_id: uint256, _rollup: address, _params: state_leaves.ChannelParams, _amount: uint256, _signature: Bytes[65]) -> bool:
    """
    @dev Mirrors core/channel/machine.py require_voucher: the renter's voucher on this
         channel, or on one end of a virtual channel its signer's for its virtual id.
    """
    if _params.virtual_id != empty(bytes32):
        return vouchers._virtual_voucher_signer(_chain_id, _params.virtual_id, _amount, _signature) == _params.signer
    return self._voucher_signer(_chain_id, _rollup, _params, _amount, _signature) == _params.renter


@pure
@internal
def _credited(_params: state_leaves.ChannelParams, _amount: uint256) -> uint256:
    """
    @dev Mirrors core/channel/state.py ChannelParams.credited: the amount plus the
         virtual channel's fee, rounded up (zero for an ordinary channel), at most
         MAX_BALANCE. The amount has at most 128 bits and the fee at most 24, so
         nothing overflows.
    """
    return min(_amount + (_amount * _params.fee_ppm + PPM - 1) // PPM, MAX_BALANCE)


