# pragma version ~=0.4.3
"""
@title Forwards
@license Apache-2.0
@notice One market of GPU-hour forwards on margin, settled in cash: a long (a
        renter locking what its GPU-hours will cost) and a short (a provider
        locking what its hours will earn) on `gpu_hours` at `price` wei per
        GPU-hour; at expiry the long receives (index - price) * gpu_hours from the
        short, or pays it. A maker posts an offer with its margin, a taker takes
        it whole with its own; each margin must be at least the initial margin of
        the notional. The index comes from one feed, moved at most a bounded step
        per update and stale after a bounded age. A side whose equity falls below
        the maintenance margin at the index is liquidated by anyone, who takes a
        fee out of that side's equity; after expiry, on an index posted after it,
        anyone settles. Payouts are capped by the two margins together; what the
        loser's margin does not cover is recorded as bad debt (there is no
        insurance fund).
@dev    Specification: src/l2gpu/core/credit/forwards.py (state_transition). Every
        check is made in the specification's order with its revert reason, and
        every division rounds as it does there; tests/credit apply the same calls
        to both and compare the whole state after each.
        Offers and forwards share one numbering: a forward keeps its offer's id,
        and the offer's storage becomes the forward's (taking writes two words
        that are already set, not three new ones). Ether goes out to the sides
        and the liquidator, pushed with a bounded stipend after every write; a
        recipient that refuses it is credited instead (pull_payments) and pulls it
        with withdraw_credit, so nobody can block a cancellation, a liquidation or
        a settlement.
"""

from common import pull_payments

initializes: pull_payments

exports: pull_payments.credit


event IndexPosted:
    index: uint256
    requested: uint256


event OfferOpened:
    offer_id: indexed(uint256)
    maker: indexed(address)
    long: bool
    gpu_hours: uint256
    price: uint256
    margin: uint256


event OfferCancelled:
    offer_id: indexed(uint256)
    maker: indexed(address)


event Opened:
    forward_id: indexed(uint256)
    long: indexed(address)
    short: indexed(address)
    gpu_hours: uint256
    price: uint256


event MarginAdded:
    forward_id: indexed(uint256)
    side: indexed(address)
    amount: uint256


event Settled:
    forward_id: indexed(uint256)
    index: uint256
    long_payout: uint256
    short_payout: uint256
    shortfall: uint256
    liquidator: indexed(address)  # empty for a settlement at expiry
    fee: uint256


event Paid:
    recipient: indexed(address)
    amount: uint256
    credited: bool  # refused by the recipient: credited, to pull with withdraw_credit


BPS: constant(uint256) = 10_000
MAX_AMOUNT: constant(uint256) = 2**128 - 1
# A feed moves the index at most MAX_PRICE_STEP_BPS per PRICE_STEP_PERIOD since its
# last post (one step at most): many posts in a block move it no further.
PRICE_STEP_PERIOD: constant(uint256) = 3600
# With no index posted after expiry, forwards settle this long after it at the last
# index in force: a silent feed delays settlement, it does not lock the margins.
SETTLE_GRACE: constant(uint256) = 7 * 86400
MAX_HOURS: constant(uint256) = 2**64 - 1
MAX_PRICE: constant(uint256) = 2**96 - 1
MASK64: constant(uint256) = 2**64 - 1
MASK96: constant(uint256) = 2**96 - 1
MASK128: constant(uint256) = 2**128 - 1

FEED: public(immutable(address))
EXPIRY: public(immutable(uint256))
INITIAL_MARGIN_BPS: public(immutable(uint256))
MAINTENANCE_MARGIN_BPS: public(immutable(uint256))
LIQUIDATION_FEE_BPS: public(immutable(uint256))
MAX_PRICE_AGE: public(immutable(uint256))
MAX_PRICE_STEP_BPS: public(immutable(uint256))

# index (bits 64-255) | the time it was posted (bits 0-63); 0: no index yet. Read
# together by every liquidation and settlement, so one word.
_index_at: uint256
next_id: public(uint256)
bad_debt: public(uint256)
# The first index posted after expiry (0 until then): every forward settles at it.
settlement_index: public(uint256)
# An offer or a forward, by id, in three words (all 0: none, or gone):
# maker (bits 96-255) | price (bits 0-95)
_maker: HashMap[uint256, uint256]
# taker (bits 96-255; 0 while it is an offer) | gpu_hours (bits 32-95) | 1 if the
# maker is long (bit 0)
_taker: HashMap[uint256, uint256]
# long's margin (bits 128-255) | short's margin (bits 0-127); an offer holds only
# its maker's side. Each is below 2**128: an offer's and a take's margin are, and
# added margin keeps their sum so.
_margins: HashMap[uint256, uint256]


