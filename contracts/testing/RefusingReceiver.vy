# pragma version ~=0.4.3
"""
@title RefusingReceiver
@license Apache-2.0
@notice Test helper: a contract account that refuses ether until told to accept
        it, then collects what a ChannelManager credited to it.
"""

interface Manager:
    def withdraw(_token: address): nonpayable

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
    assert self.accepting, "RefusingReceiver: not accepting"


@external
def set_accepting(_accepting: bool):
    """
    @notice Start or stop accepting ether.
    """
    self.accepting = _accepting


@external
def withdraw_from(_manager: address, _token: address):
    """
    @notice Collect this contract's credit at `_manager`.
    """
    extcall Manager(_manager).withdraw(_token)
