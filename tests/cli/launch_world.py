"""``rent`` and ``launch`` run in process against the agent tests' world (a market, one
agent with two declared RTX 4090s), on its simulated clock.

What a real CLI needs outside the market is replaced, each piece named as a fake:
:class:`FakeRail` opens channels that only the market's checks see (no chain, no node)
and records what the renter paid and got back; the paying loop's one-second sleep is
one simulated second in which the agent works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from l2gpu.core.designs import OpenedChannel
from l2gpu.core.market.settlement import ChannelDescription
from l2gpu.core.types import Address, Wei
from tests.agent.test_agent import World
from tests.api.helpers import described
from tests.market.helpers import RENTER


@dataclass
class FakeRail:
    """A rail for tests: a channel is only its signed description; ``closed`` is what
    the provider was paid at each close, ``refunds`` what came back to the renter."""

    settlement: str = "fake"
    opened: list[OpenedChannel] = field(default_factory=list)
    closed: list[Wei] = field(default_factory=list)
    refunds: list[Wei] = field(default_factory=list)

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """A channel of ``deposit`` to ``provider`` (a description the market accepts)."""
        channel = described(RENTER, provider, deposit, len(self.opened) + 1)
        opened = OpenedChannel(channel.params, channel.deposit, channel, 0, 0)
        self.opened.append(opened)
        return opened

    def cosign_close(self, channel: ChannelDescription, paid: Wei) -> str:
        """The provider's close of ``paid``: the rest of the deposit is refunded."""
        self.closed.append(paid)
        self.refunds.append(Wei(channel.deposit - paid))
        return "settled"

    def confirmed(self, channel_id: object) -> str:
        """Every channel of this rail exists."""
        return "open"


def install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[World, FakeRail]:
    """A world whose market, agent and clock the CLI's ``rent`` and ``launch`` use."""
    world = World(tmp_path)
    rail = FakeRail()

    def one_second(_: float) -> None:
        world.clock.advance(1)
        world.agent.step()

    monkeypatch.setenv("L2GPU_PRIVATE_KEY", "0x" + RENTER.secret.hex())
    monkeypatch.setenv("L2GPU_DATA_DIR", str(tmp_path / "renter"))
    monkeypatch.setattr("l2gpu.cli.market_cmd._client", lambda *_, **__: world.renter)
    monkeypatch.setattr("l2gpu.cli.renting.now", world.clock)
    monkeypatch.setattr("l2gpu.cli.launch_cmd.now", world.clock)
    monkeypatch.setattr("l2gpu.cli.market_cmd.now", world.clock)
    monkeypatch.setattr("l2gpu.cli.renting.time", SimpleNamespace(sleep=one_second))
    for name in ("_check_rail_options", "_settle_earlier_closes", "_settle_credit"):
        monkeypatch.setattr(f"l2gpu.cli.lease_rails.{name}", lambda *_, **__: None)
    monkeypatch.setattr("l2gpu.cli.lease_rails._rail_node", lambda *_: None)
    monkeypatch.setattr("l2gpu.cli.lease_rails._rail", lambda *_, **__: rail)
    return world, rail
