# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title ChannelManager
@license Apache-2.0
@notice One-way payment channels from a renter to a provider, in ether or an
        ERC-20 token. The renter pays by signing cumulative vouchers off chain
        (EIP-712); the newest voucher wins. The rules are specified by the Python
        state machine in src/l2gpu/core/channel/machine.py, and shared test vectors
        keep both equal: every revert string here is the reason raised there.
@dev    Channel parameters are not stored: their hash is the channel id, and
        callers pass them with every call. Each channel costs two storage slots:
        `_balances` packs deposit (high 128 bits) and best voucher amount (low 128
        bits); `_timing` packs expiry, close deadline and status.
        Payouts are pushed; a recipient that refuses one (a reverting contract, a
        blocked token account) is credited instead and can `withdraw` later, so no
        one can block the other party's payout.
        A channel's refund (the renter's) and payout (the provider's) can each be
        assigned to another account: a lender who funds the deposit (`open_for`) or
        buys the provider's earnings (`assign_payout`). An assigned share is not
        pushed at settlement but kept for its assignee to `collect`, so that the
        assignee knows exactly what this channel paid it. Two flag bits in `_timing`
        say whether a share is assigned, so that unassigned channels read no more
        storage than before.
"""

from ethereum.ercs import IERC20

from common import pull_payments
from common import vouchers

struct ChannelParams:
    renter: address
    provider: address
    token: address  # empty(address) means ether
    challenge_period: uint256
    salt: bytes32

event ChannelOpened:
    channel_id: indexed(bytes32)
    renter: indexed(address)
    provider: indexed(address)
    token: address
    challenge_period: uint256
    salt: bytes32
    deposit: uint256
    expires_at: uint256

event ChannelToppedUp:
    channel_id: indexed(bytes32)
    added: uint256
    deposit: uint256
    expires_at: uint256

event VoucherAccepted:
    channel_id: indexed(bytes32)
    amount: uint256
    submitter: address

event ChannelClosing:
    channel_id: indexed(bytes32)
    amount: uint256
    deadline: uint256

event ChannelSettled:
    channel_id: indexed(bytes32)
    provider_payout: uint256
    renter_payout: uint256

event RefundAssigned:
    channel_id: indexed(bytes32)
    assignee: indexed(address)

event PayoutAssigned:
    channel_id: indexed(bytes32)
    assignee: indexed(address)

event Collected:
    channel_id: indexed(bytes32)
    assignee: indexed(address)
    amount: uint256

event PayoutDeferred:
    recipient: indexed(address)
    token: address
    amount: uint256

event Withdrawn:
    recipient: indexed(address)
    token: address
    amount: uint256

STATUS_NONE: constant(uint256) = 0
STATUS_OPEN: constant(uint256) = 1
STATUS_CLOSING: constant(uint256) = 2
STATUS_SETTLED: constant(uint256) = 3

# _timing: status (bits 0-7) | close deadline (8-71) | expiry (72-135) | flags
REFUND_ASSIGNED: constant(uint256) = 1 << 136
PAYOUT_ASSIGNED: constant(uint256) = 1 << 137
ASSIGNED: constant(uint256) = REFUND_ASSIGNED | PAYOUT_ASSIGNED

MAX_DEPOSIT: constant(uint256) = 2**128 - 1
MAX_TIMESTAMP: constant(uint256) = 2**64 - 1
# The contract's floor, not the market's policy minimum (3600 s, core/market/settlement.py).
MIN_CHALLENGE_PERIOD: constant(uint256) = 1
MAX_CHALLENGE_PERIOD: constant(uint256) = 365 * 24 * 3600

_balances: HashMap[bytes32, uint256]
_timing: HashMap[bytes32, uint256]
credit: public(HashMap[address, HashMap[address, uint256]])
# Assignees of a channel's refund and payout (read only when its flag is set), and
# what a settled channel owes them: refund (high 128 bits) | payout (low 128 bits).
_refund_to: HashMap[bytes32, address]
_payout_to: HashMap[bytes32, address]
_owed: HashMap[bytes32, uint256]


@deploy
def __init__():
    """
    @notice Create the manager. It has no owner and no upgrade path.
    """
    pass


@external
@payable
@nonreentrant
def open(_params: ChannelParams, _amount: uint256, _expires_at: uint256) -> bytes32:
    """
    @notice Open a channel as its renter and deposit `_amount` (ether as msg.value,
            or a token pulled with transferFrom after approve).
    @param _params The fixed terms; their hash is the channel id.
    @param _amount The deposit.
    @param _expires_at When the lease's channel expires (unix seconds).
    @return The channel id.
    """
    assert msg.sender == _params.renter, "channel: only the renter may open"
    return self._open(_params, _amount, _expires_at, msg.value, 0)


@external
@payable
@nonreentrant
def open_for(_params: ChannelParams, _amount: uint256, _expires_at: uint256) -> bytes32:
    """
    @notice Open a channel for `_params.renter` with the caller's deposit: a lender
            funding a lease. The refund is assigned to the caller; the renter signs
            the vouchers and may start a close, as in any channel. The salt's first
            20 bytes must be the caller's address.
    @return The channel id.
    """
    # The funder's address leads the salt, so the ids a funder can open are its own:
    # no one can take a renter's (or another funder's) channel id first.
    assert convert(_params.salt, uint256) >> 96 == convert(msg.sender, uint256), "channel: a funder's salt must start with its address"
    cid: bytes32 = self._open(_params, _amount, _expires_at, msg.value, REFUND_ASSIGNED)
    self._refund_to[cid] = msg.sender
    log RefundAssigned(channel_id=cid, assignee=msg.sender)
    return cid


@external
@payable
@nonreentrant
def top_up(_params: ChannelParams, _amount: uint256, _expires_at: uint256):
    """
    @notice Add `_amount` to an open, unexpired channel and set its expiry to
            `_expires_at` (never earlier). Only the renter may top up: a stranger's
            deposit would silently become the renter's refund.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    timing: uint256 = self._require_open(cid)
    # Only the refund's owner: a stranger's (or the renter's, once a lender holds the
    # refund) deposit would silently become someone else's refund.
    if timing & REFUND_ASSIGNED == 0:
        assert msg.sender == _params.renter, "channel: only the renter may top up"
    else:
        assert msg.sender == self._refund_to[cid], "channel: only the refund's assignee may top up"
    expires_at: uint256 = self._expires_at(timing)
    assert block.timestamp < expires_at, "channel: expired"
    assert expires_at <= _expires_at and _expires_at <= MAX_TIMESTAMP, "channel: expiry cannot move earlier"
    # A sold payout was priced on this expiry: moving it would delay its assignee's money.
    assert timing & PAYOUT_ASSIGNED == 0 or _expires_at == expires_at, "channel: the payout is assigned; its expiry cannot move"
    balances: uint256 = self._balances[cid]
    deposit: uint256 = (balances >> 128) + _amount
    assert deposit <= MAX_DEPOSIT, "channel: deposit out of range"
    self._take(_params.token, _amount, msg.value)
    self._balances[cid] = (deposit << 128) | (balances & MAX_DEPOSIT)
    self._timing[cid] = self._pack_timing(_expires_at, 0, STATUS_OPEN) | (timing & ASSIGNED)
    log ChannelToppedUp(channel_id=cid, added=_amount, deposit=deposit, expires_at=_expires_at)


@external
@nonreentrant
def submit_voucher(_params: ChannelParams, _amount: uint256, _signature: Bytes[65]):
    """
    @notice Prove a voucher above the best one, before the deadline. Anyone may
            call this: a watcher answers a stale close for an offline provider.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    timing: uint256 = self._require_live(cid)
    assert block.timestamp < self._deadline(timing, _params.challenge_period), "channel: deadline passed"
    assert _amount <= MAX_DEPOSIT, "channel: amount out of range"
    balances: uint256 = self._balances[cid]
    assert _amount > (balances & MAX_DEPOSIT), "channel: voucher not above the best"
    assert vouchers._recover(vouchers._digest(vouchers._domain_separator(chain.id, self), vouchers.VOUCHER_TYPEHASH, cid, _amount), _signature) == _params.renter, "channel: bad voucher signature"
    self._balances[cid] = (balances >> 128 << 128) | _amount
    log VoucherAccepted(channel_id=cid, amount=_amount, submitter=msg.sender)


@external
@nonreentrant
def close_by_renter(_params: ChannelParams, _amount: uint256):
    """
    @notice Start closing as the renter, conceding `_amount`. The provider (or a
            watcher) can prove a higher voucher until the challenge period ends.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    timing: uint256 = self._require_open(cid)
    assert msg.sender == _params.renter, "channel: only the renter may start a close"
    assert _amount <= MAX_DEPOSIT, "channel: amount out of range"
    deadline: uint256 = block.timestamp + _params.challenge_period
    balances: uint256 = self._balances[cid]
    best: uint256 = max(balances & MAX_DEPOSIT, _amount)
    self._balances[cid] = (balances >> 128 << 128) | best
    self._timing[cid] = self._pack_timing(self._expires_at(timing), deadline, STATUS_CLOSING) | (timing & ASSIGNED)
    log ChannelClosing(channel_id=cid, amount=best, deadline=deadline)


@external
@nonreentrant
def close_by_provider(_params: ChannelParams, _amount: uint256, _signature: Bytes[65]):
    """
    @notice Close at once as the provider with the best voucher (or with the best
            already proven, passing an amount not above it and any signature).
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    timing: uint256 = self._require_live(cid)
    assert msg.sender == _params.provider, "channel: only the provider may close at once"
    assert block.timestamp < self._deadline(timing, _params.challenge_period), "channel: deadline passed"
    assert _amount <= MAX_DEPOSIT, "channel: amount out of range"
    balances: uint256 = self._balances[cid]
    best: uint256 = balances & MAX_DEPOSIT
    if _amount > best:
        assert vouchers._recover(vouchers._digest(vouchers._domain_separator(chain.id, self), vouchers.VOUCHER_TYPEHASH, cid, _amount), _signature) == _params.renter, "channel: bad voucher signature"
        best = _amount
        log VoucherAccepted(channel_id=cid, amount=_amount, submitter=msg.sender)
    deposit: uint256 = balances >> 128
    self._pay_out(cid, _params, deposit, min(best, deposit), timing)


@external
@nonreentrant
def cooperative_close(
    _params: ChannelParams, _amount: uint256, _renter_signature: Bytes[65], _provider_signature: Bytes[65]
):
    """
    @notice Close at once with an amount both parties signed. Anyone may submit it.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    timing: uint256 = self._require_live(cid)
    balances: uint256 = self._balances[cid]
    deposit: uint256 = balances >> 128
    assert _amount <= deposit, "channel: amount above deposit"
    # An assigned payout was bought on the vouchers proven so far: the two parties
    # cannot agree to pay its assignee less.
    assert timing & PAYOUT_ASSIGNED == 0 or _amount >= min(balances & MAX_DEPOSIT, deposit), "channel: the payout is assigned; a close pays at least the best voucher"
    digest: bytes32 = vouchers._digest(vouchers._domain_separator(chain.id, self), vouchers.COOPERATIVE_CLOSE_TYPEHASH, cid, _amount)
    assert vouchers._recover(digest, _renter_signature) == _params.renter, "channel: bad renter signature"
    assert vouchers._recover(digest, _provider_signature) == _params.provider, "channel: bad provider signature"
    self._pay_out(cid, _params, deposit, _amount, timing)


@external
@nonreentrant
def settle(_params: ChannelParams):
    """
    @notice Pay out a channel whose deadline has passed: the best voucher (capped at
            the deposit) to the provider, the rest to the renter. Anyone may call it.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    timing: uint256 = self._require_live(cid)
    assert block.timestamp >= self._deadline(timing, _params.challenge_period), "channel: challenge period not over"
    balances: uint256 = self._balances[cid]
    deposit: uint256 = balances >> 128
    self._pay_out(cid, _params, deposit, min(balances & MAX_DEPOSIT, deposit), timing)


@external
@nonreentrant
def assign_refund(_params: ChannelParams, _to: address):
    """
    @notice Assign the channel's refund (what the renter gets back at settlement)
            to `_to`. The renter may while no one holds it; after that only its
            assignee, so that a lender cannot be cut out. Vouchers, closes and the
            provider's payout do not change.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    timing: uint256 = self._require_live(cid)
    assert _to != empty(address), "channel: assign to an account"
    owner: address = _params.renter
    if timing & REFUND_ASSIGNED != 0:
        owner = self._refund_to[cid]
    assert msg.sender == owner, "channel: only the refund's owner may assign it"
    self._refund_to[cid] = _to
    self._timing[cid] = timing | REFUND_ASSIGNED
    log RefundAssigned(channel_id=cid, assignee=_to)


@external
@nonreentrant
def assign_payout(_params: ChannelParams, _to: address):
    """
    @notice Assign the channel's payout (the provider's earnings at settlement) to
            `_to`: an advance on a running lease. The provider may while no one holds
            it; after that only its assignee. The renter's vouchers, its refund and
            its risk do not change.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    timing: uint256 = self._require_live(cid)
    assert _to != empty(address), "channel: assign to an account"
    owner: address = _params.provider
    if timing & PAYOUT_ASSIGNED != 0:
        owner = self._payout_to[cid]
    assert msg.sender == owner, "channel: only the payout's owner may assign it"
    self._payout_to[cid] = _to
    self._timing[cid] = timing | PAYOUT_ASSIGNED
    log PayoutAssigned(channel_id=cid, assignee=_to)


@external
@nonreentrant
def collect(_params: ChannelParams) -> uint256:
    """
    @notice Pay the caller what a settled channel owes it as the assignee of its
            refund, its payout, or both.
    @return The amount paid (ether, or the channel's token).
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    assert self._timing[cid] & 255 == STATUS_SETTLED, "channel: not settled"
    owed: uint256 = self._owed[cid]
    amount: uint256 = 0
    if msg.sender == self._refund_to[cid]:
        amount += owed >> 128
        owed = owed & MAX_DEPOSIT
    if msg.sender == self._payout_to[cid]:
        amount += owed & MAX_DEPOSIT
        owed = owed >> 128 << 128
    assert amount > 0, "channel: nothing to collect"
    self._owed[cid] = owed
    log Collected(channel_id=cid, assignee=msg.sender, amount=amount)
    # Sent with all gas, and a refusal reverts: the caller collects for itself.
    if _params.token == empty(address):
        raw_call(msg.sender, b"", value=amount)
    else:
        assert extcall IERC20(_params.token).transfer(msg.sender, amount, default_return_value=True), "channel: token transfer failed"
    return amount


@external
@nonreentrant
def withdraw(_token: address):
    """
    @notice Collect payouts that were credited because a push was refused.
    """
    amount: uint256 = self.credit[_token][msg.sender]
    assert amount > 0, "channel: nothing to withdraw"
    self.credit[_token][msg.sender] = 0
    if _token == empty(address):
        send(msg.sender, amount)
    else:
        assert extcall IERC20(_token).transfer(msg.sender, amount, default_return_value=True), "channel: token transfer failed"
    log Withdrawn(recipient=msg.sender, token=_token, amount=amount)


@view
@external
def channel(_channel_id: bytes32) -> (uint256, uint256, uint256, uint256, uint256):
    """
    @notice The state of a channel: deposit, best voucher amount, expiry, close
            deadline (0 unless closing) and status (0 none, 1 open, 2 closing, 3 settled).
    """
    balances: uint256 = self._balances[_channel_id]
    timing: uint256 = self._timing[_channel_id]
    return balances >> 128, balances & MAX_DEPOSIT, self._expires_at(timing), (timing >> 8) & MAX_TIMESTAMP, timing & 255


@view
@external
def assignment(_channel_id: bytes32) -> (address, address, uint256, uint256):
    """
    @notice Who holds a channel's refund and payout (the empty address: the renter
            and the provider themselves), and what a settled channel still owes them.
    """
    owed: uint256 = self._owed[_channel_id]
    return self._refund_to[_channel_id], self._payout_to[_channel_id], owed >> 128, owed & MAX_DEPOSIT


@view
@external
def domain_separator() -> bytes32:
    """
    @notice The EIP-712 domain separator that vouchers of this manager are signed under.
    """
    return self._domain_separator()


@view
@external
def channel_id(_params: ChannelParams) -> bytes32:
    """
    @notice The id of a channel with these terms.
    """
    return keccak256(abi_encode(_params))


@view
@internal
def _domain_separator() -> bytes32:
    """
    @dev Mirrors core/channel/vouchers.py channel_domain(chain_id, manager).separator.
    """
    # Computed per call so that a chain split (a new chain.id) invalidates old vouchers.
    return vouchers._domain_separator(chain.id, self)


@pure
@internal
def _pack_timing(_expires_at: uint256, _deadline: uint256, _status: uint256) -> uint256:
    return (_expires_at << 72) | (_deadline << 8) | _status


@pure
@internal
def _expires_at(_timing: uint256) -> uint256:
    return (_timing >> 72) & MAX_TIMESTAMP


@pure
@internal
def _deadline(_timing: uint256, _challenge_period: uint256) -> uint256:
    if _timing & 255 == STATUS_CLOSING:
        return (_timing >> 8) & MAX_TIMESTAMP
    return ((_timing >> 72) & MAX_TIMESTAMP) + _challenge_period


@internal
def _open(
    _params: ChannelParams, _amount: uint256, _expires_at: uint256, _value: uint256, _flags: uint256
) -> bytes32:
    """
    @dev Mirrors core/channel/machine.py open_channel (after the opener's check).
    """
    assert _params.provider != empty(address) and _params.provider != _params.renter, "channel: provider must be another account"
    assert _params.challenge_period >= MIN_CHALLENGE_PERIOD and _params.challenge_period <= MAX_CHALLENGE_PERIOD, "channel: challenge period out of range"
    assert _amount > 0 and _amount <= MAX_DEPOSIT, "channel: deposit out of range"
    assert block.timestamp < _expires_at and _expires_at <= MAX_TIMESTAMP, "channel: expiry must be in the future"
    cid: bytes32 = keccak256(abi_encode(_params))
    assert self._timing[cid] == 0, "channel: id already used"
    self._take(_params.token, _amount, _value)
    self._balances[cid] = _amount << 128
    self._timing[cid] = self._pack_timing(_expires_at, 0, STATUS_OPEN) | _flags
    log ChannelOpened(
        channel_id=cid,
        renter=_params.renter,
        provider=_params.provider,
        token=_params.token,
        challenge_period=_params.challenge_period,
        salt=_params.salt,
        deposit=_amount,
        expires_at=_expires_at,
    )
    return cid


@view
@internal
def _require_live(_cid: bytes32) -> uint256:
    """
    @dev Mirrors core/channel/machine.py require_live.
    """
    timing: uint256 = self._timing[_cid]
    assert timing != 0, "channel: unknown channel"
    assert timing & 255 != STATUS_SETTLED, "channel: already settled"
    return timing


@view
@internal
def _require_open(_cid: bytes32) -> uint256:
    """
    @dev Mirrors core/channel/machine.py require_open.
    """
    timing: uint256 = self._require_live(_cid)
    assert timing & 255 == STATUS_OPEN, "channel: closing"
    return timing


@internal
def _take(_token: address, _amount: uint256, _value: uint256):
    """
    @dev Mirrors core/channel/machine.py check_value (the token pull has no Python twin).
    """
    # msg.value is passed in: Vyper allows it only in payable external functions.
    if _token == empty(address):
        assert _value == _amount, "channel: ether sent must equal the amount"
    else:
        assert _value == 0, "channel: no ether for a token channel"
        assert extcall IERC20(_token).transferFrom(msg.sender, self, _amount, default_return_value=True), "channel: token transfer failed"


@internal
def _pay_out(_cid: bytes32, _params: ChannelParams, _deposit: uint256, _to_provider: uint256, _timing: uint256):
    """
    @dev Mirrors core/channel/machine.py pay_out.
    """
    # Effects before interactions: the channel is final before any payout is sent.
    self._balances[_cid] = 0
    self._timing[_cid] = STATUS_SETTLED
    to_renter: uint256 = _deposit - _to_provider
    log ChannelSettled(channel_id=_cid, provider_payout=_to_provider, renter_payout=to_renter)
    if _timing & ASSIGNED != 0:
        owed: uint256 = 0
        if _timing & REFUND_ASSIGNED != 0:
            owed = to_renter << 128
        if _timing & PAYOUT_ASSIGNED != 0:
            owed = owed | _to_provider
        self._owed[_cid] = owed
    if _timing & PAYOUT_ASSIGNED == 0:
        self._push(_params.token, _params.provider, _to_provider)
    if _timing & REFUND_ASSIGNED == 0:
        self._push(_params.token, _params.renter, to_renter)


@internal
def _push(_token: address, _to: address, _amount: uint256):
    if _amount == 0:
        return
    ok: bool = False
    if _token == empty(address):
        ok = raw_call(_to, b"", value=_amount, gas=pull_payments.PAYOUT_GAS, revert_on_failure=False)
    else:
        response: Bytes[32] = b""
        ok, response = raw_call(
            _token,
            abi_encode(_to, _amount, method_id=method_id("transfer(address,uint256)")),
            max_outsize=32,
            gas=pull_payments.PAYOUT_GAS,
            revert_on_failure=False,
        )
        if ok and len(response) > 0:
            ok = convert(response, bool)
    if not ok:
        self.credit[_token][_to] += _amount
        log PayoutDeferred(recipient=_to, token=_token, amount=_amount)
