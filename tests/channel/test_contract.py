"""ChannelManager specifics: ids and domain agree with Python, refused payouts, gas snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.vouchers import channel_domain
from l2gpu.core.types import Address, Seconds, Timestamp, Wei
from l2gpu.l1 import ContractRevert, compile_contract
from l2gpu.l1.contracts.channel_params import as_tuple
from l2gpu.payments.gas import GAS_SNAPSHOT, measure_gas, render_snapshot

from .conftest import Deployment, address_of
from .runner import key

RENTER, PROVIDER = key("renter"), key("provider")


def test_channel_id_and_domain_separator_match_python(fresh: Deployment) -> None:
    params = ChannelParams(
        RENTER.address, PROVIDER.address, fresh.token.address, Seconds(77), b"\x05" * 32
    )
    assert fresh.manager.contract.call("channel_id", as_tuple(params)) == params.id
    domain = channel_domain(fresh.manager.chain_id, fresh.manager.address)
    assert fresh.manager.contract.call("domain_separator") == domain.separator


def test_a_refused_payout_is_credited_and_withdrawable(fresh: Deployment) -> None:
    chain, manager = fresh.chain, fresh.manager
    deployer = chain.accounts[0]
    receiver = chain.deploy(compile_contract("testing/RefusingReceiver.vy"), sender=deployer)
    params = ChannelParams(RENTER.address, receiver.address, challenge_period=Seconds(10))
    renter = fresh.account("renter")
    now = int(chain.timestamp()) + 1
    chain.set_next_block_timestamp(now)
    manager.apply(
        ci.Open(RENTER.address, Timestamp(now), params, Wei(900), Timestamp(now + 50), Wei(900)),
        renter,
    )
    manager.apply(ci.CloseByRenter(RENTER.address, Timestamp(0), params, Wei(300)), renter)
    chain.time_travel(20)
    receipt = manager.apply(ci.Settle(RENTER.address, Timestamp(0), params), renter)
    assert [e.name for e in receipt.events] == ["ChannelSettled", "PayoutDeferred"]
    zero = Address(bytes(20))
    assert manager.contract.call("credit", zero, receiver.address) == 300
    assert chain.balance(manager.address) == 300  # the renter's 600 went out; 300 wait
    with pytest.raises(ContractRevert):  # the push inside withdraw is refused again
        receiver.transact("withdraw_from", manager.address, zero, sender=deployer)
    receiver.transact("set_accepting", True, sender=deployer)
    receiver.transact("withdraw_from", manager.address, zero, sender=deployer)
    assert chain.balance(receiver.address) == 300
    assert chain.balance(manager.address) == 0
    with pytest.raises(ContractRevert, match="nothing to withdraw"):
        manager.contract.transact("withdraw", zero, sender=renter)


def test_the_gas_snapshot_file_is_current() -> None:
    """Gas is deterministic on the embedded chain; regenerate with `l2gpu bench channels
    --write-gas-snapshot` when a change moves it, so the diff shows the change."""
    current = render_snapshot(measure_gas())
    assert Path(GAS_SNAPSHOT).read_text() == current


def test_address_of_helper_round_trips(fresh: Deployment) -> None:
    assert address_of(fresh.account("renter")) == RENTER.address
