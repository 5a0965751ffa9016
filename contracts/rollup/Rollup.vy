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
        Each calldata batch is parsed at submission (framing only, not the rules) and
        stored as the Merkle root of its segments, the units a fraud proof disputes:
        segment 0 is the batch's L1 operations, segment k its k-th commitment, and a
        segment leaf is keccak256(abi_encode(pre_root, post_root, data_hash)).
        The leaves, paths and root are state_leaves'; payouts are pull_payments'.
"""

from common import pull_payments
from interfaces import IBlsVerifier
from interfaces import IDisputeGame
from interfaces import IRollup
from . import state_leaves

implements: IRollup

initializes: pull_payments
# Payouts a recipient refused (see PayoutDeferred), to pull with withdraw_credit.
exports: pull_payments.credit

event Queued:
    index: indexed(uint256)
    kind: uint256
    sender: indexed(address)
    amount: uint256
    bls_key: Bytes[96]
    proof_of_possession: Bytes[48]
    queued_at: uint256
    account_index: uint256

event BatchPosted:
    index: indexed(uint256)
    state_root: bytes32
    queue_end: uint256
    data_hash: bytes32
    proposer: indexed(address)
    segments_root: bytes32
    segment_count: uint256
    serial: uint256

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
MAX_BATCH_BYTES: constant(uint256) = 120000
MAX_BALANCE: constant(uint256) = 2**128 - 1
# L2 account indices are 24 bits; the largest marks "no account".
NO_ACCOUNT: public(constant(uint256)) = 2**24 - 1

# The batch format (src/l2gpu/core/l2/codec.py).
BATCH_VERSION: constant(uint256) = 1
KIND_TRANSFER: constant(uint256) = 1
KIND_WITHDRAW: constant(uint256) = 2
KIND_CHANNEL: constant(uint256) = 3
MAX_COMMITMENT_TXS: constant(uint256) = 32
COMMITMENT_HEADER: constant(uint256) = 10  # kind u8 | count u8 | timestamp u64
COMMITMENT_TRAILER: constant(uint256) = 80  # aggregate signature 48 | post-state root 32
ROOT_SIZE: constant(uint256) = 32
MIN_COMMITMENT: constant(uint256) = 97  # header, one settle (7 bytes), trailer
TRANSFER_SIZE: constant(uint256) = 11
WITHDRAW_SIZE: constant(uint256) = 8
# A channel transaction's size, op byte included, is byte `op` of this word: open (1)
# 18, top-up (2) 15, close (3) 10, start close (4) 10, voucher (5) 88, provider
# close (6) 88, settle (7) 7. A table lookup is cheaper than a chain of branches.
CHANNEL_OP_SIZES: constant(uint256) = (18 << 8) | (15 << 16) | (10 << 24) | (10 << 32) | (88 << 40) | (88 << 48) | (7 << 56)
# Segment 0 (the L1 operations) plus at most 1023 commitments: a tree of depth 10.
MAX_SEGMENTS: constant(uint256) = 1024
MAX_L1_OPS: public(constant(uint256)) = 64
MAX_CLOSES: public(constant(uint256)) = 16
SEGMENT_LEVELS: constant(uint256) = 11

event BatchesReverted:
    from_index: indexed(uint256)
    proposer: indexed(address)
    slashed: uint256
    to_challenger: uint256

GAME: public(immutable(IDisputeGame))
BLS: public(immutable(IBlsVerifier))
ALLOW_BLOBS: public(immutable(bool))
CHALLENGE_WINDOW: public(immutable(uint256))
FORCE_DELAY: public(immutable(uint256))
MIN_BOND: public(immutable(uint256))

queue: public(HashMap[uint256, bytes32])
queue_time: public(HashMap[uint256, uint256])
queue_length: public(uint256)
# An address's L2 account index + 1 (0: it never deposited), given at its first
# deposit in queue order, the order in which the L2 creates accounts. The L2 cannot
# prove that an address has no account, so L1 says which index it has or gets.
account_index_of: HashMap[address, uint256]
account_count: public(uint256)

batch_root: public(HashMap[uint256, bytes32])
batch_segments_root: public(HashMap[uint256, bytes32])
batch_proposer: public(HashMap[uint256, address])
# A batch's small fields share one storage word (a fresh slot costs 22,100 gas, as
# much as parsing a dozen commitments): bits 0-39 the posting time, 40-79 the queue
# end, 80-143 the last commitment timestamp, 144-207 the serial, 208-231 the fee
# recipient, 232-247 the segment count. Read them with the batch_* views.
batch_info: HashMap[uint256, uint256]
# The number of batches (low 128 bits) and the serial of the newest batch ever
# posted (high 128 bits; unlike an index, a serial is never given twice, even when
# a batch index is posted again) share a slot: both change with every batch, and a
# slot of its own for the serial would cost 5,000 gas per batch.
batch_counters: uint256

bond: public(HashMap[address, uint256])
# A proposer's newest batch: its index (low 128 bits) and posting time (the bits
# above) share the one slot that every batch already writes. They bound every batch
# of the proposer that still stands, which is what keeps its bond locked (_bond_locked).
proposer_last: HashMap[address, uint256]
exit_claimed: public(HashMap[uint256, bool])
burned: public(uint256)
first_blob_batch: public(uint256)

frozen: public(bool)
frozen_batch: public(uint256)
account_exited: public(HashMap[uint256, bool])
channel_exited: public(HashMap[uint256, bool])
deposit_refunded: public(HashMap[uint256, bool])


@deploy
def __init__(_genesis_root: bytes32, _challenge_window: uint256, _force_delay: uint256, _min_bond: uint256, _dispute_game: address, _allow_blobs: bool, _bls: address):
    """
    @notice Start the rollup at the empty state's root (batch 0, final at once).
    @param _challenge_window Seconds a root can be challenged (7 days by default).
    @param _force_delay Seconds the sequencer has to include a queued L1 operation (12 h).
    @param _min_bond Wei a proposer must stake to post batches.
    @param _bls The BlsVerifier that checks deposited keys are curve points.
    @param _allow_blobs Accept blob batches (never final; see submit_batch_blob).
    @param _dispute_game The DisputeGame that judges fraud proofs; it must name this rollup
           (it was deployed for the address this contract gets), and it can never change.
    """
    assert staticcall IDisputeGame(_dispute_game).ROLLUP() == self, "rollup: the dispute game judges another rollup"
    GAME = IDisputeGame(_dispute_game)
    ALLOW_BLOBS = _allow_blobs
    BLS = IBlsVerifier(_bls)
    CHALLENGE_WINDOW = _challenge_window
    FORCE_DELAY = _force_delay
    MIN_BOND = _min_bond
    self.batch_root[0] = _genesis_root
    self.batch_counters = 1


# -- the L1 queue ------------------------------------------------------------------

@external
@payable
def deposit(_bls_key: Bytes[96], _proof_of_possession: Bytes[48], _key_point: Bytes[256]):
    """
    @notice Deposit ether to your L2 account (created on first deposit, with the next
            account index). The BLS key is set on first use if its proof of
            possession is valid.
    @param _bls_key Empty, or a compressed G2 key that is a curve point.
    @param _key_point The key uncompressed (EIP-2537): checked here so that a fraud
           proof can always supply a queued key's point.
    """
    assert not self.frozen, "rollup: frozen"
    assert len(_bls_key) == 0 or staticcall BLS.key_is_curve_point(_bls_key, _key_point), "rollup: the BLS key is not a curve point; send it with its uncompressed point"
    assert msg.value > 0 and msg.value <= MAX_BALANCE, "rollup: deposit out of range"
    stored: uint256 = self.account_index_of[msg.sender]
    if stored == 0:
        count: uint256 = self.account_count
        assert count < NO_ACCOUNT, "rollup: the L2 is full"
        self.account_count = count + 1
        stored = count + 1
        self.account_index_of[msg.sender] = stored
    self._enqueue(KIND_DEPOSIT, msg.value, _bls_key, _proof_of_possession, stored - 1)


@external
def force_withdraw(_amount: uint256):
    """
    @notice Ask, from L1, to withdraw `_amount` of your L2 balance (capped at it). The
            sequencer must include it within the forced-inclusion delay, or anyone may
            freeze the rollup. This path works without the sequencer's goodwill.
    """
    assert not self.frozen, "rollup: frozen"
    assert _amount > 0 and _amount <= MAX_BALANCE, "rollup: amount out of range"
    self._enqueue(KIND_FORCED_WITHDRAW, _amount, b"", b"", self._account_index(msg.sender))


@view
@external
def account_index(_account: address) -> uint256:
    """
    @notice The L2 account index of `_account` (given at its first deposit), or
            NO_ACCOUNT (2**24 - 1) if it never deposited.
    """
    return self._account_index(_account)


@view
@internal
def _account_index(_account: address) -> uint256:
    stored: uint256 = self.account_index_of[_account]
    if stored == 0:
        return NO_ACCOUNT
    return stored - 1


@internal
def _enqueue(_kind: uint256, _amount: uint256, _key: Bytes[96], _pop: Bytes[48], _account: uint256):
    index: uint256 = self.queue_length
    self.queue[index] = keccak256(abi_encode(_kind, msg.sender, _amount, keccak256(_key), keccak256(_pop), _account))
    self.queue_time[index] = block.timestamp
    self.queue_length = index + 1
    log Queued(index=index, kind=_kind, sender=msg.sender, amount=_amount, bls_key=_key, proof_of_possession=_pop, queued_at=block.timestamp, account_index=_account)


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
    @notice Take back bond once every batch you posted is final or reverted.
    """
    assert not self._bond_locked(msg.sender), "rollup: a batch of yours is not final"
    assert self.bond[msg.sender] >= _amount, "rollup: bond too small"
    self.bond[msg.sender] -= _amount
    send(msg.sender, _amount)


