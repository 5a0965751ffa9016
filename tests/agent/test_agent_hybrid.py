"""A lease paid over a channel inside the rollup (``hybrid``): the renter opens it with
an L2 transaction through a rollup node served on loopback, the agent checks it in
the node's state and closes it with the best voucher, the money moves on L2."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from l2gpu.agent.agent import ProviderAgent
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.inventory import discover
from l2gpu.client import MarketClient
from l2gpu.core.channel.vouchers import sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.types import Wei, format_wei
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.client import L2Client
from l2gpu.payments.rails import L1ChannelRail
from l2gpu.payments.rollup_rail import RollupChannelRail
from l2gpu.renter import LeasePayer
from l2gpu.scenarios.embedded_rollup import EmbeddedNode, embedded_rollup
from l2gpu.wire import ChannelPublic

from .test_agent import PRICE, World, wait_for

DEPOSIT = 10**18
HANG_GUARD_S = 600.0  # the rails give up after this: only a hung test reaches it


@dataclass
class Rollup:
    node: EmbeddedNode
    renter: PrivateKey
    provider: PrivateKey
    chain_id: int
    outsider: PrivateKey


@pytest.fixture
def rollup() -> Iterator[Rollup]:
    chain = start_embedded_chain()
    renter_l1, provider_l1, outsider_l1 = chain.accounts[1:4]
    # A slow machine must not make a signer look silent, nor a close look lost: the
    # co-signing deadline and the rails' waits are hang guards here, not timings.
    served = embedded_rollup(chain, [renter_l1, provider_l1], deposit=DEPOSIT, interval=0.05,
                             cosign_timeout=120.0)  # fmt: skip
    keys = [PrivateKey(bytes(a.key)) for a in (renter_l1, provider_l1, outsider_l1)]
    yield Rollup(served, keys[0], keys[1], chain.chain_id, keys[2])
    served.stop()


def _agent(world: World, rollup: Rollup, *, cooperative: bool = False) -> ProviderAgent:
    """A provider agent on the hybrid rail, with the world's market, store and clock.

    The renter here is the test itself, which co-signs nothing unless it says so: the
    agent closes alone (``cooperative=False``) except where a test asks for the
    cooperative close (a silent renter would cost the node's co-signing deadline)."""
    return ProviderAgent(
        MarketClient("", rollup.provider, http=world.http),
        rollup.provider,
        LocalBackend(world.tmp / "hybrid-jobs"),
        discover("RTX_4090:1"),
        world.store,
        world.clock,
        rollup.chain_id,
        rail=RollupChannelRail(
            L2Client(rollup.node.url, rollup.provider),
            clock=world.clock,
            wait=HANG_GUARD_S,
            cooperative=cooperative,
        ),
    )


def _world(
    tmp_path: Path, rollup: Rollup, clock_start: int, *, cooperative: bool = False
) -> tuple[World, RollupChannelRail]:
    world = World(tmp_path)
    world.service.offers.chain_id = rollup.chain_id
    world.clock.now = clock_start
    world.renter = MarketClient("", rollup.renter, http=world.http)
    world.agent = _agent(world, rollup, cooperative=cooperative)
    renter_rail = RollupChannelRail(
        L2Client(rollup.node.url, rollup.renter), clock=world.clock, wait=HANG_GUARD_S
    )
    return world, renter_rail


def test_a_lease_in_the_rollup_is_checked_paid_and_closed_together(
    tmp_path: Path, rollup: Rollup
) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()), cooperative=True)
    offer = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600))[0]
    deposit = Wei(600 * PRICE)
    opened = renter_rail.open(rollup.provider.address, deposit, lifetime=7200)
    assert opened.description.settlement == "hybrid"
    assert opened.gas_used == 0
    assert opened.tx_bytes > 0
    node_view = L2Client(rollup.node.url, rollup.renter)
    # Soft-confirmed at once (the node's receipt), open once the next batch seals it.
    assert node_view.channel(str(opened.params.id))["status"] in ("pending", "open")
    lease = world.renter.rent(
        offer.id, command="sleep 60", duration=600, channel=opened.description
    )
    assert lease.channel.settlement == "hybrid"
    payer = LeasePayer(world.renter, rollup.renter, lease, renter_rail.domain, clock=world.clock)
    world.agent.step()
    assert payer.step().status is LeaseStatus.RUNNING
    for _ in range(3):
        world.second(payer)
    world.renter.stop(lease.id)
    # The renter stays to co-sign the provider's close, for no more than it paid.
    agrees = threading.Thread(target=renter_rail.cosign_close,
                              args=(opened.description, payer.paid))  # fmt: skip
    agrees.start()
    world.agent.step()
    world.second(payer)
    world.second(payer)
    agrees.join(HANG_GUARD_S)
    settled = world.agent.settlements[0]
    assert settled.how == "cooperative"
    assert settled.tx_bytes == 10  # CooperativeClose: a channel index and an amount
    assert settled.amount == 3 * PRICE == payer.paid
    assert (settled.provider_payout, settled.renter_payout) == (3 * PRICE, deposit - 3 * PRICE)
    assert settled.gas_used == 0
    assert renter_rail.confirmed(opened.params.id) == "settled"
    after = node_view.channel(str(opened.params.id))
    assert after["status"] == "settled"
    # The money moved on L2: the provider earned exactly the voucher, the renter got the rest.
    assert int(node_view.account(rollup.provider.address)["balance"]) == DEPOSIT + 3 * PRICE
    assert int(node_view.account()["balance"]) == DEPOSIT - 3 * PRICE


