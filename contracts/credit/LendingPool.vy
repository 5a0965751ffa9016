# pragma version ~=0.4.3
"""
@title LendingPool
@license Apache-2.0
@notice A pool that lends ether against one ERC-20 collateral. Suppliers deposit
        ether for shares of the pool; borrowers post the collateral and borrow up to
        the loan-to-value limit at the feed's price; interest accrues every second
        on a kinked rate curve through one borrow index, and a share of it goes to
        the reserves. Below a health factor of 1, or once a loan is past its term,
        anyone repays part of the debt and takes collateral worth it plus a bonus.
        Debt left without collateral is written off at once, first against the
        reserves, then against the suppliers' shares.
@dev    Specification: src/l2gpu/core/credit/pool.py (state_transition) and its
        arithmetic, src/l2gpu/core/credit/rates.py. Every check is made in the
        specification's order with its revert reason, and every division rounds as
        it does there (always for the pool); tests/credit apply the same calls to
        both and compare the whole state after each.
        Every call but set_price first accrues interest to block.timestamp; a
        reverted call undoes its accrual, as the specification's refusal does.
        Ether goes out only to the caller (withdrawal, loan, change, reserves),
        pushed with a bounded stipend; a caller that refuses it is credited instead
        (pull_payments) and pulls it with withdraw_credit, so the call still takes
        effect as the specification says. Storage is packed where every call reads
        it: the borrow index with the last accrual, the price with its time, and a
        position's scaled debt with its due time.
        Credit leases: a renter borrows straight into a lease's channel in the
        ChannelManager (`borrow_for_lease`), which assigns the channel's refund to
        the pool; once the channel settles, anyone calls `settle_lease` and the
        refund repays the renter's debt first, the rest going to the renter.
"""

from ethereum.ercs import IERC20

from interfaces import IChannelManager

from common import pull_payments

initializes: pull_payments

exports: pull_payments.credit


event Supplied:
    supplier: indexed(address)
    amount: uint256
    shares: uint256


event Withdrawn:
    supplier: indexed(address)
    amount: uint256
    shares: uint256


event CollateralAdded:
    borrower: indexed(address)
    amount: uint256


event CollateralRemoved:
    borrower: indexed(address)
    amount: uint256


event Borrowed:
    borrower: indexed(address)
    amount: uint256
    due: uint256


event Repaid:
    borrower: indexed(address)
    payer: indexed(address)
    amount: uint256


event Liquidated:
    borrower: indexed(address)
    liquidator: indexed(address)
    repaid: uint256
    seized: uint256


event BadDebt:
    borrower: indexed(address)
    amount: uint256
    from_reserves: uint256


event LeaseFunded:
    borrower: indexed(address)
    channel_id: indexed(bytes32)
    amount: uint256


event LeaseSettled:
    borrower: indexed(address)
    channel_id: indexed(bytes32)
    refund: uint256
    repaid: uint256


event PriceSet:
    price: uint256
    requested: uint256


event ReservesCollected:
    treasury: indexed(address)
    amount: uint256


event Paid:
    recipient: indexed(address)
    amount: uint256
    credited: bool  # refused by the recipient: credited, to pull with withdraw_credit


WAD: constant(uint256) = 10**18
RAY: constant(uint256) = 10**27
BPS: constant(uint256) = 10_000
SECONDS_PER_YEAR: constant(uint256) = 365 * 86_400
MAX_AMOUNT: constant(uint256) = 2**128 - 1
# A feed moves the price at most MAX_PRICE_STEP_BPS per PRICE_STEP_PERIOD since its
# last post (one step at most): many posts in a block move it no further.
PRICE_STEP_PERIOD: constant(uint256) = 3600
MAX_PRICE: constant(uint256) = 2**96 - 1
# Past this index, products of it would leave uint256 and every call would revert
# (funds stuck): interest stops here instead, and calls go on.
MAX_INDEX: constant(uint256) = RAY * 2**32
# One accrual covers at most this many seconds: bounds index * rate * elapsed.
MAX_ACCRUAL_STEP: constant(uint256) = 2**32
MAX_RATE: constant(uint256) = 10 * RAY
MASK64: constant(uint256) = 2**64 - 1
CHANNEL_SETTLED: constant(uint256) = 3