@view
@external
def bond_locked(_proposer: address) -> bool:
    """
    @notice Whether a batch `_proposer` posted still stands and is not final yet, so
            that `unstake` refuses: its bond backs that batch until it is final.
    """
    return self._bond_locked(_proposer)


@view
@external
def last_batch_of(_proposer: address) -> uint256:
    """
    @notice The index at which `_proposer` posted its newest batch (0: none), which a
            later fraud proof may have reverted since.
    """
    return self.proposer_last[_proposer] % 2**128


@view
@internal
def _bond_locked(_proposer: address) -> bool:
    # revert_from reverts a batch and every later one, whoever posted them, so the
    # proposer's newest batch can be gone while an earlier one of its batches still
    # stands inside its window: checking the newest batch alone would free the bond
    # that the earlier one needs. Every standing batch of the proposer lies at or
    # below `bound` (its newest index, and the last batch), and was posted no later
    # than `posted` (batch times grow with the index; none of its batches is newer
    # than its newest). Finality is monotone in the index and the posting time, so
    # when a batch at `bound` posted at `posted` would be final, all of them are.
    # O(1): no list of a proposer's batches to walk, and revert_from, which cannot
    # visit every proposer of the batches it reverts, needs no bookkeeping.
    last: uint256 = self.proposer_last[_proposer]
    if last == 0:
        return False  # it never posted a batch
    bound: uint256 = min(last % 2**128, self._batch_count() - 1)
    return not self._settled(bound, min(self._info(bound, 0, 40), last >> 128))


