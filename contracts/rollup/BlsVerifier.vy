# pragma version ~=0.4.3
"""
@title BlsVerifier
@license Apache-2.0
@notice Checks BLS12-381 signatures on L1 exactly as the Python core does
        (src/l2gpu/core/crypto/bls.py): an aggregate signature of many keys on one
        message, or a key's proof of possession. Signatures are in G1 (48 bytes
        compressed), public keys in G2 (96 bytes compressed), hashing is
        hash_to_G1 with expand_message_xmd(SHA-256), SSWU, random oracle.
@dev    Built on the EIP-2537 precompiles (Prague). Decompressing a point on chain
        needs a square root, so the caller also passes each point uncompressed in
        the EIP-2537 encoding (64-byte big-endian field elements, 16 zero bytes of
        padding; G2 as x.c0 || x.c1 || y.c0 || y.c1) and this contract checks that
        the two encodings name the same point: flags, x, and the sign of y. The
        precompiles do the curve and subgroup checks. Invalid input of any kind
        gives False, never a revert, except what the ABI bounds reject (more than
        MAX_KEYS keys, a key longer than 96 bytes, a message longer than 96 bytes);
        a call with too little gas reverts (see G2MSM_GAS_PER_PAIR).
"""

from interfaces import IBlsVerifier

implements: IBlsVerifier


MAX_KEYS: constant(uint256) = 32
MAX_MESSAGE: constant(uint256) = 96
# One G2MSM pair: eight words of point, one word of scalar.
MSM_WORDS: constant(uint256) = MAX_KEYS * 9

MODEXP: constant(address) = 0x0000000000000000000000000000000000000005
G1ADD: constant(address) = 0x000000000000000000000000000000000000000b
G2ADD: constant(address) = 0x000000000000000000000000000000000000000d
G2MSM: constant(address) = 0x000000000000000000000000000000000000000E
PAIRING_CHECK: constant(address) = 0x000000000000000000000000000000000000000F
MAP_FP_TO_G1: constant(address) = 0x0000000000000000000000000000000000000010

# G2MSM and PAIRING_CHECK are the calls that refuse caller-supplied points. A
# failing EIP-2537 precompile burns all the gas it was given, so they get caps
# with room above the Prague price: G2MSM the undiscounted price of one pair more
# than it is given, PAIRING_CHECK twice its price. A repricing above a cap makes
# every check fail closed; redeploy then. Before each, the contract makes sure it can pass the whole cap
# (the 63/64 rule keeps back a 64th, the call itself costs a little), so that a
# failure means a bad point and never a caller who sent too little gas: that
# caller gets a revert, not a False that a dispute could take for an invalid
# signature.
G2MSM_GAS_PER_PAIR: constant(uint256) = 22500
PAIRING_GAS: constant(uint256) = 2 * (37700 + 2 * 32600)
CALL_GAS_MARGIN: constant(uint256) = 10000

# The BLS12-381 base field modulus p, and (p - 1) / 2 split at 2**256: a y above
# it is the "lexicographically largest" root that the compressed sign flag names.
FIELD_MODULUS: constant(Bytes[48]) = x"1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab"
P_HI: constant(uint256) = 34565483545414906068789196026815425751
P_LO: constant(uint256) = 45442060874369865957053122457065728162598490762543039060009208264153100167851
# (p - 1) / 2: Euler's criterion tells squares from non-squares mod p.
EULER_EXPONENT: constant(Bytes[48]) = x"0d0088f51cbff34d258dd3db21a5d66bb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555"
# MODEXP header: 48-byte base, 48-byte exponent, 48-byte modulus.
MODEXP_HEADER_48: constant(Bytes[96]) = x"000000000000000000000000000000000000000000000000000000000000003000000000000000000000000000000000000000000000000000000000000000300000000000000000000000000000000000000000000000000000000000000030"
HALF_HI: constant(uint256) = 17282741772707453034394598013407712875
HALF_LO: constant(uint256) = 80617075055843030690312053732876818007934237714091801549733396136033114903893
# The compressed x fills 381 bits of a 384-bit string; the top three are flags.
X_HI_MASK: constant(uint256) = 2**125 - 1
FLAG_COMPRESSED: constant(uint256) = 4  # 0x80 in the first byte
FLAG_INFINITY: constant(uint256) = 2  # 0x40
FLAG_Y_LARGER: constant(uint256) = 1  # 0x20

