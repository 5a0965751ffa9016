# pragma version ~=0.4.3
"""
@title RefusingTrader
@license Apache-2.0
@notice Test helper: a contract account that opens, takes and cancels offers at a
        Forwards market and refuses ether until told to accept it, then collects
        what the market credited to it.
"""

interface Market:
    def open_offer(_long: bool, _gpu_hours: uint256, _price: uint256) -> uint256: payable
    def cancel_offer(_offer_id: uint256): nonpayable
    def take(_offer_id: uint256): payable
    def withdraw_credit(): nonpayable

accepting: public(bool)


@deploy
def __init__():
    """
    @notice Start refusing ether.
    """
    self.accepting = False


@external
@payable
def __default__():
    """
    @notice Take ether only while accepting.
    """
    assert self.accepting, "RefusingTrader: not accepting"


@external
def set_accepting(_accepting: bool):
    """
    @notice Start or stop accepting ether.
    """
    self.accepting = _accepting


@external
@payable
def open_offer_at(_market: address, _long: bool, _gpu_hours: uint256, _price: uint256) -> uint256:
    """
    @notice Open an offer at `_market` as this contract, with msg.value as margin.
    """
    return extcall Market(_market).open_offer(_long, _gpu_hours, _price, value=msg.value)


@external
def cancel_at(_market: address, _offer_id: uint256):
    """
    @notice Cancel this contract's offer `_offer_id` at `_market`.
    """
    extcall Market(_market).cancel_offer(_offer_id)


@external
@payable
def take_at(_market: address, _offer_id: uint256):
    """
    @notice Take offer `_offer_id` at `_market` as this contract, with msg.value.
    """
    extcall Market(_market).take(_offer_id, value=msg.value)


@external
def withdraw_credit_from(_market: address):
    """
    @notice Collect this contract's credit at `_market`.
    """
    extcall Market(_market).withdraw_credit()
