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
        shares the airdrop id and the roots.
        The Groth16 check is here, not in a verifier contract of its own: the
        verifying key is given to the constructor and kept in immutables, which
        spares each claim a cold call (2,600 gas) and an ABI round trip. The
        public inputs' point IC[0] + sum(input_i * IC[i + 1]) is built in parts:
        AIRDROP_ID's term is added into IC[0] once, here (IC_BASE), and a tier's
        root term once, at publication (its "tier point", IC_BASE + root * IC[1]);
        a claim names its tier by that point, so it pays the ecMul and ecAdd of its
        nullifier hash and binding only. Points are unique per root (IC[1] has the
        group's prime order and a root is below it), so the point identifies the
        tier as the root does.
        A tier's reward, member count, claims so far and index share one storage
        word, keyed by the hash of its point, so a claim reads one word and writes
        it back.
"""


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
P: constant(uint256) = 21888242871839275222246405745257275088696311157297823662689037894645226208583
EC_ADD: constant(address) = 0x0000000000000000000000000000000000000006
EC_MUL: constant(address) = 0x0000000000000000000000000000000000000007
PAIRING: constant(address) = 0x0000000000000000000000000000000000000008
# EIP-1108 prices, passed explicitly: a failing precompile takes only its own price
EC_ADD_GAS: constant(uint256) = 150
EC_MUL_GAS: constant(uint256) = 6000
PAIRING_GAS_3: constant(uint256) = 45000 + 34000 * 3
PAIRING_GAS_4: constant(uint256) = 45000 + 34000 * 4

# The claim circuit's verifying key (G2 points in the EVM's order [[x1, x0], [y1, y0]])
ALPHA: public(immutable(uint256[2]))
BETA: public(immutable(uint256[2][2]))
GAMMA: public(immutable(uint256[2][2]))
DELTA: public(immutable(uint256[2][2]))
IC_BASE: public(immutable(uint256[2]))
IC_ROOT: public(immutable(uint256[2]))
IC_NULLIFIER: public(immutable(uint256[2]))
IC_BINDING: public(immutable(uint256[2]))
VERIFYING_KEY_HASH: public(immutable(bytes32))
OPERATOR: public(immutable(address))
TREASURY: public(immutable(address))
AIRDROP_ID: public(immutable(uint256))
DEADLINE: public(immutable(uint256))

# keccak256(tier point) -> index + 1 (bits 0-7) | members (8-71) | claimed (72-135) |
# reward (136-255); 0: not a published tier
_tier: HashMap[bytes32, uint256]
roots: public(uint256[MAX_TIERS])
tiers: public(uint256)
spent: public(HashMap[uint256, bool])
MAX_MEMBERS: constant(uint256) = 2**64 - 1
MAX_REWARD: constant(uint256) = 2**120 - 1


@deploy
def __init__(
    _treasury: address,
    _airdrop_id: uint256,
    _deadline: uint256,
    _alpha: uint256[2],
    _beta: uint256[2][2],
    _gamma: uint256[2][2],
    _delta: uint256[2][2],
    _ic: uint256[2][5],
):
    """
    @param _treasury Where unclaimed rewards go after the deadline.
    @param _airdrop_id The airdrop's identifier inside every nullifier hash.
    @param _deadline The last second (L1 time) a claim is taken.
    @param _alpha The claim circuit's verifying key: alpha (G1), beta, gamma, delta
           (G2), and IC, one G1 point per public input after IC[0].
    """
    assert _treasury != empty(address), "no treasury"
    assert _airdrop_id < FIELD, "the airdrop id is not a field element"
    assert _deadline > block.timestamp, "the deadline has passed"
    # A point at infinity in the key drops a term of the check: with alpha, beta or
    # gamma at infinity anyone forges a proof of anything; with delta, the witness
    # is no longer bound; with an IC point, its public input is free.
    assert not self._at_infinity(_alpha), "the verifying key has a point at infinity"
    for i: uint256 in range(5):
        assert not self._at_infinity(_ic[i]), "the verifying key has a point at infinity"
    for g2: uint256[2][2] in [_beta, _gamma, _delta]:
        at_infinity: bool = self._at_infinity(g2[0]) and self._at_infinity(g2[1])
        assert not at_infinity, "the verifying key has a point at infinity"
    # snarkjs writes delta = gamma (both the generator) before the first phase-2
    # contribution: with them equal, (A, B, C) = (alpha, beta, -x) proves anything.
    same: bool = _delta[0][0] == _gamma[0][0] and _delta[0][1] == _gamma[0][1]
    same = same and _delta[1][0] == _gamma[1][0] and _delta[1][1] == _gamma[1][1]
    assert not same, "the verifying key has no phase-2 contribution (delta is gamma)"
    # Every point must be one the precompiles take, or no claim could ever verify:
    # the G1 points through ecAdd, the G2 points through a pairing with the point at
    # infinity (which checks they are on the curve and in G2).
    self._add(_alpha, _ic[1], "the verifying key is not on the curve")
    self._add(_ic[2], _ic[4], "the verifying key is not on the curve")
    self._add(_ic[0], _ic[3], "the verifying key is not on the curve")
    IC_BASE = self._add(_ic[0], self._mul(_ic[3], _airdrop_id), "the verifying key is not on the curve")
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(
        PAIRING,
        abi_encode(empty(uint256[2]), _beta, empty(uint256[2]), _gamma, empty(uint256[2]), _delta),
        max_outsize=32, gas=PAIRING_GAS_3, is_static_call=True, revert_on_failure=False,
    )
    assert ok and len(out) == 32, "the verifying key is not on the curve"
    ALPHA = _alpha
    BETA = _beta
    GAMMA = _gamma
    DELTA = _delta
    IC_ROOT = _ic[1]
    IC_NULLIFIER = _ic[2]
    IC_BINDING = _ic[4]
    VERIFYING_KEY_HASH = keccak256(abi_encode(_alpha, _beta, _gamma, _delta, _ic))
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
        key: bytes32 = keccak256(abi_encode(self._tier_point(root)))
        assert self._tier[key] == 0, "a root appears twice"
        assert _rewards[i] != 0 and _members[i] != 0, "a tier pays nothing"
        assert _rewards[i] <= MAX_REWARD and _members[i] <= MAX_MEMBERS, "a tier is too large"
        self._tier[key] = (i + 1) | (_members[i] << 8) | (_rewards[i] << 136)
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
    _tier_point: uint256[2],
    _nullifier_hash: uint256,
    _recipient: address,
    _fee: uint256,
):
    """
    @notice Claim one reward of the tier whose point (`tier_point(root)`) is
            `_tier_point`; the caller is the relayer and is paid `_fee` out of it.
    """
    assert block.timestamp <= DEADLINE, "the claim period has ended"
    key: bytes32 = keccak256(abi_encode(_tier_point))
    packed: uint256 = self._tier[key]
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
    assert self._verify(_a, _b, _c, _tier_point, _nullifier_hash, binding), "the proof does not verify"
    self.spent[_nullifier_hash] = True
    self._tier[key] = packed + (1 << 72)
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
    assert _root < FIELD, "the root is not a field element"
    packed: uint256 = self._tier[keccak256(abi_encode(self._tier_point(_root)))]
    assert packed != 0, "unknown root"
    return (packed & 255) - 1, packed >> 136, (packed >> 8) & MAX_MEMBERS, (packed >> 72) & MAX_MEMBERS


@external
@view
def tier_point(_root: uint256) -> uint256[2]:
    """
    @notice The point a claim names the tier of root `_root` by: its part of the
            proof's public inputs, IC_BASE + _root * IC[1].
    """
    assert _root < FIELD, "the root is not a field element"
    return self._tier_point(_root)


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


@internal
@view
def _tier_point(root: uint256) -> uint256[2]:
    return self._add(IC_BASE, self._mul(IC_ROOT, root), "")


@internal
@view
def _verify(
    a: uint256[2],
    b: uint256[2][2],
    c: uint256[2],
    tier_point: uint256[2],
    nullifier_hash: uint256,
    binding: uint256,
) -> bool:
    """
    @dev The Groth16 check e(-a, b) * e(alpha, beta) * e(x, gamma) * e(c, delta) == 1,
         x the public inputs' point. Reverts on a malformed proof (a coordinate not
         below p, a point off the curve or outside G2); False for a well-formed one
         that does not prove these inputs.
    """
    x: uint256[2] = self._add(tier_point, self._mul(IC_NULLIFIER, nullifier_hash), "")
    x = self._add(x, self._mul(IC_BINDING, binding), "")
    assert a[1] < P, "the proof is malformed"
    neg_a: uint256[2] = [a[0], (P - a[1]) % P]  # -(x, y) = (x, p - y); (0, 0) is its own
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(
        PAIRING,
        abi_encode(neg_a, b, ALPHA, BETA, x, GAMMA, c, DELTA),
        max_outsize=32, gas=PAIRING_GAS_4, is_static_call=True, revert_on_failure=False,
    )
    assert ok and len(out) == 32, "the proof is malformed"
    return convert(out, uint256) == 1


@internal
@pure
def _at_infinity(p: uint256[2]) -> bool:
    return p[0] == 0 and p[1] == 0


@internal
@view
def _add(p: uint256[2], q: uint256[2], reason: String[40]) -> uint256[2]:
    ok: bool = False
    out: Bytes[64] = b""
    ok, out = raw_call(
        EC_ADD, abi_encode(p, q), max_outsize=64, gas=EC_ADD_GAS,
        is_static_call=True, revert_on_failure=False,
    )
    assert ok and len(out) == 64, reason
    return abi_decode(out, uint256[2])


@internal
@view
def _mul(p: uint256[2], s: uint256) -> uint256[2]:
    return abi_decode(
        raw_call(EC_MUL, abi_encode(p, s), max_outsize=64, gas=EC_MUL_GAS, is_static_call=True),
        uint256[2],
    )