@external
def submit_batch(_data: Bytes[MAX_BATCH_BYTES], _state_root: bytes32, _queue_end: uint256) -> uint256:
    """
    @notice Post a batch as calldata, with the state root after it. Its framing is
            checked here and any fault reverts (the rules are for fraud proofs), so
            every stored batch splits into segments: segment 0 its L1 operations
            (pre: the previous batch's root, post: the deposits root, or the pre root
            when there are none), segment k its k-th commitment (pre: the previous
            segment's post, post: the commitment's post root, data hash: keccak256 of
            the commitment's bytes). The segments' Merkle root is stored.
    @param _data version u8 | fee_recipient u24 | deposits u32 | [deposits_root 32, when
           deposits > 0] | commitments, each kind u8 | count u8 (1 to 32) | timestamp
           u64 | bodies | aggregate signature 48 | post root 32. Bodies: transfer 11
           bytes, withdraw 8, channel by op byte (see CHANNEL_OP_SIZES).
    @param _state_root The state root after the batch: the last segment's post root.
    @param _queue_end The L1 queue position after the `deposits` queued operations it processed.
    @return The batch index.
    """
    previous_end: uint256 = self._start_batch(_queue_end)
    index: uint256 = self._batch_count()
    size: uint256 = len(_data)
    assert size >= 8, "rollup: batch ends inside its header"
    header: uint256 = convert(slice(_data, 0, 8), uint256)
    assert header >> 56 == BATCH_VERSION, "rollup: unknown batch version"
    fee_recipient: uint256 = (header >> 32) % 2**24
    deposits: uint256 = header % 2**32
    assert deposits == _queue_end - previous_end, "rollup: deposit count does not match the queue"
    # A dispute's reply carries one root per operation: at most MAX_L1_OPS of them.
    assert deposits <= MAX_L1_OPS, "rollup: too many L1 operations in one batch"
    pre: bytes32 = self.batch_root[index - 1]
    post: bytes32 = pre
    position: uint256 = 8
    if deposits > 0:
        assert size >= 40, "rollup: batch ends inside its header"
        post = extract32(_data, 8)
        position = 40
    # The segments' Merkle tree is built incrementally (see _push_leaf, inlined below:
    # a call would copy the 11-word branch in and out for every commitment).
    branch: bytes32[SEGMENT_LEVELS] = empty(bytes32[SEGMENT_LEVELS])
    branch[0] = keccak256(abi_encode(pre, post, empty(bytes32)))
    count: uint256 = 1
    last_timestamp: uint256 = self._info(index - 1, 80, 64)
    data_hash: bytes32 = empty(bytes32)
    # Unchecked arithmetic below is safe (positions stay under MAX_BATCH_BYTES, counts
    # under 256) and saves gas in the loop that runs once per commitment.
    for _: uint256 in range(MAX_SEGMENTS):
        if position == size:
            break
        assert count < MAX_SEGMENTS, "rollup: too many commitments"
        left: uint256 = unsafe_sub(size, position)
        assert left >= COMMITMENT_HEADER, "rollup: bytes after the last commitment"
        assert left >= MIN_COMMITMENT, "rollup: batch ends inside a commitment"
        # The 10 header bytes, read as the top of a word.
        head: uint256 = extract32(_data, position, output_type=uint256) >> 176
        kind: uint256 = head >> 72
        txs: uint256 = (head >> 64) % 256
        timestamp: uint256 = head % 2**64
        assert kind >= KIND_TRANSFER and kind <= KIND_CHANNEL, "rollup: unknown commitment kind"
        assert txs >= 1 and txs <= MAX_COMMITMENT_TXS, "rollup: a commitment holds 1 to 32 transactions"
        end: uint256 = unsafe_add(position, COMMITMENT_HEADER)
        if kind == KIND_TRANSFER:
            end = unsafe_add(end, unsafe_mul(txs, TRANSFER_SIZE))
        elif kind == KIND_WITHDRAW:
            end = unsafe_add(end, unsafe_mul(txs, WITHDRAW_SIZE))
        else:
            closes: uint256 = 0
            for _k: uint256 in range(txs, bound=MAX_COMMITMENT_TXS):
                # A channel transaction and the commitment's trailer take 87 bytes or more.
                assert unsafe_add(end, 32) <= size, "rollup: batch ends inside a commitment"
                op: uint256 = extract32(_data, end, output_type=uint256) >> 248
                assert op >= 1 and op <= 7, "rollup: unknown channel op"
                if op == 3:
                    closes = unsafe_add(closes, 1)
                    # Each cooperative close adds a channel read to a co-signature
                    # proof; 16 keep the worst proof under 3,000,000 gas.
                    assert closes <= MAX_CLOSES, "rollup: more than 16 cooperative closes in a commitment"
                end = unsafe_add(end, (CHANNEL_OP_SIZES >> unsafe_mul(8, op)) % 256)
        end = unsafe_add(end, COMMITMENT_TRAILER)
        assert end <= size, "rollup: batch ends inside a commitment"
        assert timestamp >= last_timestamp, "rollup: commitment timestamps go backwards"
        assert timestamp <= block.timestamp, "rollup: commitment timestamp in the future"
        last_timestamp = timestamp
        pre = post
        post = extract32(_data, unsafe_sub(end, ROOT_SIZE))
        # A statement of its own: Vyper frees the slice's buffer (typed 120,000 bytes)
        # when the statement ends, so nothing is placed beyond it in memory, and
        # memory grows by the commitment's size only (not by ~100,000 gas of expansion).
        data_hash = keccak256(slice(_data, position, unsafe_sub(end, position)))
        node: bytes32 = keccak256(abi_encode(pre, post, data_hash))
        count = unsafe_add(count, 1)
        width: uint256 = count
        for level: uint256 in range(SEGMENT_LEVELS):
            if width % 2 == 1:
                branch[level] = node
                break
            node = keccak256(concat(branch[level], node))
            width = width >> 1
        position = end
    assert deposits > 0 or count > 1, "rollup: empty batch"
    assert _state_root == post, "rollup: state root is not the last post root"
    return self._record_batch(_state_root, _queue_end, keccak256(_data), self._segments_root(branch, count), count, fee_recipient, last_timestamp)


