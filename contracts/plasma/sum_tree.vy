# pragma version ~=0.4.3
"""
@title sum_tree
@license Apache-2.0
@notice Paths of a Plasma block's Merkle sum tree, and the transfers it commits to:
        which coins a leaf covers, the leaf of a signed transfer, and who signed it.
@dev    Specification: src/l2gpu/core/plasma/sumtree.py (verify) and
        transactions.py (SignedTransfer.leaf, PLASMA_TRANSFER).
"""

from common import vouchers

COIN_SPACE: constant(uint256) = 2**128
MAX_STEPS: constant(uint256) = 48  # a path's most steps: 2^48 leaves per block
ABI_STEPS: constant(uint256) = 64  # what a call may carry: longer paths are refused by reason
TRANSFER_TYPEHASH: constant(bytes32) = keccak256(
    "PlasmaTransfer(uint256 start,uint256 end,address recipient,uint64 prevBlock)"
)
NAME_HASH: constant(bytes32) = keccak256("l2gpu plasma")
VERSION_HASH: constant(bytes32) = keccak256("1")


struct Step:
    hash: bytes32
    size: uint256
    left: bool


struct Transfer:
    start: uint256
    end: uint256
    recipient: address
    prev_block: uint64


@pure
@internal
def _covered(_root: bytes32, _content: bytes32, _proof: DynArray[Step, ABI_STEPS]) -> (bool, uint256, uint256):
    """
    @notice Whether a leaf with `_content` lies under `_root` along `_proof`, and the
            coins [start, end) it covers there.
    @dev    Mirrors sumtree.verify: the leaf's size is what brings the path's sizes to
            COIN_SPACE; a sibling of COIN_SPACE or more, or sizes past it, fail.
    """
    offset: uint256 = 0
    siblings: uint256 = 0
    for step: Step in _proof:
        if step.size >= COIN_SPACE:
            return False, 0, 0
        siblings += step.size
        if step.left:
            offset += step.size
    if siblings > COIN_SPACE:
        return False, 0, 0
    size: uint256 = COIN_SPACE - siblings
    node: bytes32 = keccak256(concat(b"\x00", _content))
    total: uint256 = size
    for step: Step in _proof:
        if step.left:
            node = keccak256(concat(b"\x01", step.hash, convert(step.size, bytes32), node, convert(total, bytes32)))
        else:
            node = keccak256(concat(b"\x01", node, convert(total, bytes32), step.hash, convert(step.size, bytes32)))
        total += step.size
    if node != _root:
        return False, 0, 0
    return True, offset, offset + size


@pure
@internal
def _leaf(_transfer: Transfer, _signature: Bytes[65]) -> bytes32:
    """
    @notice What a block commits to for a signed transfer.
    @dev    Mirrors SignedTransfer.leaf: keccak256(start 32 | end 32 | recipient 20 |
            prev_block 8 | signature).
    """
    return keccak256(concat(
        convert(_transfer.start, bytes32),
        convert(_transfer.end, bytes32),
        convert(_transfer.recipient, bytes20),
        convert(_transfer.prev_block, bytes8),
        _signature,
    ))


@view
@internal
def _signer(_transfer: Transfer, _signature: Bytes[65]) -> address:
    """
    @notice Who signed `_transfer` under this contract's EIP-712 domain; empty(address)
            for a malformed signature.
    @dev    Mirrors SignedTransfer.signer.
    """
    domain: bytes32 = keccak256(abi_encode(
        vouchers.DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chain.id, self
    ))
    struct_hash: bytes32 = keccak256(abi_encode(
        TRANSFER_TYPEHASH, _transfer.start, _transfer.end, _transfer.recipient, _transfer.prev_block
    ))
    return vouchers._recover(keccak256(concat(b"\x19\x01", domain, struct_hash)), _signature)