@deploy
def __init__(
    _feed: address,
    _expiry: uint256,
    _initial_margin_bps: uint256,
    _maintenance_margin_bps: uint256,
    _liquidation_fee_bps: uint256,
    _max_price_age: uint256,
    _max_price_step_bps: uint256,
):
    """
    @notice Open a market expiring at `_expiry` (L1 time), its index posted by
            `_feed` in wei per GPU-hour. The parameters are core/credit/forwards.py
            ForwardParams, fixed for the market's life, and refused when
            ForwardParams.problems() would name a problem, with that problem as
            the reason.
    """
    assert _feed != empty(address), "no index feed"
    assert (
        0 < _liquidation_fee_bps and _liquidation_fee_bps < _maintenance_margin_bps
    ), "need 0 < liquidation fee < maintenance margin"
    assert (
        _maintenance_margin_bps < _initial_margin_bps and _initial_margin_bps <= BPS
    ), "need maintenance margin < initial margin <= 100 %"
    assert (
        _max_price_age > 0 and 0 < _max_price_step_bps and _max_price_step_bps < BPS
    ), "the price's age and step bounds must be positive and below 100 %"
    # Beyond the specification: a market that has expired would take no offer.
    assert _expiry > block.timestamp, "the expiry must be in the future"
    FEED = _feed
    EXPIRY = _expiry
    INITIAL_MARGIN_BPS = _initial_margin_bps
    MAINTENANCE_MARGIN_BPS = _maintenance_margin_bps
    LIQUIDATION_FEE_BPS = _liquidation_fee_bps
    MAX_PRICE_AGE = _max_price_age
    MAX_PRICE_STEP_BPS = _max_price_step_bps
    self.next_id = 1


# -- views -----------------------------------------------------------------------


@view
@external
def index() -> uint256:
    """
    @notice The index in force, in wei per GPU-hour (0: none yet).
    """
    return self._index_at >> 64


@view
@external
def index_at() -> uint256:
    """
    @notice When the index in force was posted (L1 time; 0: never).
    """
    return self._index_at & MASK64


@view
@external
def market_state() -> (uint256, uint256, uint256, uint256, uint256):
    """
    @notice The market's storage but the offers and forwards, in one call: index,
            index_at, next_id, bad_debt, settlement_index (as the views of those
            names).
    """
    index_at: uint256 = self._index_at
    return index_at >> 64, index_at & MASK64, self.next_id, self.bad_debt, self.settlement_index


@view
@external
def offers(_offer_id: uint256) -> (address, bool, uint256, uint256, uint256):
    """
    @notice Open offer `_offer_id`: its maker, whether the maker is long, its
            GPU-hours, price and margin (all 0: no such offer, or taken or
            cancelled).
    """
    taker: uint256 = self._taker[_offer_id]
    if taker >> 96 != 0:
        return empty(address), False, 0, 0, 0
    maker: uint256 = self._maker[_offer_id]
    margins: uint256 = self._margins[_offer_id]
    maker_long: bool = taker & 1 == 1
    margin: uint256 = margins & MASK128
    if maker_long:
        margin = margins >> 128
    return (
        convert(maker >> 96, address), maker_long, (taker >> 32) & MASK64, maker & MASK96, margin
    )


@view
@external
def forwards(_forward_id: uint256) -> (address, address, uint256, uint256, uint256, uint256):
    """
    @notice Forward `_forward_id`: its long, short, GPU-hours, price, and each
            side's margin (all 0: no such forward, or settled).
    """
    taker: uint256 = self._taker[_forward_id]
    if taker >> 96 == 0:
        return empty(address), empty(address), 0, 0, 0, 0
    maker: uint256 = self._maker[_forward_id]
    margins: uint256 = self._margins[_forward_id]
    long: address = empty(address)
    short: address = empty(address)
    long, short = self._sides(maker, taker)
    return long, short, (taker >> 32) & MASK64, maker & MASK96, margins >> 128, margins & MASK128


@view
@external
def equity(_forward_id: uint256, _long: bool) -> int256:
    """
    @notice The long's (or short's) equity in forward `_forward_id` at the index in
            force, fresh or not: its margin plus its profit (negative: it owes more
            than its margin).
    """
    taker: uint256 = self._taker[_forward_id]
    assert taker >> 96 != 0, "no such forward"
    long_equity: int256 = 0
    short_equity: int256 = 0
    long_equity, short_equity = self._equities(
        self._maker[_forward_id], taker, self._margins[_forward_id], self._index_at >> 64
    )
    if _long:
        return long_equity
    return short_equity


