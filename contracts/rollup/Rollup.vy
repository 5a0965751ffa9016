# pragma version ~=0.4.3
"""
@title Rollup
@license Apache-2.0
@notice The L1 side of l2gpu's optimistic rollup: an L1 queue for deposits and
        forced withdrawals, batches of co-signed commitments posted as calldata
        with their state roots by bonded proposers, a challenge window after which
        a root is final, withdrawals claimed with Merkle proofs against final roots,
        and a freeze: if a queued operation waits longer than the forced-inclusion
        delay, anyone can freeze the rollup and every user exits with a proof
        against the last final root. The L2 rules are specified by the Python state
        transition in src/l2gpu/core/l2/.
@dev    State root = keccak256(accounts_root || channels_root || exits_root ||
        uint64 deposits_processed || uint64 exit_count). Exit leaf = keccak256(
        address || uint128 amount || uint64 index). Account leaf = keccak256(address
        || uint128 balance || uint64 nonce || bls_key[96]). Trees are indexed, depth 24.
"""

struct ChannelParams:
    renter: address
    provider: address
    token: address
    challenge_period: uint256
    salt: bytes32

event Queued:
    index: indexed(uint256)
    kind: uint256
    sender: indexed(address)
    amount: uint256
    bls_key: Bytes[96]
    proof_of_possession: Bytes[48]
    queued_at: uint256

event BatchPosted:
    index: indexed(uint256)
    state_root: bytes32
    queue_end: uint256
    data_hash: bytes32
    proposer: indexed(address)

event ExitClaimed:
    exit_index: indexed(uint256)
    recipient: indexed(address)
    amount: uint256

event Frozen:
    at_batch: uint256
    final_root: bytes32

event FrozenExit:
    kind: uint256
    index: indexed(uint256)
    recipient: indexed(address)
    amount: uint256

event PayoutDeferred:
    recipient: indexed(address)
    amount: uint256

KIND_DEPOSIT: constant(uint256) = 1
KIND_FORCED_WITHDRAW: constant(uint256) = 2
DEPTH: constant(uint256) = 24
MAX_BATCH_BYTES: constant(uint256) = 120000
MAX_BALANCE: constant(uint256) = 2**128 - 1
PAYOUT_GAS: constant(uint256) = 50000

CHALLENGE_WINDOW: public(immutable(uint256))
FORCE_DELAY: public(immutable(uint256))
MIN_BOND: public(immutable(uint256))

queue: public(HashMap[uint256, bytes32])
queue_time: public(HashMap[uint256, uint256])
queue_length: public(uint256)

batch_root: public(HashMap[uint256, bytes32])
batch_time: public(HashMap[uint256, uint256])
batch_queue_end: public(HashMap[uint256, uint256])
batch_proposer: public(HashMap[uint256, address])
batch_count: public(uint256)

bond: public(HashMap[address, uint256])
last_batch_of: public(HashMap[address, uint256])
exit_claimed: public(HashMap[uint256, bool])
credit: public(HashMap[address, uint256])

frozen: public(bool)
frozen_batch: public(uint256)
account_exited: public(HashMap[uint256, bool])
channel_exited: public(HashMap[uint256, bool])
deposit_refunded: public(HashMap[uint256, bool])


@deploy
def __init__(_genesis_root: bytes32, _challenge_window: uint256, _force_delay: uint256, _min_bond: uint256):
    """
    @notice Start the rollup at the empty state's root (batch 0, final at once).
    @param _challenge_window Seconds a root can be challenged (7 days by default).
    @param _force_delay Seconds the sequencer has to include a queued L1 operation (12 h).
    @param _min_bond Wei a proposer must stake to post batches.
    """
    CHALLENGE_WINDOW = _challenge_window
    FORCE_DELAY = _force_delay
    MIN_BOND = _min_bond
    self.batch_root[0] = _genesis_root
    self.batch_count = 1


# -- the L1 queue ------------------------------------------------------------------

