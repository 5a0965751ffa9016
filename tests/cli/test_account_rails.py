"""``l2gpu account show``: money locked in channels counts every rail's channels, not
only the rollup's: a rollup node's, a zk node's, a Plasma operator's lease locks and
a ChannelManager's channels on L1, each summed per rail and in all. The rails are
stand-ins (named as such below): the arithmetic and the readers are what is tested;
the zk node's listing is tested against a real node in
tests/zk/test_zk_node_channels.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from l2gpu.cli.account_cmd import Summary
from l2gpu.cli.account_summary import read_l1, read_plasma, read_zk
from l2gpu.core.channel import Channel, ChannelParams, ChannelStatus
from l2gpu.core.channel.locked import Holding, compute_locked, plasma_locked_ranges
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import ZERO_ADDRESS, Address, Seconds, Timestamp, Wei
from tests.cli.helpers import cli
from tests.cli.test_account_cli import OTHER, RENTER, channel, stand_in_node

ETH = 10**18
ME = Address.from_hex(RENTER)


def test_the_locked_sum_is_per_rail_and_in_all() -> None:
    locked = compute_locked([
        Holding("hybrid", "a", Wei(1), "open"),
        Holding("hybrid", "b", Wei(2), "settled"),
        Holding("zk", "2/0", Wei(4), "pending"),
        Holding("zk", "2/1", Wei(8), "dropped"),
        Holding("channel-l1", "0x1", Wei(16), "closing"),
    ])  # fmt: skip
    assert (locked.total, locked.channels) == (21, 3)
    assert locked.by_rail == {"hybrid": (1, 1), "zk": (4, 1), "channel-l1": (16, 1)}
    assert plasma_locked_ranges([(0, 100), (200, 300)], [(0, 40), (60, 100), (250, 300)]) == [
        (40, 60),
        (200, 250),
    ]


class StandInZkNode:
    """A stand-in zk node client: the account at index 5 and its channels."""

    def account_of(self, address: Address) -> dict[str, Any] | None:
        return {"index": 5} if address == ME else None

    def channels_of(self, renter: int) -> list[dict[str, Any]]:
        assert renter == 5
        return [
            {"renter": 5, "open_nonce": 3, "deposit": str(ETH), "status": "open"},
            {"renter": 5, "open_nonce": 2, "deposit": str(ETH), "status": "pending"},
            {"renter": 5, "open_nonce": 1, "deposit": str(9 * ETH), "status": "closed"},
        ]


class StandInPlasmaOperator:
    """A stand-in Plasma operator: coins 0-1000 held, 100-400 under two locks."""

    locks = ({"start": "100", "end": "250"}, {"start": "250", "end": "400"})

    def coins(self, owner: Address, *, free: bool = False) -> list[tuple[int, int, int]]:
        assert owner == ME
        return [(0, 100, 1), (400, 1000, 1)] if free else [(0, 1000, 1)]

    def lock_at(self, coin: int) -> dict[str, Any] | None:
        return next((k for k in self.locks if int(k["start"]) <= coin < int(k["end"])), None)


@dataclass
class StandInManager:
    """A stand-in ChannelManager: channels by their terms, as the contract keeps them."""

    channels: dict[ChannelParams, Channel] = field(default_factory=dict)

    def open(self, renter: Address, deposit: int, status: ChannelStatus, salt: int) -> None:
        params = ChannelParams(renter, Address.from_hex(OTHER), ZERO_ADDRESS, Seconds(3600),
                               salt.to_bytes(32, "big"))  # fmt: skip
        self.channels[params] = Channel(params=params, deposit=Wei(deposit),
                                        expires_at=Timestamp(0), status=status)  # fmt: skip

    def opened_by(self, renter: Address, from_block: int = 0) -> list[ChannelParams]:
        return [p for p in self.channels if p.renter == renter]

    def channel(self, params: ChannelParams) -> Channel | None:
        return self.channels.get(params)


def test_show_counts_every_rails_channels(capsys: pytest.CaptureFixture[str]) -> None:
    manager = StandInManager()
    manager.open(ME, 2 * ETH, ChannelStatus.OPEN, 1)
    manager.open(ME, 3 * ETH, ChannelStatus.CLOSING, 2)  # paid out only at settlement
    manager.open(ME, 7 * ETH, ChannelStatus.SETTLED, 3)
    manager.open(Address.from_hex(OTHER), 11 * ETH, ChannelStatus.OPEN, 4)  # not ours
    node = stand_in_node({
        f"/l2/accounts/{RENTER}": (200, {"balance": ETH, "nonce": 1, "index": 2}),
        f"/l2/accounts/{RENTER}/channels": (200, [channel(RENTER, ETH // 10, "open")]),
    })  # fmt: skip
    summary = Summary("bob", RENTER)
    summary.read_node(node)
    summary.read_rail("zk", lambda: read_zk(StandInZkNode(), ME))
    summary.read_rail("plasma", lambda: read_plasma(StandInPlasmaOperator(), ME))
    summary.read_rail("channel-l1", lambda: read_l1(manager, ME))
    assert summary.locked_by_rail() == {
        "hybrid": (ETH // 10, 1),
        "zk": (2 * ETH, 2),
        "plasma": (300, 2),
        "channel-l1": (5 * ETH, 2),
    }
    assert (summary.locked_in_channels, summary.channels) == (ETH // 10 + 7 * ETH + 300, 7)
    lines = summary.lines()
    assert "locked    7.1000000000000003 ETH in 7 channel(s)" in lines
    assert "  channel-l1  5 ETH in 2" in lines
    assert "  zk          2 ETH in 2" in lines
    shown = summary.to_json()
    assert shown["locked_by_rail"]["plasma"] == {"wei": 300, "channels": 2}
    assert json.loads(json.dumps(shown)) == shown  # integers, not floats


def test_a_rail_that_does_not_answer_leaves_a_note() -> None:
    def down() -> list[Holding]:
        raise L2gpuError("the zk node at http://zk did not answer (refused)", "start it")

    summary = Summary("bob", RENTER)
    summary.read_rail("zk", down)
    summary.read_rail("channel-l1", lambda: read_l1(StandInManager(), ME))
    assert summary.notes == ["zk channels skipped: the zk node at http://zk did not answer "
                             "(refused)"]  # fmt: skip
    assert summary.locked_by_rail() == {"channel-l1": (0, 0)}
    assert summary.locked_in_channels == 0


def test_show_on_l1_without_a_recorded_manager_says_so(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli.test_account_cli import KEY, NO_NODE

    monkeypatch.setenv("L2GPU_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("l2gpu.cli.account_summary.l1_manager", _no_manager)
    monkeypatch.setattr("l2gpu.cli.account_cmd._l1_balance", lambda *_: 5)
    code, out, err = cli(capsys, "--private-key", KEY, "account", "show", "--node", NO_NODE,
                         "--l1-rpc", "http://127.0.0.1:9", "--json")  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert (
        "channel-l1 channels skipped: no ChannelManager is recorded for chain 31337"
        in (shown["notes"])
    )


def _no_manager(rpc: str, manager: str | None, data_dir: Any) -> Any:
    raise L2gpuError("no ChannelManager is recorded for chain 31337", "pass --manager")
