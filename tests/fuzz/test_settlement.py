"""Fuzzing a lease's channel description (JSON from the renter, read back by the agent):
``ChannelDescription.from_json`` names what is wrong with InvalidValue, ``terms_problem``
answers with a reason and ``check_description`` with an L2gpuError."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.channel import ChannelParams
from l2gpu.core.errors import InvalidValue, L2gpuError
from l2gpu.core.market.settlement import (
    ChannelDescription,
    check_description,
    describe_channel,
    terms_problem,
)
from l2gpu.core.types import ZERO_ADDRESS, Address, Seconds
from tests.fuzz.support import edges, fuzz, mutated_text, outcome, texts

RENTER, PROVIDER = Address(b"\x11" * 20), Address(b"\x22" * 20)
GOOD = describe_channel(
    ChannelParams(RENTER, PROVIDER, challenge_period=Seconds(3600), salt=b"\x07" * 32),
    10**18,
    5,
    Address(b"\x44" * 20),
    "hybrid",
).to_json()

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    edges(256),
    st.floats(),
    texts(30),
    st.sampled_from(["", "0x", "0x" + "00" * 31, "0x" + "0" * 63, "\u0661\u0662", "Infinity"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(texts(8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def descriptions(draw: st.DrawFn) -> Any:
    """The good description with some fields replaced, removed or mutated; or any JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    data = dict(GOOD)
    for key in draw(st.lists(st.sampled_from(sorted(GOOD)), max_size=3, unique=True)):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            del data[key]
        elif choice == 1:
            data[key] = draw(json_values)
        else:
            data[key] = draw(mutated_text(str(data[key])))
    return data


@fuzz(400)
@given(descriptions())
def test_channel_descriptions_of_any_json(description: Any) -> None:
    parsed = outcome(InvalidValue, ChannelDescription.from_json, description)
    if not isinstance(parsed, ChannelDescription):
        return
    params = parsed.params
    assert len(params.salt) == 32
    assert 0 <= params.challenge_period < 2**256
    assert ChannelDescription.from_json(parsed.to_json()) == parsed  # the wire round-trips
    problem = terms_problem(parsed)  # a reason, never an exception
    assert problem is None or isinstance(problem, str)
    settlement = outcome(L2gpuError, check_description, parsed)
    assert isinstance(settlement, L2gpuError) or settlement in ("channel-l1", "hybrid")


@fuzz(200)
@given(
    st.binary(min_size=20, max_size=20).map(Address),
    st.binary(min_size=20, max_size=20).map(Address),
    st.one_of(st.just(ZERO_ADDRESS), st.binary(min_size=20, max_size=20).map(Address)),
    edges(64, signed_too=False).filter(lambda p: p < 2**64),
    st.binary(min_size=32, max_size=32),
)
def test_descriptions_round_trip(
    renter: Address, provider: Address, token: Address, period: int, salt: bytes
) -> None:
    params = ChannelParams(renter, provider, token, Seconds(period), salt)
    described = describe_channel(params, 7, 5, RENTER, "hybrid")
    assert ChannelDescription.from_json(described.to_json()) == described
