# pragma version ~=0.4.3
"""
@title bridged_exits
@license Apache-2.0
@notice A zk shard's side of the shards' bridge (bridge/Bridge.vy): which of its
        withdrawals the bridge carries to another shard, and what arrives from one.

        A zk batch is final when its proof verifies, so an exit needs no Merkle
        proof: exit `i` is withdrawal slot `i % WITHDRAWAL_SLOTS` of batch
        `i // WITHDRAWAL_SLOTS`, known as soon as the batch is sealed. When the batch
        is accepted, each of its withdrawals either

        - is *held for the bridge*, when a liquidity provider fronted a move of it
          (the bridge's `is_fronted`): its owner is not credited, and only the
          bridge's relay takes it out, repaying the provider; or
        - is credited to its owner at once, as on an unsharded zk rollup. A signed
          move of it may still be relayed later (the slow path): the bridge then
          takes the amount from the owner's credit, which the owner authorised by
          signing the move. An owner who pulled its credit first has its wei on L1
          already: the relay fails and nobody loses.

        So an exit of an accepted batch counts as claimed (the bridge refuses to
        front it) unless it is held and not yet carried: a provider fronting after
        acceptance could be outrun by the owner pulling its credit.

        A move that arrives (a deposit for its recipient with no key) is never
        refused, which would leave it in the bridge: it is queued to the
        recipient's account when L1 knows that account's key, else credited to the
        recipient on L1 (`withdraw_credit`), with the reason logged.
@dev    Specification: src/l2gpu/core/shards/zk_exits.py. ZkRollup `initializes`
        this module with pull_payments; BRIDGE stays ZkRollup's immutable.
"""

from common import pull_payments

uses: pull_payments

interface IFronted:
    def is_fronted(_exit_index: uint256, _owner: address, _amount: uint256) -> bool: view

event ExitHeldForBridge:
    exit_index: indexed(uint256)
    owner: indexed(address)
    amount: uint256

event ExitCarried:
    exit_index: indexed(uint256)
    owner: indexed(address)
    amount: uint256
    was_held: bool

event ArrivalCreditedOnL1:
    account: indexed(address)
    amount: uint256
    reason: String[64]

# An exit held for the bridge: keccak256(abi_encode(owner, amount)) until carried.
held: public(HashMap[uint256, bytes32])
# Exits the bridge carried, by keccak256(abi_encode(exit index, owner, amount)): keyed by
# the owner too, so that a move signed by another address naming the same index
# cannot block the owner's own.
carried: public(HashMap[bytes32, bool])
# The Baby Jubjub key of each account (set at its first deposit), so that a move
# arriving with no key can be queued to the account.
account_key: public(HashMap[address, uint256[2]])


@internal
def _hold_if_fronted(_bridge: address, _exit_index: uint256, _owner: address, _amount: uint256) -> bool:
    """
    @notice At a batch's acceptance: hold withdrawal `_exit_index` for the bridge if a
            move of it was fronted; the caller credits the owner when this is False.
    """
    if _bridge == empty(address):
        return False
    if not staticcall IFronted(_bridge).is_fronted(_exit_index, _owner, _amount):
        return False
    self.held[_exit_index] = keccak256(abi_encode(_owner, _amount))
    log ExitHeldForBridge(exit_index=_exit_index, owner=_owner, amount=_amount)
    return True


@view
@internal
def _exit_claimed(_exit_index: uint256, _accepted_slots: uint256) -> bool:
    """
    @notice Whether the bridge must refuse to front exit `_exit_index`: its batch was
            accepted and it is not held for the bridge.
    """
    return _exit_index < _accepted_slots and self.held[_exit_index] == empty(bytes32)


@internal
def _carry(_exit_index: uint256, _owner: address, _amount: uint256, _accepted_slots: uint256):
    """
    @notice The bridge takes exit `_exit_index` of `_owner` (`_amount` wei): from the
            hold, or from the owner's credit. The caller sends the wei to the bridge.
    """
    assert _exit_index < _accepted_slots, "zk shard: the exit's batch is not proven yet"
    carried_key: bytes32 = keccak256(abi_encode(_exit_index, _owner, _amount))
    assert not self.carried[carried_key], "zk shard: the exit was carried already"
    expected: bytes32 = self.held[_exit_index]
    was_held: bool = expected != empty(bytes32)
    if was_held:
        assert expected == keccak256(abi_encode(_owner, _amount)), "zk shard: the held exit has another owner or amount"
        self.held[_exit_index] = empty(bytes32)
    else:
        assert pull_payments.credit[_owner] >= _amount, "zk shard: the exit's owner pulled its credit on L1 already"
        pull_payments.credit[_owner] -= _amount
    self.carried[carried_key] = True
    log ExitCarried(exit_index=_exit_index, owner=_owner, amount=_amount, was_held=was_held)


@internal
def _credit_arrival(_account: address, _amount: uint256, _reason: String[64]):
    """
    @notice A move that cannot be queued on this shard: its recipient is credited on L1.
    """
    pull_payments.credit[_account] += _amount
    log ArrivalCreditedOnL1(account=_account, amount=_amount, reason=_reason)
