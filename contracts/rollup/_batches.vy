# pragma version ~=0.4.3
"""
@title _batches
@license Apache-2.0
@notice The rollup's batches: posting them (calldata batches parsed at submission,
        framing only, not the rules; blob batches when the deployment allows them),
        their stored roots and packed fields, proposer bonds, and finality: a batch
        is final once its challenge window has passed with no open challenge on it
        or an earlier batch, and no blob batch at or before it.
@dev    Each calldata batch is stored as the Merkle root of its segments, the units a
        fraud proof disputes: segment 0 is the batch's L1 operations, segment k its
        k-th commitment, and a segment leaf is keccak256(abi_encode(pre_root,
        post_root, data_hash)). submit_batch is an external function of this module
        (Rollup exports it), so that the batch stays in calldata: an internal function
        would copy its up to 120,000 bytes into memory. The L1 queue and the freeze
        flag are l1_queue's, which this module `uses`; Rollup `initializes` both.
        Its file name starts with "_": it `uses` another module, so it compiles
        only inside the contract that `initializes` it (here Rollup).
"""

from interfaces import IDisputeGame
from . import l1_queue

uses: l1_queue

event BatchPosted:
    index: indexed(uint256)
    state_root: bytes32
    queue_end: uint256
    data_hash: bytes32
    proposer: indexed(address)
    segments_root: bytes32
    segment_count: uint256
    serial: uint256

MAX_BATCH_BYTES: constant(uint256) = 120000

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
CHANNEL_OP_SIZES: constant(uint256) = (18 << 8) | (15 << 16) | (10 << 24) | (10 << 32) | (88 << 40) | (88 << 48) | (7 << 56) | (73 << 64)
# Segment 0 (the L1 operations) plus at most 1023 commitments: a tree of depth 10.
MAX_SEGMENTS: constant(uint256) = 1024
MAX_L1_OPS: public(constant(uint256)) = 64
MAX_CLOSES: public(constant(uint256)) = 16
SEGMENT_LEVELS: constant(uint256) = 11

GAME: public(immutable(IDisputeGame))
ALLOW_BLOBS: public(immutable(bool))
CHALLENGE_WINDOW: public(immutable(uint256))
MIN_BOND: public(immutable(uint256))

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
first_blob_batch: public(uint256)


@deploy
def __init__(_genesis_root: bytes32, _challenge_window: uint256, _min_bond: uint256, _dispute_game: address, _allow_blobs: bool):
    """
    @notice Start at the genesis root (batch 0, final at once). See Rollup's __init__.
    """
    assert staticcall IDisputeGame(_dispute_game).ROLLUP() == self, "rollup: the dispute game judges another rollup"
    GAME = IDisputeGame(_dispute_game)
    ALLOW_BLOBS = _allow_blobs
    CHALLENGE_WINDOW = _challenge_window
    MIN_BOND = _min_bond
    self.batch_root[0] = _genesis_root
    self.batch_counters = 1


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
    @dev    The framing checks mirror core/l2/codec.py split_batch, the segments
            core/l2/segments.py segments_of_data and segments_root.
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
                assert op >= 1 and op <= 8, "rollup: unknown channel op"
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
    """
    @notice Checks every batch needs before its data; returns the previous batch's queue end.
    @dev    No core/ mirror: the proposer's bond and the queue are L1's alone.
    """
    assert not l1_queue.frozen, "rollup: frozen"
    assert self.bond[msg.sender] >= MIN_BOND, "rollup: proposer bond too small"
    previous_end: uint256 = self._info(self._batch_count() - 1, 40, 40)
    assert _queue_end >= previous_end and _queue_end <= l1_queue.queue_length, "rollup: bad queue position"
    return previous_end


@internal
def _record_batch(_state_root: bytes32, _queue_end: uint256, _data_hash: bytes32, _segments_root: bytes32, _segment_count: uint256, _fee_recipient: uint256, _last_timestamp: uint256) -> uint256:
    """
    @notice Store a batch at the next index with a new serial, and log BatchPosted.
    @dev    No core/ mirror: l1/contracts/rollup.py reads the fields back with the batch_* views.
    """
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
    """
    @dev No core/ mirror: the low half of batch_counters.
    """
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
    """
    @dev No core/ mirror: one field of batch_info (see its layout above).
    """
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


@view
@internal
def _is_final(_index: uint256) -> bool:
    """
    @dev No core/ mirror: finality is L1's (l1/contracts/rollup.py is_final asks it).
    """
    if _index == 0:
        return True
    if _index >= self._batch_count():
        return False
    return self._settled(_index, self._info(_index, 0, 40))


@view
@internal
def _settled(_index: uint256, _posted: uint256) -> bool:
    """
    @notice Whether standing batch `_index`, posted at `_posted`, is past its window with
            nothing holding it (genesis always is).
    @dev    No core/ mirror, as _is_final.
    """
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
    """
    @dev No core/ mirror, as _is_final: the newest final batch.
    """
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
