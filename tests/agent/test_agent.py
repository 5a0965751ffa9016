"""The provider agent end to end: API in process, real job processes, simulated seconds.

The clock that the API, the agent and the renter share moves only when a test
says so; the jobs are real processes (waits for them are bounded).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from l2gpu.agent.agent import ProviderAgent
from l2gpu.agent.backends.local import LocalBackend
from l2gpu.agent.inventory import discover
from l2gpu.client import MarketClient
from l2gpu.core.channel.vouchers import channel_domain
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.types import Address, Wei
from l2gpu.db import open_database
from l2gpu.payments.store import VoucherStore
from l2gpu.renter import LeasePayer
from tests.api.helpers import MANAGER, described, market
from tests.market.helpers import CHAIN, PROVIDER, RENTER, T0

PRICE = Wei(10**12)


class World:
    """A market, one agent with two declared RTX 4090s, one renter."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.http, self.service, self.clock = market((f"sqlite:///{tmp_path / 'm.db'}", None))
        self.store = VoucherStore(open_database(f"sqlite:///{tmp_path / 'agent.db'}"))
        self.renter = MarketClient("", RENTER, http=self.http)
        self.agent = self.new_agent()
        self.offer = self.agent.publish(self.agent.offer_terms(PRICE, expires_at=T0 + 3600))[0]

    def new_agent(self) -> ProviderAgent:
        return ProviderAgent(
            MarketClient("", PROVIDER, http=self.http),
            PROVIDER,
            LocalBackend(self.tmp / "jobs"),
            discover("RTX_4090:2"),
            self.store,
            self.clock,
            CHAIN,
        )

    def rent(self, command: str, duration: int = 600) -> LeasePayer:
        lease = self.renter.rent(
            self.offer.id,
            command=command,
            duration=duration,
            channel=described(RENTER, PROVIDER.address, 10**18),
        )
        return LeasePayer(
            self.renter, RENTER, lease, channel_domain(CHAIN, MANAGER), clock=self.clock
        )

    def second(self, payer: LeasePayer | None = None, *, agent: bool = True) -> None:
        """One simulated second: the agent works, the renter pays."""
        self.clock.advance(1)
        if agent:
            self.agent.step()
        if payer is not None:
            payer.step()
        if agent:
            self.agent.step()  # takes the voucher just sent


