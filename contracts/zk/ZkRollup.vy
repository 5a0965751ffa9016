# pragma version ~=0.4.3
"""
@title ZkRollup
@license Apache-2.0
@notice The L1 side of l2gpu's zk rollup: a queue of deposits, and batches that
        are accepted only with a Groth16 proof that the new state root follows
        from the old one by the batch's operations. A batch is final when it is
        accepted: there is no challenge window. Withdrawals in an accepted batch
        are credited at once and pulled with `withdraw_credit`. If a queued
        deposit waits longer than the forced-inclusion delay, anyone can freeze
        the rollup; then deposits that no batch took are refunded, and every
        account exits with its balance by opening its leaf against the last
        proven state root (`exit_account`), and every lease channel still open in
        that state pays its whole deposit back to its renter (`exit_channel`).
        The limit of that last rule: at a freeze, what a provider earned in a channel
        it has not closed yet goes back to the renter with the rest of the deposit.
        L1 cannot tell how much of the deposit the renter's vouchers paid: checking
        a voucher would need EdDSA over Baby Jubjub in the EVM, which this contract
        does not do. A provider keeps its earnings by closing each channel at its
        lease's end (and may close a long lease early, then open a new channel).
        An operator that keeps posting but leaves one user's withdrawals out is
        answered by `force_exit`: the user's address queues an exit on L1, which a
        batch must take within the same delay (forced_exits.vy).
@dev    The public data layout and the public input are specified in
        src/l2gpu/core/zk/pubdata.py: old_root (32) | new_root (32) | fee_account (3)
        | timestamp (4) | deposits | transfers | withdrawals | opens | closes |
        reclaims | forced exits, and the proof's one public input is uint256(sha256(data)) % FIELD.
        L1 builds the data itself from its state root, the arguments and the queue,
        so the proof is about exactly the bytes L1 holds. The deposit section comes
        from the queue (each entry stored as the keccak256 of its 103 bytes), never
        from the operator alone. L1 reads nothing of the channel sections: the proof
        covers their rules; L1 only hashes them.
        The batch's timestamp is the clock channel expiries are read against; L1
        takes it only if it is not before the last accepted batch's and not after
        the block's, so an operator cannot reclaim a channel before its expiry by
        dating a batch in the future, nor move the clock back.
        The tree's lower half, indices [1, 2**(depth-1)), holds the accounts (L1
        assigns them at first deposits); the upper half, [2**(depth-1), 2**depth),
        the lease channels (core/zk/state.py).
        The escape hatch hashes as the circuits do, with circomlib's Poseidon in three
        generated contracts (PoseidonT3.vy, PoseidonT6.vy, PoseidonT7.vy:
        src/l2gpu/zk/poseidon_contract.py).
"""

from common import pull_payments
from . import _bridged_exits as bridged_exits
from . import forced_exits

initializes: pull_payments
initializes: forced_exits
initializes: bridged_exits[pull_payments := pull_payments]

exports: pull_payments.credit
exports: bridged_exits.carried
exports: (
    forced_exits.exit_queue_account,
    forced_exits.exit_queue_owner,
    forced_exits.exit_queue_length,
    forced_exits.exit_queue_done,
    forced_exits.exit_queue_time,
    forced_exits.exit_waiting,
)


interface Groth16Verifier:
    def verifyProof(a: uint256[2], b: uint256[2][2], c: uint256[2], pub: uint256[1]) -> bool: view


interface Poseidon2:
    def hash(_inputs: uint256[2]) -> uint256: view


interface Poseidon5:
    def hash(_inputs: uint256[5]) -> uint256: view


interface Poseidon6:
    def hash(_inputs: uint256[6]) -> uint256: view


event Deposited:
    queue_index: indexed(uint256)
    account_index: indexed(uint256)
    sender: indexed(address)
    ax: uint256
    ay: uint256
    amount: uint256


event BatchAccepted:
    batch_index: indexed(uint256)
    old_root: uint256
    new_root: uint256
    deposits: uint256
    public_input: uint256
    timestamp: uint256


event WithdrawalCredited:
    batch_index: indexed(uint256)
    owner: indexed(address)
    amount: uint256


event ForcedExitPaid:
    batch_index: indexed(uint256)
    owner: indexed(address)
    account_index: uint256
    paid: uint256


event Frozen:
    overdue_queue_index: uint256
    # True: the overdue entry is a forced exit's (its forced_exits queue position).
    forced_exit: bool


event DepositRefunded:
    queue_index: indexed(uint256)
    owner: indexed(address)
    amount: uint256


event AccountExited:
    account_index: indexed(uint256)
    owner: indexed(address)
    amount: uint256


event ChannelExited:
    channel_index: indexed(uint256)
    renter_index: indexed(uint256)
    owner: indexed(address)
    amount: uint256


