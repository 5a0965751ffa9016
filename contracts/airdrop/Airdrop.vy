# pragma version ~=0.4.3
"""
@title Airdrop
@license Apache-2.0
@notice A private airdrop to a market's early adopters. The operator publishes one
        Merkle root of commitments per reward tier and pays every member's reward in
        the same call. A member claims with a Groth16 proof that they know the secrets
        of one leaf, without saying which, and the leaf's nullifier hash, which this
        contract records so the secrets claim once. The chain holds the roots, the
        nullifier hashes and the addresses claimers choose: no account that earned
        a reward, no usage, nothing that links a claim to its leaf.
        A claim pays the tier's reward less `fee` to `recipient`, and `fee` to the
        caller: a claimer whose fresh address holds no ether asks a relayer to send
        the transaction. The proof binds the recipient, the caller and the fee, so no
        one who sees the claim can redirect any of them.
        After the deadline, anyone returns what was not claimed to the treasury.
@dev    The specification is src/l2gpu/core/airdrop/claims.py; the circuit is
        circuits/airdrop_claim.circom, whose public inputs are, in order: root,
        nullifier_hash, AIRDROP_ID, binding, where binding is
        uint256(keccak256(abi_encode(self, chain.id, recipient, msg.sender, fee))) >> 3
        (below the field's modulus without a reduction): with this contract's address
        and chain in it, a proof is good here only, even where another deployment
        shares the airdrop id and the roots. The verifier is generated with
        AIRDROP_ID fixed (src/l2gpu/zk/verifier_contract.py, `fixed`): it takes the
        other three, and the constructor checks it was made for this airdrop.
        A tier's reward, member count, claims so far and index share one storage
        word, keyed by its root, so a claim reads one word and writes it back.
"""


interface Groth16Verifier:
    def verifyProof(a: uint256[2], b: uint256[2][2], c: uint256[2], pub: uint256[3]) -> bool: view
    def FIXED_POSITION() -> uint256: view
    def FIXED_INPUT() -> uint256: view


event Published:
    root: indexed(uint256)
    tier: uint256
    reward: uint256
    members: uint256


event Claimed:
    nullifier_hash: indexed(uint256)
    recipient: indexed(address)
    relayer: address
    amount: uint256
    fee: uint256


event Swept:
    treasury: indexed(address)
    amount: uint256


MAX_TIERS: constant(uint256) = 8
FIELD: constant(uint256) = 21888242871839275222246405745257275088548364400416034343698204186575808495617

VERIFIER: public(immutable(address))
OPERATOR: public(immutable(address))
TREASURY: public(immutable(address))
AIRDROP_ID: public(immutable(uint256))
DEADLINE: public(immutable(uint256))

# root -> index + 1 (bits 0-7) | members (8-71) | claimed (72-135) | reward (136-255);
# 0: not a published root
_tier: HashMap[uint256, uint256]
roots: public(uint256[MAX_TIERS])
tiers: public(uint256)
spent: public(HashMap[uint256, bool])
MAX_MEMBERS: constant(uint256) = 2**64 - 1
MAX_REWARD: constant(uint256) = 2**120 - 1


@deploy
def __init__(_verifier: address, _treasury: address, _airdrop_id: uint256, _deadline: uint256):
    """
    @param _verifier The claim circuit's Groth16 verifier.
    @param _treasury Where unclaimed rewards go after the deadline.
    @param _airdrop_id The airdrop's identifier inside every nullifier hash.
    @param _deadline The last second (L1 time) a claim is taken.
    """
    assert _verifier.is_contract, "the verifier is not a contract"
    assert _treasury != empty(address), "no treasury"
    assert _airdrop_id < FIELD, "the airdrop id is not a field element"
    assert _deadline > block.timestamp, "the deadline has passed"
    assert staticcall Groth16Verifier(_verifier).FIXED_POSITION() == 2, "the verifier fixes another input"
    assert staticcall Groth16Verifier(_verifier).FIXED_INPUT() == _airdrop_id, "the verifier was made for another airdrop"
    VERIFIER = _verifier
    OPERATOR = msg.sender
    TREASURY = _treasury
    AIRDROP_ID = _airdrop_id
    DEADLINE = _deadline