def wait_for(check, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not check():
        time.sleep(0.05)  # bounded wait for a real process
    assert check()


def test_a_lease_runs_a_real_job_is_paid_per_second_and_stops(tmp_path: Path) -> None:
    world = World(tmp_path)
    assert world.offer.declared is True
    assert world.offer.num_gpus == 2
    payer = world.rent("echo started $CUDA_VISIBLE_DEVICES; sleep 60")
    world.agent.step()
    assert payer.step().status is LeaseStatus.RUNNING
    for _ in range(4):
        world.second(payer)
    info = payer.step()
    assert info.metered_seconds == 4
    assert payer.paid == 4 * 2 * PRICE
    assert world.agent.served[info.id].payee.state.best_amount == payer.paid
    wait_for(lambda: world.agent.step() is None and bool(world.renter.logs(info.id).chunks))
    assert world.renter.logs(info.id).chunks[0].text.startswith("started 0,1")
    world.renter.stop(info.id)
    world.agent.step()  # sees the lease ended: stops the job
    assert info.id not in world.agent.served
    ended = world.renter.lease(info.id)
    assert ended.status is LeaseStatus.ENDED
    assert ended.amount_due == payer.paid  # paid exactly what was delivered


def test_a_renter_that_stops_signing_loses_the_job_within_grace(tmp_path: Path) -> None:
    world = World(tmp_path)
    payer = world.rent("sleep 60")
    world.agent.step()
    for _ in range(3):
        world.second(payer)
    payer.signing = False  # the renter vanishes
    lease_id = payer.info.id
    served = world.agent.served[lease_id]
    paused_at = None
    for second in range(1, 15):
        world.second(payer)
        if paused_at is None and world.agent.backend.status(lease_id).state == "paused":
            paused_at = second
        if lease_id not in world.agent.served:
            break
    assert paused_at == world.agent.grace  # paused when unpaid seconds reach the grace
    assert lease_id not in world.agent.served  # then stopped
    assert served.max_unpaid_seconds <= world.agent.grace
    lease = world.renter.lease(lease_id)
    assert lease.status is LeaseStatus.ENDED
    assert "vouchers lag" in lease.reason
    unpaid = lease.amount_due - payer.paid
    assert unpaid <= world.agent.grace * 2 * PRICE  # the provider lost at most grace x price


def test_a_job_is_held_at_its_lease_end_while_the_market_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The market ends a lease whose time is up; an agent that cannot hear it (seen:
    3 s under load in the chaos test) must not let the job run on meanwhile, since
    no voucher pays for a second past the meter's end."""
    world = World(tmp_path)
    payer = world.rent("sleep 60", duration=4)
    world.agent.step()
    lease_id = payer.info.id
    ends_at = world.agent.served[lease_id].meter.ends_at

    def unreachable() -> list[object]:
        raise L2gpuError("the market is unreachable", "wait")

    while world.clock() < ends_at - 1:
        world.second(payer)
    assert world.agent.backend.status(lease_id).state == "running"
    monkeypatch.setattr(world.agent.client, "work", unreachable)
    for _ in range(3):  # past the end, and the agent cannot hear that the lease ended
        world.second(payer)
        assert world.agent.backend.status(lease_id).state == "paused"
    monkeypatch.undo()
    world.agent.step()  # hears it: stops the job, the channel is settled
    assert lease_id not in world.agent.served
    wait_for(lambda: world.agent.backend.status(lease_id).state == "exited")
    lease = world.renter.lease(lease_id)
    assert (lease.status, lease.reason) == (LeaseStatus.ENDED, "time up")
    assert lease.metered_seconds == 4
    assert lease.amount_due == payer.paid == 4 * 2 * PRICE


def test_a_job_that_fails_at_start_costs_the_renter_nothing(tmp_path: Path) -> None:
    world = World(tmp_path)
    payer = world.rent("no_such_command_l2gpu --train")
    world.agent.step()
    world.second(payer)
    lease = payer.step()
    assert lease.status is LeaseStatus.FAILED
    assert "could not run" in lease.reason
    assert lease.amount_due == 0
    assert payer.paid == 0
    assert world.service.offers.search()[0].offer_id == world.offer.id  # back on offer


def test_an_agent_that_vanishes_is_paid_only_for_delivered_seconds(tmp_path: Path) -> None:
    world = World(tmp_path)
    payer = world.rent("sleep 60")
    world.agent.step()
    for _ in range(3):
        world.second(payer)
    paid_before = payer.paid
    for _ in range(12):  # the agent is gone: no steps, no heartbeats, no meter
        world.second(payer, agent=False)
    lease = payer.step()
    assert lease.status is LeaseStatus.PREEMPTED
    assert payer.paid == paid_before == lease.metered_seconds * 2 * PRICE
    world.agent.shutdown()


def test_a_restarted_agent_recovers_its_leases_and_vouchers(tmp_path: Path) -> None:
    world = World(tmp_path)
    payer = world.rent("sleep 60")
    world.agent.step()
    for _ in range(3):
        world.second(payer)
    lease_id = payer.info.id
    best = world.agent.served[lease_id].payee.state.best_amount
    assert best > 0
    world.agent = world.new_agent()  # the old one crashed; its job keeps running
    world.agent.take_back(world.agent.leased_offers())  # its offers, as its record says
    world.agent.step()
    recovered = world.agent.served[lease_id]
    assert recovered.payee.state.best_amount == best
    assert recovered.meter.seconds == 3
    # what was delivered before the restart counts against the vouchers: no credit
    assert recovered.payee.state.delivered_seconds == 3
    world.second(payer)
    assert world.renter.lease(lease_id).metered_seconds == 4
    world.renter.stop(lease_id)
    world.agent.step()
    wait_for(lambda: world.agent.backend.status(lease_id).state == "exited")


def test_output_written_while_the_agent_is_down_reaches_the_renter_once(
    tmp_path: Path,
) -> None:
    """Issue #23: after an 8 s agent outage the job was re-attached but nine lines of
    its output were lost (the new agent read on from the end of the file). It now
    resumes from what reached the market: every line arrives, none twice."""
    world = World(tmp_path)
    payer = world.rent("for i in $(seq 1 30); do echo line-$i; sleep 0.05; done; sleep 60")
    world.agent.step()
    lease_id = payer.info.id
    log_file = world.agent.backend.workdir(lease_id) / "output.log"
    wait_for(lambda: "line-3\n" in log_file.read_text())
    world.second(payer)  # some output reaches the market
    assert "line-1\n" in _market_output(world, lease_id)
    # the agent dies; the job writes the rest meanwhile; a new agent takes over
    wait_for(lambda: "line-30\n" in log_file.read_text())
    world.agent = world.new_agent()
    world.agent.take_back(world.agent.leased_offers())  # its offers, as its record says
    world.second(payer)
    lines = _market_output(world, lease_id).split()
    assert lines == [f"line-{i}" for i in range(1, 31)]
    world.renter.stop(lease_id)
    world.agent.step()


def _market_output(world: World, lease_id: int) -> str:
    return "".join(chunk.text for chunk in world.renter.logs(lease_id, 0).chunks)


def test_a_restarted_agent_stops_a_job_whose_lease_ended_while_it_was_down(
    tmp_path: Path,
) -> None:
    from l2gpu.agent.backends.deadman import alive as _alive

    world = World(tmp_path)
    payer = world.rent("sleep 600", duration=10)
    world.agent.step()
    world.second(payer)
    lease_id = payer.info.id
    job = world.agent.backend._jobs[lease_id]  # the process to watch
    # The agent dies; its job keeps running; the lease runs out meanwhile.
    world.clock.advance(3600)
    assert world.renter.lease(lease_id).status is LeaseStatus.PREEMPTED  # the provider went silent
    assert _alive(job.init or job.pid, job.init_start if job.init else job.pid_start)
    world.agent = world.new_agent()
    world.agent.step()
    assert lease_id not in world.agent.served
    wait_for(lambda: not _alive(job.init or job.pid,
                                job.init_start if job.init else job.pid_start))  # fmt: skip
    assert world.agent.backend.found() == []  # nothing left to adopt or stop


def test_the_agent_refuses_offers_for_gpus_it_does_not_have(tmp_path: Path) -> None:
    world = World(tmp_path)
    too_many = world.agent.offer_terms(PRICE, expires_at=T0 + 60, nonce=9)[0]
    with pytest.raises(L2gpuError, match="this machine has 2"):
        world.agent.publish([replace(too_many, num_gpus=3)])


def test_on_l1_the_agent_checks_the_channel_and_settles_with_the_best_voucher(
    tmp_path: Path, chain
) -> None:
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.payments.rails import L1ChannelRail

    deployer, renter_account, provider_account = chain.accounts[:3]
    renter_key = PrivateKey(bytes(renter_account.key))
    provider_key = PrivateKey(bytes(provider_account.key))
    manager = ChannelManagerClient.deploy(chain, deployer)
    world = World(tmp_path)
    world.service.offers.chain_id = chain.chain_id
    world.clock.now = chain.timestamp()
    world.renter = MarketClient("", renter_key, http=world.http)
    world.agent = ProviderAgent(
        MarketClient("", provider_key, http=world.http),
        provider_key,
        LocalBackend(tmp_path / "l1jobs"),
        discover("RTX_4090:1"),
        world.store,
        world.clock,
        chain.chain_id,
        rail=L1ChannelRail(manager, provider_account),
    )
    salts = iter([b"\x01" * 32, b"\x02" * 32])
    renter_rail = L1ChannelRail(manager, renter_account, salt=lambda: next(salts))
    offer = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600))[0]
    deposit = Wei(600 * PRICE)
    opened = renter_rail.open(provider_key.address, deposit, lifetime=7200)
    lease = world.renter.rent(
        offer.id, command="sleep 60", duration=600, channel=opened.description
    )
    payer = LeasePayer(world.renter, renter_key, lease, manager.domain, clock=world.clock)
    world.agent.step()
    for _ in range(3):
        world.second(payer)
    world.renter.stop(lease.id)
    world.agent.step()
    assert world.agent.settlements == []  # waits for a last voucher first
    world.second(payer)
    world.second(payer)
    settled = world.agent.settlements[0]
    assert settled.provider_payout == settled.amount
    assert settled.renter_payout == deposit - settled.amount
    assert settled.amount == 3 * PRICE == payer.paid
    assert settled.gas_used > 0
    assert manager.channel(opened.params).status.name == "SETTLED"
    # A lease whose channel holds less than the market was told never starts.
    small = renter_rail.open(provider_key.address, Wei(PRICE), lifetime=7200)
    described = replace(small.description, deposit=deposit)
    bad = world.renter.rent(offer.id, command="sleep 1", duration=600, channel=described)
    world.agent.step()
    failed = world.renter.lease(bad.id)
    assert failed.status is LeaseStatus.FAILED
    assert "less than the lease" in failed.reason


