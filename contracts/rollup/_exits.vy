# pragma version ~=0.4.3
"""
@title _exits
@license Apache-2.0
@notice What every way out of the rollup shares (an exit claimed against a final
        root, an escape-hatch exit after a freeze, a slashed bond's reward): a
        state path checked with the rollup's revert strings, and a payout that no
        recipient can block (pull_payments), announced when it is deferred.
@dev    Rollup `initializes` it (with pull_payments); _escape_hatch `uses` it.
        Its file name starts with "_": it `uses` another module, so it compiles
        only inside the contract that `initializes` it (here Rollup).
"""

from common import pull_payments
from . import state_leaves

uses: pull_payments

event PayoutDeferred:
    recipient: indexed(address)
    amount: uint256


@pure
@internal
def _merkle_root(_leaf: bytes32, _index: uint256, _proof: DynArray[bytes32, state_leaves.DEPTH]) -> bytes32:
    """
    @notice The root `_leaf` at `_index` leads to along `_proof`, with this contract's
            revert strings (checked here, so state_leaves' own never fire).
    @dev    Mirrors core/l2/merkle.py path_root.
    """
    assert len(_proof) == state_leaves.DEPTH, "rollup: proof must have 24 hashes"
    # Checked here so that state_leaves' own check (the same) never fires with its reason.
    assert _index >> state_leaves.DEPTH == 0, "rollup: index outside the tree"
    return state_leaves._merkle_path(_leaf, _index, _proof)


@internal
def _pay(_to: address, _amount: uint256):
    """
    @notice Pay `_to`, or credit it when it refuses, and say so in a PayoutDeferred.
    @dev    No core/ mirror: L1 payouts have none.
    """
    if not pull_payments._pay(_to, _amount):
        log PayoutDeferred(recipient=_to, amount=_amount)
