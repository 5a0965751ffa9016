"""Credit that pays leases: a renter borrows from the pool straight into a lease's
channel, the channel's refund belongs to the pool and repays the loan first.

Pool calls go to the contract and its specification together (the lockstep
harness of test_pool_contract); the channel's own calls go to the ChannelManager,
whose refund the specification's ``SettleLease`` is told."""

from __future__ import annotations

import secrets

import pytest

from l2gpu.core.channel import ChannelParams, ChannelStatus
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.vouchers import sign_voucher
from l2gpu.core.credit import pool
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address, Seconds, Timestamp, Wei
from l2gpu.l1 import Chain
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.errors import ContractRevert

from .test_pool_contract import ETHER, Pool, funded

HOUR = 3600


def lease_pool(chain: Chain) -> tuple[Pool, ChannelManagerClient, list[Address]]:
    """A ChannelManager and a funded pool whose credit leases open channels in it."""
    manager = ChannelManagerClient.deploy(chain, chain.accounts[0])
    p, users = funded(chain, channels=manager.address)
    return p, manager, users


def terms(renter: Address, provider: Address, funder: Address) -> ChannelParams:
    """A channel's terms as ``funder`` opens them: its address leads the salt."""
    return ChannelParams(renter, provider, challenge_period=Seconds(HOUR),
                         salt=bytes(funder) + secrets.token_bytes(12))  # fmt: skip


def borrow_into_lease(p: Pool, renter: Address, params: ChannelParams, amount: int) -> None:
    expires = int(p.chain.timestamp()) + 2 * HOUR
    p.lease_ids.append(params.id)  # compared from now on
    p.ok(pool.BorrowForLease(renter, amount, params, expires))


def provider_closes(
    p: Pool, manager: ChannelManagerClient, params: ChannelParams, paid: int
) -> None:
    """The provider closes at once with the renter's voucher for ``paid`` wei."""
    renter_key = PrivateKey(bytes(p.accounts[params.renter].key))
    voucher = sign_voucher(renter_key, manager.domain, params.id, Wei(paid))
    sender = p.accounts[params.provider]
    manager.apply(
        ci.CloseByProvider(params.provider, Timestamp(0), params, voucher.amount,
                           voucher.signature),
        sender,
    )  # fmt: skip


def settle(p: Pool, manager: ChannelManagerClient, params: ChannelParams, sender: Address) -> None:
    """Settle the lease in both, the specification told the refund the channel owes."""
    channel = manager.channel(params)
    assert channel is not None
    assert channel.status == ChannelStatus.SETTLED
    p.ok(pool.SettleLease(sender, params, channel.refund_owed))


def test_a_renter_rents_on_credit_and_the_refund_repays_the_loan_first(chain: Chain) -> None:
    p, manager, (alice, bob, _carol, dave, _) = lease_pool(chain)
    params = terms(alice, bob, p.client.address)
    borrow_into_lease(p, alice, params, 3 * ETHER)
    channel = manager.channel(params)
    assert channel is not None
    assert channel.deposit == 3 * ETHER
    assert channel.refund_to == p.client.address  # the pool holds the refund
    assert p.client.debt_of(alice) == 3 * ETHER
    p.chain.time_travel(HOUR)
    provider_closes(p, manager, params, ETHER)  # the lease used one ether of three
    provider_before = p.ether(bob)
    settle(p, manager, params, dave)  # anyone settles: a keeper
    assert p.ether(bob) == provider_before  # the provider was paid at the close
    # two ether of refund repaid the loan (3 ether and an hour of interest) first
    debt = p.client.debt_of(alice)
    assert 0 < debt - ETHER < ETHER // 100
    assert p.client.lease_borrower(params.id) == Address(bytes(20))
    assert p.refused(pool.SettleLease(dave, params, 0)) == "not a lease this pool funded"


