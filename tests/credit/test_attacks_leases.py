"""Attacks on credit leases and advances (ChannelManager.open_for / assign_* /
collect, LendingPool.borrow_for_lease / settle_lease, Advances.vy), from an attack
review of the commit that added them. Each test played an attack that worked then
and passes now that it is refused (or, for a provider's early close, recovered);
the last two tests are attacks the review found refused already."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from web3.types import Wei as Web3Wei

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.vouchers import Voucher, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address, Seconds, Wei
from l2gpu.l1 import Chain
from l2gpu.l1.contracts.advances import AdvancesClient
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.contracts.channel_params import as_tuple
from l2gpu.l1.errors import ContractRevert

ETHER = 10**18
HOUR = 3600
FEE_BPS, MAX_SHARE_BPS = 100, 5_000


def addr(account: LocalAccount) -> Address:
    return Address.from_hex(account.address)


def terms(renter: Address, provider: Address) -> ChannelParams:
    return ChannelParams(renter, provider, challenge_period=Seconds(HOUR),
                         salt=secrets.token_bytes(32))  # fmt: skip


class Desk:
    """A ChannelManager and a desk funded with 20 ether that advances 20 % of the
    remaining value on Alice's leases (Alice: a renter with a good name)."""

    def __init__(self, chain: Chain) -> None:
        deployer, lender, alice, bob, mallory, mallory_gpu = chain.accounts[:6]
        self.chain = chain
        self.lender, self.alice, self.bob = lender, alice, bob
        self.mallory, self.mallory_gpu = mallory, mallory_gpu
        self.manager = ChannelManagerClient.deploy(chain, deployer)
        self.desk = AdvancesClient.deploy(chain, deployer, channels=self.manager.address,
                                          lender=addr(lender), fee_bps=FEE_BPS,
                                          max_share_bps=MAX_SHARE_BPS)  # fmt: skip
        self.desk.fund(lender, 20 * ETHER)
        self.desk.set_share(lender, addr(alice), 2_000)
        self.cm = self.manager.contract
        self.dc = self.desk.contract

    def voucher(self, signer: LocalAccount, params: ChannelParams, amount: int) -> Voucher:
        return sign_voucher(PrivateKey(bytes(signer.key)), self.manager.domain, params.id,
                            Wei(amount))  # fmt: skip


@pytest.fixture
def world(chain: Chain) -> Desk:
    return Desk(chain)


def refused(call: Callable[[], object]) -> bool:
    """Run one step of an attack; True when the contracts refused it."""
    try:
        call()
    except ContractRevert:
        return True
    return False


# == Finding 1: open_for spends any renter's reputation at the desk ====================


def test_a_stranger_cannot_drain_the_desk_on_a_good_renters_name(world: Desk) -> None:
    """Mallory never deals with Alice. She opens channels *for* Alice (open_for needs
    no word from the renter) with her own ether and her own GPU account as provider,
    so the refund is hers. Her provider account assigns the payout to the desk and
    takes an advance on Alice's 20 % share of the remaining value (no voucher
    needed), closes at once with nothing vouched (close_by_provider), and Mallory
    collects her whole deposit back. Each round nets her about 20 % of the deposit
    (less the 1 % fee) in one block, and she repeats until the desk is empty.
    Alice signed nothing; the lender priced Alice's reputation, not Mallory's.
    Fixed when the desk loses nothing on a channel its renter took no part in."""
    w = world
    chain, cm, dc = w.chain, w.cm, w.dc
    mallory, gpu = w.mallory, w.mallory_gpu
    deposit = 10 * ETHER
    for _ in range(12):
        mine = ChannelParams(addr(w.alice), addr(gpu), challenge_period=Seconds(HOUR),
                             salt=bytes(addr(mallory)) + secrets.token_bytes(12))  # fmt: skip
        t = as_tuple(mine)
        expires = int(chain.timestamp()) + 2 * HOUR
        try:
            cm.transact("open_for", t, deposit, expires, sender=mallory, value=deposit)
            cm.transact("assign_payout", t, w.desk.address, sender=gpu)
            dc.transact("advance", t, 0, b"", sender=gpu)  # no voucher: Alice's share only
            cm.transact("close_by_provider", t, 0, b"", sender=gpu)  # nothing vouched
            cm.transact("collect", t, sender=mallory)  # the whole deposit back
            dc.transact("settle", t, sender=mallory)
        except ContractRevert:
            break
    # the lender funded 20 ether; Alice took part in none of these leases
    assert chain.balance(w.desk.address) == int(dc.call("cash")) >= 20 * ETHER, (
        f"desk drained to {chain.balance(w.desk.address) / ETHER} ether, "
        f"losses {int(dc.call('losses')) / ETHER}"
    )