@external
def submit_batch_blob(_state_root: bytes32, _queue_end: uint256, _segment_leaves: DynArray[bytes32, MAX_SEGMENTS]) -> uint256:
    """
    @notice Post a batch whose data travels as the transaction's first EIP-4844 blob
            (cheaper than calldata when blob gas is cheap). The logged data hash is the
            blob's versioned hash; nodes keep the blob contents, which L1 prunes.
    @dev    Not fraud-provable yet. The contract cannot read a blob, so it checks neither
            the framing nor that the stated segment leaves match the data; a dispute
            would need each commitment's bytes opened against the blob with KZG
            point-evaluation proofs. The fee recipient is stored as 0 and the last
            timestamp is carried over from the previous batch. So blob batches are off
            unless the deployment allows them (benchmarks), and then no blob batch, nor
            any batch after one, ever becomes final: no exit can rest on unprovable data.
    @param _segment_leaves The batch's segment leaves, segment 0 first (see submit_batch).
    """
    assert ALLOW_BLOBS, "rollup: blob batches are off on this deployment: they are not fraud-provable yet; post calldata"
    self._start_batch(_queue_end)
    assert _queue_end - self._info(self._batch_count() - 1, 40, 40) <= MAX_L1_OPS, "rollup: too many L1 operations in one batch"
    if self.first_blob_batch == 0:
        self.first_blob_batch = self._batch_count()
    versioned_hash: bytes32 = blobhash(0)
    assert versioned_hash != empty(bytes32), "rollup: no blob attached"
    assert len(_segment_leaves) > 0, "rollup: a batch has at least one segment"
    branch: bytes32[SEGMENT_LEVELS] = empty(bytes32[SEGMENT_LEVELS])
    count: uint256 = 0
    for leaf: bytes32 in _segment_leaves:
        branch = self._push_leaf(branch, count, leaf)
        count += 1
    last_timestamp: uint256 = self._info(self._batch_count() - 1, 80, 64)
    return self._record_batch(_state_root, _queue_end, versioned_hash, self._segments_root(branch, count), count, 0, last_timestamp)