def test_on_l1_a_lease_stopped_before_any_voucher_refunds_the_whole_deposit(
    tmp_path: Path, chain
) -> None:
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.payments.rails import L1ChannelRail

    deployer, renter_account, provider_account = chain.accounts[:3]
    provider_key = PrivateKey(bytes(provider_account.key))
    manager = ChannelManagerClient.deploy(chain, deployer)
    world = World(tmp_path)
    world.service.offers.chain_id = chain.chain_id
    world.clock.now = chain.timestamp()
    world.renter = MarketClient("", PrivateKey(bytes(renter_account.key)), http=world.http)
    world.agent = ProviderAgent(
        MarketClient("", provider_key, http=world.http), provider_key,
        LocalBackend(tmp_path / "l1jobs"), discover("RTX_4090:1"), world.store, world.clock,
        chain.chain_id, rail=L1ChannelRail(manager, provider_account),
    )  # fmt: skip
    offer = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=world.clock() + 3600))[0]
    deposit = Wei(600 * PRICE)
    opened = L1ChannelRail(manager, renter_account).open(
        provider_key.address, deposit, lifetime=7200
    )
    lease = world.renter.rent(offer.id, command="sleep 60", duration=600,
                              channel=opened.description)  # fmt: skip
    world.agent.step()
    world.renter.stop(lease.id)  # before a single second was metered or paid
    for _ in range(3):
        world.second()
    settled = world.agent.settlements[0]
    assert (settled.amount, settled.provider_payout, settled.renter_payout) == (0, 0, deposit)
    assert manager.channel(opened.params).status.name == "SETTLED"