# == Finding 2: the provider alone chooses to realise the desk's share as a loss ========


def test_a_provider_cannot_pocket_the_share_by_closing_right_after_its_advance(
    world: Desk,
) -> None:
    """Alice rents from Bob honestly: 10 ether deposited, 3 vouched. Bob assigns his
    payout to the desk and takes an advance on 3 + 20 % of the 7 remaining (less the
    fee), then at once closes the channel himself with the 3 ether voucher
    (close_by_provider needs nobody else). Alice gets her 7 back as she would, the
    desk collects 3, and Bob keeps the 1.4 ether share the lender advanced against
    *Alice's* reputation: a loss Alice did not cause and Bob can repeat on every
    lease he serves. Fixed when a provider whose payout is sold cannot close a
    lease early at the desk's cost (e.g. close_by_provider belongs to the payout's
    assignee once assigned, or the shortfall is the provider's debt)."""
    w = world
    cm, dc = w.cm, w.dc
    params = terms(addr(w.alice), addr(w.bob))
    expires = int(w.chain.timestamp()) + 2 * HOUR
    cm.transact("open", as_tuple(params), 10 * ETHER, expires, sender=w.alice, value=10 * ETHER)
    v = w.voucher(w.alice, params, 3 * ETHER)
    cm.transact("assign_payout", as_tuple(params), w.desk.address, sender=w.bob)
    dc.transact("advance", as_tuple(params), v.amount, v.signature, sender=w.bob)
    if refused(lambda: cm.transact("close_by_provider", as_tuple(params), v.amount, b"",
                                   sender=w.bob)):  # fmt: skip
        return
    dc.transact("settle", as_tuple(params), sender=w.lender)
    # The provider answers for it: the shortfall is Bob's debt, not Alice's mark, and
    # his next advance keeps it back until the desk is whole.
    shortfall = 7 * ETHER * 2_000 // 10_000
    assert int(dc.call("provider_debt", addr(w.bob))) == shortfall
    assert int(dc.call("provider_debt", addr(w.alice))) == 0
    again = terms(addr(w.alice), addr(w.bob))
    expires = int(w.chain.timestamp()) + 2 * HOUR
    cm.transact("open", as_tuple(again), 10 * ETHER, expires, sender=w.alice, value=10 * ETHER)
    cm.transact("assign_payout", as_tuple(again), w.desk.address, sender=w.bob)
    v = w.voucher(w.alice, again, 5 * ETHER)
    dc.transact("advance", as_tuple(again), v.amount, v.signature, sender=w.bob)
    assert int(dc.call("losses")) == 0, "the provider closed early and kept the renter's share"
    assert int(dc.call("provider_debt", addr(w.bob))) == 0


# == Finding 3: open_for front-runs a lease ============================================


def test_a_stranger_cannot_take_a_renters_channel_id_with_open_for(chain: Chain) -> None:
    """Alice sends borrow_for_lease (or a plain open) for her lease's terms. Mallory
    sees it in the mempool and opens the same terms first with open_for and 1 wei:
    the channel id is only the hash of the terms, so Alice's call reverts with
    'channel: id already used'. Mallory pays 1 wei and gas per block a renter or the
    pool's credit leases; the channel she made is useless to anyone. Fixed when the
    id binds who funded it (or open_for needs the renter's consent)."""
    from .test_credit_leases import lease_pool
    from .test_credit_leases import terms as lease_terms

    p, manager, (alice, bob, *_rest) = lease_pool(chain)
    mallory = chain.accounts[9]
    alice_acct = p.accounts[alice]
    params = lease_terms(alice, bob, p.client.address)
    expires = int(chain.timestamp()) + 2 * HOUR
    assert refused(lambda: manager.contract.transact("open_for", as_tuple(params), 1, expires,
                                                     sender=mallory, value=1))  # fmt: skip
    p.client.contract.transact("borrow_for_lease", as_tuple(params), 3 * ETHER, expires,
                               sender=alice_acct)  # fmt: skip
    assert p.client.contract.call("lease_borrower", params.id) == alice


# == Finding 4: ether pushed by the ChannelManager breaks the books ====================