def test_a_renter_refusing_the_close_cannot_pay_less_than_its_voucher(rollup: Rollup) -> None:
    """The renter co-signs a cooperative close only up to what it says it paid; asked
    for more, it refuses, and the provider closes alone with the signed voucher."""
    renter_rail = RollupChannelRail(L2Client(rollup.node.url, rollup.renter), wait=HANG_GUARD_S)
    provider_rail = RollupChannelRail(L2Client(rollup.node.url, rollup.provider), wait=HANG_GUARD_S)
    opened = renter_rail.open(rollup.provider.address, Wei(600 * PRICE), lifetime=7200)
    assert renter_rail.confirmed(opened.params.id) == "open"
    voucher = sign_voucher(rollup.renter, renter_rail.domain, opened.params.id, Wei(3 * PRICE))
    refuses = threading.Thread(target=renter_rail.cosign_close,
                               args=(opened.description, Wei(PRICE)))  # fmt: skip
    refuses.start()
    closed = provider_rail.close(opened.description, voucher)
    refuses.join(HANG_GUARD_S)
    assert closed.how == "provider"  # the CooperativeClose was refused and dropped
    assert closed.tx_bytes > 10  # CloseByProvider carries the voucher's signature
    assert (closed.provider_payout, closed.renter_payout) == (3 * PRICE, 597 * PRICE)
    assert renter_rail.confirmed(opened.params.id) == "settled"


def test_the_agent_refuses_channels_it_cannot_be_paid_from(tmp_path: Path, rollup: Rollup) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    offer = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600))[0]
    small = renter_rail.open(rollup.provider.address, Wei(PRICE), lifetime=7200)
    described = replace(small.description, deposit=Wei(600 * PRICE))  # lies about the deposit
    lease = world.renter.rent(offer.id, command="sleep 1", duration=600, channel=described)
    world.agent.step()
    failed = world.renter.lease(lease.id)
    assert failed.status is LeaseStatus.FAILED
    assert "less than the lease" in failed.reason
    # An L1 channel description sent to a provider that settles in the rollup.
    other = renter_rail.open(rollup.provider.address, Wei(600 * PRICE), lifetime=7200)
    on_l1 = replace(other.description, settlement="channel-l1")
    lease = world.renter.rent(offer.id, command="sleep 1", duration=600, channel=on_l1)
    world.agent.step()
    failed = world.renter.lease(lease.id)
    assert failed.status is LeaseStatus.FAILED
    assert "pays over a channel-l1 channel; this provider settles over hybrid" in failed.reason
    assert world.agent.served == {}


