# pragma version ~=0.4.3
"""
@title AttackFeed
@license Apache-2.0
@notice Review helper: a price feed (the pool's oracle or the market's feed) that
        posts many times in one transaction, as a compromised feed key could; and a
        way to force ether into a contract without calling it (selfdestruct).
"""

interface Pool:
    def set_price(_price: uint256): nonpayable

interface Market:
    def post_index(_price: uint256): nonpayable


@external
def set_price_many(_pool: address, _price: uint256, _times: uint256):
    """
    @notice Ask `_pool` for `_price` `_times` times, in this one transaction.
    """
    for i: uint256 in range(1000):
        if i >= _times:
            break
        extcall Pool(_pool).set_price(_price)


@external
def post_index_many(_market: address, _price: uint256, _times: uint256):
    """
    @notice Post `_price` to `_market` `_times` times, in this one transaction.
    """
    for i: uint256 in range(1000):
        if i >= _times:
            break
        extcall Market(_market).post_index(_price)


@external
@payable
def force_send(_to: address):
    """
    @notice Send msg.value to `_to` without calling it, by selfdestruct.
    """
    selfdestruct(_to)