# BN254's scalar field: public inputs and keys are its elements.
FIELD: constant(uint256) = 21888242871839275222246405745257275088548364400416034343698204186575808495617
MAX_AMOUNT: constant(uint256) = 2**128 - 1
# Baby Jubjub (circomlib's babyjub): a*x^2 + y^2 = 1 + d*x^2*y^2 over FIELD.
BABYJUB_A: constant(uint256) = 168700
BABYJUB_D: constant(uint256) = 168696
DEPOSIT_BYTES: constant(uint256) = 103
TRANSFER_BYTES: constant(uint256) = 12
WITHDRAWAL_BYTES: constant(uint256) = 39
OPEN_BYTES: constant(uint256) = 29
CLOSE_BYTES: constant(uint256) = 19
RECLAIM_BYTES: constant(uint256) = 3
# Bounds of the batch shapes this contract can serve (a shape is fixed at deploy).
MAX_DEPOSITS: constant(uint256) = 64
MAX_TRANSFERS: constant(uint256) = 2048
MAX_WITHDRAWALS: constant(uint256) = 64
MAX_OPENS: constant(uint256) = 256
MAX_CLOSES: constant(uint256) = 256
MAX_RECLAIMS: constant(uint256) = 256
FORCED_EXIT_BYTES: constant(uint256) = 19
MAX_FORCED_EXITS: constant(uint256) = 64
MAX_DATA: constant(uint256) = 71 + 64 * 103 + 2048 * 12 + 64 * 39 + 256 * 29 + 256 * 19 + 256 * 3 + 64 * 19
# A validium's hashed data: the header, deposits, withdrawals and the off-L1 digest.
MAX_VALIDIUM_DATA: constant(uint256) = 71 + 64 * 103 + 64 * 39 + 64 * 19 + 32
# A batch's timestamp is 4 bytes of unix seconds.
MAX_TIMESTAMP: constant(uint256) = 2**32 - 1
# Gas handed to the verifier: a pairing check with one public input costs about
# 200k; never estimated, so a node cannot be made to pass too little.
VERIFY_GAS: constant(uint256) = 400000
# The deepest account tree (3-byte indices): bounds an exit's siblings.
MAX_DEPTH: constant(uint256) = 24
# Known answers of the Poseidon contracts (core/crypto/poseidon.py): the constructor
# checks them, so that a deploy that swapped or mistyped an address fails at once
# rather than leaving an escape hatch that can never open.
POSEIDON_1_2: constant(uint256) = 7853200120776062878684798364095072458815029376092732009249414926327459813530
POSEIDON_1_5: constant(uint256) = 6183221330272524995739186171720101788151706631170188140075976616310159254464
POSEIDON_1_6: constant(uint256) = 20400040500897583745843009878988256314335038853985262692600694741116813247201
# The first input of a channel's leaf (core/zk/state.py CHANNEL_LEAF_TAG).
CHANNEL_LEAF_TAG: constant(uint256) = 1

VERIFIER: public(immutable(address))
# The shards' bridge (bridge/Bridge.vy) when this rollup is one of its shards, else
# empty: it alone deposits for another address and carries exits (_bridged_exits.vy).
BRIDGE: public(immutable(address))
# This shard's exits are batch positions (_bridged_exits.vy): the bridge allows one
# fronted move per owner at a time and ties its repayment to the owner's credit.
EXITS_ARE_POSITIONS: public(constant(bool)) = True
# The circuit (and so the verification key) the verifier was generated for: a prover
# whose key was made for another circuit refuses to post (checked off chain).
CIRCUIT_HASH: public(immutable(bytes32))
DEPOSIT_SLOTS: public(immutable(uint256))
TRANSFER_SLOTS: public(immutable(uint256))
WITHDRAWAL_SLOTS: public(immutable(uint256))
OPEN_SLOTS: public(immutable(uint256))
CLOSE_SLOTS: public(immutable(uint256))
RECLAIM_SLOTS: public(immutable(uint256))
FORCED_EXIT_SLOTS: public(immutable(uint256))
# The largest leaf index: 2**depth - 1.
MAX_INDEX: public(immutable(uint256))
# The largest account index, 2**(depth-1) - 1 (index 0 is never an account); the
# channels' half starts at CHANNEL_BASE = 2**(depth-1).
MAX_ACCOUNT_INDEX: public(immutable(uint256))
CHANNEL_BASE: public(immutable(uint256))
DEPTH: public(immutable(uint256))
# A validium keeps the transfer and channel sections off L1 (submit_validium_batch).
VALIDIUM: public(immutable(bool))
FORCE_DELAY: public(immutable(uint256))
# circomlib's Poseidon(2) (a tree level), Poseidon(5) (an account's leaf) and
# Poseidon(6) (a channel's leaf).
POSEIDON_T3: public(immutable(address))
POSEIDON_T6: public(immutable(address))
POSEIDON_T7: public(immutable(address))