@view
@external
def maintenance(_forward_id: uint256) -> uint256:
    """
    @notice The equity each side of forward `_forward_id` must keep at the index in
            force, below which it may be liquidated.
    """
    taker: uint256 = self._taker[_forward_id]
    assert taker >> 96 != 0, "no such forward"
    return self._maintenance((taker >> 32) & MASK64, self._index_at >> 64)


# -- calls -----------------------------------------------------------------------


@external
def post_index(_price: uint256):
    """
    @notice The feed posts the index, in wei per GPU-hour. The index in force
            moves by at most MAX_PRICE_STEP_BPS of it per PRICE_STEP_PERIOD since the
            last post (one step at most), so a feed that is wrong, or whose key was
            taken, moves every forward boundedly. The first post after expiry is
            the settlement index.
    """
    assert msg.sender == FEED, "only the feed posts the index"
    assert 0 < _price and _price <= MAX_PRICE, "the index must be above 0 and below 2**96"
    packed: uint256 = self._index_at
    current: uint256 = packed >> 64
    price: uint256 = _price
    if current != 0:
        elapsed: uint256 = min(block.timestamp - (packed & MASK64), PRICE_STEP_PERIOD)
        step: uint256 = current * MAX_PRICE_STEP_BPS * elapsed // (BPS * PRICE_STEP_PERIOD)
        price = min(max(price, current - step), current + step)
    self._index_at = price << 64 | block.timestamp
    if block.timestamp > EXPIRY and self.settlement_index == 0:
        self.settlement_index = price
    log IndexPosted(index=price, requested=_price)


@external
@payable
@nonreentrant
def open_offer(_long: bool, _gpu_hours: uint256, _price: uint256) -> uint256:
    """
    @notice Offer to be the long (or the short) of `_gpu_hours` at `_price` wei per
            GPU-hour, with msg.value as margin: at least INITIAL_MARGIN_BPS of the
            notional. Returns the offer's id, which the forward keeps once taken.
    """
    margin: uint256 = msg.value
    assert block.timestamp < EXPIRY, "the market has expired"
    assert (
        0 < _gpu_hours and _gpu_hours <= MAX_HOURS and 0 < _price and _price <= MAX_PRICE
    ), "hours and price must be above 0 (below 2**64 and 2**96)"
    assert margin <= MAX_AMOUNT, "the margin must be below 2**128"
    assert margin >= self._initial(_gpu_hours, _price), "the margin is below the initial margin"
    offer_id: uint256 = self.next_id
    self.next_id = offer_id + 1
    self._maker[offer_id] = convert(msg.sender, uint256) << 96 | _price
    side: uint256 = 0
    margins: uint256 = margin
    if _long:
        side = 1
        margins = margin << 128
    self._taker[offer_id] = _gpu_hours << 32 | side
    self._margins[offer_id] = margins
    log OfferOpened(
        offer_id=offer_id,
        maker=msg.sender,
        long=_long,
        gpu_hours=_gpu_hours,
        price=_price,
        margin=margin,
    )
    return offer_id


@external
@nonreentrant
def cancel_offer(_offer_id: uint256):
    """
    @notice The maker withdraws its open offer `_offer_id` and takes back its margin.
    """
    maker: uint256 = self._maker[_offer_id]
    taker: uint256 = self._taker[_offer_id]
    assert maker != 0 and taker >> 96 == 0, "no such offer"
    assert convert(maker >> 96, address) == msg.sender, "only its maker cancels an offer"
    margins: uint256 = self._margins[_offer_id]
    margin: uint256 = margins & MASK128
    if taker & 1 == 1:
        margin = margins >> 128
    self._clear(_offer_id)
    log OfferCancelled(offer_id=_offer_id, maker=msg.sender)
    self._pay(msg.sender, margin)