COLLATERAL: public(immutable(address))
ORACLE: public(immutable(address))
TREASURY: public(immutable(address))
LTV_BPS: public(immutable(uint256))
LIQUIDATION_THRESHOLD_BPS: public(immutable(uint256))
LIQUIDATION_BONUS_BPS: public(immutable(uint256))
CLOSE_FACTOR_BPS: public(immutable(uint256))
RESERVE_FACTOR_BPS: public(immutable(uint256))
BASE_RATE: public(immutable(uint256))
SLOPE_LOW: public(immutable(uint256))
SLOPE_HIGH: public(immutable(uint256))
KINK_BPS: public(immutable(uint256))
MAX_PRICE_AGE: public(immutable(uint256))
MAX_PRICE_STEP_BPS: public(immutable(uint256))
MAX_TERM: public(immutable(uint256))
# The ChannelManager that credit leases' channels live in (empty: this pool funds none).
CHANNELS: public(immutable(address))

# borrow index (bits 64-255) | last accrual (bits 0-63): read and written by every
# call's accrual, so one word. The index is below MAX_INDEX < 2**122.
_index_at: uint256
# price (bits 64-255) | the time it was set (bits 0-63); 0: no price yet
_price_at: uint256
cash: public(uint256)
total_shares: public(uint256)
shares: public(HashMap[address, uint256])
total_scaled_debt: public(uint256)
reserves: public(uint256)
bad_debt: public(uint256)
_collateral: HashMap[address, uint256]
# scaled debt (bits 64-255) | due time (bits 0-63); written together by a borrow and
# a full repayment
_debt: HashMap[address, uint256]
# channel id -> the renter who borrowed its deposit, until the lease is settled
lease_borrower: public(HashMap[bytes32, address])
# set only while settle_lease collects from CHANNELS: the one time ether may arrive
_collecting: transient(bool)


@deploy
def __init__(
    _collateral: address,
    _oracle: address,
    _treasury: address,
    _ltv_bps: uint256,
    _liquidation_threshold_bps: uint256,
    _liquidation_bonus_bps: uint256,
    _close_factor_bps: uint256,
    _reserve_factor_bps: uint256,
    _base_rate: uint256,
    _slope_low: uint256,
    _slope_high: uint256,
    _kink_bps: uint256,
    _max_price_age: uint256,
    _max_price_step_bps: uint256,
    _max_term: uint256,
    _channels: address,
):
    """
    @notice Create a pool lending ether against `_collateral`, priced by `_oracle`
            in wei per whole token (10**18 base units), its reserves collected by
            `_treasury`. The parameters are core/credit/rates.py PoolParams, fixed
            for the pool's life, and refused when PoolParams.problems() would name
            a problem, with that problem as the reason. Credit leases open their
            channels in the ChannelManager `_channels` (empty: no credit leases).
    """
    assert _collateral != empty(address), "no collateral token"
    assert _oracle != empty(address), "no price feed"
    assert _treasury != empty(address), "no treasury"
    assert (
        0 < _ltv_bps and _ltv_bps < _liquidation_threshold_bps and _liquidation_threshold_bps < BPS
    ), "need 0 < ltv < liquidation threshold < 100 %"
    # a bonus that at the threshold pays more collateral than there is would leave
    # every liquidation at the threshold with bad debt
    assert (
        (BPS + _liquidation_bonus_bps) * _liquidation_threshold_bps < BPS * BPS
    ), "the bonus at the threshold would pay more collateral than exists"
    assert (
        0 < _close_factor_bps and _close_factor_bps <= BPS
    ), "the close factor must be in (0, 100 %]"
    assert _reserve_factor_bps < BPS, "the reserve factor must be in [0, 100 %)"
    assert 0 < _kink_bps and _kink_bps < BPS, "the kink must be in (0, 100 %)"
    assert max(_base_rate, max(_slope_low, _slope_high)) <= MAX_RATE, "a rate above 1,000 % a year"
    assert (
        _max_price_age > 0 and 0 < _max_price_step_bps and _max_price_step_bps < BPS
    ), "the price's age and step bounds must be positive and below 100 %"
    assert _max_term > 0, "the loan term must be positive"
    # Beyond the specification: a due time is packed into 64 bits.
    assert _max_term <= 2**32, "the loan term must be below 2**32 seconds"
    COLLATERAL = _collateral
    ORACLE = _oracle
    TREASURY = _treasury
    LTV_BPS = _ltv_bps
    LIQUIDATION_THRESHOLD_BPS = _liquidation_threshold_bps
    LIQUIDATION_BONUS_BPS = _liquidation_bonus_bps
    CLOSE_FACTOR_BPS = _close_factor_bps
    RESERVE_FACTOR_BPS = _reserve_factor_bps
    BASE_RATE = _base_rate
    SLOPE_LOW = _slope_low
    SLOPE_HIGH = _slope_high
    KINK_BPS = _kink_bps
    MAX_PRICE_AGE = _max_price_age
    MAX_PRICE_STEP_BPS = _max_price_step_bps
    MAX_TERM = _max_term
    CHANNELS = _channels
    self._index_at = RAY << 64 | block.timestamp