state_root: public(uint256)
batch_count: public(uint256)
# The timestamp of the last accepted batch (0 before the first).
last_timestamp: public(uint256)
queue: public(HashMap[uint256, bytes32])
queue_time: public(HashMap[uint256, uint256])
queue_length: public(uint256)
# Deposits that accepted batches have taken (they take the queue in order).
queue_done: public(uint256)
# An address's account index (0: it never deposited) and the key of its first deposit,
# and the queue position + 1 of that first deposit (the one that creates the account).
account_index_of: public(HashMap[address, uint256])
account_key_of: public(HashMap[address, bytes32])
account_created_at: public(HashMap[address, uint256])
account_count: public(uint256)
frozen: public(bool)
refunded: public(HashMap[uint256, bool])
# Accounts whose balance has left through the escape hatch.
exited: public(HashMap[uint256, bool])
# Channels whose deposit has left through the escape hatch.
channel_exited: public(HashMap[uint256, bool])


@deploy
def __init__(
    _genesis_root: uint256,
    _verifier: address,
    _circuit_hash: bytes32,
    _deposit_slots: uint256,
    _transfer_slots: uint256,
    _withdrawal_slots: uint256,
    _open_slots: uint256,
    _close_slots: uint256,
    _reclaim_slots: uint256,
    _forced_exit_slots: uint256,
    _depth: uint256,
    _force_delay: uint256,
    _poseidon_t3: address,
    _poseidon_t6: address,
    _poseidon_t7: address,
    _validium: bool,
    _bridge: address,
):
    assert _genesis_root < FIELD, "the genesis root is not a field element"
    assert _verifier.is_contract, "the verifier is not a contract"
    assert _deposit_slots <= MAX_DEPOSITS and _transfer_slots <= MAX_TRANSFERS, "batch shape too large"
    assert _withdrawal_slots <= MAX_WITHDRAWALS, "batch shape too large"
    assert _open_slots <= MAX_OPENS and _close_slots <= MAX_CLOSES and _reclaim_slots <= MAX_RECLAIMS, "batch shape too large"
    assert _deposit_slots > 0 and _transfer_slots > 0 and _withdrawal_slots > 0, "every section of a batch needs at least one slot"
    assert _open_slots > 0 and _close_slots > 0 and _reclaim_slots > 0, "every section of a batch needs at least one slot"
    assert _forced_exit_slots > 0, "every section of a batch needs at least one slot"
    assert _forced_exit_slots <= MAX_FORCED_EXITS, "batch shape too large"
    assert _depth >= 2 and _depth <= 24, "the tree depth must be 2 to 24 (3-byte indices)"
    assert _force_delay > 0, "the forced-inclusion delay must be positive"
    assert staticcall Poseidon2(_poseidon_t3).hash([1, 2]) == POSEIDON_1_2, "the Poseidon(2) contract hashes wrongly"
    assert staticcall Poseidon5(_poseidon_t6).hash([1, 2, 3, 4, 5]) == POSEIDON_1_5, "the Poseidon(5) contract hashes wrongly"
    assert staticcall Poseidon6(_poseidon_t7).hash([1, 2, 3, 4, 5, 6]) == POSEIDON_1_6, "the Poseidon(6) contract hashes wrongly"
    self.state_root = _genesis_root
    VERIFIER = _verifier
    CIRCUIT_HASH = _circuit_hash
    DEPOSIT_SLOTS = _deposit_slots
    TRANSFER_SLOTS = _transfer_slots
    WITHDRAWAL_SLOTS = _withdrawal_slots
    OPEN_SLOTS = _open_slots
    CLOSE_SLOTS = _close_slots
    RECLAIM_SLOTS = _reclaim_slots
    FORCED_EXIT_SLOTS = _forced_exit_slots
    MAX_INDEX = 2**_depth - 1
    MAX_ACCOUNT_INDEX = 2**(_depth - 1) - 1
    CHANNEL_BASE = 2**(_depth - 1)
    DEPTH = _depth
    FORCE_DELAY = _force_delay
    POSEIDON_T3 = _poseidon_t3
    POSEIDON_T6 = _poseidon_t6
    POSEIDON_T7 = _poseidon_t7
    VALIDIUM = _validium
    BRIDGE = _bridge


@internal
@pure
def _uint_bytes(_value: uint256, _size: uint256) -> Bytes[32]:
    """
    @notice The last `_size` bytes of `_value`, big-endian (as pubdata.py's _uint).
    """
    return slice(convert(_value, bytes32), 32 - _size, _size)


@internal
@pure
def _read_uint(_data: Bytes[128], _start: uint256, _size: uint256) -> uint256:
    """
    @notice The big-endian unsigned integer in `_data[_start:_start + _size]`.
    """
    padded: Bytes[160] = concat(_data, empty(bytes32))  # so a field at the end reads as a full word
    return extract32(padded, _start, output_type=uint256) >> (8 * (32 - _size))


@internal
@pure
def _on_curve(_x: uint256, _y: uint256) -> bool:
    """
    @notice Whether (_x, _y) is on Baby Jubjub. A deposit to a key off the curve could
            never be spent (no signature verifies), and the L2 skips it.
    @dev    core/crypto/babyjubjub.py is_on_curve.
    """
    x2: uint256 = uint256_mulmod(_x, _x, FIELD)
    y2: uint256 = uint256_mulmod(_y, _y, FIELD)
    left: uint256 = uint256_addmod(uint256_mulmod(BABYJUB_A, x2, FIELD), y2, FIELD)
    right: uint256 = uint256_addmod(1, uint256_mulmod(BABYJUB_D, uint256_mulmod(x2, y2, FIELD), FIELD), FIELD)
    return left == right