def test_a_restarted_agent_lists_its_gpus_once(tmp_path: Path) -> None:
    """Issue #23: each restart published a new offer beside the old ones (four offers
    for one 2-GPU machine, one listed while leased). A restart withdraws the earlier
    run's active offers, keeps (and serves) the leased one, whose GPUs are busy, and
    offers only the GPUs left; the leased offer comes back when its lease ends."""
    world = World(tmp_path)
    extra = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=T0 + 7200, nonce=1))[0]
    payer = world.rent("sleep 60")  # the first offer (both GPUs) is leased
    world.agent.step()
    restarted = world.new_agent()
    leased = restarted.leased_offers()
    assert leased == {str(world.offer.id): ("RTX_4090", 2)}
    withdrawn = restarted.retire_offers([str(world.offer.id), str(extra.id)], keep=leased)
    assert withdrawn == [str(extra.id)]
    restarted.take_back(leased)
    assert restarted.publish([]) == []  # both GPUs are leased: nothing more to offer
    listed = world.renter.search(f"provider={PROVIDER.address.checksum}").offers
    assert listed == []  # no offer for GPUs that are busy
    world.renter.stop(payer.lease_id)
    world.second(payer)
    listed = world.renter.search(f"provider={PROVIDER.address.checksum}").offers
    assert [o.id for o in listed] == [world.offer.id]  # back on the market, once
    again = world.rent("sleep 60")  # and the restarted agent serves it
    restarted.step()
    assert again.step().status is LeaseStatus.RUNNING
    world.renter.stop(again.lease_id)
    restarted.step()