def test_ether_a_channel_pushes_to_the_desk_is_not_taken_untracked(world: Desk) -> None:
    """Anyone opens a channel whose *provider* is the desk (or the pool) and settles
    it: the ChannelManager pushes the payout, and __default__ takes any ether from
    the ChannelManager, so the desk's balance is no longer its cash (nor the pool's
    its cash + credits), and the ether is stuck: nothing can pay it out. Fixed when
    __default__ takes ether only while the desk itself is collecting."""
    w = world
    cm = w.cm
    params = terms(addr(w.mallory), w.desk.address)
    expires = int(w.chain.timestamp()) + 2 * HOUR
    cm.transact("open", as_tuple(params), ETHER, expires, sender=w.mallory, value=ETHER)
    cm.transact("close_by_renter", as_tuple(params), ETHER, sender=w.mallory)
    w.chain.time_travel(HOUR + 1)
    cm.transact("settle", as_tuple(params), sender=w.mallory)
    assert w.chain.balance(w.desk.address) == int(w.dc.call("cash"))


def test_ether_a_channel_pushes_to_the_pool_is_not_taken_untracked(chain: Chain) -> None:
    from .test_credit_leases import lease_pool

    p, manager, _users = lease_pool(chain)
    mallory = chain.accounts[9]
    params = terms(addr(mallory), p.client.address)
    expires = int(chain.timestamp()) + 2 * HOUR
    cm = manager.contract
    cm.transact("open", as_tuple(params), ETHER, expires, sender=mallory, value=ETHER)
    cm.transact("close_by_renter", as_tuple(params), ETHER, sender=mallory)
    chain.time_travel(HOUR + 1)
    cm.transact("settle", as_tuple(params), sender=mallory)
    p.check_state()  # the pool's balance is its cash + credits


# == Finding 5: after an advance, the renter can push the settlement out for ever ====


def test_a_renter_cannot_lock_an_advanced_payout_by_extending_the_expiry(world: Desk) -> None:
    """Alice and Bob collude (or Alice is spiteful once Bob has been paid). Alice
    deposits 10 and vouches 10 to Bob; Bob sells the payout to the desk for 9.9 (the
    desk's loss bound is owed - vouched = 0). Then Alice tops up 1 wei and moves the
    expiry to 2**64 - 1: top_up lets the renter extend an assigned-payout channel,
    nobody but Bob may close it at once, Bob has been paid and does not, and settle
    waits for expiry + challenge period. The desk's 9.9 ether never comes back, for
    1 % of the deposit. Fixed when the expiry of a channel whose payout is assigned
    cannot be moved without its assignee (or the assignee can close it)."""
    w = world
    cm, dc = w.cm, w.dc
    params = terms(addr(w.alice), addr(w.bob))
    expires = int(w.chain.timestamp()) + 2 * HOUR
    cm.transact("open", as_tuple(params), 10 * ETHER, expires, sender=w.alice, value=10 * ETHER)
    v = w.voucher(w.alice, params, 10 * ETHER)
    cm.transact("assign_payout", as_tuple(params), w.desk.address, sender=w.bob)
    dc.transact("advance", as_tuple(params), v.amount, v.signature, sender=w.bob)
    refused(lambda: cm.transact("top_up", as_tuple(params), 1, 2**64 - 1, sender=w.alice,
                                value=1))  # fmt: skip
    w.chain.time_travel(3 * HOUR)  # long past the lease's agreed expiry and challenge period
    assert not refused(lambda: cm.transact("settle", as_tuple(params), sender=w.lender))
    dc.transact("settle", as_tuple(params), sender=w.lender)
    assert int(dc.call("losses")) == 0


# == Finding 6: a payout assigned to the pool is locked (or counted as a refund) ======


def test_a_payout_assigned_to_the_pool_is_not_locked_in_the_manager(chain: Chain) -> None:
    """Bob, serving Alice's credit lease, assigns his payout to the pool (say, so that
    his earnings pay down the renter's debt, or by mistake). Alice vouches the whole
    deposit, so the refund is 0: settle_lease sees no refund owed, never calls
    collect, and forgets the lease; the 3 ether payout owed to the pool stays in the
    ChannelManager for ever (only the pool may collect it, and nothing in the pool
    does). With a refund above 0 the pool's collect takes refund + payout and books
    both as the refund, where the specification (pool.SettleLease) books only the
    refund. Fixed when settle_lease collects whatever the channel owes the pool and
    the spec agrees (or the pool refuses payouts)."""
    from .test_credit_leases import borrow_into_lease, lease_pool, provider_closes
    from .test_credit_leases import terms as lease_terms

    p, manager, (alice, bob, *_rest) = lease_pool(chain)
    params = lease_terms(alice, bob, p.client.address)
    borrow_into_lease(p, alice, params, 3 * ETHER)
    manager.contract.transact("assign_payout", as_tuple(params), p.client.address,
                              sender=p.accounts[bob])  # fmt: skip
    provider_closes(p, manager, params, 3 * ETHER)
    p.client.contract.transact("settle_lease", as_tuple(params), sender=p.accounts[bob])
    channel = manager.channel(params)
    assert channel is not None
    assert channel.payout_owed == 0, "3 ether owed to the pool that nothing can collect"