@view
@internal
def _start_batch(_queue_end: uint256) -> uint256:
    # Checks every batch needs before its data; returns the previous batch's queue end.
    assert not self.frozen, "rollup: frozen"
    assert self.bond[msg.sender] >= MIN_BOND, "rollup: proposer bond too small"
    previous_end: uint256 = self._info(self._batch_count() - 1, 40, 40)
    assert _queue_end >= previous_end and _queue_end <= self.queue_length, "rollup: bad queue position"
    return previous_end


@internal
def _record_batch(_state_root: bytes32, _queue_end: uint256, _data_hash: bytes32, _segments_root: bytes32, _segment_count: uint256, _fee_recipient: uint256, _last_timestamp: uint256) -> uint256:
    counters: uint256 = self.batch_counters
    index: uint256 = counters % 2**128
    serial: uint256 = (counters >> 128) + 1
    self.batch_root[index] = _state_root
    self.batch_segments_root[index] = _segments_root
    # Each field fits its bits: times are below 2**40 until the year 36812, and the
    # queue end is at most the queue length, one L1 transaction per entry.
    self.batch_info[index] = block.timestamp | (_queue_end << 40) | (_last_timestamp << 80) | (serial << 144) | (_fee_recipient << 208) | (_segment_count << 232)
    self.batch_proposer[index] = msg.sender
    self.proposer_last[msg.sender] = index | (block.timestamp << 128)
    self.batch_counters = (serial << 128) | (index + 1)
    log BatchPosted(index=index, state_root=_state_root, queue_end=_queue_end, data_hash=_data_hash, proposer=msg.sender, segments_root=_segments_root, segment_count=_segment_count, serial=serial)
    return index


