# pragma version ~=0.4.3
"""
@title pull_payments
@license Apache-2.0
@notice Ether payouts that no recipient can block: a payout is pushed with a
        bounded gas stipend, and one that the recipient refuses (a reverting or
        gas-hungry contract) is credited to it instead, to be pulled later with
        the contract's `withdraw_credit`. Used by Rollup and DisputeGame; the
        ChannelManager, which also pays in tokens, takes only PAYOUT_GAS.
@dev    A contract that `initializes` this module exports `credit` and writes its
        own `withdraw_credit` around `_claim`, so that each keeps its revert string.
"""

# Enough for a receiving contract to log or update a balance; too little for it to
# call back in, and a bound on what a refusing recipient can burn of the payer's gas.
PAYOUT_GAS: constant(uint256) = 50000

# Wei owed to each address whose pushed payout was refused.
credit: public(HashMap[address, uint256])


@internal
def _pay(_to: address, _amount: uint256) -> bool:
    """
    @notice Push `_amount` wei to `_to`; if `_to` refuses it, credit it instead.
    @return False when the payout was credited rather than sent (the caller logs it).
    """
    if _amount == 0:
        return True
    if raw_call(_to, b"", value=_amount, gas=PAYOUT_GAS, revert_on_failure=False):
        return True
    self.credit[_to] += _amount
    return False


@internal
def _claim(_owner: address) -> uint256:
    """
    @notice Clear `_owner`'s credit and return it (0 when there is none), for the
            caller to send; the caller reverts on 0 with its own reason, which also
            undoes the clearing.
    """
    amount: uint256 = self.credit[_owner]
    self.credit[_owner] = 0
    return amount