def test_a_second_machine_with_the_same_key_leaves_the_first_ones_lease_running(
    tmp_path: Path,
) -> None:
    """Issue #23: an agent with the same key on another machine took the first
    machine's RUNNING lease for its own after a restart, found no job to adopt,
    reported it exited and closed its channel; and its start withdrew the first
    machine's offers. It now leaves both alone: only offers its own data folder
    recorded are its to withdraw or serve."""
    world = World(tmp_path)
    extra = world.agent.publish(world.agent.offer_terms(PRICE, expires_at=T0 + 7200, nonce=1))[0]
    payer = world.rent("sleep 60")  # the first offer is leased, the extra one is not
    world.agent.step()
    assert payer.step().status is LeaseStatus.RUNNING
    other = world.new_agent()  # the second machine: it recorded no offers
    assert other.retire_offers([]) == []  # it withdraws only what it recorded: nothing
    for _ in range(3):
        other.step()
    assert other.served == {}
    assert payer.step().status is LeaseStatus.RUNNING  # not ended by the other machine
    listed = world.renter.search(f"provider={PROVIDER.address.checksum}").offers
    assert [o.id for o in listed] == [extra.id]  # the first machine's offer stays listed
    world.renter.stop(payer.lease_id)
    world.agent.step()


def test_a_renter_closes_a_lease_its_provider_abandoned_conceding_its_best_voucher(
    chain,
) -> None:
    """Issue #23: a lease that failed after vouchers were signed, with the provider's
    agent gone, left the deposit locked. The renter starts the close itself conceding
    exactly what it signed; after the challenge period the provider has that and the
    renter the rest, to the wei."""
    from l2gpu.core.channel import inputs as ci
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.payments.rails import L1ChannelRail

    deployer, renter_account, provider_account = chain.accounts[:3]
    manager = ChannelManagerClient.deploy(chain, deployer)
    rail = L1ChannelRail(manager, renter_account)
    provider = Address.from_hex(provider_account.address)
    deposit, signed = Wei(600 * PRICE), Wei(7 * PRICE)
    opened = rail.open(provider, deposit, lifetime=7200)
    note = rail.abandon(opened.description, conceded=signed)
    assert "l2gpu channel settle" in note
    assert "UTC" in note or "(L1 time" in note  # a date, not unix seconds
    assert rail.status(opened.description) == "closing"
    chain.time_travel(opened.params.challenge_period + 1)
    before = chain.balance(provider)
    receipt = manager.apply(ci.Settle(provider, chain.timestamp(), opened.params), deployer)
    paid = receipt.event("ChannelSettled").args
    assert (paid["provider_payout"], paid["renter_payout"]) == (signed, deposit - signed)
    assert chain.balance(provider) == before + signed


def test_an_offer_is_served_only_by_the_agent_that_published_it(tmp_path: Path) -> None:
    """Issue #23: a lease on an offer of one agent ran on another agent with the same
    key (another machine, with other GPUs). An agent leaves leases on offers it did not
    publish to the agent that did."""
    world = World(tmp_path)
    other = world.new_agent()  # same key, its own machine; it published nothing
    payer = world.rent("sleep 60")
    other.step()
    assert other.served == {}
    assert payer.step().status is LeaseStatus.REQUESTED
    world.agent.step()  # the publisher takes it
    assert payer.step().status is LeaseStatus.RUNNING
    world.renter.stop(payer.lease_id)
    world.agent.step()
