# pragma version ~=0.4.3
"""
@title SignatureVerifier
@license Apache-2.0
@notice Checks the aggregate co-signature of a posted commitment from Merkle
        witnesses: which accounts had to sign (each transaction's sender; for a
        cooperative close the channel's renter and provider, read from the channel
        leaf before that transaction), their BLS keys (account leaves under the
        commitment's pre-state root) and one pairing check through BlsVerifier.
@dev    Specification: src/l2gpu/core/l2/proofs/signature.py. A witness that does
        not prove what it claims reverts ("witness: ..."); a commitment whose
        signature is wrong, or that needs more than MAX_SIGNERS signers, returns False.
"""

from interfaces import IBlsVerifier
from interfaces import ISignatureVerifier
from . import state_leaves

implements: ISignatureVerifier

MAX_SIGNERS: constant(uint256) = 32
MAX_TXS: constant(uint256) = 32
DOMAIN_TAG: constant(Bytes[19]) = b"l2gpu-commitment-v1"

BLS: public(immutable(IBlsVerifier))


@deploy
def __init__(_bls: address):
    """
    @param _bls The BlsVerifier contract.
    """
    BLS = IBlsVerifier(_bls)


@view
@external
def signature_valid(
    _chain_id: uint256,
    _rollup: address,
    _commitment: Bytes[state_leaves.MAX_COMMITMENT],
    _roots: DynArray[bytes32, 33],
    _pre: state_leaves.RootParts,
    _signers: DynArray[state_leaves.SignerKey, MAX_SIGNERS],
    _closes: DynArray[state_leaves.CloseParties, MAX_TXS],
    _signature_point: Bytes[128],
) -> bool:
    """
    @notice Whether the commitment's aggregate signature is valid for its signers.
    @param _roots The state root before each transaction (`_roots[0]`: the pre-state).
    @param _signers The required signers, ascending by account index, with key points.
    @param _closes One channel read per cooperative close, in order.
    """
    assert state_leaves._state_root(_pre) == _roots[0], "witness: the pre-state parts do not match the pre-state root"
    kind: uint256 = convert(slice(_commitment, 0, 1), uint256)
    count: uint256 = convert(slice(_commitment, 1, 1), uint256)
    assert count <= MAX_TXS and len(_roots) >= count, "witness: too few intermediate roots"
    required: DynArray[uint256, 64] = []
    closes_used: uint256 = 0
    for i: uint256 in range(MAX_TXS):
        if i >= count:
            break
        item: state_leaves.Tx = state_leaves._tx_at(_commitment, i)
        if kind == 3 and item.op == state_leaves.TX_COOPERATIVE_CLOSE:
            assert closes_used < len(_closes), "witness: no channel read for a close"
            close: state_leaves.CloseParties = _closes[closes_used]
            closes_used += 1
            assert close.position == i, "witness: channel reads out of order"
            assert state_leaves._state_root(close.parts) == _roots[i], "witness: wrong root parts before a close"
            assert not close.channel.present or close.channel.index == item.target, "witness: wrong channel"
            assert state_leaves._merkle(state_leaves._channel_leaf(close.channel), item.target, close.proof) == close.parts.channels_root, "witness: bad channel proof"
            if close.channel.present:
                if close.channel.renter_index not in required:
                    required.append(close.channel.renter_index)
                if close.channel.provider_index not in required:
                    required.append(close.channel.provider_index)
                continue
        if item.sender not in required:
            required.append(item.sender)
    assert closes_used == len(_closes), "witness: more channel reads than closes"
    if len(required) > MAX_SIGNERS:
        return False
    # Distinct, ascending, each required, as many as required: the same set.
    assert len(_signers) == len(required), "witness: the signer list must be the required signers"
    keys: DynArray[Bytes[96], MAX_SIGNERS] = []
    points: DynArray[Bytes[256], MAX_SIGNERS] = []
    for signer: state_leaves.SignerKey in _signers:
        index: uint256 = signer.account.index
        assert len(keys) == 0 or index > _signers[len(keys) - 1].account.index, "witness: signers must ascend"
        assert index in required and signer.account.present, "witness: not a required signer"
        assert state_leaves._merkle(state_leaves._account_leaf(signer.account), index, signer.proof) == _pre.accounts_root, "witness: bad key proof"
        keys.append(signer.account.bls_key)
        points.append(signer.key_point)
    size: uint256 = len(_commitment)
    assert size >= 90, "witness: commitment too short"
    message: bytes32 = keccak256(concat(DOMAIN_TAG, convert(_chain_id, bytes32), convert(_rollup, bytes20), _roots[0], slice(_commitment, 0, size - 80)))
    signature: Bytes[48] = slice(_commitment, size - 80, 48)
    return staticcall BLS.verify_same_message(concat(message, b""), False, keys, points, signature, _signature_point)