@payable
@external
def deposit(_ax: uint256, _ay: uint256) -> uint256:
    """
    @notice Deposit msg.value wei into the account of msg.sender, whose L2 key is
            the Baby Jubjub point (_ax, _ay). An address gets its account index at
            its first deposit and keeps that deposit's key; later deposits must
            name the same key. Account indices lie in the tree's lower half, from 1
            to MAX_ACCOUNT_INDEX; the upper half is the lease channels'.
    @return The deposit's position in the queue.
    @dev    core/zk/pubdata.py DepositSlot is the entry; the circuit creates the
            account at the index or credits it.
    """
    return self._deposit(msg.sender, _ax, _ay, msg.value)


@payable
@external
def deposit_for(_account: address, _key: Bytes[96], _proof_of_possession: Bytes[48], _key_point: Bytes[256]):
    """
    @notice The shards' bridge deposits for `_account`: a deposit routed to its shard,
            with the depositor's Baby Jubjub key as `_key` (x then y, 32 bytes each),
            or a move arriving from another shard, with no key. A routed deposit is
            checked as `deposit` checks it. An arrival is never refused, which would
            leave it in the bridge: it is queued to the account with the key of the
            account's first deposit, or, when there is none (or the rollup is
            frozen), credited to `_account` on L1 (`withdraw_credit`).
    @dev    The last two arguments are the optimistic shards' (a BLS key's proof and
            point); a zk shard ignores them. _bridged_exits.vy.
    """
    assert BRIDGE != empty(address) and msg.sender == BRIDGE, "only the shards' bridge deposits for another address"
    assert _account != empty(address), "no account to deposit for"
    if len(_key) != 0:
        assert len(_key) == 64, "a zk shard's key is a Baby Jubjub point: 64 bytes, x then y"
        self._deposit(_account, extract32(_key, 0, output_type=uint256), extract32(_key, 32, output_type=uint256), msg.value)
        return
    key: uint256[2] = bridged_exits.account_key[_account]
    if self.frozen:
        bridged_exits._credit_arrival(_account, msg.value, "the target shard is frozen")
    elif key[0] == 0 and key[1] == 0:
        bridged_exits._credit_arrival(_account, msg.value, "the recipient has no account on the target shard")
    elif msg.value > MAX_AMOUNT:
        bridged_exits._credit_arrival(_account, msg.value, "more than one deposit may carry")
    else:
        self._deposit(_account, key[0], key[1], msg.value)


@internal
def _deposit(_account: address, _ax: uint256, _ay: uint256, _amount: uint256) -> uint256:
    assert not self.frozen, "the rollup is frozen: deposits are closed; refund or exit instead"
    assert _amount > 0, "deposit some wei"
    assert _amount <= MAX_AMOUNT, "a deposit is at most 2**128 - 1 wei"
    assert _ax < FIELD and _ay < FIELD, "the key's coordinates must be field elements"
    assert self._on_curve(_ax, _ay), "the key is not a Baby Jubjub point: no signature could spend it"
    key: bytes32 = keccak256(abi_encode(_ax, _ay))
    index: uint256 = self.account_index_of[_account]
    if index == 0:
        assert self.account_count < MAX_ACCOUNT_INDEX, "the rollup's accounts are full: no account index is left in the tree's lower half"
        index = self.account_count + 1
        self.account_count = index
        self.account_index_of[_account] = index
        self.account_key_of[_account] = key
        self.account_created_at[_account] = self.queue_length + 1
        if BRIDGE != empty(address):
            bridged_exits.account_key[_account] = [_ax, _ay]
    else:
        assert self.account_key_of[_account] == key, "deposit with the key of your first deposit"
    entry: Bytes[103] = concat(
        slice(convert(index, bytes32), 29, 3),
        convert(_ax, bytes32),
        convert(_ay, bytes32),
        convert(_account, bytes20),
        slice(convert(_amount, bytes32), 16, 16),
    )
    position: uint256 = self.queue_length
    self.queue[position] = keccak256(entry)
    self.queue_time[position] = block.timestamp
    self.queue_length = position + 1
    log Deposited(queue_index=position, account_index=index, sender=_account, ax=_ax, ay=_ay, amount=_amount)
    return position


@external
def force_exit() -> uint256:
    """
    @notice Ask for msg.sender's whole L2 balance without the operator (a full exit):
            the next batches must take the request, in queue order, within the
            forced-inclusion delay, and pay the account's balance to msg.sender
            (credited when the batch's proof verifies; pull it with
            `withdraw_credit`), or anyone may freeze the rollup. Nothing is signed on
            L2 and the nonce does not move; the account stays, empty, and takes
            deposits again. One request per account waits at a time.
    @return The request's position in the forced-exit queue.
    """
    assert not self.frozen, "the rollup is frozen: exit with exit_account instead"
    index: uint256 = self.account_index_of[msg.sender]
    assert index != 0, "this address has no L2 account: it never deposited"
    created: uint256 = self.account_created_at[msg.sender]
    assert self.queue_done >= created, "the deposit that creates this account is not in an accepted batch yet: wait for it"
    return forced_exits._queue(index, msg.sender, block.timestamp)


