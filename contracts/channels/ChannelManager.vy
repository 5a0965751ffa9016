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

MAX_DEPOSIT: constant(uint256) = 2**128 - 1
MAX_TIMESTAMP: constant(uint256) = 2**64 - 1
# The contract's floor, not the market's policy minimum (3600 s, core/market/settlement.py).
MIN_CHALLENGE_PERIOD: constant(uint256) = 1
MAX_CHALLENGE_PERIOD: constant(uint256) = 365 * 24 * 3600

_balances: HashMap[bytes32, uint256]
_timing: HashMap[bytes32, uint256]
credit: public(HashMap[address, HashMap[address, uint256]])


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
    assert _params.provider != empty(address) and _params.provider != _params.renter, "channel: provider must be another account"
    assert _params.challenge_period >= MIN_CHALLENGE_PERIOD and _params.challenge_period <= MAX_CHALLENGE_PERIOD, "channel: challenge period out of range"
    assert _amount > 0 and _amount <= MAX_DEPOSIT, "channel: deposit out of range"
    assert block.timestamp < _expires_at and _expires_at <= MAX_TIMESTAMP, "channel: expiry must be in the future"
    cid: bytes32 = keccak256(abi_encode(_params))
    assert self._timing[cid] == 0, "channel: id already used"
    self._take(_params.token, _amount, msg.value)
    self._balances[cid] = _amount << 128
    self._timing[cid] = self._pack_timing(_expires_at, 0, STATUS_OPEN)
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
    assert msg.sender == _params.renter, "channel: only the renter may top up"
    expires_at: uint256 = self._expires_at(timing)
    assert block.timestamp < expires_at, "channel: expired"
    assert expires_at <= _expires_at and _expires_at <= MAX_TIMESTAMP, "channel: expiry cannot move earlier"
    balances: uint256 = self._balances[cid]
    deposit: uint256 = (balances >> 128) + _amount
    assert deposit <= MAX_DEPOSIT, "channel: deposit out of range"
    self._take(_params.token, _amount, msg.value)
    self._balances[cid] = (deposit << 128) | (balances & MAX_DEPOSIT)
    self._timing[cid] = self._pack_timing(_expires_at, 0, STATUS_OPEN)
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
    self._timing[cid] = self._pack_timing(self._expires_at(timing), deadline, STATUS_CLOSING)
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
    self._pay_out(cid, _params, deposit, min(best, deposit))


@external
@nonreentrant
def cooperative_close(
    _params: ChannelParams, _amount: uint256, _renter_signature: Bytes[65], _provider_signature: Bytes[65]
):
    """
    @notice Close at once with an amount both parties signed. Anyone may submit it.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    self._require_live(cid)
    deposit: uint256 = self._balances[cid] >> 128
    assert _amount <= deposit, "channel: amount above deposit"
    digest: bytes32 = vouchers._digest(vouchers._domain_separator(chain.id, self), vouchers.COOPERATIVE_CLOSE_TYPEHASH, cid, _amount)
    assert vouchers._recover(digest, _renter_signature) == _params.renter, "channel: bad renter signature"
    assert vouchers._recover(digest, _provider_signature) == _params.provider, "channel: bad provider signature"
    self._pay_out(cid, _params, deposit, _amount)


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
    self._pay_out(cid, _params, deposit, min(balances & MAX_DEPOSIT, deposit))


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
def _pay_out(_cid: bytes32, _params: ChannelParams, _deposit: uint256, _to_provider: uint256):
    """
    @dev Mirrors core/channel/machine.py pay_out.
    """
    # Effects before interactions: the channel is final before any payout is sent.
    self._balances[_cid] = 0
    self._timing[_cid] = STATUS_SETTLED
    to_renter: uint256 = _deposit - _to_provider
    log ChannelSettled(channel_id=_cid, provider_payout=_to_provider, renter_payout=to_renter)
    self._push(_params.token, _params.provider, _to_provider)
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