@external
@payable
def deposit(_bls_key: Bytes[96], _proof_of_possession: Bytes[48]):
    """
    @notice Deposit ether to your L2 account (created on first deposit). The BLS key
            is set on first use if its proof of possession is valid.
    """
    assert not self.frozen, "rollup: frozen"
    assert msg.value > 0 and msg.value <= MAX_BALANCE, "rollup: deposit out of range"
    self._enqueue(KIND_DEPOSIT, msg.value, _bls_key, _proof_of_possession)


@external
def force_withdraw(_amount: uint256):
    """
    @notice Ask, from L1, to withdraw `_amount` of your L2 balance (capped at it). The
            sequencer must include it within the forced-inclusion delay, or anyone may
            freeze the rollup. This path works without the sequencer's goodwill.
    """
    assert not self.frozen, "rollup: frozen"
    assert _amount > 0 and _amount <= MAX_BALANCE, "rollup: amount out of range"
    self._enqueue(KIND_FORCED_WITHDRAW, _amount, b"", b"")


@internal
def _enqueue(_kind: uint256, _amount: uint256, _key: Bytes[96], _pop: Bytes[48]):
    index: uint256 = self.queue_length
    self.queue[index] = keccak256(abi_encode(_kind, msg.sender, _amount, keccak256(_key), keccak256(_pop)))
    self.queue_time[index] = block.timestamp
    self.queue_length = index + 1
    log Queued(index=index, kind=_kind, sender=msg.sender, amount=_amount, bls_key=_key, proof_of_possession=_pop, queued_at=block.timestamp)


# -- batches -------------------------------------------------------------------------

@external
@payable
def stake():
    """
    @notice Add to your proposer bond.
    """
    self.bond[msg.sender] += msg.value


@external
def unstake(_amount: uint256):
    """
    @notice Take back bond once every batch you posted is final.
    """
    last: uint256 = self.last_batch_of[msg.sender]
    assert last == 0 or self._is_final(last), "rollup: a batch of yours is not final"
    assert self.bond[msg.sender] >= _amount, "rollup: bond too small"
    self.bond[msg.sender] -= _amount
    send(msg.sender, _amount)


@external
def submit_batch(_data: Bytes[MAX_BATCH_BYTES], _state_root: bytes32, _queue_end: uint256) -> uint256:
    """
    @notice Post a batch (its commitments as calldata) and the state root after it.
    @param _queue_end The L1 queue position after the queued operations it processed.
    @return The batch index.
    """
    return self._record_batch(_state_root, _queue_end, keccak256(_data))


@external
def submit_batch_blob(_state_root: bytes32, _queue_end: uint256) -> uint256:
    """
    @notice Post a batch whose data travels as the transaction's first EIP-4844 blob
            (cheaper than calldata when blob gas is cheap). The logged data hash is the
            blob's versioned hash; nodes keep the blob contents, which L1 prunes.
    """
    versioned_hash: bytes32 = blobhash(0)
    assert versioned_hash != empty(bytes32), "rollup: no blob attached"
    return self._record_batch(_state_root, _queue_end, versioned_hash)


@internal
def _record_batch(_state_root: bytes32, _queue_end: uint256, _data_hash: bytes32) -> uint256:
    assert not self.frozen, "rollup: frozen"
    assert self.bond[msg.sender] >= MIN_BOND, "rollup: proposer bond too small"
    index: uint256 = self.batch_count
    previous_end: uint256 = self.batch_queue_end[index - 1]
    assert _queue_end >= previous_end and _queue_end <= self.queue_length, "rollup: bad queue position"
    self.batch_root[index] = _state_root
    self.batch_time[index] = block.timestamp
    self.batch_queue_end[index] = _queue_end
    self.batch_proposer[index] = msg.sender
    self.last_batch_of[msg.sender] = index
    self.batch_count = index + 1
    log BatchPosted(index=index, state_root=_state_root, queue_end=_queue_end, data_hash=_data_hash, proposer=msg.sender)
    return index


@view
@external
def is_final(_index: uint256) -> bool:
    """
    @notice Whether batch `_index`'s root can no longer be challenged.
    """
    return self._is_final(_index)


