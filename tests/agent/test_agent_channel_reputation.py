"""The agent checks a lease's channel on its rail before accepting it, and tells the
market that it did: leases on made-up channels fail without touching the provider's
record, while a lease on a real channel counts, failures included."""

from __future__ import annotations

from pathlib import Path

from l2gpu.agent.agent import ProviderAgent
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.inventory import discover
from l2gpu.client import MarketClient
from l2gpu.core.channel.vouchers import channel_domain
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.types import Wei
from l2gpu.db import open_database
from l2gpu.payments.store import VoucherStore
from tests.api.helpers import MANAGER, channel, described, market
from tests.market.helpers import CHAIN, PROVIDER, RENTER, T0

PRICE = Wei(10**12)


class KnownChannels:
    """A rail that knows only the channels a test opened on it."""

    settlement = "channel-l1"

    def __init__(self) -> None:
        self.opened: set[str] = set()
        self.checked: list[str] = []

    @property
    def domain(self) -> Eip712Domain:
        """The vouchers' domain."""
        return channel_domain(CHAIN, MANAGER)

    def now(self) -> int:
        """The rail's clock."""
        return T0

    def check(self, described: ChannelDescription, *, max_cost: int, ends_by: int) -> str | None:
        """None for an opened channel; why not otherwise."""
        self.checked.append(str(described.channel_id))
        if str(described.channel_id) in self.opened:
            return None
        return f"no channel {described.channel_id} on the rail"

    def status(self, described: ChannelDescription) -> str:
        """Opened channels stay open."""
        return "open" if str(described.channel_id) in self.opened else "missing"


def test_made_up_channels_do_not_lower_the_providers_reliability(tmp_path: Path) -> None:
    http, _service, clock = market((f"sqlite:///{tmp_path / 'm.db'}", None))
    rail = KnownChannels()
    agent = ProviderAgent(
        MarketClient("", PROVIDER, http=http),
        PROVIDER,
        LocalBackend(tmp_path / "jobs"),
        discover("RTX_4090:2"),
        VoucherStore(open_database(f"sqlite:///{tmp_path / 'agent.db'}")),
        clock,
        CHAIN,
        rail=rail,  # type: ignore[arg-type]
    )
    offer = agent.publish(agent.offer_terms(PRICE, expires_at=T0 + 3600))[0]
    renter = MarketClient("", RENTER, http=http)
    for _ in range(3):
        lease = renter.rent(
            offer.id,
            command="true",
            duration=600,
            channel=described(RENTER, PROVIDER.address, 10**18),
        )
        agent.step()
        failed = renter.lease(lease.id)
        assert failed.status is LeaseStatus.FAILED
        assert "no channel" in failed.reason
        assert failed.channel_verified is False
    record = renter.providers()[0]
    assert (record.leases, record.failed_starts, record.reliability) == (0, 0, 1.0)
    # A real channel: the agent accepts the lease as verified, so its failure counts.
    real = channel(RENTER, PROVIDER.address, 10**18)
    rail.opened.add(real["channel_id"])
    lease = renter.rent(
        offer.id,
        command="no_such_command_l2gpu",
        duration=600,
        channel=ChannelDescription.from_json(real),
    )
    agent.step()
    failed = renter.lease(lease.id)
    assert failed.status is LeaseStatus.FAILED
    assert failed.channel_verified is True
    record = renter.providers()[0]
    assert (record.leases, record.failed_starts) == (1, 1)
    assert len(rail.checked) == 4