# == Attacks the contracts refuse (these pass today) ===================================


def reason(call: Callable[[], object]) -> str:
    with pytest.raises(ContractRevert) as info:
        call()
    return str(info.value)


def test_refused_attacks_on_an_advanced_payout(world: Desk) -> None:
    w = world
    cm, dc = w.cm, w.dc
    p = terms(addr(w.alice), addr(w.bob))
    t = as_tuple(p)
    expires = int(w.chain.timestamp()) + 2 * HOUR
    cm.transact("open", t, 10 * ETHER, expires, sender=w.alice, value=10 * ETHER)
    v = w.voucher(w.alice, p, 3 * ETHER)
    cm.transact("assign_payout", t, w.desk.address, sender=w.bob)
    dc.transact("advance", t, v.amount, v.signature, sender=w.bob)
    # the provider cannot take the payout back, nor sell it twice, nor release it
    assert "only the payout's owner" in reason(
        lambda: cm.transact("assign_payout", t, addr(w.bob), sender=w.bob)
    )
    assert "advanced already" in reason(lambda: dc.transact("advance", t, 0, b"", sender=w.bob))
    assert "outstanding" in reason(lambda: dc.transact("release", t, sender=w.bob))
    # a voucher above the deposit is capped; a forged one is refused by the manager
    big = w.voucher(w.mallory, p, 9 * ETHER)
    assert "bad voucher signature" in reason(
        lambda: cm.transact("submit_voucher", t, big.amount, big.signature, sender=w.bob)
    )
    # a cooperative close below the proven voucher is refused (test_advances); a stranger
    # cannot collect, and nothing is collectable before settlement
    assert "not settled" in reason(lambda: cm.transact("collect", t, sender=w.mallory))
    cm.transact("close_by_renter", t, 0, sender=w.alice)
    w.chain.time_travel(HOUR + 1)
    cm.transact("settle", t, sender=w.mallory)
    assert "nothing to collect" in reason(lambda: cm.transact("collect", t, sender=w.mallory))
    assert "nothing to collect" in reason(lambda: cm.transact("collect", t, sender=w.bob))
    dc.transact("settle", t, sender=w.mallory)
    assert "no advance" in reason(lambda: dc.transact("settle", t, sender=w.mallory))
    dc.transact("release", t, sender=w.bob)  # after settlement: nothing left, no-op
    assert int(dc.call("losses")) == 7 * ETHER * 2_000 // 10_000
    assert w.chain.balance(w.desk.address) == int(dc.call("cash"))
    assert "already settled" in reason(
        lambda: cm.transact("assign_payout", t, addr(w.mallory), sender=w.bob)
    )


def test_refused_attacks_on_a_credit_lease(chain: Chain) -> None:
    from .test_credit_leases import borrow_into_lease, lease_pool, provider_closes
    from .test_credit_leases import terms as lease_terms

    p, manager, (alice, bob, carol, *_rest) = lease_pool(chain)
    cm, pc = manager.contract, p.client.contract
    params = lease_terms(alice, bob, p.client.address)
    t = as_tuple(params)
    expires = int(chain.timestamp()) + 2 * HOUR
    assert "only the lease's renter" in reason(
        lambda: pc.transact("borrow_for_lease", t, ETHER, expires, sender=p.accounts[carol])
    )
    borrow_into_lease(p, alice, params, 3 * ETHER)
    # the renter cannot take the refund from the pool, nor top the lease up
    assert "only the refund's owner" in reason(
        lambda: cm.transact("assign_refund", t, alice, sender=p.accounts[alice])
    )
    assert "only the refund's assignee may top up" in reason(
        lambda: cm.transact("top_up", t, 1, expires, sender=p.accounts[alice], value=1)
    )
    assert "has not settled" in reason(
        lambda: pc.transact("settle_lease", t, sender=p.accounts[carol])
    )
    with pytest.raises(Exception, match="send ether with supply or repay"):
        chain.w3.eth.call(
            {
                "from": p.accounts[carol].address,
                "to": p.client.address.checksum,
                "value": Web3Wei(1),
            }
        )
    provider_closes(p, manager, params, ETHER)
    # a stranger cannot collect the pool's refund
    assert "nothing to collect" in reason(
        lambda: cm.transact("collect", t, sender=p.accounts[carol])
    )
    pc.transact("settle_lease", t, sender=p.accounts[carol])
    assert "not a lease this pool funded" in reason(
        lambda: pc.transact("settle_lease", t, sender=p.accounts[carol])
    )