def test_renting_in_the_rollup_says_what_is_missing(rollup: Rollup) -> None:
    rail = RollupChannelRail(
        L2Client(rollup.node.url, rollup.renter), clock=lambda: int(time.time())
    )
    with pytest.raises(L2gpuError, match="has no account in the rollup") as no_account:
        rail.open(rollup.outsider.address, Wei(PRICE), lifetime=60)
    assert "deposit on L1" in no_account.value.fix
    balance = int(L2Client(rollup.node.url, rollup.renter).account()["balance"])
    with pytest.raises(L2gpuError, match="below the lease's deposit") as too_poor:
        rail.open(rollup.provider.address, Wei(2 * DEPOSIT), lifetime=60)
    assert "l2gpu l2 deposit" in too_poor.value.fix
    assert f"your L2 balance of {format_wei(balance)} is below" in too_poor.value.what
    odd = rail.open(rollup.provider.address, Wei(123_456_789), lifetime=60)
    assert odd.deposit == 123_457_000  # rounded up to an L2 amount, never below the cost
    api = L2Client(rollup.node.url, rollup.renter)
    assert api.channel(str(odd.params.id))["deposit"] == "123457000"
    assert odd.description.to_json()["deposit"] == "123457000"
    newest = api.channels()[0]  # the renter's channels, newest first
    assert newest["channel_id"] == str(odd.params.id)
    assert newest["status"] in ("pending", "open")
    assert rail.confirmed(odd.params.id) == "open"
    assert api.channels()[0]["status"] == "open"
    with pytest.raises(L2gpuError, match="no L2 account"):
        api.channels(rollup.outsider.address)
    with pytest.raises(L2gpuError, match="no channel 0x"):
        api.channel("0x" + "ab" * 32)
    with pytest.raises(L2gpuError, match="64 hex digits"):
        api.channel("0x1234")


def test_the_market_refuses_a_settlement_it_does_not_know(tmp_path: Path) -> None:
    from tests.api.helpers import described

    from .test_agent import RENTER

    world = World(tmp_path)
    sharded = replace(described(RENTER, world.agent.key.address, 10**18), settlement="sharded")
    with pytest.raises(L2gpuError, match="settlement 'sharded' is not one the market knows"):
        world.renter.rent(world.offer.id, command="true", duration=60, channel=sharded)
    assert L1ChannelRail.settlement == "channel-l1"


class FlakyRailForTests:
    """A rail whose first ``failures`` closes, and first ``dark`` status reads, fail as
    an unreachable node would; everything else is the real rail's."""

    def __init__(self, rail: RollupChannelRail, failures: int = 0, dark: int = 0) -> None:
        self.rail, self.failures, self.dark = rail, failures, dark

    def __getattr__(self, name: str):
        return getattr(self.rail, name)

    def close(self, channel, best):
        if self.failures:
            self.failures -= 1
            raise L2gpuError("the rollup node did not answer (connection refused)")
        return self.rail.close(channel, best)

    def status(self, channel):
        if self.dark:
            self.dark -= 1
            raise L2gpuError("the rollup node did not answer (connection refused)")
        return self.rail.status(channel)


def test_a_failed_close_is_retried_and_a_second_close_is_refused(
    tmp_path: Path, rollup: Rollup
) -> None:
    from l2gpu.payments.rails import ChannelAlreadyClosed

    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    provider_rail = world.agent.rail
    world.agent.rail = FlakyRailForTests(provider_rail, failures=2)
    offer = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600))[0]
    opened = renter_rail.open(rollup.provider.address, Wei(600 * PRICE), lifetime=7200)
    lease = world.renter.rent(
        offer.id, command="sleep 60", duration=600, channel=opened.description
    )
    payer = LeasePayer(world.renter, rollup.renter, lease, renter_rail.domain, clock=world.clock)
    world.agent.step()
    for _ in range(2):
        world.second(payer)
    world.renter.stop(lease.id)
    world.agent.step()
    waited = 0
    while not world.agent.settlements and waited < 30:
        world.second(payer)
        waited += 1
    # due 2 s after the end, failed; again 2 s later, failed; 4 s later it goes through
    assert world.agent.rail.failures == 0
    assert waited >= 2 + 2 + 4
    assert [s.amount for s in world.agent.settlements] == [2 * PRICE]
    with pytest.raises(ChannelAlreadyClosed, match="settled already"):
        provider_rail.close(opened.description, world.store.best(opened.params.id))


