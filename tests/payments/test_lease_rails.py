"""The market reaches a channel design only through ``l2gpu.designs.lease_rail``."""

from __future__ import annotations

import pytest

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.designs import DESIGNS, LEASE_RAILS, RailParts, lease_rail

KEY = PrivateKey((7).to_bytes(32, "big"))


def test_every_lease_rail_belongs_to_a_design() -> None:
    assert set(LEASE_RAILS) <= set(DESIGNS)


def test_a_design_without_a_channel_is_refused_with_what_to_do() -> None:
    with pytest.raises(L2gpuError) as caught:
        lease_rail("rollup", RailParts(node_url="http://127.0.0.1:9", key=KEY))
    assert "channel-l1, hybrid" in caught.value.fix


@pytest.mark.parametrize(
    ("settlement", "parts", "needs"),
    [
        ("hybrid", RailParts(key=KEY), "--node"),
        ("hybrid", RailParts(node_url="http://127.0.0.1:9"), "signing key"),
        ("channel-l1", RailParts(key=KEY), "--manager"),
    ],
)
def test_a_rail_missing_its_parts_says_which(settlement: str, parts: RailParts, needs: str) -> None:
    with pytest.raises(L2gpuError) as caught:
        lease_rail(settlement, parts)
    assert needs in caught.value.fix


def test_the_settlement_setting_chooses_the_design_where_it_was_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from l2gpu.cli.lease_rails import rail_design
    from l2gpu.config import load_settings

    assert rail_design(load_settings(), "http://127.0.0.1:9") == "hybrid"  # inferred
    assert rail_design(load_settings(), None) == "channel-l1"
    monkeypatch.setenv("L2GPU_SETTLEMENT", "channel-l1")
    assert rail_design(load_settings(), "http://127.0.0.1:9") == "channel-l1"  # the setting
