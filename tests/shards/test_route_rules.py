"""The hub's pure rules: what it forwards for what it received, which routes it takes,
and the market's check of a routed channel's attestation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.channel import ChannelParams
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription, RoutedFor
from l2gpu.core.market.settlement import parties_problem
from l2gpu.core.shards.hop import fee_on, forwardable_of, renter_owes
from l2gpu.core.shards.route import InboundSeen, RouteRequest, route_problem, sign_routed_for
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Hash32, Seconds, Wei
from l2gpu.hub.journal import Journal

HUB, RENTER, OTHER = (PrivateKey((n).to_bytes(32, "big")) for n in (11, 12, 13))
PROVIDER = Address(b"\x0b" * 20)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**30), st.integers(0, 100_000))
def test_the_hub_forwards_the_most_the_renter_covers(received: int, fee_ppm: int) -> None:
    onward = forwardable_of(received, fee_ppm)
    assert onward + fee_on(onward, fee_ppm) <= received  # covered, fee included
    assert (onward + 1) + fee_on(onward + 1, fee_ppm) > received  # and no more is
    assert forwardable_of(renter_owes(onward, fee_ppm), fee_ppm) == onward


def seen(**changes: object) -> InboundSeen:
    base = InboundSeen(RENTER.address, HUB.address, "open", 10**18, 10**6, 3600, 0)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_hub_takes_only_routes_it_cannot_lose_on() -> None:
    request = RouteRequest(Hash32(b"\x01" * 32), PROVIDER, 10**15, 600)

    def problem(signer: Address | None = RENTER.address, shard: int = 1, **changes: object
                ) -> str | None:  # fmt: skip
        return route_problem(request, signer, seen(**changes), hub=HUB.address,
                             provider_shard=shard, needed=10**15, now=1000,
                             min_challenge=3600)  # fmt: skip

    assert problem() is None
    assert "not signed by the renter" in str(problem(signer=OTHER.address))
    assert "not signed by the renter" in str(problem(signer=None))
    assert "does not pay this hub" in str(problem(payee=OTHER.address))
    assert "one shard" in str(problem(shard=0))
    assert "pending, not open" in str(problem(status="pending"))
    assert "closing, not open" in str(problem(status="closing"))
    assert "holds" in str(problem(deposit=10**15 - 1))
    assert "expires" in str(problem(expires_at=1000 + 600 + 3600 - 1))
    assert problem(expires_at=1000 + 600 + 3600) is None
    # a challenge period too short for the hub to answer a close (the renter would
    # settle its channel before the hub claims, then the provider closes on the hub)
    assert "shorter than the 3600 s" in str(problem(challenge_period=2))


def routed_channel(renter: Address, signature: bytes | None = None) -> ChannelDescription:
    params = ChannelParams(HUB.address, PROVIDER, ZERO_ADDRESS, Seconds(3600), b"\x05" * 32)
    channel = ChannelDescription("hybrid", ChainId(7), Address(b"\x0c" * 20), params, Wei(10**15))
    sig = signature or sign_routed_for(HUB, 7, channel.channel_id, renter)
    return replace(channel, routed=RoutedFor(renter, sig))


def test_the_market_takes_a_routed_channel_only_for_the_renter_the_hub_named() -> None:
    channel = routed_channel(RENTER.address)
    assert parties_problem(channel, RENTER.address, PROVIDER) is None
    # Another renter presenting it, or naming itself without the hub's signature:
    assert parties_problem(channel, OTHER.address, PROVIDER) is not None
    forged = replace(channel, routed=RoutedFor(OTHER.address, channel.routed.signature))  # type: ignore[union-attr]
    assert "not signed by the hub" in str(parties_problem(forged, OTHER.address, PROVIDER))
    self_signed = routed_channel(OTHER.address, sign_routed_for(OTHER, 7, channel.channel_id,
                                                                OTHER.address))  # fmt: skip
    assert "not signed by the hub" in str(parties_problem(self_signed, OTHER.address, PROVIDER))
    garbage = routed_channel(RENTER.address, b"\x00" * 65)
    assert "not signed by the hub" in str(parties_problem(garbage, RENTER.address, PROVIDER))
    # The description travels as JSON and back with its routed part.
    again = ChannelDescription.from_json(channel.to_json())
    assert again == channel


def test_a_damaged_journal_stops_the_hub_and_a_torn_tail_is_cut(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    for n in range(3):
        journal.append({"n": n})
    with journal.path.open("ab") as f:
        f.write(b'{"n": 3')  # torn by a crash
    assert journal.replay() == [{"n": 0}, {"n": 1}, {"n": 2}]
    journal.append({"n": 4})
    assert journal.replay()[-1] == {"n": 4}
    lines = journal.path.read_bytes().splitlines(keepends=True)
    journal.path.write_bytes(lines[0] + b"garbage\n" + b"".join(lines[1:]))
    with pytest.raises(L2gpuError, match="damaged at line 2"):
        journal.replay()
    assert len(journal.path.read_bytes().splitlines()) == 5  # nothing was cut
    journal.rewrite([{"n": 9}])
    assert journal.replay() == [{"n": 9}]
