"""The zk rail as the market's parties use it, over a zk node's HTTP API: the renter
opens, the provider's agent and the market check the channel against the ledger,
vouchers verify under the renter's EdDSA key, the provider closes with the best one.

The node is the real node, log and API over the in-memory rollup and placeholder
prover of test_zk_node_channels (no circuit, no chain), sealing on its own thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from l2gpu.core.channel.vouchers import sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import ChannelAlreadyClosed
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription, voucher_domain
from l2gpu.core.types import Address, Wei
from l2gpu.core.zk.keys import zk_private_key, zk_public_key
from l2gpu.core.zk.pubdata import DepositSlot
from l2gpu.designs import RailParts, lease_rail
from l2gpu.l1.contracts.zk_rollup import QueuedDeposit
from l2gpu.node.zk.api import create_zk_app
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.service import ZkSealer
from l2gpu.payments.channel_check import ChannelCheck
from l2gpu.payments.zk_rail import ZkChannelRail
from l2gpu.serving.loopback import serve_on_loopback
from tests.zk.test_zk_node_channels import ETH, T0, FakeRollup, World

OPERATOR, RENTER, PROVIDER, STRANGER = (PrivateKey(bytes([i]) * 32) for i in (11, 12, 13, 14))
HOUR = 3600
# the deployment the in-memory rollup reports (its chain id and address): keys are per deployment
DEPLOYMENT = (31337, Address(bytes(20)))


class AddressedRollup(FakeRollup):
    """The in-memory rollup, with accounts keyed by L1 address as ZkRollup keeps them."""

    def join(self, key: PrivateKey, amount: int) -> None:
        ax, ay = zk_public_key(zk_private_key(key, *DEPLOYMENT))
        index = len(self.queue) + 1
        slot = DepositSlot(index, ax, ay, bytes(key.address), amount)
        self.queue.append(QueuedDeposit(len(self.queue), slot))

    def account_index(self, owner: str) -> int:
        for queued in self.queue:
            if "0x" + queued.slot.eth_address.hex() == owner.lower():
                return queued.slot.index
        return 0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ZkNode, str]]:
    world = World(tmp_path)
    world.rollup = AddressedRollup(world.clock)
    for key in (OPERATOR, RENTER, PROVIDER):  # the operator's is the fee account, 1
        world.rollup.join(key, ETH)
    node = world.node()
    node.seal()
    sealer = ZkSealer(node, interval=0.05, poll=0.02)
    node.start(poll_seconds=0.02)  # "proves" (a placeholder) and "posts" in the background
    sealer.start()
    server, url = serve_on_loopback(create_zk_app(node), "zk node API")
    try:
        yield node, url
    finally:
        sealer.stop.set()
        node.stop()
        server.should_exit = True


def rail(url: str, key: PrivateKey) -> ZkChannelRail:
    made = lease_rail("zk", RailParts(node_url=url, key=key, clock=lambda: T0,
                                      options=(("wait", 30.0),)))  # fmt: skip
    assert isinstance(made, ZkChannelRail)
    return made


def test_a_lease_opens_pays_and_closes_over_the_zk_rail(served: tuple[ZkNode, str]) -> None:
    node, url = served
    renter, provider = rail(url, RENTER), rail(url, PROVIDER)
    opened = renter.open(PROVIDER.address, Wei(4 * 10**17), lifetime=HOUR)
    channel = ChannelDescription.from_json(opened.description.to_json())  # as the market keeps it
    assert channel.settlement == "zk"
    assert channel.zk is not None
    assert opened.tx_bytes == 29
    # The agent and the market read it against the ledger, pending or open.
    assert provider.check(channel, max_cost=4 * 10**17, ends_by=T0 + HOUR) is None
    assert ChannelCheck(node_url=url)(channel, max_cost=4 * 10**17, ends_by=T0 + HOUR) is None
    assert renter.confirmed(channel.channel_id) == "open"
    # Vouchers every second under the renter's zk key; the provider closes with the best.
    domain = voucher_domain(channel)
    best = None
    for second in range(1, 6):
        best = sign_voucher(RENTER, domain, channel.channel_id, Wei(second * 10**16))
        assert best.signer(domain) == RENTER.address
    assert best is not None
    closed = provider.close(channel, best)
    assert (closed.provider_payout, closed.renter_payout) == (5 * 10**16, 35 * 10**16)
    assert closed.tx_bytes == 19
    state = node.sequencer.state
    assert state.account(3).balance == ETH + 5 * 10**16  # type: ignore[union-attr]
    assert state.account(2).balance == ETH - 5 * 10**16  # type: ignore[union-attr]
    assert renter.status(channel) == provider.status(channel) == "settled"
    assert renter.cosign_close(channel, Wei(5 * 10**16)) == "settled"
    with pytest.raises(ChannelAlreadyClosed):
        provider.close(channel, best)


def test_the_check_refuses_what_the_ledger_does_not_hold(served: tuple[ZkNode, str]) -> None:
    _, url = served
    renter, provider = rail(url, RENTER), rail(url, PROVIDER)
    channel = renter.open(PROVIDER.address, Wei(10**17), lifetime=HOUR).description
    assert channel.zk is not None
    # Too little, or not long enough for the lease (an hour is kept for the close).
    assert "less than" in str(provider.check(channel, max_cost=10**17 + 1, ends_by=T0 + HOUR))
    assert "expires" in str(provider.check(channel, max_cost=1, ends_by=T0 + HOUR + 1))
    # Descriptions that lie: another key for the renter, another slot, another payee.
    stranger_ax, stranger_ay = zk_public_key(zk_private_key(STRANGER, *DEPLOYMENT))
    for lie, words in (
        (replace(channel.zk, ax=stranger_ax, ay=stranger_ay), "another key"),
        (replace(channel.zk, channel=channel.zk.channel + 1), "another slot"),
        (replace(channel.zk, open_nonce=7), "not in the zk rollup"),
    ):
        forged = _with_name(channel, lie)
        assert words in str(provider.check(forged, max_cost=1, ends_by=T0)), words
    to_stranger = replace(channel, params=replace(channel.params, provider=STRANGER.address))
    assert "provider" in str(provider.check(to_stranger, max_cost=1, ends_by=T0))


def test_a_renter_whose_provider_is_silent_hears_when_the_deposit_returns(
    served: tuple[ZkNode, str],
) -> None:
    _, url = served
    renter = rail(url, RENTER)
    channel = renter.open(PROVIDER.address, Wei(10**17), lifetime=HOUR).description
    said = renter.abandon(channel, Wei(10**16))
    assert "the provider can close" in said
    assert "returns the whole deposit" in said
    with pytest.raises(L2gpuError, match="no account in the zk rollup"):
        renter.open(STRANGER.address, Wei(1), lifetime=HOUR)
    with pytest.raises(L2gpuError, match="below the lease's deposit"):
        renter.open(PROVIDER.address, Wei(10 * ETH), lifetime=HOUR)
    reader = ZkChannelRail(renter.client, None)
    assert reader.now() == T0  # L1's time as the node reads it, not this machine's
    with pytest.raises(L2gpuError, match="only reads"):
        reader.open(PROVIDER.address, Wei(1), lifetime=HOUR)


def _with_name(channel: ChannelDescription, name: Any) -> ChannelDescription:
    params = replace(channel.params, salt=name.salt)
    return replace(channel, params=params, zk=name)