# -- views -----------------------------------------------------------------------


@view
@external
def borrow_index() -> uint256:
    """
    @notice The borrow index (RAY) at the last accrual.
    """
    return self._index_at >> 64


@view
@external
def last_accrual() -> uint256:
    """
    @notice When interest was last accrued (L1 time).
    """
    return self._index_at & MASK64


@view
@external
def price() -> uint256:
    """
    @notice The price in force, in wei per whole collateral token (0: none yet).
    """
    return self._price_at >> 64


@view
@external
def price_at() -> uint256:
    """
    @notice When the price in force was set (L1 time).
    """
    return self._price_at & MASK64


@view
@external
def positions(_borrower: address) -> (uint256, uint256, uint256):
    """
    @notice `_borrower`'s collateral (token base units), scaled debt, and the time
            its loan is due (0: no loan).
    """
    packed: uint256 = self._debt[_borrower]
    return self._collateral[_borrower], packed >> 64, packed & MASK64


@view
@external
def pool_state() -> (
    uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256, uint256
):
    """
    @notice The pool's whole storage but the accounts', in one call: cash,
            total_shares, total_scaled_debt, borrow_index, last_accrual, price,
            price_at, reserves, bad_debt (as the views of those names).
    """
    index_at: uint256 = self._index_at
    price_at: uint256 = self._price_at
    return (
        self.cash,
        self.total_shares,
        self.total_scaled_debt,
        index_at >> 64,
        index_at & MASK64,
        price_at >> 64,
        price_at & MASK64,
        self.reserves,
        self.bad_debt,
    )


@view
@external
def account(_who: address) -> (uint256, uint256, uint256, uint256, uint256):
    """
    @notice `_who`'s storage in one call: shares, collateral, scaled debt, due time,
            and the wei credited to it (refused payouts).
    """
    packed: uint256 = self._debt[_who]
    return (
        self.shares[_who],
        self._collateral[_who],
        packed >> 64,
        packed & MASK64,
        pull_payments.credit[_who],
    )


@view
@external
def debt_of(_borrower: address) -> uint256:
    """
    @notice What `_borrower` owes at this block's time, interest included.
    """
    index: uint256 = 0
    reserves: uint256 = 0
    index, reserves = self._accrued()
    return self._debt_of(self._debt[_borrower] >> 64, index)