@external
def submit_batch(
    _new_root: uint256,
    _fee_account: uint256,
    _timestamp: uint256,
    _deposit_count: uint256,
    _deposits: Bytes[MAX_DEPOSITS * DEPOSIT_BYTES],
    _transfers: Bytes[MAX_TRANSFERS * TRANSFER_BYTES],
    _withdrawals: Bytes[MAX_WITHDRAWALS * WITHDRAWAL_BYTES],
    _opens: Bytes[MAX_OPENS * OPEN_BYTES],
    _closes: Bytes[MAX_CLOSES * CLOSE_BYTES],
    _reclaims: Bytes[MAX_RECLAIMS * RECLAIM_BYTES],
    _exit_count: uint256,
    _forced_exits: Bytes[MAX_FORCED_EXITS * FORCED_EXIT_BYTES],
    _a: uint256[2],
    _b: uint256[2][2],
    _c: uint256[2],
):
    """
    @notice Accept a batch with its proof: the state root becomes `_new_root`, the
            first `_deposit_count` queued deposits and `_exit_count` queued forced
            exits are taken, and the batch's withdrawals and forced exits are
            credited. Anyone holding a valid proof may submit.
    @dev    `_deposits` holds every deposit slot: the first `_deposit_count` must be
            the queue's next entries byte for byte; the rest are no-ops (index 0,
            and the proof makes their other bytes zero). Sections have exactly the
            shape's lengths. `_timestamp` (unix seconds) is the batch's clock: not
            before the last accepted batch's, not after this block's. L1 reads
            nothing of the channels' opens, closes and reclaims: it hashes them.
    """
    assert not VALIDIUM, "this ZkRollup is a validium: post with submit_validium_batch"
    assert len(_transfers) == TRANSFER_SLOTS * TRANSFER_BYTES, "the transfer section has the wrong length"
    assert len(_opens) == OPEN_SLOTS * OPEN_BYTES, "the open section has the wrong length"
    assert len(_closes) == CLOSE_SLOTS * CLOSE_BYTES, "the close section has the wrong length"
    assert len(_reclaims) == RECLAIM_SLOTS * RECLAIM_BYTES, "the reclaim section has the wrong length"
    first: uint256 = self._check_batch(_new_root, _fee_account, _timestamp, _deposit_count, _deposits, _withdrawals)
    first_exit: uint256 = forced_exits._check(_exit_count, FORCED_EXIT_SLOTS, _forced_exits)
    data: Bytes[MAX_DATA] = concat(
        convert(self.state_root, bytes32),
        convert(_new_root, bytes32),
        slice(convert(_fee_account, bytes32), 29, 3),
        slice(convert(_timestamp, bytes32), 28, 4),
        _deposits,
        _transfers,
        _withdrawals,
        _opens,
        _closes,
        _reclaims,
        _forced_exits,
    )
    public_input: uint256 = convert(sha256(data), uint256) % FIELD
    self._accept(_new_root, _timestamp, first, _deposit_count, _withdrawals, public_input, _a, _b, _c)
    self._pay_exits(first_exit, _exit_count, _forced_exits)


@external
def submit_validium_batch(
    _new_root: uint256,
    _fee_account: uint256,
    _timestamp: uint256,
    _deposit_count: uint256,
    _deposits: Bytes[MAX_DEPOSITS * DEPOSIT_BYTES],
    _withdrawals: Bytes[MAX_WITHDRAWALS * WITHDRAWAL_BYTES],
    _exit_count: uint256,
    _forced_exits: Bytes[MAX_FORCED_EXITS * FORCED_EXIT_BYTES],
    _offchain_digest: bytes32,
    _a: uint256[2],
    _b: uint256[2][2],
    _c: uint256[2],
):
    """
    @notice A validium's batch: as `submit_batch`, but the transfer, open, close and
            reclaim sections stay off L1; only their SHA-256, `_offchain_digest`,
            comes here, and the node serves their bytes. The proof binds them: its
            public input is sha256(header | deposits | withdrawals | forced exits |
            _offchain_digest).
            The trust cost: whoever lacks those bytes cannot rebuild the state, so an
            operator that withholds them can keep accounts from exiting at a freeze.
            It still cannot take a wei: every batch is proven.
    @dev    core/zk/pubdata.py validium_public_input.
    """
    assert VALIDIUM, "this ZkRollup keeps its data on L1: post with submit_batch"
    first: uint256 = self._check_batch(_new_root, _fee_account, _timestamp, _deposit_count, _deposits, _withdrawals)
    first_exit: uint256 = forced_exits._check(_exit_count, FORCED_EXIT_SLOTS, _forced_exits)
    data: Bytes[MAX_VALIDIUM_DATA] = concat(
        convert(self.state_root, bytes32),
        convert(_new_root, bytes32),
        slice(convert(_fee_account, bytes32), 29, 3),
        slice(convert(_timestamp, bytes32), 28, 4),
        _deposits,
        _withdrawals,
        _forced_exits,
        _offchain_digest,
    )
    public_input: uint256 = convert(sha256(data), uint256) % FIELD
    self._accept(_new_root, _timestamp, first, _deposit_count, _withdrawals, public_input, _a, _b, _c)
    self._pay_exits(first_exit, _exit_count, _forced_exits)


