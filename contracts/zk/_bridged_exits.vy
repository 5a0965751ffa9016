# pragma version ~=0.4.3
"""
@title bridged_exits
@license Apache-2.0
@notice A zk shard's side of the shards' bridge (bridge/Bridge.vy): which of its
        owners' L1 credit the bridge carries to another shard, and what arrives
        from one.

        A zk batch is final when its proof verifies, so an exit needs no Merkle
        proof: exit `i` names withdrawal slot `i % WITHDRAWAL_SLOTS` of batch
        `i // WITHDRAWAL_SLOTS`, known as soon as the batch is sealed. Every
        withdrawal is credited to its owner on L1 when its batch is accepted, as
        on an unsharded zk rollup, and a relayed move takes its amount from the
        owner's credit, which the owner authorised by signing the move.

        A position is not an identity: any valid batch accepted first takes a
        batch index, and the owner's withdrawal then lands in a later slot. So a
        liquidity provider's repayment is tied to the owner, not to the slot:
        while a move the provider fronted has not landed, the bridge says what the
        owner `owed`, and the owner cannot pull that much of its credit
        (`withdraw_credit` leaves it for the relay). Wherever the withdrawal lands,
        or if the shard freezes and the owner's balance leaves through the escape
        hatch, the credit it makes repays the provider first.

        An exit of an accepted batch counts as claimed (the bridge refuses to
        front it): its owner could pull the credit before the front.

        A move that arrives (a deposit for its recipient with no key) is never
        refused, which would leave it in the bridge: it is queued to the
        recipient's account when L1 knows that account's key, else credited to the
        recipient on L1 (`withdraw_credit`), with the reason logged.
@dev    Specification: src/l2gpu/core/shards/zk_exits.py. ZkRollup `initializes`
        this module with pull_payments; BRIDGE stays ZkRollup's immutable.
"""

from common import pull_payments

uses: pull_payments

interface IBridge:
    def owed(_owner: address) -> uint256: view
    def is_fronted(_exit_index: uint256, _owner: address, _amount: uint256) -> bool: view

event ExitCarried:
    exit_index: indexed(uint256)
    owner: indexed(address)
    amount: uint256

event ArrivalCreditedOnL1:
    account: indexed(address)
    amount: uint256
    reason: String[64]

# Exits the bridge carried, by keccak256(abi_encode(exit index, owner, amount)): keyed by
# the owner too, so that a move signed by another address naming the same index
# cannot block the owner's own.
carried: public(HashMap[bytes32, bool])
# The Baby Jubjub key of each account (set at its first deposit), so that a move
# arriving with no key can be queued to the account.
account_key: public(HashMap[address, uint256[2]])


@view
@internal
def _exit_claimed(_exit_index: uint256, _accepted_slots: uint256) -> bool:
    """
    @notice Whether the bridge must refuse to front exit `_exit_index`: its batch was
            accepted, so its owner may hold the credit already.
    """
    return _exit_index < _accepted_slots


@view
@internal
def _pullable(_bridge: address, _owner: address) -> uint256:
    """
    @notice What `_owner` may pull of its credit: all of it but what its fronted moves
            owe their providers until they land.
    """
    credit: uint256 = pull_payments.credit[_owner]
    if _bridge == empty(address):
        return credit
    owed: uint256 = staticcall IBridge(_bridge).owed(_owner)
    if owed >= credit:
        return 0
    return credit - owed


@internal
def _carry(_bridge: address, _exit_index: uint256, _owner: address, _amount: uint256):
    """
    @notice The bridge takes `_amount` of `_owner`'s credit for its move of exit
            `_exit_index`: a fronted move from all of it (what it owes is part of
            it), any other move only from the credit its fronted moves do not owe,
            so that no move of the owner's own outruns a provider's repayment. The
            caller sends the wei to the bridge.
    """
    carried_key: bytes32 = keccak256(abi_encode(_exit_index, _owner, _amount))
    assert not self.carried[carried_key], "zk shard: the exit was carried already"
    available: uint256 = pull_payments.credit[_owner]
    if not staticcall IBridge(_bridge).is_fronted(_exit_index, _owner, _amount):
        available = self._pullable(_bridge, _owner)
    assert available >= _amount, "zk shard: the owner's credit does not cover the move: its withdrawal is not in an accepted batch yet, or was pulled, or repays a fronted move"
    pull_payments.credit[_owner] -= _amount
    self.carried[carried_key] = True
    log ExitCarried(exit_index=_exit_index, owner=_owner, amount=_amount)


@internal
def _credit_arrival(_account: address, _amount: uint256, _reason: String[64]):
    """
    @notice A move that cannot be queued on this shard: its recipient is credited on L1.
    """
    pull_payments.credit[_account] += _amount
    log ArrivalCreditedOnL1(account=_account, amount=_amount, reason=_reason)