@view
@external
def last_final_batch() -> uint256:
    """
    @notice The newest final batch.
    """
    return self._last_final()


@view
@internal
def _is_final(_index: uint256) -> bool:
    if _index == 0:
        return True
    if _index >= self.batch_count:
        return False
    return block.timestamp >= self.batch_time[_index] + CHALLENGE_WINDOW


@view
@internal
def _last_final() -> uint256:
    index: uint256 = self.batch_count - 1
    for _: uint256 in range(10000):
        if self._is_final(index):
            return index
        index -= 1
    return 0


# -- withdrawals -----------------------------------------------------------------------

@external
def withdraw(
    _batch: uint256,
    _exit_index: uint256,
    _recipient: address,
    _amount: uint256,
    _proof: DynArray[bytes32, DEPTH],
    _accounts_root: bytes32,
    _channels_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    """
    @notice Claim an exit (an L2 withdrawal) proven against a final state root.
    """
    assert self._is_final(_batch), "rollup: batch not final"
    assert _exit_index < _exit_count, "rollup: no such exit"
    assert not self.exit_claimed[_exit_index], "rollup: exit already claimed"
    leaf: bytes32 = keccak256(concat(convert(_recipient, bytes20), convert(convert(_amount, uint128), bytes16), convert(convert(_exit_index, uint64), bytes8)))
    exits_root: bytes32 = self._merkle_root(leaf, _exit_index, _proof)
    root: bytes32 = self._state_root(_accounts_root, _channels_root, exits_root, _deposits_processed, _exit_count)
    assert root == self.batch_root[_batch], "rollup: bad exit proof"
    self.exit_claimed[_exit_index] = True
    log ExitClaimed(exit_index=_exit_index, recipient=_recipient, amount=_amount)
    self._pay(_recipient, _amount)


@external
def withdraw_credit():
    """
    @notice Collect payouts that were credited because a push was refused.
    """
    amount: uint256 = self.credit[msg.sender]
    assert amount > 0, "rollup: nothing to withdraw"
    self.credit[msg.sender] = 0
    send(msg.sender, amount)


# -- forced inclusion and the freeze ------------------------------------------------------

@external
def freeze():
    """
    @notice Freeze the rollup when a queued L1 operation has waited past the
            forced-inclusion delay without a batch processing it. Afterwards no batch
            is accepted and everyone exits against the last final root.
    """
    assert not self.frozen, "rollup: frozen"
    consumed: uint256 = self.batch_queue_end[self.batch_count - 1]
    assert consumed < self.queue_length, "rollup: nothing is waiting"
    assert block.timestamp > self.queue_time[consumed] + FORCE_DELAY, "rollup: the sequencer still has time"
    final: uint256 = self._last_final()
    self.frozen = True
    self.frozen_batch = final
    log Frozen(at_batch=final, final_root=self.batch_root[final])


@external
def exit_account(
    _index: uint256,
    _address: address,
    _balance: uint256,
    _nonce: uint256,
    _bls_key: Bytes[96],
    _proof: DynArray[bytes32, DEPTH],
    _channels_root: bytes32,
    _exits_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    """
    @notice After a freeze: take out an account's balance, proven against the last final root.
    """
    assert self.frozen, "rollup: not frozen"
    assert not self.account_exited[_index], "rollup: account already exited"
    assert len(_bls_key) == 96, "rollup: bad key length"
    leaf: bytes32 = keccak256(concat(convert(_address, bytes20), convert(convert(_balance, uint128), bytes16), convert(convert(_nonce, uint64), bytes8), _bls_key))
    accounts_root: bytes32 = self._merkle_root(leaf, _index, _proof)
    root: bytes32 = self._state_root(accounts_root, _channels_root, _exits_root, _deposits_processed, _exit_count)
    assert root == self.batch_root[self.frozen_batch], "rollup: bad account proof"
    self.account_exited[_index] = True
    log FrozenExit(kind=1, index=_index, recipient=_address, amount=_balance)
    self._pay(_address, _balance)


@external
def exit_channel(
    _index: uint256,
    _params: ChannelParams,
    _renter_index: uint256,
    _provider_index: uint256,
    _deposit: uint256,
    _best: uint256,
    _expires_at: uint256,
    _close_deadline: uint256,
    _status: uint256,
    _proof: DynArray[bytes32, DEPTH],
    _accounts_root: bytes32,
    _exits_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    """
    @notice After a freeze: pay out a live channel as if settled at the freeze: the best
            proven voucher (capped at the deposit) to the provider, the rest to the renter.
    """
    assert self.frozen, "rollup: not frozen"
    assert not self.channel_exited[_index], "rollup: channel already exited"
    assert _status == 1 or _status == 2, "rollup: channel not live"
    cid: bytes32 = keccak256(abi_encode(_params))
    leaf: bytes32 = keccak256(concat(cid, convert(convert(_renter_index, uint24), bytes3), convert(convert(_provider_index, uint24), bytes3), convert(convert(_deposit, uint128), bytes16), convert(convert(_best, uint128), bytes16), convert(convert(_expires_at, uint64), bytes8), convert(convert(_close_deadline, uint64), bytes8), convert(convert(_status, uint8), bytes1)))
    channels_root: bytes32 = self._merkle_root(leaf, _index, _proof)
    root: bytes32 = self._state_root(_accounts_root, channels_root, _exits_root, _deposits_processed, _exit_count)
    assert root == self.batch_root[self.frozen_batch], "rollup: bad channel proof"
    self.channel_exited[_index] = True
    to_provider: uint256 = min(_best, _deposit)
    log FrozenExit(kind=2, index=_index, recipient=_params.provider, amount=to_provider)
    log FrozenExit(kind=2, index=_index, recipient=_params.renter, amount=_deposit - to_provider)
    self._pay(_params.provider, to_provider)
    self._pay(_params.renter, _deposit - to_provider)


@external
def refund_queued(_index: uint256, _kind: uint256, _sender: address, _amount: uint256, _key_hash: bytes32, _pop_hash: bytes32):
    """
    @notice After a freeze: return a deposit that no final batch processed.
    """
    assert self.frozen, "rollup: not frozen"
    assert _index >= self.batch_queue_end[self.frozen_batch] and _index < self.queue_length, "rollup: processed by a final batch"
    assert not self.deposit_refunded[_index], "rollup: already refunded"
    assert self.queue[_index] == keccak256(abi_encode(_kind, _sender, _amount, _key_hash, _pop_hash)), "rollup: not that queue entry"
    self.deposit_refunded[_index] = True
    if _kind == KIND_DEPOSIT:
        log FrozenExit(kind=3, index=_index, recipient=_sender, amount=_amount)
        self._pay(_sender, _amount)


# -- helpers -------------------------------------------------------------------------------

@pure
@internal
def _merkle_root(_leaf: bytes32, _index: uint256, _proof: DynArray[bytes32, DEPTH]) -> bytes32:
    assert len(_proof) == DEPTH, "rollup: proof must have 24 hashes"
    node: bytes32 = _leaf
    position: uint256 = _index
    for sibling: bytes32 in _proof:
        if position & 1 == 1:
            node = keccak256(concat(sibling, node))
        else:
            node = keccak256(concat(node, sibling))
        position = position >> 1
    assert position == 0, "rollup: index outside the tree"
    return node


@pure
@internal
def _state_root(_accounts: bytes32, _channels: bytes32, _exits: bytes32, _deposits: uint256, _exit_count: uint256) -> bytes32:
    return keccak256(concat(_accounts, _channels, _exits, convert(convert(_deposits, uint64), bytes8), convert(convert(_exit_count, uint64), bytes8)))


@internal
def _pay(_to: address, _amount: uint256):
    if _amount == 0:
        return
    if not raw_call(_to, b"", value=_amount, gas=PAYOUT_GAS, revert_on_failure=False):
        self.credit[_to] += _amount
        log PayoutDeferred(recipient=_to, amount=_amount)
