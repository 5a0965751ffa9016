# pragma version ~=0.4.3
"""
@title FeeToken
@license Apache-2.0
@notice Review helper: an ERC-20 that keeps 1 % of every transfer as a fee (as
        fee-on-transfer tokens do), returning true as any token would.
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


@external
def mint(_to: address, _value: uint256):
    self.balanceOf[_to] += _value


@external
def approve(_spender: address, _value: uint256) -> bool:
    self.allowance[msg.sender][_spender] = _value
    return True


@internal
def _move(_from: address, _to: address, _value: uint256):
    assert self.balanceOf[_from] >= _value, "FeeToken: balance too low"
    self.balanceOf[_from] -= _value
    self.balanceOf[_to] += _value - _value // 100


@external
def transfer(_to: address, _value: uint256) -> bool:
    self._move(msg.sender, _to, _value)
    return True


@external
def transferFrom(_from: address, _to: address, _value: uint256) -> bool:
    assert self.allowance[_from][msg.sender] >= _value, "FeeToken: allowance too low"
    self.allowance[_from][msg.sender] -= _value
    self._move(_from, _to, _value)
    return True
