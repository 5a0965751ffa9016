# pragma version ~=0.4.3
"""
@title l1_queue
@license Apache-2.0
@notice The rollup's L1 queue: deposits and forced withdrawals wait here, in order,
        until a batch processes them (a batch's queue end says how far); and the L2
        account index of each address, given at its first deposit. Also the freeze
        flag, which the freeze module sets and which closes the queue and the batches.
@dev    Storage only, and the internal functions that write it: Rollup `initializes`
        it, and the batches and freeze modules `use` it.
"""

event Queued:
    index: indexed(uint256)
    kind: uint256
    sender: indexed(address)
    amount: uint256
    bls_key: Bytes[96]
    proof_of_possession: Bytes[48]
    queued_at: uint256
    account_index: uint256

KIND_DEPOSIT: constant(uint256) = 1
KIND_FORCED_WITHDRAW: constant(uint256) = 2
# L2 account indices are 24 bits; the largest marks "no account".
NO_ACCOUNT: public(constant(uint256)) = 2**24 - 1

queue: public(HashMap[uint256, bytes32])
queue_time: public(HashMap[uint256, uint256])
queue_length: public(uint256)
# An address's L2 account index + 1 (0: it never deposited), given at its first
# deposit in queue order, the order in which the L2 creates accounts. The L2 cannot
# prove that an address has no account, so L1 says which index it has or gets.
account_index_of: HashMap[address, uint256]
account_count: public(uint256)

# Set once, by freeze.vy: afterwards nothing is queued and no batch is accepted.
frozen: public(bool)


@view
@internal
def _account_index(_account: address) -> uint256:
    """
    @dev No core/ mirror: L1 alone gives account indices, in queue order, as
         core/l2/stf.py apply_deposit creates the accounts.
    """
    stored: uint256 = self.account_index_of[_account]
    if stored == 0:
        return NO_ACCOUNT
    return stored - 1


@internal
def _enqueue(_kind: uint256, _owner: address, _amount: uint256, _key: Bytes[96], _pop: Bytes[48], _account: uint256):
    """
    @notice Append an L1 operation of `_owner` to the queue, stored as the hash of
            its fields (the Queued event carries them, `_owner` as its sender: the
            depositor, or whom the shards' bridge deposits for).
    @dev    No core/ mirror: the entry's hash is l1/contracts/rollup.py
            queue_entry_hash; core/l2/transactions.py Deposit and ForcedWithdraw
            are what the L2 makes of it.
    """
    index: uint256 = self.queue_length
    self.queue[index] = keccak256(abi_encode(_kind, _owner, _amount, keccak256(_key), keccak256(_pop), _account))
    self.queue_time[index] = block.timestamp
    self.queue_length = index + 1
    log Queued(index=index, kind=_kind, sender=_owner, amount=_amount, bls_key=_key, proof_of_possession=_pop, queued_at=block.timestamp, account_index=_account)