def _running_lease(world: World, rollup: Rollup, renter_rail: RollupChannelRail):
    offer = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600))[0]
    opened = renter_rail.open(rollup.provider.address, Wei(600 * PRICE), lifetime=7200)
    lease = world.renter.rent(
        offer.id, command="sleep 60", duration=600, channel=opened.description
    )
    payer = LeasePayer(world.renter, rollup.renter, lease, renter_rail.domain, clock=world.clock)
    world.agent.step()
    return opened, lease, payer


def test_a_renter_closing_mid_lease_is_answered_with_the_best_voucher(
    tmp_path: Path, rollup: Rollup
) -> None:
    from l2gpu.core.l2.transactions import CloseByRenter

    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    opened, lease, payer = _running_lease(world, rollup, renter_rail)
    for _ in range(4):
        world.second(payer)
    assert payer.paid == 4 * PRICE
    # The renter concedes nothing and hopes the provider misses the deadline.
    renter = L2Client(rollup.node.url, rollup.renter)
    index = int(renter.channel(str(opened.params.id))["index"])
    renter.send_tx(lambda me: CloseByRenter(me, index, Wei(0)))
    for _ in range(6):  # the agent reads the channel every 5 s
        world.second()
    ended = world.renter.lease(lease.id)
    assert ended.status.value in ("ended", "stopped")
    assert "the renter started closing it" in ended.reason
    assert [s.amount for s in world.agent.settlements] == [4 * PRICE]
    assert renter.channel(str(opened.params.id))["status"] == "settled"
    assert int(renter.account(rollup.provider.address)["balance"]) == DEPOSIT + 4 * PRICE


def test_a_restarted_agent_closes_the_channels_of_leases_that_ended_meanwhile(
    tmp_path: Path, rollup: Rollup
) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    opened, lease, payer = _running_lease(world, rollup, renter_rail)
    for _ in range(3):
        world.second(payer)
    world.renter.stop(lease.id)
    world.agent.step()  # sees the end; would close 2 s later, but it goes down now
    world.agent.shutdown()
    assert world.agent.settlements == []
    world.clock.advance(600)
    again = _agent(world, rollup)  # the same market and voucher database
    again.step()
    assert [s.amount for s in again.settlements] == [3 * PRICE]
    node_view = L2Client(rollup.node.url, rollup.renter)
    assert node_view.channel(str(opened.params.id))["status"] == "settled"
    again.step()  # nothing twice
    assert len(again.settlements) == 1


def test_the_agent_refuses_a_reused_channel_and_one_not_from_the_renter_to_it(
    tmp_path: Path, rollup: Rollup
) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    opened, lease, payer = _running_lease(world, rollup, renter_rail)
    world.second(payer)
    second = world.agent.publish(
        world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600, nonce=5)
    )[0]
    with pytest.raises(L2gpuError, match="already pays for lease"):  # the market refuses
        world.renter.rent(second.id, command="sleep 1", duration=600,
                          channel=opened.description)  # fmt: skip
    # ...and so would the agent, were a market to let it through
    served = world.renter.lease(lease.id)
    assert "already pays for another lease" in world.agent._check_channel(served, world.clock())
    stranger = replace(
        opened.description,
        params=replace(opened.description.params, renter=rollup.outsider.address),
    )
    assert "not from its renter to this provider" in world.agent._check_channel(
        served.model_copy(update={"channel": ChannelPublic.model_validate(stranger.to_json())}),
        world.clock(),
    )