@view
@external
def batch_count() -> uint256:
    """
    @notice How many batches there are, genesis (batch 0) included.
    """
    return self._batch_count()


@view
@external
def last_serial() -> uint256:
    """
    @notice The serial of the newest batch ever posted (0 before the first).
    """
    return self.batch_counters >> 128


@view
@internal
def _batch_count() -> uint256:
    return self.batch_counters % 2**128


@view
@external
def batch_time(_index: uint256) -> uint256:
    """
    @notice When batch `_index` was posted: its challenge window starts then.
    """
    return self._info(_index, 0, 40)


@view
@external
def batch_queue_end(_index: uint256) -> uint256:
    """
    @notice The L1 queue position after the operations batch `_index` processed.
    """
    return self._info(_index, 40, 40)


@view
@external
def batch_last_timestamp(_index: uint256) -> uint256:
    """
    @notice The timestamp of batch `_index`'s last commitment (the previous batch's when
            it has none): the next batch's commitments may not be older.
    """
    return self._info(_index, 80, 64)


@view
@external
def batch_serial(_index: uint256) -> uint256:
    """
    @notice The serial of the batch now at `_index`: batches posted later have larger ones.
    """
    return self._info(_index, 144, 64)


@view
@external
def batch_fee_recipient(_index: uint256) -> uint256:
    """
    @notice The L2 account index batch `_index` pays its fees to (0 for a blob batch).
    """
    return self._info(_index, 208, 24)


@view
@external
def batch_segment_count(_index: uint256) -> uint256:
    """
    @notice How many segments batch `_index` has: its commitments plus one.
    """
    return self._info(_index, 232, 16)


@view
@internal
def _info(_index: uint256, _shift: uint256, _bits: uint256) -> uint256:
    return (self.batch_info[_index] >> _shift) & ((1 << _bits) - 1)


@pure
@internal
def _push_leaf(_branch: bytes32[SEGMENT_LEVELS], _count: uint256, _leaf: bytes32) -> bytes32[SEGMENT_LEVELS]:
    """
    @dev Mirrors core/l2/segments.py segments_root, one leaf at a time.
    """
    # Incremental Merkle tree (as in the beacon deposit contract): _branch[level] holds
    # the root of the last complete subtree of 2**level leaves not yet paired. Memory
    # stays at 11 words instead of a 1,024-leaf array.
    branch: bytes32[SEGMENT_LEVELS] = _branch
    node: bytes32 = _leaf
    size: uint256 = _count + 1
    for level: uint256 in range(SEGMENT_LEVELS):
        if size % 2 == 1:
            branch[level] = node
            break
        node = keccak256(concat(branch[level], node))
        size = size >> 1
    return branch


