"""A market lease's rail on Plasma: the renter locks coins, each voucher is a transfer
of a prefix of them, the provider's close puts the best one in a block; the market's
check reads the lock from the operator and refuses descriptions that lie."""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2gpu.clock import l1_clock
from l2gpu.core.channel.vouchers import Voucher, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import ChannelAlreadyClosed
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription, voucher_domain
from l2gpu.core.plasma.root_chain import Rules
from l2gpu.core.types import Address, Wei
from l2gpu.db import open_database
from l2gpu.designs import RailParts, lease_rail
from l2gpu.l1.contracts.plasma import PlasmaClient
from l2gpu.node.plasma.api import create_plasma_app
from l2gpu.node.plasma.operator import PlasmaOperator
from l2gpu.payments.channel_check import ChannelCheck
from l2gpu.payments.plasma_rail import PlasmaChannelRail
from l2gpu.serving.loopback import serve_on_loopback

HOUR = 3600


@pytest.fixture
def served(chain, tmp_path):
    operator_account = chain.accounts[0]
    rules = Rules(Address.from_hex(operator_account.address), 7 * 86_400, 86_400, 10**16, 10**16)
    client = PlasmaClient.deploy(chain, operator_account, rules)
    client.contract.transact("deposit", sender=chain.accounts[1], value=10**18)
    operator = PlasmaOperator(
        client, operator_account, open_database(f"sqlite:///{tmp_path / 'op.db'}"), l1_clock(chain)
    )
    operator.follow_l1()
    operator.start(interval=0.05)  # the operator seals on its own clock, as in production
    server, url = serve_on_loopback(create_plasma_app(operator), "plasma operator")
    yield chain, operator, url
    operator.stop.set()
    server.should_exit = True


def rail(url: str, account) -> PlasmaChannelRail:
    made = lease_rail(
        "plasma",
        RailParts(node_url=url, key=PrivateKey(bytes(account.key)), options=(("wait", 30.0),)),
    )
    assert isinstance(made, PlasmaChannelRail)
    return made


def test_a_lease_locks_pays_and_closes_over_the_plasma_rail(served) -> None:
    chain, operator, url = served
    renter_account, provider_account = chain.accounts[1], chain.accounts[2]
    renter, provider = rail(url, renter_account), rail(url, provider_account)
    payee = Address.from_hex(provider_account.address)
    opened = renter.open(payee, Wei(4 * 10**17), lifetime=HOUR)
    channel = ChannelDescription.from_json(opened.description.to_json())  # as the market keeps it
    assert channel.settlement == "plasma"
    assert channel.plasma is not None
    now = renter.now()
    assert provider.check(channel, max_cost=4 * 10**17, ends_by=now + HOUR) is None
    assert ChannelCheck(node_url=url)(channel, max_cost=4 * 10**17, ends_by=now + HOUR) is None
    assert renter.confirmed(channel.channel_id) == "open"
    assert renter.status(channel) == "open"
    # A second lease takes other coins: the first lease's are locked.
    second = renter.open(payee, Wei(10**17), lifetime=HOUR).description
    assert second.plasma is not None
    assert second.plasma.start == channel.plasma.start + 4 * 10**17
    domain = voucher_domain(channel)
    key = PrivateKey(bytes(renter_account.key))
    best = None
    for second_paid in range(1, 6):
        best = sign_voucher(key, domain, channel.channel_id, Wei(second_paid * 10**16))
        assert best.signer(domain) == key.address
    assert best is not None
    # Forged or out-of-range vouchers have no signer.
    assert Voucher(best.channel_id, Wei(6 * 10**16), best.signature).signer(domain) != key.address
    assert Voucher(best.channel_id, Wei(5 * 10**17), best.signature).signer(domain) is None
    closed = provider.close(channel, best)
    assert (closed.provider_payout, closed.renter_payout) == (5 * 10**16, 35 * 10**16)
    assert closed.tx_bytes == 157
    assert operator.coins_of(payee) == [
        {
            "start": channel.plasma.start,
            "end": channel.plasma.start + 5 * 10**16,
            "received": operator.state.height,
        }
    ]
    assert renter.status(channel) == provider.status(channel) == "settled"
    assert renter.cosign_close(channel, Wei(5 * 10**16)) == "settled"
    with pytest.raises(ChannelAlreadyClosed):
        provider.close(channel, best)


def test_the_check_refuses_what_the_operator_does_not_hold(served) -> None:
    chain, _, url = served
    renter, provider = rail(url, chain.accounts[1]), rail(url, chain.accounts[2])
    payee = Address.from_hex(chain.accounts[2].address)
    channel = renter.open(payee, Wei(10**17), lifetime=HOUR).description
    assert channel.plasma is not None
    now = renter.now()
    assert "less than" in str(provider.check(channel, max_cost=10**17 + 1, ends_by=now + HOUR))
    assert "expires" in str(provider.check(channel, max_cost=1, ends_by=now + 2 * HOUR))
    for lie in (
        replace(channel.plasma, start=channel.plasma.start + 1),
        replace(channel.plasma, until=channel.plasma.until + 1),
        replace(channel.plasma, received=5),
    ):
        forged = replace(channel, params=replace(channel.params, salt=lie.salt), plasma=lie)
        assert provider.check(forged, max_cost=1, ends_by=now) is not None, lie
    bigger = replace(channel, deposit=Wei(2 * 10**17))
    assert "not the one described" in str(provider.check(bigger, max_cost=1, ends_by=now))
    said = renter.abandon(channel)
    assert "the provider can send your best transfer" in said
    with pytest.raises(L2gpuError, match="no 1000000000000000001 free coins"):
        renter.open(payee, Wei(10**18 + 1), lifetime=HOUR)
    reader = PlasmaChannelRail(renter.client, None)
    with pytest.raises(L2gpuError, match="only reads"):
        reader.open(payee, Wei(1), lifetime=HOUR)