@view
@external
def health_factor(_borrower: address) -> uint256:
    """
    @notice `_borrower`'s health factor (WAD) at this block's time and the price in
            force: below 10**18 the position may be liquidated; the largest uint256
            without debt.
    """
    index: uint256 = 0
    reserves: uint256 = 0
    index, reserves = self._accrued()
    debt: uint256 = self._debt_of(self._debt[_borrower] >> 64, index)
    return self._health(self._collateral[_borrower], debt, self._price_at >> 64)


# -- calls -----------------------------------------------------------------------


@external
@payable
@nonreentrant
def supply():
    """
    @notice Deposit msg.value wei for shares of the pool, at the value of what the
            pool holds and is owed (less reserves), the shares rounded down.
    """
    amount: uint256 = msg.value
    self._check_amount(amount)
    self._accrue()
    value: uint256 = self._supplied_value()
    total: uint256 = self.total_shares
    minted: uint256 = 0
    if total == 0:
        minted = amount
    else:
        assert value != 0, "the pool's supplied funds were lost to bad debt"
        minted = amount * total // value
    assert minted != 0, "the amount buys no share"
    assert total + minted <= MAX_AMOUNT and self.cash + amount <= MAX_AMOUNT, "the pool is full"
    self.cash += amount
    self.total_shares = total + minted
    self.shares[msg.sender] += minted
    log Supplied(supplier=msg.sender, amount=amount, shares=minted)


@external
@nonreentrant
def withdraw(_amount: uint256):
    """
    @notice Take `_amount` wei out of the pool, burning the caller's shares worth
            it, rounded up.
    """
    self._check_amount(_amount)
    self._accrue()
    value: uint256 = self._supplied_value()
    total: uint256 = self.total_shares
    assert total != 0 and value != 0, "more than your share"
    burnt: uint256 = self._div_up(_amount * total, value)
    mine: uint256 = self.shares[msg.sender]
    assert burnt <= mine, "more than your share"
    assert _amount <= self.cash, "the pool's cash is lent out"
    self.cash -= _amount
    self.total_shares = total - burnt
    self.shares[msg.sender] = mine - burnt
    log Withdrawn(supplier=msg.sender, amount=_amount, shares=burnt)
    self._pay(msg.sender, _amount)


@external
@nonreentrant
def add_collateral(_amount: uint256):
    """
    @notice Post `_amount` base units of the collateral token (approve first).
    """
    self._check_amount(_amount)
    self._accrue()
    posted: uint256 = self._collateral[msg.sender] + _amount
    assert posted <= MAX_AMOUNT, "the pool is full"
    self._collateral[msg.sender] = posted
    log CollateralAdded(borrower=msg.sender, amount=_amount)
    held: uint256 = staticcall IERC20(COLLATERAL).balanceOf(self)
    assert extcall IERC20(COLLATERAL).transferFrom(
        msg.sender, self, _amount, default_return_value=True
    ), "the collateral transfer failed"
    # A token that keeps a fee on transfer would leave the pool owing more than it
    # holds: the last borrower out could not take its collateral back.
    assert (
        staticcall IERC20(COLLATERAL).balanceOf(self) == held + _amount
    ), "the collateral token delivered less than the amount (fee-on-transfer tokens are not supported)"


@external
@nonreentrant
def remove_collateral(_amount: uint256):
    """
    @notice Take back `_amount` of the caller's collateral; with a loan, only while
            what is left covers it at the loan-to-value limit and a fresh price.
    """
    self._check_amount(_amount)
    self._accrue()
    collateral: uint256 = self._collateral[msg.sender]
    assert _amount <= collateral, "more collateral than you posted"
    left: uint256 = collateral - _amount
    debt: uint256 = self._debt_of(self._debt[msg.sender] >> 64, self._index_at >> 64)
    if debt > 0:
        price: uint256 = self._fresh_price()
        assert (
            debt * BPS <= self._value(left, price) * LTV_BPS
        ), "the rest would not cover the loan-to-value limit"
    self._collateral[msg.sender] = left
    log CollateralRemoved(borrower=msg.sender, amount=_amount)
    self._send_collateral(msg.sender, _amount)


