# pragma version ~=0.4.3
"""
@title state_leaves
@license Apache-2.0
@notice The L2 state as L1 sees it, shared by the Rollup (exits against a final
        root) and the fraud-proof contracts: the state's leaves, its Merkle paths
        and root, and decoding one transaction of a posted commitment. The formats
        are those of src/l2gpu/core/l2/state.py and codec.py.
"""

DEPTH: constant(uint256) = 24
MAX_COMMITMENT: constant(uint256) = 2906
# Transaction ops: commitment kinds 1 (transfer) and 2 (withdraw), channel op + 2.
TX_TRANSFER: constant(uint256) = 1
TX_WITHDRAW: constant(uint256) = 2
TX_OPEN: constant(uint256) = 3
TX_TOP_UP: constant(uint256) = 4
# Named as the channel operations are in Python (core/channel/inputs.py), so that one
# operation has one name across Python and Vyper.
TX_COOPERATIVE_CLOSE: constant(uint256) = 5
TX_CLOSE_BY_RENTER: constant(uint256) = 6
TX_SUBMIT_VOUCHER: constant(uint256) = 7
TX_CLOSE_BY_PROVIDER: constant(uint256) = 8
TX_SETTLE: constant(uint256) = 9

struct RootParts:
    accounts_root: bytes32
    channels_root: bytes32
    exits_root: bytes32
    deposits_processed: uint256
    exit_count: uint256

struct Account:
    index: uint256
    present: bool
    addr: address
    balance: uint256
    nonce: uint256
    bls_key: Bytes[96]

struct ChannelParams:
    renter: address
    provider: address
    token: address
    challenge_period: uint256
    salt: bytes32
    # One end of a virtual channel (core/channel/state.py VirtualTerms); all zero
    # for an ordinary channel.
    signer: address
    virtual_id: bytes32
    fee_ppm: uint256

struct Channel:
    index: uint256
    present: bool
    params: ChannelParams
    renter_index: uint256
    provider_index: uint256
    deposit: uint256
    best: uint256
    expires_at: uint256
    close_deadline: uint256
    status: uint256

struct Tx:
    op: uint256
    sender: uint256
    target: uint256
    amount: uint256
    fee: uint256
    expires_at: uint256
    period: uint256
    signature: Bytes[65]
    virtual: bool
    signer: address
    virtual_id: bytes32
    fee_ppm: uint256

# -- what fraud proofs carry (StepVerifier, SignatureVerifier, DisputeGame) ----------

MAX_READS: constant(uint256) = 5
MAX_WRITES: constant(uint256) = 5

struct AccountRead:
    account: Account
    proof: bytes32[DEPTH]

struct ChannelRead:
    channel: Channel
    proof: bytes32[DEPTH]

struct Witness:
    accounts: DynArray[AccountRead, MAX_READS]
    channels: DynArray[ChannelRead, 2]
    writes: DynArray[bytes32[DEPTH], MAX_WRITES]
    channel_count: uint256

struct L1Op:
    kind: uint256
    queue_index: uint256
    sender: address
    amount: uint256
    bls_key: Bytes[96]
    proof_of_possession: Bytes[48]
    account_index: uint256
    key_point: Bytes[256]
    pop_point: Bytes[128]

struct SignerKey:
    account: Account
    proof: bytes32[DEPTH]
    key_point: Bytes[256]

struct CloseParties:
    position: uint256
    parts: RootParts
    channel: Channel
    proof: bytes32[DEPTH]


# -- leaves, paths and the root (state.py, merkle.py) ---------------------------------

@pure
@internal
def _state_root(_parts: RootParts) -> bytes32:
    """
    @notice The state root: keccak256(accounts_root || channels_root || exits_root ||
            uint64 deposits_processed || uint64 exit_count).
    @dev    Mirrors core/l2/state.py root_of.
    """
    return keccak256(concat(_parts.accounts_root, _parts.channels_root, _parts.exits_root, convert(convert(_parts.deposits_processed, uint64), bytes8), convert(convert(_parts.exit_count, uint64), bytes8)))