@internal
def _check_batch(
    _new_root: uint256,
    _fee_account: uint256,
    _timestamp: uint256,
    _deposit_count: uint256,
    _deposits: Bytes[MAX_DEPOSITS * DEPOSIT_BYTES],
    _withdrawals: Bytes[MAX_WITHDRAWALS * WITHDRAWAL_BYTES],
) -> uint256:
    """
    @notice The checks both kinds of batch share: the header's fields, the deposit
            and withdrawal sections' lengths, and the deposits against the queue.
    @return The queue position of the batch's first deposit.
    """
    assert not self.frozen, "the rollup is frozen: no batch is accepted"
    assert _new_root < FIELD, "the new root is not a field element"
    assert _fee_account > 0 and _fee_account <= MAX_ACCOUNT_INDEX, "the fee account is not an account index"
    assert _timestamp >= self.last_timestamp, "the batch's timestamp is before the last accepted batch's"
    assert _timestamp <= block.timestamp, "the batch's timestamp is after this block's"
    assert _timestamp <= MAX_TIMESTAMP, "the batch's timestamp does not fit 4 bytes"
    assert len(_deposits) == DEPOSIT_SLOTS * DEPOSIT_BYTES, "the deposit section has the wrong length"
    assert len(_withdrawals) == WITHDRAWAL_SLOTS * WITHDRAWAL_BYTES, "the withdrawal section has the wrong length"
    assert _deposit_count <= DEPOSIT_SLOTS, "more deposits than the batch has slots"
    first: uint256 = self.queue_done
    assert first + _deposit_count <= self.queue_length, "the batch takes deposits that are not queued"
    for i: uint256 in range(MAX_DEPOSITS):
        if i >= DEPOSIT_SLOTS:
            break
        slot: Bytes[128] = slice(_deposits, i * DEPOSIT_BYTES, DEPOSIT_BYTES)
        if i < _deposit_count:
            assert keccak256(slot) == self.queue[first + i], "a deposit slot differs from the queue"
        else:
            assert self._read_uint(slot, 0, 3) == 0, "a deposit slot past the count is not a no-op"
    return first


@internal
def _accept(
    _new_root: uint256,
    _timestamp: uint256,
    _first: uint256,
    _deposit_count: uint256,
    _withdrawals: Bytes[MAX_WITHDRAWALS * WITHDRAWAL_BYTES],
    _public_input: uint256,
    _a: uint256[2],
    _b: uint256[2][2],
    _c: uint256[2],
):
    """
    @notice Verify the proof for `_public_input`, then move the root, take the
            deposits and credit the withdrawals.
    """
    assert staticcall Groth16Verifier(VERIFIER).verifyProof(_a, _b, _c, [_public_input], gas=VERIFY_GAS), "the proof does not verify for this batch's data"
    batch_index: uint256 = self.batch_count
    old_root: uint256 = self.state_root
    self.state_root = _new_root
    self.queue_done = _first + _deposit_count
    self.batch_count = batch_index + 1
    self.last_timestamp = _timestamp
    for i: uint256 in range(MAX_WITHDRAWALS):
        if i >= WITHDRAWAL_SLOTS:
            break
        slot: Bytes[128] = slice(_withdrawals, i * WITHDRAWAL_BYTES, WITHDRAWAL_BYTES)
        if self._read_uint(slot, 0, 3) == 0:
            continue
        owner: address = convert(convert(self._read_uint(slot, 3, 20), uint160), address)
        amount: uint256 = self._read_uint(slot, 23, 16)
        pull_payments.credit[owner] += amount
        log WithdrawalCredited(batch_index=batch_index, owner=owner, amount=amount)
    log BatchAccepted(batch_index=batch_index, old_root=old_root, new_root=_new_root, deposits=_deposit_count, public_input=_public_input, timestamp=_timestamp)


@internal
def _pay_exits(_first: uint256, _count: uint256, _section: Bytes[MAX_FORCED_EXITS * FORCED_EXIT_BYTES]):
    """
    @notice After the batch's proof verified: credit what each of its forced exits
            paid (the proof made it the account's balance) to the owner queued with
            it, and take them from the queue.
    """
    batch_index: uint256 = self.batch_count - 1
    for i: uint256 in range(MAX_FORCED_EXITS):
        if i >= _count:
            break
        slot: Bytes[128] = slice(_section, i * FORCED_EXIT_BYTES, FORCED_EXIT_BYTES)
        owner: address = forced_exits.exit_queue_owner[_first + i]
        paid: uint256 = self._read_uint(slot, 3, 16)
        pull_payments.credit[owner] += paid
        log ForcedExitPaid(batch_index=batch_index, owner=owner, account_index=forced_exits.exit_queue_account[_first + i], paid=paid)
    forced_exits._taken(_first, _count)