@external
@payable
def publish(
    _roots: DynArray[uint256, MAX_TIERS],
    _rewards: DynArray[uint256, MAX_TIERS],
    _members: DynArray[uint256, MAX_TIERS],
):
    """
    @notice Publish the tiers, once, paying every member's reward with the call.
    """
    assert msg.sender == OPERATOR, "only the operator publishes"
    assert self.tiers == 0, "already published"
    assert block.timestamp < DEADLINE, "the claim period has ended"
    n: uint256 = len(_roots)
    assert n > 0 and len(_rewards) == n and len(_members) == n, "one to eight tiers"
    total: uint256 = 0
    for i: uint256 in range(n, bound=MAX_TIERS):
        root: uint256 = _roots[i]
        assert root != 0 and root < FIELD, "a root is not a field element"
        assert self._tier[root] == 0, "a root appears twice"
        assert _rewards[i] != 0 and _members[i] != 0, "a tier pays nothing"
        assert _rewards[i] <= MAX_REWARD and _members[i] <= MAX_MEMBERS, "a tier is too large"
        self._tier[root] = (i + 1) | (_members[i] << 8) | (_rewards[i] << 136)
        self.roots[i] = root
        total += _rewards[i] * _members[i]
        log Published(root=root, tier=i, reward=_rewards[i], members=_members[i])
    assert msg.value == total, "the value is not the tiers' total"
    self.tiers = n


@external
@nonreentrant
def claim(
    _a: uint256[2],
    _b: uint256[2][2],
    _c: uint256[2],
    _root: uint256,
    _nullifier_hash: uint256,
    _recipient: address,
    _fee: uint256,
):
    """
    @notice Claim one reward of the tier whose root is `_root`; the caller is the
            relayer and is paid `_fee` out of it.
    """
    assert block.timestamp <= DEADLINE, "the claim period has ended"
    packed: uint256 = self._tier[_root]
    assert packed != 0, "unknown root"
    assert _nullifier_hash < FIELD, "the nullifier hash is not a field element"
    assert not self.spent[_nullifier_hash], "already claimed"
    assert _recipient != empty(address), "no recipient"
    amount: uint256 = packed >> 136
    assert _fee <= amount, "the fee is more than the reward"
    claimed: uint256 = (packed >> 72) & MAX_MEMBERS
    assert claimed < (packed >> 8) & MAX_MEMBERS, "every member of the tier has claimed"
    binding: uint256 = convert(
        keccak256(abi_encode(self, chain.id, _recipient, msg.sender, _fee)), uint256
    ) >> 3
    assert staticcall Groth16Verifier(VERIFIER).verifyProof(
        _a, _b, _c, [_root, _nullifier_hash, binding]
    ), "the proof does not verify"
    self.spent[_nullifier_hash] = True
    self._tier[_root] = packed + (1 << 72)
    raw_call(_recipient, b"", value=amount - _fee)
    if _fee != 0:
        raw_call(msg.sender, b"", value=_fee)
    log Claimed(
        nullifier_hash=_nullifier_hash,
        recipient=_recipient,
        relayer=msg.sender,
        amount=amount - _fee,
        fee=_fee,
    )


@external
@view
def tier(_root: uint256) -> (uint256, uint256, uint256, uint256):
    """
    @notice The tier whose root is `_root`: its index, reward, members and claims so
            far (reverts for a root that was not published).
    """
    packed: uint256 = self._tier[_root]
    assert packed != 0, "unknown root"
    return (packed & 255) - 1, packed >> 136, (packed >> 8) & MAX_MEMBERS, (packed >> 72) & MAX_MEMBERS


@external
def sweep():
    """
    @notice After the deadline, return every unclaimed reward to the treasury.
    """
    assert block.timestamp > DEADLINE, "the claim period has not ended"
    amount: uint256 = self.balance
    assert amount != 0, "nothing to return"
    raw_call(TREASURY, b"", value=amount)
    log Swept(treasury=TREASURY, amount=amount)