@external
@nonreentrant
def borrow(_amount: uint256):
    """
    @notice Borrow `_amount` wei against the caller's collateral, up to the
            loan-to-value limit at a fresh price. The first borrow of a loan sets
            its due time, MAX_TERM later.
    """
    self._check_amount(_amount)
    self._accrue()
    self._borrow(_amount)
    self._pay(msg.sender, _amount)


@external
@nonreentrant
def borrow_for_lease(
    _params: IChannelManager.ChannelParams, _amount: uint256, _expires_at: uint256
) -> bytes32:
    """
    @notice Borrow `_amount` wei, as `borrow` does, straight into a new ether
            channel of `_params` in CHANNELS, whose renter the caller must be (and
            whose salt starts with this pool's address). The pool holds the
            channel's refund: `settle_lease` repays the loan from it first. The
            caller signs the channel's vouchers as usual.
    @return The channel id.
    """
    self._check_amount(_amount)
    self._accrue()
    assert CHANNELS != empty(address), "this pool funds no leases"
    assert msg.sender == _params.renter, "only the lease's renter borrows for it"
    assert _params.token == empty(address), "a credit lease's channel holds ether"
    self._borrow(_amount)
    cid: bytes32 = keccak256(abi_encode(_params))
    self.lease_borrower[cid] = msg.sender
    log LeaseFunded(borrower=msg.sender, channel_id=cid, amount=_amount)
    # The manager's own checks (terms, expiry, an id used before) revert the whole call.
    return extcall IChannelManager(CHANNELS).open_for(_params, _amount, _expires_at, value=_amount)


@external
@nonreentrant
def settle_lease(_params: IChannelManager.ChannelParams) -> uint256:
    """
    @notice Once a credit lease's channel has settled, collect its refund and
            repay its renter's debt with it first; what exceeds the debt goes to
            the renter. Anyone may call it (a keeper, the lender, the renter).
    @return The refund collected.
    """
    cid: bytes32 = keccak256(abi_encode(_params))
    borrower: address = self.lease_borrower[cid]
    assert borrower != empty(address), "not a lease this pool funded"
    self._accrue()
    status: uint256 = (staticcall IChannelManager(CHANNELS).channel(cid))[4]
    assert status == CHANNEL_SETTLED, "the lease's channel has not settled"
    self.lease_borrower[cid] = empty(address)
    # The refund is the pool's; a payout its provider assigned here is counted with it.
    refund_to: address = empty(address)
    payout_to: address = empty(address)
    refund_owed: uint256 = 0
    payout_owed: uint256 = 0
    refund_to, payout_to, refund_owed, payout_owed = staticcall IChannelManager(CHANNELS).assignment(cid)
    if payout_to != self:
        payout_owed = 0
    refund: uint256 = 0
    if refund_owed + payout_owed != 0:
        self._collecting = True
        refund = extcall IChannelManager(CHANNELS).collect(_params)
        self._collecting = False
    packed: uint256 = self._debt[borrower]
    debt: uint256 = self._debt_of(packed >> 64, self._index_at >> 64)
    repaid: uint256 = min(refund, debt)
    if repaid != 0:
        self._reduce_debt(borrower, packed, repaid, debt)
    log LeaseSettled(borrower=borrower, channel_id=cid, refund=refund, repaid=repaid)
    self._pay(borrower, refund - repaid)
    return refund


@external
@payable
def __default__():
    """
    @notice Takes ether only from CHANNELS while `settle_lease` collects a credit
            lease's refund; suppliers and payers use `supply` and `repay`.
    """
    assert msg.sender == CHANNELS and self._collecting, "send ether with supply or repay"