@pure
@internal
def _segments_root(_branch: bytes32[SEGMENT_LEVELS], _count: uint256) -> bytes32:
    """
    @dev Mirrors core/l2/segments.py segments_root (over _padded_leaves).
    """
    # The root over the _count leaves padded with zero leaves to the next power of
    # two (a single leaf is its own root); src/l2gpu/core/l2/segments.py mirrors it.
    depth: uint256 = 0
    for _: uint256 in range(SEGMENT_LEVELS):
        if 1 << depth >= _count:
            break
        depth += 1
    if _count == 1 << depth:
        return _branch[depth]
    node: bytes32 = empty(bytes32)
    zero: bytes32 = empty(bytes32)
    size: uint256 = _count
    for level: uint256 in range(SEGMENT_LEVELS):
        if level == depth:
            break
        if size % 2 == 1:
            node = keccak256(concat(_branch[level], node))
        else:
            node = keccak256(concat(node, zero))
        zero = keccak256(concat(zero, zero))
        size = size >> 1
    return node


@external
def revert_from(_index: uint256, _challenger: address):
    """
    @notice Called by the DisputeGame when a fraud proof holds: batch `_index` and every
            later batch are reverted, and the proposer of `_index` loses its whole bond,
            half to the challenger and half burned (so that a proposer challenging
            itself through another address still loses half).
    """
    assert msg.sender == GAME.address, "rollup: only the dispute game reverts batches"
    count: uint256 = self._batch_count()
    assert _index > 0 and _index < count, "rollup: no such batch"
    proposer: address = self.batch_proposer[_index]
    slashed: uint256 = self.bond[proposer]
    self.bond[proposer] = 0
    reward: uint256 = slashed // 2
    self.burned += slashed - reward
    # The serial counter keeps counting, so a re-posted index gets a new serial.
    self.batch_counters = (self.batch_counters >> 128 << 128) | _index
    if self.first_blob_batch >= _index:
        self.first_blob_batch = 0
    log BatchesReverted(from_index=_index, proposer=proposer, slashed=slashed, to_challenger=reward)
    self._pay(_challenger, reward)
    if slashed > reward:
        send(empty(address), slashed - reward)


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
    if _index >= self._batch_count():
        return False
    return self._settled(_index, self._info(_index, 0, 40))


@view
@internal
def _settled(_index: uint256, _posted: uint256) -> bool:
    # Whether standing batch `_index`, posted at `_posted`, is past its window with
    # nothing holding it (genesis always is).
    if _index == 0:
        return True
    if block.timestamp < _posted + CHALLENGE_WINDOW:
        return False
    blob: uint256 = self.first_blob_batch
    if blob != 0 and _index >= blob:
        return False
    # An open challenge on this batch or an earlier one keeps it pending.
    return not staticcall GAME.holds(_index)


@view
@internal
def _last_final() -> uint256:
    # Finality is monotone in the index (batch times never decrease, a challenge or a
    # blob batch holds every later batch too), so binary search: 2**128 batches in 128
    # steps, where walking back from the newest could exceed a block's gas.
    low: uint256 = 0
    high: uint256 = self._batch_count() - 1
    for _: uint256 in range(128):
        if low >= high:
            break
        middle: uint256 = (low + high + 1) // 2
        if self._is_final(middle):
            low = middle
        else:
            high = middle - 1
    return low


# -- withdrawals -----------------------------------------------------------------------

