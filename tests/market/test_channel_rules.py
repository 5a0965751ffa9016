"""A lease's channel: the description's wire format and its errors, and the rules that
decide whether a channel can pay for a lease (core/market/settlement.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2gpu.core.channel import ChannelParams
from l2gpu.core.errors import InvalidValue, L2gpuError
from l2gpu.core.market import lease as lm
from l2gpu.core.market.settlement import (
    ChannelDescription,
    check_lease_channel,
    describe_channel,
    funding_problem,
    rail_problem,
    reuse_problem,
)
from l2gpu.core.types import Address, LeaseId, OfferId, Seconds, Timestamp, Wei
from tests.market.helpers import CHAIN, PROVIDER, RENTER, T0, terms

MANAGER = Address(b"\x44" * 20)


def _lease() -> lm.Lease:
    return lm.open_lease(LeaseId(1), OfferId(1), terms(), RENTER.address, Seconds(600), T0)


def _channel(deposit: int) -> ChannelDescription:
    params = ChannelParams(RENTER.address, PROVIDER.address, salt=b"\x07" * 32)
    return describe_channel(params, deposit, CHAIN, MANAGER, "hybrid")


def test_the_wire_format_is_the_one_the_rails_wrote() -> None:
    described = _channel(10**18)
    wire = described.to_json()
    assert list(wire) == ["settlement", "channel_id", "chain_id", "manager", "renter",
                          "provider", "token", "challenge_period", "salt", "deposit"]  # fmt: skip
    assert wire["deposit"] == str(10**18)
    assert wire["channel_id"] == str(described.params.id)
    assert ChannelDescription.from_json(wire) == described
    older = {k: v for k, v in wire.items() if k not in ("settlement", "channel_id", "token")}
    assert ChannelDescription.from_json(older).settlement == "channel-l1"


def test_a_malformed_description_names_the_field_and_what_to_do() -> None:
    wire = _channel(1).to_json()
    with pytest.raises(InvalidValue, match="it has no 'salt'") as missing:
        ChannelDescription.from_json({k: v for k, v in wire.items() if k != "salt"})
    assert "l2gpu rent" in missing.value.fix
    with pytest.raises(InvalidValue, match="channel deposit"):
        ChannelDescription.from_json(dict(wire, deposit="-1"))
    with pytest.raises(InvalidValue, match="not the hash of the channel's terms"):
        ChannelDescription.from_json(dict(wire, salt="0x" + "08" * 32))
    with pytest.raises(InvalidValue, match="not a JSON object"):
        ChannelDescription.from_json([wire])


def test_the_market_refuses_a_channel_that_cannot_pay_for_the_lease() -> None:
    lease = _lease()
    assert check_lease_channel(_channel(lease.max_cost), lease) == _channel(lease.max_cost)
    with pytest.raises(L2gpuError, match="below the lease's maximum cost"):
        check_lease_channel(_channel(lease.max_cost - 1), lease)
    backwards = replace(_lease(), renter=PROVIDER.address, provider=RENTER.address)
    with pytest.raises(L2gpuError, match="not from you to the offer's provider"):
        check_lease_channel(_channel(lease.max_cost), backwards)
    unknown = replace(_channel(lease.max_cost), settlement="sharded")
    with pytest.raises(L2gpuError, match="'sharded' is not one the market knows"):
        check_lease_channel(unknown, lease)


def test_a_rail_funding_and_reuse_each_say_why() -> None:
    described = _channel(100)
    assert rail_problem(described, "hybrid", CHAIN, MANAGER, "in the rollup") is None
    assert "settles over channel-l1" in str(
        rail_problem(described, "channel-l1", CHAIN, MANAGER, "on L1")
    )
    assert "on chain 1" in str(rail_problem(described, "hybrid", 1, MANAGER, "in the rollup"))
    assert funding_problem(100, Timestamp(T0 + 600), Wei(100), T0 + 600) is None
    assert "less than the lease's 101" in str(funding_problem(100, T0 + 600, 101, T0 + 600))
    assert "expires before" in str(funding_problem(100, T0 + 599, 100, T0 + 600))
    assert reuse_problem(described.channel_id) is None
    assert "already pays for lease 7" in str(reuse_problem(described.channel_id, pays_for=7))
    assert "another lease" in str(reuse_problem(described.channel_id, in_use=True))