@external
@nonreentrant
def withdraw_credit():
    """
    @notice Pull the wei credited to msg.sender (its withdrawals, refunds and exits),
            less what its moves that a liquidity provider fronted owe until they are
            relayed (on a shard: _bridged_exits.vy).
    """
    assert pull_payments.credit[msg.sender] > 0, "nothing to withdraw for this address"
    amount: uint256 = bridged_exits._pullable(BRIDGE, msg.sender)
    assert amount > 0, "your credit repays moves a liquidity provider fronted: it leaves when they are relayed (l2gpu bridge relay)"
    pull_payments.credit[msg.sender] -= amount
    send(msg.sender, amount)


@external
def freeze():
    """
    @notice Freeze the rollup when the oldest queued deposit, or the oldest queued
            forced exit, that no batch took has waited longer than the
            forced-inclusion delay: the operator is not including it, so deposits
            close, untaken deposits are refunded and every account exits through
            the escape hatch.
    """
    assert not self.frozen, "the rollup is already frozen"
    first: uint256 = self.queue_done
    if first < self.queue_length and block.timestamp > self.queue_time[first] + FORCE_DELAY:
        self.frozen = True
        log Frozen(overdue_queue_index=first, forced_exit=False)
        return
    assert forced_exits._overdue(FORCE_DELAY), "no queued deposit or forced exit is overdue yet"
    self.frozen = True
    log Frozen(overdue_queue_index=forced_exits.exit_queue_done, forced_exit=True)


@view
@external
def exit_claimed(_exit_index: uint256) -> bool:
    """
    @notice Whether the bridge must refuse to front exit `_exit_index` (withdrawal slot
            `_exit_index % WITHDRAWAL_SLOTS` of batch `_exit_index // WITHDRAWAL_SLOTS`):
            its batch was accepted, so its owner may hold the credit already.
    """
    return bridged_exits._exit_claimed(_exit_index, self.batch_count * WITHDRAWAL_SLOTS)


