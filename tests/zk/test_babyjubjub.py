"""Baby Jubjub's arithmetic against circomlib's BabyAdd and BabyPbk circuits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import babyjubjub as bjj
from l2gpu.core.errors import InvalidValue
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain, calculate_witness

Build = Callable[[str, str, str], CompiledCircuit]
SCALARS = st.integers(min_value=0, max_value=bjj.SUBGROUP_ORDER - 1)
POINTS = SCALARS.map(lambda k: bjj.scalar_mul(bjj.BASE8, k))

# circomlib's test/babyjub.js: a point, its double, and its sum with another point.
P1 = bjj.Point(
    17777552123799933955779906779655732241715742912184938656739573121738514868268,
    2626589144620713026669568689430873010625803728049924121243784502389097019475,
)
P2 = bjj.Point(
    16540640123574156134436876038791482806971768689494387082833631921987005038935,
    20819045374670962167435360035096875258406992893633759881276124905556507972311,
)
P1_DOUBLE = bjj.Point(
    6890855772600357754907169075114257697580319025794532037257385534741338397365,
    4338620300185947561074059802482547481416142213883829469920100239455078257889,
)
P1_PLUS_P2 = bjj.Point(
    7916061937171219682591368294088513039687205273691143098332585753343424131937,
    14035240266687799601661095864649209771790948434046947201833777492504781204499,
)


def test_constants_are_consistent() -> None:
    assert bjj.is_on_curve(bjj.GENERATOR)
    assert bjj.scalar_mul(bjj.GENERATOR, 8) == bjj.BASE8
    assert bjj.scalar_mul(bjj.BASE8, bjj.SUBGROUP_ORDER) == bjj.IDENTITY
    assert bjj.scalar_mul(bjj.GENERATOR, bjj.ORDER) == bjj.IDENTITY
    assert bjj.scalar_mul(bjj.GENERATOR, bjj.SUBGROUP_ORDER) != bjj.IDENTITY
    assert bjj.ORDER == 8 * bjj.SUBGROUP_ORDER


def test_circomlib_addition_vectors() -> None:
    assert bjj.add(P1, P1) == P1_DOUBLE == bjj.scalar_mul(P1, 2)
    assert bjj.add(P1, P2) == P1_PLUS_P2
    assert bjj.add(bjj.IDENTITY, bjj.IDENTITY) == bjj.IDENTITY


def test_addition_matches_babyadd(circomlib_circuit: Build, toolchain: Toolchain) -> None:
    circuit = circomlib_circuit("babyadd", "babyjub.circom", "BabyAdd()")

    @settings(max_examples=8, deadline=None)
    @given(POINTS, POINTS)
    def check(p: bjj.Point, q: bjj.Point) -> None:
        w = calculate_witness(
            circuit, {"x1": p.x, "y1": p.y, "x2": q.x, "y2": q.y}, toolchain=toolchain
        )
        assert bjj.add(p, q) == bjj.Point(w["main.xout"], w["main.yout"])

    check()


def test_fixed_base_multiplication_matches_babypbk(
    circomlib_circuit: Build, toolchain: Toolchain
) -> None:
    circuit = circomlib_circuit("babypbk", "babyjub.circom", "BabyPbk()")

    @settings(max_examples=8, deadline=None)
    @given(st.integers(min_value=0, max_value=2**253 - 1))
    def check(scalar: int) -> None:
        w = calculate_witness(circuit, {"in": scalar}, toolchain=toolchain)
        assert bjj.scalar_mul(bjj.BASE8, scalar) == bjj.Point(w["main.Ax"], w["main.Ay"])

    check()


@settings(max_examples=20, deadline=None)
@given(POINTS, st.integers(min_value=0, max_value=40))
def test_scalar_mul_is_repeated_addition(point: bjj.Point, k: int) -> None:
    total = bjj.IDENTITY
    for _ in range(k):
        total = bjj.add(total, point)
    assert bjj.scalar_mul(point, k) == total


@settings(max_examples=30, deadline=None)
@given(SCALARS, st.integers(min_value=0, max_value=7))
def test_pack_round_trips(k: int, torsion: int) -> None:
    """Points of the whole group, both signs of x."""
    point = bjj.scalar_mul(bjj.GENERATOR, 8 * k + torsion)
    for p in (point, bjj.negate(point)):
        assert bjj.is_on_curve(p)
        assert bjj.unpack(bjj.pack(p)) == p


def test_circomlib_pack_vector() -> None:
    packed = bytes.fromhex("53b81ed5bffe9545b54016234682e7b2f699bd42a5e9eae27ff4051bc698ce85")
    assert bjj.pack(P1) == packed
    assert bjj.unpack(packed) == P1


def _y_without_point() -> int:
    """The smallest y for which no x satisfies the curve equation."""
    y = 2
    while True:
        x2 = (1 - y * y) * pow(bjj.A - bjj.D * y * y, -1, bjj.P) % bjj.P
        if pow(x2, (bjj.P - 1) // 2, bjj.P) not in (0, 1):
            return y
        y += 1


@pytest.mark.parametrize(
    "packed",
    [
        bytes(31),  # too short
        bjj.P.to_bytes(32, "little"),  # y = P: circomlibjs reads it as 0, we refuse
        _y_without_point().to_bytes(32, "little"),  # no point has this y
        b"\x01" + bytes(30) + b"\x80",  # the identity (x = 0) with a sign bit
    ],
)
def test_unpack_refuses_non_points(packed: bytes) -> None:
    with pytest.raises(InvalidValue):
        bjj.unpack(packed)


def test_small_order_points() -> None:
    two_torsion = bjj.Point(0, bjj.P - 1)
    assert bjj.is_on_curve(two_torsion)
    assert bjj.has_small_order(two_torsion)
    assert bjj.has_small_order(bjj.IDENTITY)
    assert not bjj.has_small_order(bjj.BASE8)
    assert bjj.is_in_subgroup(bjj.BASE8)
    assert not bjj.is_in_subgroup(bjj.GENERATOR)
