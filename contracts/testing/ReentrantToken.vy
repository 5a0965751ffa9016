# pragma version ~=0.4.3
"""
@title ReentrantToken
@license Apache-2.0
@notice Review helper: an ERC-20 whose transfer and transferFrom, while armed, call
        a target with stored calldata (a reentry into the pool that moves it) and
        record whether that call went through. It can also act as a pool user
        (execute), so the reentry is made by an account that holds shares.
"""

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)

armed: public(bool)
hook_target: public(address)
hook_data: public(Bytes[256])
hook_tried: public(uint256)
hook_ok: public(uint256)


@external
@payable
def __default__():
    pass


@external
def mint(_to: address, _value: uint256):
    self.totalSupply += _value
    self.balanceOf[_to] += _value


@external
def approve(_spender: address, _value: uint256) -> bool:
    self.allowance[msg.sender][_spender] = _value
    return True


@external
def arm(_target: address, _data: Bytes[256]):
    self.armed = True
    self.hook_target = _target
    self.hook_data = _data


@external
@payable
def execute(_target: address, _data: Bytes[256], _value: uint256):
    """
    @notice Call `_target` as this contract (to supply to the pool, say).
    """
    raw_call(_target, _data, value=_value)


@internal
def _hook():
    if not self.armed:
        return
    self.armed = False
    self.hook_tried += 1
    if raw_call(self.hook_target, self.hook_data, revert_on_failure=False):
        self.hook_ok += 1


@external
def transfer(_to: address, _value: uint256) -> bool:
    assert self.balanceOf[msg.sender] >= _value, "balance too low"
    self.balanceOf[msg.sender] -= _value
    self.balanceOf[_to] += _value
    self._hook()
    return True


@external
def transferFrom(_from: address, _to: address, _value: uint256) -> bool:
    assert self.allowance[_from][msg.sender] >= _value, "allowance too low"
    assert self.balanceOf[_from] >= _value, "balance too low"
    self.allowance[_from][msg.sender] -= _value
    self.balanceOf[_from] -= _value
    self.balanceOf[_to] += _value
    self._hook()
    return True