@pure
@internal
def _account_leaf(_a: Account) -> bytes32:
    """
    @notice An account's leaf (zero for an empty slot); a missing BLS key hashes as
            96 zero bytes.
    @dev    Mirrors core/l2/state.py Account.leaf.
    """
    if not _a.present:
        return empty(bytes32)
    key: Bytes[96] = _a.bls_key
    if len(key) == 0:
        key = concat(empty(bytes32), empty(bytes32), empty(bytes32))
    assert len(key) == 96, "witness: a BLS key is 96 bytes"
    return keccak256(concat(convert(_a.addr, bytes20), convert(convert(_a.balance, uint128), bytes16), convert(convert(_a.nonce, uint64), bytes8), key))


@pure
@internal
def _channel_id(_p: ChannelParams) -> bytes32:
    """
    @notice A channel's id: the hash of its five parameters, or of eight for one end of
            a virtual channel.
    @dev    Mirrors core/channel/state.py channel_id.
    """
    if _p.virtual_id == empty(bytes32):
        return keccak256(abi_encode(_p.renter, _p.provider, _p.token, _p.challenge_period, _p.salt))
    return keccak256(abi_encode(_p.renter, _p.provider, _p.token, _p.challenge_period, _p.salt, _p.signer, _p.virtual_id, _p.fee_ppm))


@pure
@internal
def _channel_leaf(_c: Channel) -> bytes32:
    """
    @notice A channel's leaf (zero for an empty slot); the id is the hash of its params.
    @dev    Mirrors core/l2/state.py L2Channel.leaf.
    """
    if not _c.present:
        return empty(bytes32)
    cid: bytes32 = self._channel_id(_c.params)
    return keccak256(concat(cid, convert(convert(_c.renter_index, uint24), bytes3), convert(convert(_c.provider_index, uint24), bytes3), convert(convert(_c.deposit, uint128), bytes16), convert(convert(_c.best, uint128), bytes16), convert(convert(_c.expires_at, uint64), bytes8), convert(convert(_c.close_deadline, uint64), bytes8), convert(convert(_c.status, uint8), bytes1)))


@pure
@internal
def _exit_leaf(_recipient: address, _amount: uint256, _index: uint256) -> bytes32:
    """
    @notice An exit's leaf: keccak256(address || uint128 amount || uint64 index).
    @dev    Mirrors core/l2/state.py Exit.leaf.
    """
    return keccak256(concat(convert(_recipient, bytes20), convert(convert(_amount, uint128), bytes16), convert(convert(_index, uint64), bytes8)))


@pure
@internal
def _merkle(_leaf: bytes32, _index: uint256, _proof: bytes32[DEPTH]) -> bytes32:
    """
    @notice The root that `_leaf` at `_index` and its path `_proof` (siblings from the
            leaf up) lead to.
    @dev    Mirrors core/l2/merkle.py path_root.
    """
    node: bytes32 = _leaf
    position: uint256 = _index
    for sibling: bytes32 in _proof:
        if position & 1 == 1:
            node = keccak256(concat(sibling, node))
        else:
            node = keccak256(concat(node, sibling))
        position = position >> 1
    assert position == 0, "witness: index outside the tree"
    return node


@pure
@internal
def _merkle_path(_leaf: bytes32, _index: uint256, _proof: DynArray[bytes32, DEPTH]) -> bytes32:
    """
    @notice As `_merkle`, for a path given as a list (the ABI's form in Rollup's exits).
            The loop is written twice on purpose: Vyper cannot pass a list where an
            array is expected without copying it word by word, which cost Rollup's
            `withdraw` about 4,000 gas (tests/l2/rollup_gas.py measured it).
    @dev    Mirrors core/l2/merkle.py path_root.
    """
    assert len(_proof) == DEPTH, "witness: the path must have DEPTH hashes"
    node: bytes32 = _leaf
    position: uint256 = _index
    for sibling: bytes32 in _proof:
        if position & 1 == 1:
            node = keccak256(concat(sibling, node))
        else:
            node = keccak256(concat(node, sibling))
        position = position >> 1
    assert position == 0, "witness: index outside the tree"
    return node


# -- decoding one transaction of a commitment (codec.py) ------------------------------------

