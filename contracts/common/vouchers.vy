# pragma version ~=0.4.3
"""
@title vouchers
@license Apache-2.0
@notice The voucher check, shared by the ChannelManager (channels on L1) and the
        StepVerifier (channels inside the rollup, signed for the Rollup's domain):
        the EIP-712 domain separator, the digest of a voucher or of a cooperative
        close, and the address that signed it.
@dev    Specification: src/l2gpu/core/channel/vouchers.py over
        src/l2gpu/core/crypto/eip712.py and secp256k1.py.
"""

DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
VOUCHER_TYPEHASH: constant(bytes32) = keccak256("Voucher(bytes32 channelId,uint256 amount)")
COOPERATIVE_CLOSE_TYPEHASH: constant(bytes32) = keccak256(
    "CooperativeClose(bytes32 channelId,uint256 amount)"
)
NAME_HASH: constant(bytes32) = keccak256("l2gpu channels")
# A virtual channel's vouchers: their domain names the chain and no contract, so one
# voucher counts on both ends of the virtual channel, each in its own rollup.
VIRTUAL_DOMAIN_TYPEHASH: constant(bytes32) = keccak256("EIP712Domain(string name,string version,uint256 chainId)")
VIRTUAL_NAME_HASH: constant(bytes32) = keccak256("l2gpu virtual channels")
VIRTUAL_VOUCHER_TYPEHASH: constant(bytes32) = keccak256("VirtualVoucher(bytes32 virtualId,uint256 amount)")
VERSION_HASH: constant(bytes32) = keccak256("1")
# secp256k1's order / 2: a signature with a larger s is the malleable twin of another.
HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168


@pure
@internal
def _domain_separator(_chain_id: uint256, _contract: address) -> bytes32:
    """
    @notice The EIP-712 domain separator of the channels of `_contract` on `_chain_id`.
    @dev    Mirrors core/channel/vouchers.py channel_domain(...).separator.
    """
    return keccak256(abi_encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, _chain_id, _contract))


@pure
@internal
def _digest(_domain: bytes32, _typehash: bytes32, _channel_id: bytes32, _amount: uint256) -> bytes32:
    """
    @notice The digest signed for `(_channel_id, _amount)`: a voucher or a cooperative
            close, by `_typehash`.
    @dev    Mirrors core/crypto/eip712.py TypedDataSchema.digest.
    """
    struct_hash: bytes32 = keccak256(abi_encode(_typehash, _channel_id, _amount))
    return keccak256(concat(b"\x19\x01", _domain, struct_hash))


@pure
@internal
def _recover(_digest: bytes32, _signature: Bytes[65]) -> address:
    """
    @notice Who signed `_digest`; empty(address) for a malformed, high-s or wrong-v
            signature (it never matches a renter or provider, neither of which can
            be the zero address).
    @dev    Mirrors core/crypto/secp256k1.py recover_address, with None as empty(address).
    """
    if len(_signature) != 65:
        return empty(address)
    r: uint256 = convert(slice(_signature, 0, 32), uint256)
    s: uint256 = convert(slice(_signature, 32, 32), uint256)
    v: uint256 = convert(slice(_signature, 64, 1), uint256)
    if s > HALF_N or (v != 27 and v != 28):
        return empty(address)
    return ecrecover(_digest, v, r, s)


@pure
@internal
def _voucher_signer(_domain: bytes32, _channel_id: bytes32, _amount: uint256, _signature: Bytes[65]) -> address:
    """
    @notice Who signed a voucher for `_amount` on `_channel_id` under `_domain`.
    @dev    Mirrors core/channel/vouchers.py Voucher.signer.
    """
    return self._recover(self._digest(_domain, VOUCHER_TYPEHASH, _channel_id, _amount), _signature)


@pure
@internal
def _virtual_voucher_signer(_chain_id: uint256, _virtual_id: bytes32, _amount: uint256, _signature: Bytes[65]) -> address:
    """
    @notice Who signed a virtual voucher for `_amount` on `_virtual_id` on `_chain_id`.
    @dev    Mirrors core/channel/vouchers.py virtual_voucher_signer.
    """
    domain: bytes32 = keccak256(abi_encode(VIRTUAL_DOMAIN_TYPEHASH, VIRTUAL_NAME_HASH, VERSION_HASH, _chain_id))
    return self._recover(self._digest(domain, VIRTUAL_VOUCHER_TYPEHASH, _virtual_id, _amount), _signature)