def test_a_refund_above_the_debt_goes_back_to_the_renter(chain: Chain) -> None:
    p, manager, (alice, bob, _, dave, _) = lease_pool(chain)
    params = terms(alice, bob, p.client.address)
    borrow_into_lease(p, alice, params, 2 * ETHER)
    p.ok(pool.Repay(alice, alice, 3 * ETHER))  # repaid early; the change returns
    provider_closes(p, manager, params, ETHER // 2)
    before = p.ether(alice)
    settle(p, manager, params, dave)
    assert p.ether(alice) - before == 3 * ETHER // 2


def test_a_renter_who_disappears_is_repaid_from_collateral(chain: Chain) -> None:
    """The lease spends the whole borrowed deposit and the renter never repays: the
    channel refunds nothing, and past the loan's term a liquidator repays it all
    from the collateral, with no bad debt."""
    p, manager, (alice, bob, _carol, dave, liquidator) = lease_pool(chain)
    params = terms(alice, bob, p.client.address)
    borrow_into_lease(p, alice, params, 5 * ETHER)
    provider_closes(p, manager, params, 5 * ETHER)
    settle(p, manager, params, dave)
    assert p.client.debt_of(alice) >= 5 * ETHER
    assert p.refused(pool.Liquidate(liquidator, alice, 6 * ETHER)) == "the position is healthy"
    p.chain.time_travel(p.spec.params.max_term + 1)
    p.ok(pool.SetPrice(p.spec.oracle, 2 * ETHER))
    p.ok(pool.Liquidate(liquidator, alice, 10 * ETHER))
    assert p.client.debt_of(alice) == 0
    assert p.spec.bad_debt == 0


def test_the_refund_cannot_be_taken_from_the_lender(chain: Chain) -> None:
    """Neither the renter nor anyone else reassigns the pool's refund or tops the
    channel up into it; the renter's own close still returns the refund to the pool."""
    p, manager, (alice, bob, _carol, dave, _) = lease_pool(chain)
    params = terms(alice, bob, p.client.address)
    borrow_into_lease(p, alice, params, ETHER)
    renter = p.accounts[alice]
    with pytest.raises(ContractRevert, match="only the refund's owner may assign it"):
        manager.apply(ci.AssignRefund(alice, Timestamp(0), params, alice), renter)
    with pytest.raises(ContractRevert, match="only the refund's assignee may top up"):
        manager.apply(
            ci.TopUp(alice, Timestamp(0), params, Wei(1), Timestamp(2**40), Wei(1)), renter
        )
    with pytest.raises(ContractRevert, match="nothing to collect|not settled"):
        manager.apply(ci.Collect(alice, Timestamp(0), params), renter)
    with pytest.raises(ContractRevert, match="the lease's channel has not settled"):
        p.client.settle_lease(p.accounts[dave], params)
    manager.apply(ci.CloseByRenter(alice, Timestamp(0), params, Wei(0)), renter)
    p.chain.time_travel(HOUR + 1)
    manager.apply(ci.Settle(dave, Timestamp(0), params), p.accounts[dave])
    with pytest.raises(ContractRevert, match="nothing to collect"):
        manager.apply(ci.Collect(alice, Timestamp(0), params), renter)
    settle(p, manager, params, alice)
    # the whole deposit came back and repaid the loan; an hour's interest is left
    assert 0 < p.client.debt_of(alice) < ETHER // 1000


def test_credit_leases_refuse_what_they_cannot_fund(chain: Chain) -> None:
    p, _manager, (alice, bob, carol, dave, _) = lease_pool(chain)
    expires = int(p.chain.timestamp()) + HOUR
    someone_elses = terms(bob, carol, p.client.address)
    assert (
        p.refused(pool.BorrowForLease(alice, ETHER, someone_elses, expires))
        == "only the lease's renter borrows for it"
    )
    token_channel = ChannelParams(alice, bob, token=p.token.address, salt=b"\x01" * 32)
    assert (
        p.refused(pool.BorrowForLease(alice, ETHER, token_channel, expires))
        == "a credit lease's channel holds ether"
    )
    limit = 20 * ETHER * p.spec.params.ltv_bps // 10_000  # 10 tokens at 2 ether
    assert (
        p.refused(
            pool.BorrowForLease(alice, limit + 1, terms(alice, bob, p.client.address), expires)
        )
        == "past the loan-to-value limit"
    )
    assert (
        p.refused(pool.BorrowForLease(dave, ETHER, terms(dave, bob, p.client.address), expires))
        == "past the loan-to-value limit"  # no collateral at all
    )
    # The manager's own checks revert the whole call: no debt, no lease.
    with pytest.raises(ContractRevert, match="expiry must be in the future"):
        p.client.borrow_for_lease(p.accounts[alice], terms(alice, bob, p.client.address), ETHER, 1)
    p.check_state()
    stray = {"from": p.accounts[dave].address, "to": p.client.address.checksum, "value": 1}
    with pytest.raises(Exception, match="send ether with supply or repay"):
        p.chain.w3.eth.call(stray)  # type: ignore[arg-type]


def test_a_pool_without_a_channel_manager_funds_no_leases(chain: Chain) -> None:
    p, (alice, bob, *_) = funded(chain)
    expires = int(p.chain.timestamp()) + HOUR
    assert (
        p.refused(pool.BorrowForLease(alice, ETHER, terms(alice, bob, p.client.address), expires))
        == "this pool funds no leases"
    )