@external
@payable
@nonreentrant
def repay(_borrower: address):
    """
    @notice Pay msg.value wei towards `_borrower`'s debt; what exceeds the debt
            returns to the caller.
    """
    amount: uint256 = msg.value
    self._check_amount(amount)
    self._accrue()
    collateral: uint256 = self._collateral[_borrower]
    packed: uint256 = self._debt[_borrower]
    debt: uint256 = self._debt_of(packed >> 64, self._index_at >> 64)
    assert debt != 0, "nothing to repay"
    paid: uint256 = min(amount, debt)
    self._reduce_debt(_borrower, packed, paid, debt)
    log Repaid(borrower=_borrower, payer=msg.sender, amount=paid)
    self._pay(msg.sender, amount - paid)


@external
@payable
@nonreentrant
def liquidate(_borrower: address):
    """
    @notice Repay up to msg.value wei of an unhealthy or overdue `_borrower`'s debt
            (at most CLOSE_FACTOR_BPS of it, all of it once overdue) for collateral
            worth it plus LIQUIDATION_BONUS_BPS; what is not used returns. Debt
            left without collateral is written off.
    """
    amount: uint256 = msg.value
    self._check_amount(amount)
    self._accrue()
    price: uint256 = self._fresh_price()
    packed: uint256 = self._debt[_borrower]
    debt: uint256 = self._debt_of(packed >> 64, self._index_at >> 64)
    assert debt != 0, "nothing to liquidate"
    collateral: uint256 = self._collateral[_borrower]
    overdue: bool = block.timestamp > packed & MASK64
    assert overdue or self._health(collateral, debt, price) < WAD, "the position is healthy"
    limit: uint256 = debt
    if not overdue:
        limit = self._div_up(debt * CLOSE_FACTOR_BPS, BPS)
    repaid: uint256 = min(amount, limit)
    seized: uint256 = repaid * (BPS + LIQUIDATION_BONUS_BPS) * WAD // (BPS * price)
    if seized >= collateral:
        seized = collateral
        repaid = min(
            repaid, self._div_up(collateral * price * BPS, (BPS + LIQUIDATION_BONUS_BPS) * WAD)
        )
    assert seized != 0 and repaid != 0, "the repayment is too small to seize any collateral"
    self._collateral[_borrower] = collateral - seized
    self._reduce_debt(_borrower, packed, repaid, debt)
    log Liquidated(borrower=_borrower, liquidator=msg.sender, repaid=repaid, seized=seized)
    if seized == collateral and self._debt[_borrower] != 0:
        self._write_off(_borrower)
    # Interactions last: the liquidator's collateral, then its change.
    self._send_collateral(msg.sender, seized)
    self._pay(msg.sender, amount - repaid)


@external
def set_price(_price: uint256):
    """
    @notice The feed posts a price in wei per whole collateral token. The price in
            force moves by at most MAX_PRICE_STEP_BPS of it per PRICE_STEP_PERIOD
            since the last post (one step at most), so a feed that is wrong, or
            whose key was taken, moves the pool boundedly however often it posts.
            Interest is not accrued: the price does not enter it.
    """
    assert msg.sender == ORACLE, "only the price feed sets the price"
    assert 0 < _price and _price <= MAX_PRICE, "the price must be above 0 and below 2**96"
    packed: uint256 = self._price_at
    current: uint256 = packed >> 64
    price: uint256 = _price
    if current != 0:
        elapsed: uint256 = min(block.timestamp - (packed & MASK64), PRICE_STEP_PERIOD)
        step: uint256 = current * MAX_PRICE_STEP_BPS * elapsed // (BPS * PRICE_STEP_PERIOD)
        price = min(max(price, current - step), current + step)
    self._price_at = price << 64 | block.timestamp
    log PriceSet(price=price, requested=_price)


