# pragma version ~=0.4.3
"""
@title TestToken
@license Apache-2.0
@notice An ERC-20 token for tests and demos: anyone may mint it, so it has no value.
        Payment channels accept it as their ERC-20 asset in tests.
"""

from ethereum.ercs import IERC20

implements: IERC20

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

name: public(String[32])
symbol: public(String[8])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


@deploy
def __init__(_name: String[32], _symbol: String[8], _decimals: uint8):
    """
    @notice Create the token with a name, a symbol and a number of decimals.
    """
    self.name = _name
    self.symbol = _symbol
    self.decimals = _decimals


@external
def transfer(_to: address, _value: uint256) -> bool:
    """
    @notice Move `_value` tokens from the caller to `_to`.
    """
    self._transfer(msg.sender, _to, _value)
    return True


@external
def transferFrom(_from: address, _to: address, _value: uint256) -> bool:
    """
    @notice Move `_value` tokens from `_from` to `_to` within the caller's allowance.
    """
    allowed: uint256 = self.allowance[_from][msg.sender]
    assert allowed >= _value, "TestToken: allowance too low"
    if allowed != max_value(uint256):
        self.allowance[_from][msg.sender] = allowed - _value
    self._transfer(_from, _to, _value)
    return True


@external
def approve(_spender: address, _value: uint256) -> bool:
    """
    @notice Allow `_spender` to move up to `_value` of the caller's tokens.
    """
    self.allowance[msg.sender][_spender] = _value
    log Approval(owner=msg.sender, spender=_spender, value=_value)
    return True


@external
def mint(_to: address, _value: uint256):
    """
    @notice Create `_value` new tokens for `_to`. Open to anyone: test use only.
    """
    assert _to != empty(address), "TestToken: mint to the zero address"
    self.totalSupply += _value
    self.balanceOf[_to] += _value
    log Transfer(sender=empty(address), receiver=_to, value=_value)


@internal
def _transfer(_from: address, _to: address, _value: uint256):
    assert _to != empty(address), "TestToken: transfer to the zero address"
    assert self.balanceOf[_from] >= _value, "TestToken: balance too low"
    self.balanceOf[_from] -= _value
    self.balanceOf[_to] += _value
    log Transfer(sender=_from, receiver=_to, value=_value)