# Domain tags with their one-byte length appended (DST_prime in RFC 9380).
SIGNATURE_DST_PRIME: constant(Bytes[57]) = b"L2GPU_ROLLUP_BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_\x38"
POP_DST_PRIME: constant(Bytes[57]) = b"L2GPU_ROLLUP_BLS_POP_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_\x38"
# expand_message_xmd's I2OSP(128, 2) || I2OSP(0, 1): two field elements of 64 bytes.
XMD_LENGTH_AND_ZERO: constant(Bytes[3]) = x"008000"
# MODEXP header: 64-byte base, 1-byte exponent (1), 48-byte modulus.
MODEXP_HEADER: constant(Bytes[97]) = x"000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000030"

# -G2 generator: the pairing check is e(sig, -G2) * e(H(m), apk) == 1.
NEG_G2_GENERATOR: constant(Bytes[256]) = x"00000000000000000000000000000000024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb80000000000000000000000000000000013e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e000000000000000000000000000000000d1b3cc2c7027888be51d9ef691d77bcb679afda66c73f17f9ee3837a55024f78c71363275a75d75d86bab79f74782aa0000000000000000000000000000000013fa4d4a0ad8b1ce186ed5061789213d993923066dddaf1040bc3ff59f825c78df74f2d75467e25e0f55f8a00fa030ed"