@external
@payable
@nonreentrant
def take(_offer_id: uint256):
    """
    @notice Take open offer `_offer_id` whole, as the other side, with msg.value as
            margin (at least INITIAL_MARGIN_BPS of the notional): forward
            `_offer_id` opens.
    """
    margin: uint256 = msg.value
    maker: uint256 = self._maker[_offer_id]
    taker: uint256 = self._taker[_offer_id]
    assert maker != 0 and taker >> 96 == 0, "no such offer"
    assert block.timestamp < EXPIRY, "the market has expired"
    assert convert(maker >> 96, address) != msg.sender, "a maker cannot take its own offer"
    assert margin <= MAX_AMOUNT, "the margin must be below 2**128"
    gpu_hours: uint256 = (taker >> 32) & MASK64
    price: uint256 = maker & MASK96
    assert margin >= self._initial(gpu_hours, price), "the margin is below the initial margin"
    taker = convert(msg.sender, uint256) << 96 | (taker & MASK96)
    # the maker's margin is on its side already: the taker's goes on the other
    margins: uint256 = self._margins[_offer_id]
    if taker & 1 == 1:
        margins = margins | margin
    else:
        margins = margins | margin << 128
    index: uint256 = self._index_at >> 64
    if index != 0:
        # the maker's side may already fail at the index: it would be liquidated at once
        required: int256 = convert(self._maintenance(gpu_hours, index), int256)
        long_equity: int256 = 0
        short_equity: int256 = 0
        long_equity, short_equity = self._equities(maker, taker, margins, index)
        assert (
            min(long_equity, short_equity) >= required
        ), "at the index the forward would be liquidated at once"
    self._taker[_offer_id] = taker
    self._margins[_offer_id] = margins
    long: address = empty(address)
    short: address = empty(address)
    long, short = self._sides(maker, taker)
    log Opened(forward_id=_offer_id, long=long, short=short, gpu_hours=gpu_hours, price=price)


@external
@payable
@nonreentrant
def add_margin(_forward_id: uint256):
    """
    @notice A side of forward `_forward_id` adds msg.value to its margin (the two
            margins together stay below 2**128).
    """
    taker: uint256 = self._taker[_forward_id]
    assert taker >> 96 != 0, "no such forward"
    long: address = empty(address)
    short: address = empty(address)
    long, short = self._sides(self._maker[_forward_id], taker)
    margins: uint256 = self._margins[_forward_id]
    long_margin: uint256 = margins >> 128
    short_margin: uint256 = margins & MASK128
    if msg.sender == long:
        long_margin += msg.value
    elif msg.sender == short:
        short_margin += msg.value
    else:
        raise "only a side of the forward adds margin to it"
    assert long_margin + short_margin <= MAX_AMOUNT, "the margin must be below 2**128"
    self._margins[_forward_id] = long_margin << 128 | short_margin
    log MarginAdded(forward_id=_forward_id, side=msg.sender, amount=msg.value)


@external
@nonreentrant
def liquidate(_forward_id: uint256):
    """
    @notice Settle forward `_forward_id` early at a fresh index, once a side's
            equity is below MAINTENANCE_MARGIN_BPS of the notional at the index
            (the long's first where both are): the caller takes LIQUIDATION_FEE_BPS
            of the notional out of that side's equity, what there is of it; the
            rest is paid out as at expiry.
    """
    maker: uint256 = self._maker[_forward_id]
    taker: uint256 = self._taker[_forward_id]
    assert taker >> 96 != 0, "no such forward"
    assert block.timestamp <= EXPIRY, "the market has expired: settle the forward"
    index: uint256 = self._fresh_index()
    gpu_hours: uint256 = (taker >> 32) & MASK64
    margins: uint256 = self._margins[_forward_id]
    required: int256 = convert(self._maintenance(gpu_hours, index), int256)
    long_equity: int256 = 0
    short_equity: int256 = 0
    long_equity, short_equity = self._equities(maker, taker, margins, index)
    long_fails: bool = long_equity < required
    assert long_fails or short_equity < required, "both sides hold their maintenance margin"
    failing: int256 = short_equity
    if long_fails:
        failing = long_equity
    fee_due: uint256 = LIQUIDATION_FEE_BPS * index * gpu_hours // BPS
    fee: uint256 = min(fee_due, convert(max(failing, 0), uint256))
    self._pay_out(_forward_id, maker, taker, margins, index, fee, msg.sender, long_fails)


@external
@nonreentrant
def settle(_forward_id: uint256):
    """
    @notice Settle forward `_forward_id` after expiry at the settlement index
            (the first posted after expiry; with none SETTLE_GRACE after expiry,
            the last index in force): the long receives (index - price) *
            gpu_hours from the short's margin (or pays it from its own), within
            the two margins.
    """
    maker: uint256 = self._maker[_forward_id]
    taker: uint256 = self._taker[_forward_id]
    assert taker >> 96 != 0, "no such forward"
    index: uint256 = self.settlement_index
    if index == 0:
        assert (
            block.timestamp > EXPIRY + SETTLE_GRACE
        ), "the forward settles on an index posted after its expiry"
        index = self._index_at >> 64  # the feed fell silent: the last index in force
        self.settlement_index = index
    if index == 0:
        index = maker & MASK96  # no index ever: at its own price, the margins come back
    margins: uint256 = self._margins[_forward_id]
    self._pay_out(_forward_id, maker, taker, margins, index, 0, empty(address), False)


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
def _div_up(_numerator: uint256, _denominator: uint256) -> uint256:
    # not (n + d - 1) // d, which could leave uint256
    quotient: uint256 = _numerator // _denominator
    if _numerator % _denominator != 0:
        quotient += 1
    return quotient