@external
def bridge_withdraw(
    _batch: uint256,
    _exit_index: uint256,
    _recipient: address,
    _amount: uint256,
    _proof: DynArray[bytes32, 24],
    _accounts_root: bytes32,
    _channels_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    """
    @notice The shards' bridge carries exit `_exit_index` of `_recipient` to another
            shard; the bridge checked that `_recipient` signed where it goes. The
            wei go to the bridge, from the owner's credit (_bridged_exits.vy). A zk
            batch is proven whole, so the Merkle arguments (the optimistic shards')
            are not read; `_batch` must be the exit's batch.
    """
    assert BRIDGE != empty(address) and msg.sender == BRIDGE, "only the shards' bridge carries an exit"
    assert _exit_index // WITHDRAWAL_SLOTS == _batch, "zk shard: the exit is not in that batch"
    bridged_exits._carry(BRIDGE, _exit_index, _recipient, _amount)
    raw_call(BRIDGE, b"", value=_amount)


@external
def refund_deposit(_queue_index: uint256, _entry: Bytes[103]):
    """
    @notice After a freeze: credit back a deposit that no accepted batch took, to
            the address that made it (pull it with `withdraw_credit`).
    @param _entry The deposit's 103 bytes, as its Deposited log gives them.
    """
    assert self.frozen, "refunds open only when the rollup is frozen"
    assert _queue_index >= self.queue_done and _queue_index < self.queue_length, "that deposit was taken by a batch, or never queued"
    assert not self.refunded[_queue_index], "that deposit was refunded already"
    assert keccak256(_entry) == self.queue[_queue_index], "the entry is not the queued deposit"
    self.refunded[_queue_index] = True
    owner: address = convert(convert(self._read_uint(_entry, 67, 20), uint160), address)
    amount: uint256 = self._read_uint(_entry, 87, 16)
    pull_payments.credit[owner] += amount
    log DepositRefunded(queue_index=_queue_index, owner=owner, amount=amount)


@external
def exit_account(
    _index: uint256,
    _ax: uint256,
    _ay: uint256,
    _balance: uint256,
    _nonce: uint256,
    _eth_address: address,
    _siblings: DynArray[uint256, MAX_DEPTH],
):
    """
    @notice After a freeze: credit an account's whole balance to its L1 address (pull
            it with `withdraw_credit`), proven by opening its leaf against the last
            proven state root. Anyone may submit it: the wei go to the leaf's own
            address only. Once per account index.
    @param _siblings Leaf `_index`'s siblings from the leaf up, DEPTH of them, as
           core/zk/state.py ZkState.proof(index) gives them.
    @dev    The leaf is Poseidon([ax, ay, balance, nonce, eth_address]) and a parent
            Poseidon([left, right]), bit i of the index (from the least significant)
            choosing whether the node at height i is a right child: core/zk/state.py
            root_from_path. An empty slot's leaf is 0, which no fields hash to, so it
            opens to no root. A field not below FIELD reverts in the Poseidon contract.
    """
    assert self.frozen, "exits open only when the rollup is frozen"
    assert _index > 0 and _index <= MAX_ACCOUNT_INDEX, "the index is not an account index of this tree"
    assert len(_siblings) == DEPTH, "the proof needs exactly one sibling per tree level"
    assert not self.exited[_index], "that account has exited already"
    assert _balance > 0, "the account holds nothing to exit"
    leaf: uint256 = staticcall Poseidon5(POSEIDON_T6).hash([_ax, _ay, _balance, _nonce, convert(_eth_address, uint256)])
    assert self._root_from_path(leaf, _index, _siblings) == self.state_root, "the account's fields and siblings do not open to the last proven state root"
    self.exited[_index] = True
    pull_payments.credit[_eth_address] += _balance
    log AccountExited(account_index=_index, owner=_eth_address, amount=_balance)


@external
def exit_channel(
    _channel_index: uint256,
    _renter: uint256,
    _open_nonce: uint256,
    _provider: uint256,
    _deposit: uint256,
    _expiry: uint256,
    _channel_siblings: DynArray[uint256, MAX_DEPTH],
    _renter_ax: uint256,
    _renter_ay: uint256,
    _renter_balance: uint256,
    _renter_nonce: uint256,
    _renter_address: address,
    _renter_siblings: DynArray[uint256, MAX_DEPTH],
):
    """
    @notice After a freeze: credit a lease channel's whole deposit to its renter's L1
            address (pull it with `withdraw_credit`), proven by opening the channel's
            leaf and the renter's account leaf against the last proven state root.
            Anyone may submit it: the wei go to the renter's address only. Once per
            channel index. The provider gets nothing of it, even what the renter's
            vouchers paid it: see the contract's notice (close channels at each
            lease's end).
    @param _channel_siblings Leaf `_channel_index`'s siblings from the leaf up, DEPTH of
           them (core/zk/state.py ZkState.proof); `_renter_siblings` likewise for the
           renter's account leaf, whose fields give the L1 address.
    @dev    The channel's leaf is Poseidon([1, renter, open_nonce, provider, deposit,
            expiry]) (six inputs: no account's leaf, of five, opens as a channel's),
            the renter's Poseidon([ax, ay, balance, nonce, eth_address]). The open
            moved the deposit out of the renter's balance, so the renter's
            `exit_account` and this exit pay separate money, nothing twice.
    """
    assert self.frozen, "exits open only when the rollup is frozen"
    assert _channel_index >= CHANNEL_BASE and _channel_index <= MAX_INDEX, "the index is not a channel index of this tree"
    assert _renter > 0 and _renter <= MAX_ACCOUNT_INDEX, "the renter is not an account index of this tree"
    assert len(_channel_siblings) == DEPTH and len(_renter_siblings) == DEPTH, "the proof needs exactly one sibling per tree level"
    assert not self.channel_exited[_channel_index], "that channel has exited already"
    assert _deposit > 0, "the channel holds nothing to exit"
    root: uint256 = self.state_root
    channel_leaf: uint256 = staticcall Poseidon6(POSEIDON_T7).hash([CHANNEL_LEAF_TAG, _renter, _open_nonce, _provider, _deposit, _expiry])
    assert self._root_from_path(channel_leaf, _channel_index, _channel_siblings) == root, "the channel's fields and siblings do not open to the last proven state root"
    renter_leaf: uint256 = staticcall Poseidon5(POSEIDON_T6).hash([_renter_ax, _renter_ay, _renter_balance, _renter_nonce, convert(_renter_address, uint256)])
    assert self._root_from_path(renter_leaf, _renter, _renter_siblings) == root, "the renter's account fields and siblings do not open to the last proven state root"
    self.channel_exited[_channel_index] = True
    pull_payments.credit[_renter_address] += _deposit
    log ChannelExited(channel_index=_channel_index, renter_index=_renter, owner=_renter_address, amount=_deposit)


@internal
@view
def _root_from_path(_leaf: uint256, _index: uint256, _siblings: DynArray[uint256, MAX_DEPTH]) -> uint256:
    """
    @notice The root that `_leaf` at `_index` hashes up to with `_siblings` (leaf up).
    @dev    A parent is Poseidon([left, right]), bit i of the index (from the least
            significant) choosing whether the node at height i is a right child:
            core/zk/state.py root_from_path. An empty slot's leaf is 0, which no
            fields hash to, so it opens to no root.
    """
    node: uint256 = _leaf
    for height: uint256 in range(MAX_DEPTH):
        if height >= DEPTH:
            break
        if (_index >> height) & 1 == 1:
            node = staticcall Poseidon2(POSEIDON_T3).hash([_siblings[height], node])
        else:
            node = staticcall Poseidon2(POSEIDON_T3).hash([node, _siblings[height]])
    return node