@external
@view
def verify_same_message(
    _message: Bytes[MAX_MESSAGE],
    _pop: bool,
    _keys: DynArray[Bytes[96], MAX_KEYS],
    _key_points: DynArray[Bytes[256], MAX_KEYS],
    _signature: Bytes[48],
    _signature_point: Bytes[128],
) -> bool:
    """
    @notice True if `_signature` aggregates signatures of every key in `_keys` on
            `_message` (bls.verify_aggregate_same_message), or, with `_pop`, if it is
            the proof of possession of the single key `_keys[0]`, which must then
            equal `_message` (bls.verify_possession).
    @param _message The signed message; with `_pop`, the key itself.
    @param _pop False: the signature domain tag; True: the proof-of-possession tag.
    @param _keys Compressed G2 public keys, 96 bytes each.
    @param _key_points The same keys uncompressed (EIP-2537, 256 bytes each).
    @param _signature The compressed G1 signature, 48 bytes.
    @param _signature_point The same signature uncompressed (EIP-2537, 128 bytes).
    @return False for a wrong signature and for any malformed or mismatched input.
    """
    if len(_keys) == 0 or len(_keys) != len(_key_points):
        return False
    if _pop and (len(_keys) != 1 or _message != _keys[0]):
        return False
    # Faults of the compressed bytes themselves are verdicts (False); once a point with
    # those bytes exists, a wrong uncompressed point is the prover's error (revert),
    # never a verdict on the signature.
    if len(_signature) != 48 or not self._flags_ok(convert(slice(_signature, 0, 1), uint256)):
        return False
    if not self._signature_x_on_curve(_signature):
        return False
    assert self._is_signature_encoding(_signature, _signature_point), "bls: witness: the signature point does not match its compressed bytes"
    assert self._g1_on_curve(_signature_point), "bls: witness: the signature point is not on the curve"
    # Summing the keys with G2MSM (scalar 1 each) rather than G2ADD buys a subgroup
    # check of every key, as blst does when it decompresses them: torsion parts of
    # two keys could otherwise cancel in the sum.
    msm: DynArray[uint256, MSM_WORDS] = []
    for i: uint256 in range(len(_keys), bound=MAX_KEYS):
        if len(_keys[i]) != 96 or not self._flags_ok(convert(slice(_keys[i], 0, 1), uint256)):
            return False  # no key (all zeros) or a malformed one: a verdict
        assert len(_key_points[i]) == 256, "bls: witness: a key point is 256 bytes"
        words: uint256[8] = self._g2_words(_key_points[i])
        assert self._is_key_encoding(_keys[i], words), "bls: witness: a key point does not match its compressed key"
        # Every key that reaches L2 is a curve point (Rollup.deposit checks it), so an
        # off-curve point is the prover's error: revert. Off the subgroup is a verdict.
        assert self._g2_on_curve(_key_points[i]), "bls: witness: a key point is not on the curve"
        for word: uint256 in words:
            msm.append(word)
        msm.append(1)
    # abi_encode lays the words out flat after its offset and length words.
    msm_input: Bytes[MSM_WORDS * 32 + 64] = slice(abi_encode(msm), 64, len(msm) * 32)
    msm_gas: uint256 = G2MSM_GAS_PER_PAIR * (len(_keys) + 1)
    self._require_gas(msm_gas)
    ok: bool = False
    apk: Bytes[256] = b""
    ok, apk = raw_call(
        G2MSM, msm_input, max_outsize=256, gas=msm_gas, is_static_call=True, revert_on_failure=False
    )
    if not ok or len(apk) != 256:
        return False
    pairing_input: Bytes[768] = concat(
        _signature_point, NEG_G2_GENERATOR, self._hash_to_g1(_message, _pop), apk
    )
    self._require_gas(PAIRING_GAS)
    result: Bytes[32] = b""
    ok, result = raw_call(
        PAIRING_CHECK,
        pairing_input,
        max_outsize=32,
        gas=PAIRING_GAS,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(result) != 32:
        return False
    return extract32(result, 0, output_type=uint256) == 1


@external
@view
def hash_to_g1(_message: Bytes[MAX_MESSAGE], _pop: bool) -> Bytes[128]:
    """
    @notice The point `_message` hashes to (EIP-2537 encoding), under the signature
            tag or, with `_pop`, the proof-of-possession tag. For tests and
            off-chain cross-checks.
    """
    return self._hash_to_g1(_message, _pop)


@internal
@view
def _hash_to_g1(_message: Bytes[MAX_MESSAGE], _pop: bool) -> Bytes[128]:
    """
    @notice hash_to_curve (RFC 9380) into G1: expand_message_xmd to 128 bytes, two
            field elements, each mapped by MAP_FP_TO_G1, whose output already has
            its cofactor cleared; clearing is linear, so adding the two mapped
            points gives clear_cofactor(map(u0) + map(u1)), the RFC's result.
    @dev    The precompile inputs here are built by this contract and always valid,
            so a failure can only be running out of gas: it reverts.
    """
    dst: Bytes[57] = POP_DST_PRIME if _pop else SIGNATURE_DST_PRIME
    b0: bytes32 = sha256(concat(empty(bytes32), empty(bytes32), _message, XMD_LENGTH_AND_ZERO, dst))
    b1: bytes32 = sha256(concat(b0, b"\x01", dst))
    b2: bytes32 = sha256(concat(self._xor(b0, b1), b"\x02", dst))
    b3: bytes32 = sha256(concat(self._xor(b0, b2), b"\x03", dst))
    b4: bytes32 = sha256(concat(self._xor(b0, b3), b"\x04", dst))
    mapped: Bytes[256] = concat(self._map_to_g1(b1, b2), self._map_to_g1(b3, b4))
    return raw_call(G1ADD, mapped, max_outsize=128, is_static_call=True)


@internal
@view
def _map_to_g1(_hi: bytes32, _lo: bytes32) -> Bytes[128]:
    """
    @notice Reduce the 64-byte string `_hi || _lo` mod p (MODEXP with exponent 1)
            and map the field element to G1.
    """
    reduced: Bytes[48] = raw_call(
        MODEXP,
        concat(MODEXP_HEADER, _hi, _lo, b"\x01", FIELD_MODULUS),
        max_outsize=48,
        is_static_call=True,
    )
    return raw_call(MAP_FP_TO_G1, concat(empty(bytes16), reduced), max_outsize=128, is_static_call=True)


@external
@view
def key_is_curve_point(_key: Bytes[96], _key_point: Bytes[256]) -> bool:
    """
    @notice True if `_key_point` is a point on the G2 curve and the one the compressed
            `_key` names (Rollup.deposit accepts only such keys, so that a fraud proof
            can always supply a key's point).
    """
    if len(_key_point) != 256:
        return False
    if not self._is_key_encoding(_key, self._g2_words(_key_point)):
        return False
    return self._g2_on_curve(_key_point)


@internal
@view
def _g2_on_curve(_point: Bytes[256]) -> bool:
    """
    @notice G2ADD checks that its inputs are on the curve (not the subgroup).
    """
    ok: bool = False
    out: Bytes[256] = b""
    ok, out = raw_call(G2ADD, concat(_point, empty(bytes32), empty(bytes32), empty(bytes32), empty(bytes32), empty(bytes32), empty(bytes32), empty(bytes32), empty(bytes32)), max_outsize=256, is_static_call=True, revert_on_failure=False)
    return ok


@internal
@view
def _g1_on_curve(_point: Bytes[128]) -> bool:
    """
    @notice G1ADD checks that its inputs are on the curve (not the subgroup).
    """
    ok: bool = False
    out: Bytes[128] = b""
    ok, out = raw_call(G1ADD, concat(_point, empty(bytes32), empty(bytes32), empty(bytes32), empty(bytes32)), max_outsize=128, is_static_call=True, revert_on_failure=False)
    return ok


@internal
@view
def _signature_x_on_curve(_signature: Bytes[48]) -> bool:
    """
    @notice True if some point of y^2 = x^3 + 4 has the signature's x: x < p and
            x^3 + 4 is a square mod p (Euler's criterion, with MODEXP).
    """
    x_hi: uint256 = (extract32(_signature, 0, output_type=uint256) >> 128) & X_HI_MASK
    x_lo: uint256 = extract32(_signature, 16, output_type=uint256)
    if x_hi > P_HI or (x_hi == P_HI and x_lo >= P_LO):
        return False
    x: Bytes[48] = concat(slice(convert(x_hi, bytes32), 16, 16), convert(x_lo, bytes32))
    cube: Bytes[48] = self._modexp(x, x"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003")
    t_hi: uint256 = extract32(concat(empty(bytes16), cube), 0, output_type=uint256)
    t_lo: uint256 = extract32(cube, 16, output_type=uint256)
    # t = x^3 + 4 mod p (x^3 mod p < p, so one subtraction of p at most).
    if t_lo > max_value(uint256) - 4:
        t_hi += 1
        t_lo = unsafe_add(t_lo, 4)
    else:
        t_lo += 4
    if t_hi > P_HI or (t_hi == P_HI and t_lo >= P_LO):
        if t_lo < P_LO:
            t_hi -= 1
        t_lo = unsafe_sub(t_lo, P_LO)
        t_hi -= P_HI
    t: Bytes[48] = concat(slice(convert(t_hi, bytes32), 16, 16), convert(t_lo, bytes32))
    symbol: Bytes[48] = self._modexp(t, EULER_EXPONENT)
    # 1: a non-zero square; 0: t = 0 (y = 0); p - 1: not a square.
    return extract32(symbol, 16, output_type=uint256) <= 1 and extract32(concat(empty(bytes16), symbol), 0, output_type=uint256) == 0


@internal
@view
def _modexp(_base: Bytes[48], _exponent: Bytes[48]) -> Bytes[48]:
    """
    @notice `_base ** _exponent mod p` with the MODEXP precompile (48-byte operands).
    """
    return raw_call(MODEXP, concat(MODEXP_HEADER_48, _base, _exponent, FIELD_MODULUS), max_outsize=48, is_static_call=True)


@internal
@view
def _require_gas(_call_gas: uint256):
    """
    @notice Revert unless a call given `_call_gas` gets all of it (see CALL_GAS_MARGIN).
    """
    assert msg.gas >= _call_gas + _call_gas // 63 + CALL_GAS_MARGIN, "bls: out of gas"


@internal
@pure
def _is_signature_encoding(_signature: Bytes[48], _point: Bytes[128]) -> bool:
    """
    @notice True if `_point` is the G1 point the compressed `_signature` names:
            compressed, not infinity, same x, same sign of y. Whether it lies on
            the curve and in the subgroup the pairing precompile checks.
    """
    if len(_signature) != 48 or len(_point) != 128:
        return False
    x_hi: uint256 = extract32(_signature, 0, output_type=uint256) >> 128
    x_lo: uint256 = extract32(_signature, 16, output_type=uint256)
    y_hi: uint256 = extract32(_point, 64, output_type=uint256)
    y_lo: uint256 = extract32(_point, 96, output_type=uint256)
    if not self._flags_match(x_hi >> 125, y_hi, y_lo):
        return False
    if extract32(_point, 0, output_type=uint256) != x_hi & X_HI_MASK:
        return False
    return extract32(_point, 32, output_type=uint256) == x_lo


@internal
@pure
def _g2_words(_point: Bytes[256]) -> uint256[8]:
    """
    @notice The eight words of a 256-byte G2 point: x.c0, x.c1, y.c0, y.c1, each
            as a high word (16 bytes of padding, 16 of value) and a low word.
    """
    words: uint256[8] = empty(uint256[8])
    for i: uint256 in range(8):
        words[i] = extract32(_point, i * 32, output_type=uint256)
    return words


@internal
@pure
def _is_key_encoding(_key: Bytes[96], _words: uint256[8]) -> bool:
    """
    @notice True if the G2 point in `_words` is the one the compressed `_key` names:
            compressed, not infinity, same x, same sign of y. The compressed form
            puts x.c1 (with the flags) before x.c0.
    """
    if len(_key) != 96:
        return False
    c1_hi: uint256 = extract32(_key, 0, output_type=uint256) >> 128
    # y's sign is y.c1's, or y.c0's when y.c1 is zero (zcash's lexicographic order).
    y_hi: uint256 = _words[6]
    y_lo: uint256 = _words[7]
    if y_hi == 0 and y_lo == 0:
        y_hi = _words[4]
        y_lo = _words[5]
    if not self._flags_match(c1_hi >> 125, y_hi, y_lo):
        return False
    if _words[0] != extract32(_key, 48, output_type=uint256) >> 128:
        return False
    if _words[1] != extract32(_key, 64, output_type=uint256):
        return False
    if _words[2] != c1_hi & X_HI_MASK:
        return False
    return _words[3] == extract32(_key, 16, output_type=uint256)


@internal
@pure
def _flags_ok(_first_byte: uint256) -> bool:
    """
    @notice The first byte of a compressed point says "compressed" and "finite".
    """
    flags: uint256 = _first_byte >> 5
    return flags & FLAG_COMPRESSED != 0 and flags & FLAG_INFINITY == 0


@internal
@pure
def _flags_match(_flags: uint256, _y_hi: uint256, _y_lo: uint256) -> bool:
    """
    @notice True if the three flag bits say "compressed, finite" and their sign bit
            matches y (given as the coordinate deciding the sign). A zero y is
            refused: it is the EIP-2537 infinity, or a point of order two, which no
            valid key or signature is.
    """
    if _flags & FLAG_COMPRESSED == 0 or _flags & FLAG_INFINITY != 0:
        return False
    if _y_hi == 0 and _y_lo == 0:
        return False
    larger: bool = _y_hi > HALF_HI or (_y_hi == HALF_HI and _y_lo > HALF_LO)
    return larger == (_flags & FLAG_Y_LARGER != 0)


@internal
@pure
def _xor(_a: bytes32, _b: bytes32) -> bytes32:
    """
    @notice Bytewise xor, for expand_message_xmd's chaining.
    """
    return convert(convert(_a, uint256) ^ convert(_b, uint256), bytes32)