@external
def withdraw(
    _batch: uint256,
    _exit_index: uint256,
    _recipient: address,
    _amount: uint256,
    _proof: DynArray[bytes32, state_leaves.DEPTH],
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
    exits_root: bytes32 = self._merkle_root(state_leaves._exit_leaf(_recipient, _amount, _exit_index), _exit_index, _proof)
    root: bytes32 = state_leaves._state_root(state_leaves.RootParts(accounts_root=_accounts_root, channels_root=_channels_root, exits_root=exits_root, deposits_processed=_deposits_processed, exit_count=_exit_count))
    assert root == self.batch_root[_batch], "rollup: bad exit proof"
    self.exit_claimed[_exit_index] = True
    log ExitClaimed(exit_index=_exit_index, recipient=_recipient, amount=_amount)
    self._pay(_recipient, _amount)


@external
def withdraw_credit():
    """
    @notice Collect payouts that were credited because a push was refused.
    """
    amount: uint256 = pull_payments._claim(msg.sender)
    assert amount > 0, "rollup: nothing to withdraw"
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
    consumed: uint256 = self._info(self._batch_count() - 1, 40, 40)
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
    _proof: DynArray[bytes32, state_leaves.DEPTH],
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
    leaf: bytes32 = state_leaves._account_leaf(state_leaves.Account(index=_index, present=True, addr=_address, balance=_balance, nonce=_nonce, bls_key=_bls_key))
    accounts_root: bytes32 = self._merkle_root(leaf, _index, _proof)
    root: bytes32 = state_leaves._state_root(state_leaves.RootParts(accounts_root=accounts_root, channels_root=_channels_root, exits_root=_exits_root, deposits_processed=_deposits_processed, exit_count=_exit_count))
    assert root == self.batch_root[self.frozen_batch], "rollup: bad account proof"
    self.account_exited[_index] = True
    log FrozenExit(kind=1, index=_index, recipient=_address, amount=_balance)
    self._pay(_address, _balance)


@external
def exit_channel(
    _index: uint256,
    _params: state_leaves.ChannelParams,
    _renter_index: uint256,
    _provider_index: uint256,
    _deposit: uint256,
    _best: uint256,
    _expires_at: uint256,
    _close_deadline: uint256,
    _status: uint256,
    _proof: DynArray[bytes32, state_leaves.DEPTH],
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
    leaf: bytes32 = state_leaves._channel_leaf(state_leaves.Channel(index=_index, present=True, params=_params, renter_index=_renter_index, provider_index=_provider_index, deposit=_deposit, best=_best, expires_at=_expires_at, close_deadline=_close_deadline, status=_status))
    channels_root: bytes32 = self._merkle_root(leaf, _index, _proof)
    root: bytes32 = state_leaves._state_root(state_leaves.RootParts(accounts_root=_accounts_root, channels_root=channels_root, exits_root=_exits_root, deposits_processed=_deposits_processed, exit_count=_exit_count))
    assert root == self.batch_root[self.frozen_batch], "rollup: bad channel proof"
    self.channel_exited[_index] = True
    to_provider: uint256 = min(_best, _deposit)
    log FrozenExit(kind=2, index=_index, recipient=_params.provider, amount=to_provider)
    log FrozenExit(kind=2, index=_index, recipient=_params.renter, amount=_deposit - to_provider)
    self._pay(_params.provider, to_provider)
    self._pay(_params.renter, _deposit - to_provider)


@external
def refund_queued(_index: uint256, _kind: uint256, _sender: address, _amount: uint256, _key_hash: bytes32, _pop_hash: bytes32, _account_index: uint256):
    """
    @notice After a freeze: return a deposit that no final batch processed.
    @param _account_index The L2 account index the entry recorded (see the Queued event).
    """
    assert self.frozen, "rollup: not frozen"
    assert _index >= self._info(self.frozen_batch, 40, 40) and _index < self.queue_length, "rollup: processed by a final batch"
    assert not self.deposit_refunded[_index], "rollup: already refunded"
    assert self.queue[_index] == keccak256(abi_encode(_kind, _sender, _amount, _key_hash, _pop_hash, _account_index)), "rollup: not that queue entry"
    self.deposit_refunded[_index] = True
    if _kind == KIND_DEPOSIT:
        log FrozenExit(kind=3, index=_index, recipient=_sender, amount=_amount)
        self._pay(_sender, _amount)


# -- helpers -------------------------------------------------------------------------------

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
    """
    if not pull_payments._pay(_to, _amount):
        log PayoutDeferred(recipient=_to, amount=_amount)
