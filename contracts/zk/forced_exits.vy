# pragma version ~=0.4.3
"""
@title forced_exits
@license Apache-2.0
@notice The zk rollup's queue of forced exits: an account's L1 address asks L1 for
        its whole L2 balance (a full exit, as zkSync's), and the operator must take
        the entry, in queue order, into a batch's forced-exit section within the
        forced-inclusion delay, or anyone may freeze the rollup. The proof binds what
        the batch pays (the balance); ZkRollup credits it to the owner stored here
        when the proof verifies. This is what answers an operator that keeps posting
        batches but leaves one user's withdrawals out: it cannot leave out an
        L1-queued exit.
@dev    Storage and the internal functions that write it; ZkRollup `initializes` it.
        An entry is the account index and the owner that asked. A batch's slot is
        19 bytes, index (3) | paid (16) (src/l2gpu/core/zk/pubdata.py's
        ForcedExitSlot): L1 checks the index against the entry and pays the stored
        owner, so the address never goes through the public data.
"""

event ForcedExitQueued:
    queue_index: indexed(uint256)
    account_index: indexed(uint256)
    owner: indexed(address)


FORCED_EXIT_BYTES: constant(uint256) = 19
MAX_FORCED_EXITS: constant(uint256) = 64

exit_queue_account: public(HashMap[uint256, uint256])
exit_queue_owner: public(HashMap[uint256, address])
exit_queue_time: public(HashMap[uint256, uint256])
exit_queue_length: public(uint256)
# Entries that accepted batches have taken (they take the queue in order).
exit_queue_done: public(uint256)
# One entry waiting per account at a time: an account's queue position + 1 while one
# waits (0: none), so one address cannot fill the queue with entries the operator
# must take one slot each.
exit_waiting: public(HashMap[uint256, uint256])


@internal
def _queue(_index: uint256, _owner: address, _now: uint256) -> uint256:
    """
    @notice Queue a full exit of account `_index` to `_owner`.
    @return Its position in the queue.
    """
    assert self.exit_waiting[_index] == 0, "a forced exit of this account is already waiting: wait for a batch to take it"
    position: uint256 = self.exit_queue_length
    self.exit_queue_account[position] = _index
    self.exit_queue_owner[position] = _owner
    self.exit_queue_time[position] = _now
    self.exit_queue_length = position + 1
    self.exit_waiting[_index] = position + 1
    log ForcedExitQueued(queue_index=position, account_index=_index, owner=_owner)
    return position


@internal
def _check(_count: uint256, _slots: uint256, _section: Bytes[MAX_FORCED_EXITS * FORCED_EXIT_BYTES]) -> uint256:
    """
    @notice Check a batch's forced-exit section: `_slots` slots, the first `_count`
            naming the queue's next entries' accounts, the rest no-ops (index 0; the
            proof makes their paid zero).
    @return The queue position of the batch's first forced exit.
    """
    assert len(_section) == _slots * FORCED_EXIT_BYTES, "the forced-exit section has the wrong length"
    assert _count <= _slots, "more forced exits than the batch has slots"
    first: uint256 = self.exit_queue_done
    assert first + _count <= self.exit_queue_length, "the batch takes forced exits that are not queued"
    for i: uint256 in range(MAX_FORCED_EXITS):
        if i >= _slots:
            break
        index: uint256 = convert(slice(_section, i * FORCED_EXIT_BYTES, 3), uint256)
        if i < _count:
            assert index == self.exit_queue_account[first + i], "a forced-exit slot differs from the queue"
        else:
            assert index == 0, "a forced-exit slot past the count is not a no-op"
    return first


@internal
def _taken(_first: uint256, _count: uint256):
    """
    @notice Mark the batch's `_count` entries taken (after its proof verified).
    """
    self.exit_queue_done = _first + _count
    for i: uint256 in range(MAX_FORCED_EXITS):
        if i >= _count:
            break
        self.exit_waiting[self.exit_queue_account[_first + i]] = 0


@internal
@view
def _overdue(_delay: uint256) -> bool:
    """
    @notice Whether the oldest entry no batch took has waited longer than `_delay`.
    """
    first: uint256 = self.exit_queue_done
    return first < self.exit_queue_length and block.timestamp > self.exit_queue_time[first] + _delay