@external
@nonreentrant
def collect_reserves(_amount: uint256):
    """
    @notice The treasury takes `_amount` wei of the reserves, out of the cash.
    """
    self._check_amount(_amount)
    self._accrue()
    assert msg.sender == TREASURY, "only the treasury collects reserves"
    assert _amount <= self.reserves, "more than the reserves"
    assert _amount <= self.cash, "the pool's cash is lent out"
    self.cash -= _amount
    self.reserves -= _amount
    log ReservesCollected(treasury=msg.sender, amount=_amount)
    self._pay(msg.sender, _amount)


@external
@nonreentrant
def withdraw_credit():
    """
    @notice Collect payouts that were credited because a push was refused.
    """
    amount: uint256 = pull_payments._claim(msg.sender)
    assert amount > 0, "nothing to withdraw"
    # All the gas, not the push's stipend: a receiver that refused a bounded push must
    # be able to take its credit. The credit is cleared first.
    raw_call(msg.sender, b"", value=amount)


# -- internals -------------------------------------------------------------------


@pure
@internal
def _check_amount(_amount: uint256):
    # the specification's bound on every amount: keeps every product in uint256
    assert 0 < _amount and _amount <= MAX_AMOUNT, "the amount must be above 0 and below 2**128"


@pure
@internal
def _div_up(_numerator: uint256, _denominator: uint256) -> uint256:
    # not (n + d - 1) // d, which could leave uint256
    quotient: uint256 = _numerator // _denominator
    if _numerator % _denominator != 0:
        quotient += 1
    return quotient


@pure
@internal
def _debt_of(_scaled: uint256, _index: uint256) -> uint256:
    # a debt rounds up: the borrower owes the wei the index does not resolve
    return self._div_up(_scaled * _index, RAY)


@pure
@internal
def _value(_collateral: uint256, _price: uint256) -> uint256:
    # the collateral's worth rounds down
    return _collateral * _price // WAD


@view
@internal
def _health(_collateral: uint256, _debt: uint256, _price: uint256) -> uint256:
    if _debt == 0:
        return max_value(uint256)
    return self._value(_collateral, _price) * LIQUIDATION_THRESHOLD_BPS * WAD // (BPS * _debt)


@view
@internal
def _borrow_rate(_debt: uint256, _cash: uint256) -> uint256:
    """
    @dev The kinked curve (rates.borrow_rate): yearly, RAY-scaled.
    """
    if _debt == 0:
        return BASE_RATE
    utilization: uint256 = _debt * BPS // (_cash + _debt)
    if utilization <= KINK_BPS:
        return BASE_RATE + SLOPE_LOW * utilization // KINK_BPS
    return BASE_RATE + SLOPE_LOW + SLOPE_HIGH * (utilization - KINK_BPS) // (BPS - KINK_BPS)


@view
@internal
def _accrued() -> (uint256, uint256):
    """
    @dev The borrow index and reserves at block.timestamp (pool.accrue), unwritten.
    """
    packed: uint256 = self._index_at
    index: uint256 = packed >> 64
    reserves: uint256 = self.reserves
    scaled: uint256 = self.total_scaled_debt
    if block.timestamp <= packed & MASK64 or scaled == 0:
        return index, reserves
    before: uint256 = self._debt_of(scaled, index)
    rate: uint256 = self._borrow_rate(before, self.cash)
    step: uint256 = min(block.timestamp - (packed & MASK64), MAX_ACCRUAL_STEP)
    # Simple interest over the step, compounded at each accrual (Compound's
    # accrueInterest), rounded up; index * rate * step < 2**122 * 2**95 * 2**32.
    grown: uint256 = min(
        index + self._div_up(index * rate * step, RAY * SECONDS_PER_YEAR), MAX_INDEX
    )
    interest: uint256 = self._debt_of(scaled, grown) - before
    return grown, reserves + interest * RESERVE_FACTOR_BPS // BPS