@pure
@internal
def _uint(_data: Bytes[MAX_COMMITMENT], _at: uint256, _size: uint256) -> uint256:
    """
    @notice The big-endian integer of `_size` bytes at `_at` of a commitment.
    @dev    Mirrors codec.py _Reader.take and int.from_bytes.
    """
    assert _at + _size <= len(_data), "witness: commitment ends inside a transaction"
    # slice() needs a literal length to convert to an integer.
    if _size == 1:
        return convert(slice(_data, _at, 1), uint256)
    if _size == 2:
        return convert(slice(_data, _at, 2), uint256)
    if _size == 3:
        return convert(slice(_data, _at, 3), uint256)
    if _size == 5:
        return convert(slice(_data, _at, 5), uint256)
    if _size == 8:
        return convert(slice(_data, _at, 8), uint256)
    if _size == 16:
        return convert(slice(_data, _at, 16), uint256)
    if _size == 20:
        return convert(slice(_data, _at, 20), uint256)
    assert _size == 32
    return convert(slice(_data, _at, 32), uint256)


@pure
@internal
def _float(_packed: uint256, _mantissa_bits: uint256) -> uint256:
    """
    @notice An amount in the batch's decimal float format: mantissa * 10**exponent.
    @dev    Mirrors core/l2/amounts.py decode.
    """
    mantissa: uint256 = _packed & ((1 << _mantissa_bits) - 1)
    exponent: uint256 = _packed >> _mantissa_bits
    for _: uint256 in range(31):
        if exponent == 0:
            break
        mantissa *= 10
        exponent -= 1
    return mantissa


@pure
@internal
def _tx_size(_kind: uint256, _op: uint256) -> uint256:
    """
    @notice The encoded size of a transaction of commitment kind `_kind` (and channel
            op byte `_op`).
    @dev    Mirrors the sizes of core/l2/codec.py encode_tx.
    """
    if _kind == 1:
        return 11
    if _kind == 2:
        return 8
    if _op == 1:
        return 18
    if _op == 2:
        return 15
    if _op == 3 or _op == 4:
        return 10
    if _op == 5 or _op == 6:
        return 88
    if _op == 8:
        return 73
    assert _op == 7, "witness: unknown channel op"
    return 7


@pure
@internal
def _tx_at(_c: Bytes[MAX_COMMITMENT], _position: uint256) -> Tx:
    """
    @notice Transaction `_position` of commitment `_c`, decoded; `op` is one of the
            TX_* constants.
    @dev    Mirrors core/l2/codec.py _decode_commitment and _decode_tx.
    """
    kind: uint256 = self._uint(_c, 0, 1)
    assert _position < self._uint(_c, 1, 1), "witness: no such transaction in the commitment"
    at: uint256 = 10
    for i: uint256 in range(32):
        if i == _position:
            break
        op: uint256 = 0
        if kind == 3:
            op = self._uint(_c, at, 1)
        at += self._tx_size(kind, op)
    item: Tx = empty(Tx)
    if kind == 1:
        item.op = TX_TRANSFER
        item.sender = self._uint(_c, at, 3)
        item.target = self._uint(_c, at + 3, 3)
        item.amount = self._float(self._uint(_c, at + 6, 3), 19)
        item.fee = self._float(self._uint(_c, at + 9, 2), 11)
        return item
    if kind == 2:
        item.op = TX_WITHDRAW
        item.sender = self._uint(_c, at, 3)
        item.amount = self._float(self._uint(_c, at + 3, 3), 19)
        item.fee = self._float(self._uint(_c, at + 6, 2), 11)
        return item
    op: uint256 = self._uint(_c, at, 1)
    assert self._tx_size(kind, op) > 0
    item.op = op + 2
    item.sender = self._uint(_c, at + 1, 3)
    item.target = self._uint(_c, at + 4, 3)
    if op == 1 or op == 8:
        item.amount = self._float(self._uint(_c, at + 7, 3), 19)
        item.expires_at = self._uint(_c, at + 10, 5)
        item.period = self._uint(_c, at + 15, 3)
        if op == 8:
            item.op = TX_OPEN
            item.virtual = True
            item.signer = convert(convert(self._uint(_c, at + 18, 20), uint160), address)
            item.virtual_id = convert(self._uint(_c, at + 38, 32), bytes32)
            item.fee_ppm = self._uint(_c, at + 70, 3)
    elif op == 2:
        item.amount = self._float(self._uint(_c, at + 7, 3), 19)
        item.expires_at = self._uint(_c, at + 10, 5)
    elif op == 3 or op == 4:
        item.amount = self._float(self._uint(_c, at + 7, 3), 19)
    elif op == 5 or op == 6:
        item.amount = self._uint(_c, at + 7, 16)
        item.signature = slice(_c, at + 23, 65)
    return item