def test_a_node_outage_does_not_stop_a_paying_job(tmp_path: Path, rollup: Rollup) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    world.agent.rail = FlakyRailForTests(world.agent.rail, dark=3)
    _opened, lease, payer = _running_lease(world, rollup, renter_rail)
    for _ in range(16):  # three channel reads fail, 5 s apart
        world.second(payer)
    assert world.agent.rail.dark == 0
    assert world.renter.lease(lease.id).status is LeaseStatus.RUNNING
    assert payer.paid == 16 * PRICE


def test_a_lease_stopped_before_any_voucher_refunds_the_renter_at_once(
    tmp_path: Path, rollup: Rollup
) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    before = int(L2Client(rollup.node.url, rollup.renter).account()["balance"])
    opened, lease, _payer = _running_lease(world, rollup, renter_rail)
    world.renter.stop(lease.id)  # before the first second was metered
    for _ in range(3):
        world.second()
    assert [(s.amount, s.provider_payout) for s in world.agent.settlements] == [(0, 0)]
    view = L2Client(rollup.node.url, rollup.renter)
    assert view.channel(str(opened.params.id))["status"] == "settled"
    assert int(view.account()["balance"]) == before  # the whole deposit came back


def test_background_closes_keep_the_loop_free_and_still_settle(
    tmp_path: Path, rollup: Rollup
) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    world.agent.background_closes = True
    _opened, lease, payer = _running_lease(world, rollup, renter_rail)
    for _ in range(2):
        world.second(payer)
    world.renter.stop(lease.id)
    world.agent.step()
    world.second(payer)
    world.second(payer)  # due now: handed to the closer thread
    wait_for(lambda: world.agent.step() is None and bool(world.agent.settlements), 300)
    assert [s.amount for s in world.agent.settlements] == [2 * PRICE]
    world.agent.shutdown()


def test_a_job_lost_in_a_restart_still_gets_its_channel_closed(
    tmp_path: Path, rollup: Rollup
) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    _opened, lease, payer = _running_lease(world, rollup, renter_rail)
    for _ in range(3):
        world.second(payer)
    world.agent.shutdown()  # the machine goes down and takes the job with it
    again = _agent(world, rollup)
    again.backend = LocalBackend(tmp_path / "another-machine")  # finds no job to re-attach
    again.take_back(again.leased_offers())  # its offers, as its record says
    again.step()
    assert [s.amount for s in again.settlements] == [3 * PRICE]
    assert world.renter.lease(lease.id).status is not LeaseStatus.RUNNING


def _open_unsigned(renter_rail: RollupChannelRail, provider: PrivateKey):
    """Open a channel whose renter does not co-sign its OpenChannel (yet): it stays
    ``pending`` at the node. Returns the opened channel and the held co-signing work."""
    held: list[tuple[object, int]] = []
    renter_rail._cosign_open = lambda tx, position: held.append((tx, position))  # type: ignore[method-assign]
    opened = renter_rail.open(provider.address, Wei(600 * PRICE), lifetime=7200)
    del renter_rail._cosign_open
    return opened, held[0]


