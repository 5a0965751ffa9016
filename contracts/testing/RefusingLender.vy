# pragma version ~=0.4.3
"""
@title RefusingLender
@license Apache-2.0
@notice Test helper: a contract account that supplies to and liquidates at a
        LendingPool and refuses ether until told to accept it, then collects what
        the pool credited to it.
"""

interface Pool:
    def supply(): payable
    def withdraw(_amount: uint256): nonpayable
    def liquidate(_borrower: address): payable
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
    assert self.accepting, "RefusingLender: not accepting"


@external
def set_accepting(_accepting: bool):
    """
    @notice Start or stop accepting ether.
    """
    self.accepting = _accepting


@external
@payable
def supply_to(_pool: address):
    """
    @notice Supply msg.value to `_pool` as this contract.
    """
    extcall Pool(_pool).supply(value=msg.value)


@external
def withdraw_from(_pool: address, _amount: uint256):
    """
    @notice Withdraw `_amount` wei of this contract's supply at `_pool`.
    """
    extcall Pool(_pool).withdraw(_amount)


@external
@payable
def liquidate_at(_pool: address, _borrower: address):
    """
    @notice Liquidate `_borrower` at `_pool`, offering msg.value.
    """
    extcall Pool(_pool).liquidate(_borrower, value=msg.value)


@external
def withdraw_credit_from(_pool: address):
    """
    @notice Collect this contract's credit at `_pool`.
    """
    extcall Pool(_pool).withdraw_credit()
