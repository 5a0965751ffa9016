# pragma version ~=0.4.3
"""
@title GasFloor
@license Apache-2.0
@notice Test helper: a call that uses little gas but refuses to run with less than
        a floor left, and a call that spends gas in a child call (EIP-150's 63/64).
"""

interface Burner:
    def burn(_rounds: uint256) -> uint256: nonpayable


calls: public(uint256)


@external
def needs(_floor: uint256):
    """
    @notice Count a call, only when at least `_floor` gas is left on entry.
    """
    assert msg.gas >= _floor, "not enough gas left"
    self.calls += 1


@external
def burn(_rounds: uint256) -> uint256:
    """
    @notice Hash `_rounds` times; a child call of `nested`.
    """
    acc: bytes32 = empty(bytes32)
    for i: uint256 in range(_rounds, bound=10_000):
        acc = keccak256(concat(acc, convert(i, bytes32)))
    return convert(acc, uint256)


@external
def nested(_rounds: uint256):
    """
    @notice Spend gas in a call to this contract's `burn`, then count the call.
    """
    extcall Burner(self).burn(_rounds)
    self.calls += 1