def test_a_soft_confirmed_channel_is_served_no_longer_than_the_grace_until_it_opens(
    tmp_path: Path, rollup: Rollup
) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    offer = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600))[0]
    opened, (tx, position) = _open_unsigned(renter_rail, rollup.provider)
    view = L2Client(rollup.node.url, rollup.renter)
    assert view.channel(str(opened.params.id))["status"] == "pending"
    lease = world.renter.rent(offer.id, command="sleep 60", duration=600,
                              channel=opened.description)  # fmt: skip
    payer = LeasePayer(world.renter, rollup.renter, lease, renter_rail.domain, clock=world.clock)
    world.agent.step()
    for _ in range(12):  # the renter pays every second, on a channel no batch holds
        world.second(payer)
    served = world.agent.served[lease.id]
    assert served.held
    assert served.paused
    assert not served.confirmed
    assert world.agent.backend.status(lease.id).state == "paused"
    metered = world.renter.lease(lease.id).metered_seconds
    assert 0 < metered <= world.agent.grace  # not one second more than the grace
    # A close meanwhile says why it cannot be made yet (no traceback, retried later).
    impatient = RollupChannelRail(L2Client(rollup.node.url, rollup.provider), wait=0.2)
    with pytest.raises(L2gpuError, match="still waiting for a batch to include its open"):
        impatient.close(opened.description, world.store.best(opened.params.id))
    # The renter co-signs its open at last: the batch includes it, the job runs again.
    signer = threading.Thread(target=RollupChannelRail._cosign_open,
                              args=(renter_rail, tx, position))  # fmt: skip
    signer.start()
    signer.join(HANG_GUARD_S)
    assert view.channel(str(opened.params.id))["status"] == "open"
    for _ in range(3):
        world.second(payer)
    assert served.confirmed
    assert not served.held
    assert not served.paused
    assert world.renter.lease(lease.id).metered_seconds > metered


def test_a_dropped_open_stops_the_job_within_the_grace(tmp_path: Path, rollup: Rollup) -> None:
    world, renter_rail = _world(tmp_path, rollup, int(time.time()))
    offer = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600))[0]
    opened, (_tx, position) = _open_unsigned(renter_rail, rollup.provider)
    lease = world.renter.rent(offer.id, command="sleep 60", duration=600,
                              channel=opened.description)  # fmt: skip
    payer = LeasePayer(world.renter, rollup.renter, lease, renter_rail.domain, clock=world.clock)
    world.agent.step()
    for _ in range(7):
        world.second(payer)
    # The renter refuses to co-sign its own open: the node drops it.
    renter = L2Client(rollup.node.url, rollup.renter)
    renter.cosign_until(lambda: renter.transaction(position)["status"] != "pending",
                        allowed=[], wait=HANG_GUARD_S)  # fmt: skip
    assert renter.transaction(position)["status"] == "dropped"
    world.second(payer)
    world.second(payer)
    ended = world.renter.lease(lease.id)
    assert ended.status is not LeaseStatus.RUNNING
    assert "never opened" in ended.reason
    assert ended.metered_seconds <= world.agent.grace


def test_a_renter_restarted_after_a_kill_opens_its_next_channel(tmp_path: Path) -> None:
    """A renter killed with its OpenChannel waiting for its co-signature: the next
    program of that renter waits for the node to drop it (one co-signing deadline, then
    the bench for silence) before it sends its own open, which a batch then includes.
    Sent at once, the new open queued behind the orphan and was dropped with it."""
    chain = start_embedded_chain()
    renter_l1, provider_l1 = chain.accounts[1:3]
    served = embedded_rollup(chain, [renter_l1, provider_l1], deposit=DEPOSIT, interval=0.05,
                             cosign_timeout=1.0)  # fmt: skip
    try:
        renter, provider = PrivateKey(bytes(renter_l1.key)), PrivateKey(bytes(provider_l1.key))
        killed = RollupChannelRail(L2Client(served.url, renter), wait=HANG_GUARD_S)
        orphan, _ = _open_unsigned(killed, provider)  # and the program dies: nobody co-signs
        view = L2Client(served.url, renter)
        restarted = RollupChannelRail(L2Client(served.url, renter), wait=HANG_GUARD_S)
        opened: list[object] = []

        def open_next() -> None:
            opened.append(restarted.open(provider.address, Wei(500 * PRICE), lifetime=7200))

        opening = threading.Thread(target=open_next)
        opening.start()
        wait_for(lambda: killed.status(orphan.description) == "missing", 60)
        chain.time_travel(31)  # the renter's bench for the silence (30 s) ends
        opening.join(HANG_GUARD_S)
        new = opened[0]
        assert restarted.confirmed(new.params.id) == "open"
        assert int(view.account()["balance"]) == DEPOSIT - new.deposit
    finally:
        served.stop()
