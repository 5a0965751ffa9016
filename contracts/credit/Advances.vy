# pragma version ~=0.4.3
"""
@title Advances
@license Apache-2.0
@notice A lender's desk that buys a running lease's payout: the provider assigns
        its channel's payout to the desk in the ChannelManager and takes an
        advance now on its best voucher, which the desk proves on chain, plus the
        share of the lease's remaining value that the lender grants the renter
        (only on a channel the renter funded itself, whose refund it holds). At
        settlement the desk collects the payout; what it is owed goes to the
        lender first, the rest to the provider. A shortfall (at most the share of
        remaining value advanced) is the provider's debt, taken from its next
        advances or repaid with `repay`: the provider answers for the lease it sold.
@dev    Specification: src/l2gpu/core/credit/advances.py (state_transition), with
        the same checks in the same order and the same revert reasons; every
        rounding favours the lender. Ether goes out to the caller or to the
        channel's provider, pushed with a bounded stipend and credited when
        refused (pull_payments), so no recipient blocks a settlement.
"""

from interfaces import IChannelManager

from common import pull_payments

initializes: pull_payments

exports: pull_payments.credit


struct Advance:
    provider: address
    advanced: uint256
    owed: uint256


event Funded:
    amount: uint256


event ShareSet:
    renter: indexed(address)
    bps: uint256


event Advanced:
    channel_id: indexed(bytes32)
    provider: indexed(address)
    vouched: uint256
    advanced: uint256
    owed: uint256
    recovered: uint256  # of the provider's debt, kept back from the advance


event AdvanceSettled:
    channel_id: indexed(bytes32)
    provider: indexed(address)
    received: uint256
    to_lender: uint256
    shortfall: uint256


event DebtRepaid:
    provider: indexed(address)
    amount: uint256


event Paid:
    recipient: indexed(address)
    amount: uint256
    credited: bool


BPS: constant(uint256) = 10_000
MAX_AMOUNT: constant(uint256) = 2**128 - 1
CHANNEL_OPEN: constant(uint256) = 1
CHANNEL_SETTLED: constant(uint256) = 3

CHANNELS: public(immutable(address))
LENDER: public(immutable(address))
FEE_BPS: public(immutable(uint256))
MAX_SHARE_BPS: public(immutable(uint256))

cash: public(uint256)
outstanding: public(uint256)
# shortfalls of settled advances not yet recovered from their providers
losses: public(uint256)
share_bps: public(HashMap[address, uint256])
advance_of: public(HashMap[bytes32, Advance])
provider_debt: public(HashMap[address, uint256])
# set only while the desk collects from CHANNELS: the one time ether may arrive
_collecting: transient(bool)


@deploy
def __init__(_channels: address, _lender: address, _fee_bps: uint256, _max_share_bps: uint256):
    """
    @notice A desk advancing on channels of the ChannelManager `_channels`, funded
            by `_lender`, taking `_fee_bps` of each advance, and advancing at most
            `_max_share_bps` of a lease's remaining value on any renter.
    """
    assert _channels != empty(address), "no channel manager"
    assert _lender != empty(address), "no lender"
    assert _fee_bps < BPS, "the fee must be below 100 %"
    assert _max_share_bps <= BPS, "the share cap must be at most 100 %"
    CHANNELS = _channels
    LENDER = _lender
    FEE_BPS = _fee_bps
    MAX_SHARE_BPS = _max_share_bps


@external
@payable
@nonreentrant
def fund():
    """
    @notice The lender adds msg.value to the desk's cash.
    """
    assert msg.sender == LENDER, "only the lender funds the desk"
    assert msg.value > 0 and self.cash + msg.value <= MAX_AMOUNT, "the amount must be above 0 and below 2**128"
    self.cash += msg.value
    log Funded(amount=msg.value)


@external
@nonreentrant
def withdraw(_amount: uint256):
    """
    @notice The lender takes `_amount` of the cash not advanced.
    """
    assert msg.sender == LENDER, "only the lender withdraws"
    assert _amount <= self.cash, "more than the desk's cash"
    self.cash -= _amount
    self._pay(msg.sender, _amount)


@external
def set_share(_renter: address, _bps: uint256):
    """
    @notice The lender advances `_bps` of the remaining value of `_renter`'s leases
            (its judgement of the renter's reputation), at most MAX_SHARE_BPS.
    """
    assert msg.sender == LENDER, "only the lender sets shares"
    assert _bps <= MAX_SHARE_BPS, "above the desk's cap on the share of remaining value"
    self.share_bps[_renter] = _bps
    log ShareSet(renter=_renter, bps=_bps)