@internal
def _accrue():
    if block.timestamp <= self._index_at & MASK64:
        return
    index: uint256 = 0
    reserves: uint256 = 0
    index, reserves = self._accrued()
    self._index_at = index << 64 | block.timestamp
    self.reserves = reserves


@view
@internal
def _supplied_value() -> uint256:
    """
    @dev What the suppliers' shares are worth together: cash and debt, less reserves
         (0 when the reserves exceed them).
    """
    held: uint256 = self.cash + self._debt_of(self.total_scaled_debt, self._index_at >> 64)
    reserves: uint256 = self.reserves
    if held <= reserves:
        return 0
    return held - reserves


@view
@internal
def _fresh_price() -> uint256:
    packed: uint256 = self._price_at
    price: uint256 = packed >> 64
    assert (
        price != 0 and block.timestamp - (packed & MASK64) <= MAX_PRICE_AGE
    ), "the price is stale"
    return price


@internal
def _borrow(_amount: uint256):
    """
    @dev The checks and effects of a borrow of `_amount` by the caller, after the
         accrual; the caller sends the ether.
    """
    price: uint256 = self._fresh_price()
    assert _amount <= self.cash, "the pool has not that much cash"
    index: uint256 = self._index_at >> 64
    packed: uint256 = self._debt[msg.sender]
    scaled: uint256 = packed >> 64
    debt: uint256 = self._debt_of(scaled, index) + _amount
    assert (
        debt * BPS <= self._value(self._collateral[msg.sender], price) * LTV_BPS
    ), "past the loan-to-value limit"
    added: uint256 = self._div_up(_amount * RAY, index)
    due: uint256 = packed & MASK64
    if scaled == 0:
        due = block.timestamp + MAX_TERM
    self._debt[msg.sender] = (scaled + added) << 64 | due
    self.cash -= _amount
    self.total_scaled_debt += added
    log Borrowed(borrower=msg.sender, amount=_amount, due=due)


@internal
def _reduce_debt(_borrower: address, _packed: uint256, _paid: uint256, _debt: uint256):
    """
    @dev `_paid` of `_debt` repaid: the scaled debt falls by what `_paid` is worth,
         rounded down (all of it when the whole debt is paid); the loan keeps its due
         time while any of it is left.
    """
    scaled: uint256 = _packed >> 64
    cut: uint256 = scaled
    if _paid != _debt:
        cut = _paid * RAY // (self._index_at >> 64)
    left: uint256 = scaled - cut
    if left == 0:
        self._debt[_borrower] = 0
    else:
        self._debt[_borrower] = left << 64 | (_packed & MASK64)
    self.cash += _paid
    self.total_scaled_debt -= cut


@internal
def _write_off(_borrower: address):
    """
    @dev The debt of a position without collateral, written off: first against the
         reserves, the rest against the suppliers (the pool's value falls with it).
    """
    scaled: uint256 = self._debt[_borrower] >> 64
    amount: uint256 = self._debt_of(scaled, self._index_at >> 64)
    reserves: uint256 = self.reserves
    from_reserves: uint256 = min(reserves, amount)
    self.total_scaled_debt -= scaled
    self.reserves = reserves - from_reserves
    self.bad_debt += amount
    self._debt[_borrower] = 0
    log BadDebt(borrower=_borrower, amount=amount, from_reserves=from_reserves)


@internal
def _send_collateral(_to: address, _amount: uint256):
    # to the caller only: a token that refuses the caller blocks that caller alone
    assert extcall IERC20(COLLATERAL).transfer(
        _to, _amount, default_return_value=True
    ), "the collateral transfer failed"


@internal
def _pay(_to: address, _amount: uint256):
    if _amount == 0:
        return
    credited: bool = not pull_payments._pay(_to, _amount)
    log Paid(recipient=_to, amount=_amount, credited=credited)