@view
@internal
def _initial(_gpu_hours: uint256, _price: uint256) -> uint256:
    # rounded up, for the market; price * hours * bps < 2**96 * 2**64 * 2**14
    return self._div_up(_price * _gpu_hours * INITIAL_MARGIN_BPS, BPS)


@view
@internal
def _maintenance(_gpu_hours: uint256, _index: uint256) -> uint256:
    # rounded up, for the market
    return self._div_up(_index * _gpu_hours * MAINTENANCE_MARGIN_BPS, BPS)


@view
@internal
def _fresh_index() -> uint256:
    packed: uint256 = self._index_at
    index: uint256 = packed >> 64
    assert (
        index != 0 and block.timestamp - (packed & MASK64) <= MAX_PRICE_AGE
    ), "the index is stale"
    return index


@pure
@internal
def _sides(_maker: uint256, _taker: uint256) -> (address, address):
    """
    @dev The long and the short of a forward, from its maker's and taker's words.
    """
    maker: address = convert(_maker >> 96, address)
    taker: address = convert(_taker >> 96, address)
    if _taker & 1 == 1:
        return maker, taker
    return taker, maker


@pure
@internal
def _equities(_maker: uint256, _taker: uint256, _margins: uint256, _index: uint256) -> (
    int256, int256
):
    """
    @dev Each side's margin plus its profit at `_index` (either may be negative):
         |profit| < 2**96 * 2**64 and each margin is below 2**128.
    """
    price: int256 = convert(_maker & MASK96, int256)
    gpu_hours: int256 = convert((_taker >> 32) & MASK64, int256)
    profit: int256 = (convert(_index, int256) - price) * gpu_hours
    return (
        convert(_margins >> 128, int256) + profit,
        convert(_margins & MASK128, int256) - profit,
    )


@internal
def _clear(_id: uint256):
    self._maker[_id] = 0
    self._taker[_id] = 0
    self._margins[_id] = 0


@internal
def _pay_out(
    _forward_id: uint256,
    _maker: uint256,
    _taker: uint256,
    _margins: uint256,
    _index: uint256,
    _fee: uint256,
    _liquidator: address,
    _long_fails: bool,
):
    """
    @dev Pay both sides at `_index`, less `_fee` taken from the failing side for
         `_liquidator` (the long when `_long_fails`, else the short; none at
         expiry, where the fee is 0): the payouts and the fee add up to the two
         margins, and what the loser's equity lacks is recorded as bad debt. The
         forward is gone before any ether moves.
    """
    total: uint256 = (_margins >> 128) + (_margins & MASK128)
    long_equity: int256 = 0
    short_equity: int256 = 0
    long_equity, short_equity = self._equities(_maker, _taker, _margins, _index)
    if _long_fails:
        long_equity -= convert(_fee, int256)
    else:
        short_equity -= convert(_fee, int256)
    long_payout: uint256 = min(convert(max(long_equity, 0), uint256), total - _fee)
    short_payout: uint256 = total - _fee - long_payout
    shortfall: uint256 = convert(max(-long_equity, 0) + max(-short_equity, 0), uint256)
    long: address = empty(address)
    short: address = empty(address)
    long, short = self._sides(_maker, _taker)
    self._clear(_forward_id)
    self.bad_debt += shortfall
    log Settled(
        forward_id=_forward_id,
        index=_index,
        long_payout=long_payout,
        short_payout=short_payout,
        shortfall=shortfall,
        liquidator=_liquidator,
        fee=_fee,
    )
    # Interactions last, in the specification's order: the long, the short, the fee.
    self._pay(long, long_payout)
    self._pay(short, short_payout)
    self._pay(_liquidator, _fee)


@internal
def _pay(_to: address, _amount: uint256):
    if _amount == 0:
        return
    credited: bool = not pull_payments._pay(_to, _amount)
    log Paid(recipient=_to, amount=_amount, credited=credited)