@external
@nonreentrant
def advance(
    _params: IChannelManager.ChannelParams, _amount: uint256, _signature: Bytes[65]
) -> uint256:
    """
    @notice As the channel's provider, whose payout is assigned to this desk, take
            an advance on the renter's voucher for `_amount` (proved on chain here
            when above the best one proven; pass 0 to use that one).
    @return The advance paid.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    assert msg.sender == _params.provider, "only the channel's provider takes an advance"
    assert _params.token == empty(address), "the desk advances on ether channels only"
    assert self.advance_of[cid].provider == empty(address), "this channel's payout was advanced already"
    deposit: uint256 = 0
    best: uint256 = 0
    expires_at: uint256 = 0
    deadline: uint256 = 0
    status: uint256 = 0
    deposit, best, expires_at, deadline, status = staticcall IChannelManager(CHANNELS).channel(cid)
    assert status == CHANNEL_OPEN, "the channel is not open"
    assert block.timestamp < expires_at, "the channel has expired"
    refund_to: address = empty(address)
    payout_to: address = empty(address)
    refund_owed: uint256 = 0
    payout_owed: uint256 = 0
    refund_to, payout_to, refund_owed, payout_owed = staticcall IChannelManager(CHANNELS).assignment(cid)
    assert payout_to == self, "assign the channel's payout to the desk first"
    if _amount > best:
        # The manager checks the renter's signature: from here the channel owes this.
        extcall IChannelManager(CHANNELS).submit_voucher(_params, _amount, _signature)
        best = _amount
    vouched: uint256 = min(best, deposit)
    # The renter's share only where the renter funded the channel itself: on anyone
    # else's deposit, the renter's name would be spent without its word.
    share: uint256 = 0
    if refund_to == empty(address):
        share = self.share_bps[_params.renter]
    owed: uint256 = vouched + (deposit - vouched) * share // BPS
    advanced: uint256 = owed - (owed * FEE_BPS + BPS - 1) // BPS
    assert advanced != 0, "nothing to advance: no voucher and no share"
    debt: uint256 = self.provider_debt[msg.sender]
    recovered: uint256 = min(debt, advanced)
    assert advanced - recovered <= self.cash, "the desk has not that much cash"
    self.provider_debt[msg.sender] = debt - recovered
    self.losses -= recovered
    self.cash -= advanced - recovered
    self.outstanding += owed
    self.advance_of[cid] = Advance(provider=msg.sender, advanced=advanced, owed=owed)
    log Advanced(channel_id=cid, provider=msg.sender, vouched=vouched, advanced=advanced, owed=owed, recovered=recovered)
    self._pay(msg.sender, advanced - recovered)
    return advanced - recovered


@external
@nonreentrant
def settle(_params: IChannelManager.ChannelParams) -> uint256:
    """
    @notice Once an advanced channel has settled, collect its payout: what the
            advance owes goes to the lender's cash, the rest to the provider.
            Anyone may call it.
    @return The payout collected.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    record: Advance = self.advance_of[cid]
    assert record.provider != empty(address), "no advance on this channel"
    status: uint256 = (staticcall IChannelManager(CHANNELS).channel(cid))[4]
    assert status == CHANNEL_SETTLED, "the channel has not settled"
    received: uint256 = self._collect(_params, cid)
    to_lender: uint256 = min(received, record.owed)
    shortfall: uint256 = record.owed - to_lender
    self.cash += to_lender
    self.outstanding -= record.owed
    self.losses += shortfall
    self.provider_debt[record.provider] += shortfall
    self.advance_of[cid] = empty(Advance)
    log AdvanceSettled(channel_id=cid, provider=record.provider, received=received, to_lender=to_lender, shortfall=shortfall)
    self._pay(record.provider, received - to_lender)
    return received


@external
@payable
@nonreentrant
def repay(_provider: address):
    """
    @notice Pay msg.value towards `_provider`'s debt (the shortfalls of its settled
            advances); what exceeds it returns to the caller.
    """
    debt: uint256 = self.provider_debt[_provider]
    assert debt != 0, "the provider owes the desk nothing"
    paid: uint256 = min(msg.value, debt)
    self.provider_debt[_provider] = debt - paid
    self.losses -= paid
    self.cash += paid
    log DebtRepaid(provider=_provider, amount=paid)
    self._pay(msg.sender, msg.value - paid)


@external
@nonreentrant
def release(_params: IChannelManager.ChannelParams):
    """
    @notice As the channel's provider, take back a payout assigned to this desk on
            which no advance was taken (reassigned to the provider; or, once the
            channel has settled, collected and paid to it).
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    assert msg.sender == _params.provider, "only the channel's provider takes its payout back"
    assert self.advance_of[cid].provider == empty(address), "an advance on this channel is outstanding"
    payout_to: address = (staticcall IChannelManager(CHANNELS).assignment(cid))[1]
    assert payout_to == self, "the desk does not hold this channel's payout"
    status: uint256 = (staticcall IChannelManager(CHANNELS).channel(cid))[4]
    if status != CHANNEL_SETTLED:
        extcall IChannelManager(CHANNELS).assign_payout(_params, msg.sender)
    else:
        self._pay(msg.sender, self._collect(_params, cid))


@external
@payable
def __default__():
    """
    @notice Takes ether only from CHANNELS while the desk collects a payout; the
            lender funds the desk with `fund`.
    """
    assert msg.sender == CHANNELS and self._collecting, "fund the desk with fund()"


@external
@nonreentrant
def withdraw_credit():
    """
    @notice Pull what was credited to the caller because it refused a payout.
    """
    amount: uint256 = pull_payments._claim(msg.sender)
    assert amount != 0, "nothing to withdraw"
    send(msg.sender, amount)


@internal
def _collect(_params: IChannelManager.ChannelParams, _cid: bytes32) -> uint256:
    """
    @dev Collect what the settled channel owes the desk: its payout, and a refund its
         renter assigned here (counted with it); 0 when it owes nothing.
    """
    refund_to: address = empty(address)
    payout_to: address = empty(address)
    refund_owed: uint256 = 0
    payout_owed: uint256 = 0
    refund_to, payout_to, refund_owed, payout_owed = staticcall IChannelManager(CHANNELS).assignment(_cid)
    owed: uint256 = 0
    if refund_to == self:
        owed = refund_owed
    if payout_to == self:
        owed += payout_owed
    if owed == 0:
        return 0
    self._collecting = True
    received: uint256 = extcall IChannelManager(CHANNELS).collect(_params)
    self._collecting = False
    return received


@internal
def _pay(_to: address, _amount: uint256):
    if _amount == 0:
        return
    credited: bool = not pull_payments._pay(_to, _amount)
    log Paid(recipient=_to, amount=_amount, credited=credited)
