"""A zk channel's vouchers and description: what the market's parties check each second."""

from __future__ import annotations

import pytest
from eth_account import Account

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.stream import PayeeState, VoucherReceived, VoucherTaken, payee_transition
from l2gpu.core.channel.vouchers import Voucher, sign_voucher
from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import InvalidValue
from l2gpu.core.market.channel_description import (
    ChannelDescription,
    ZkChannelName,
    voucher_domain,
)
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.core.zk.channel import sign_voucher as zk_sign_voucher
from l2gpu.core.zk.channel import voucher_message
from l2gpu.core.zk.keys import zk_private_key, zk_public_key
from l2gpu.node.zk.l2key import zk_private_key as zk_private_key_of_account

RENTER = PrivateKey(bytes([3]) * 32)
PROVIDER = PrivateKey(bytes([4]) * 32)
ROLLUP = Address.from_hex("0x" + "ab" * 20)
OTHER_ROLLUP = Address.from_hex("0x" + "cd" * 20)


def _key(renter: PrivateKey = RENTER, rollup: Address = ROLLUP) -> bytes:
    return zk_private_key(renter, 31337, rollup)


def _description(renter: PrivateKey = RENTER, *, open_nonce: int = 5,
                 rollup: Address = ROLLUP) -> ChannelDescription:  # fmt: skip
    ax, ay = zk_public_key(_key(renter, rollup))
    name = ZkChannelName(channel=130, renter_index=7, open_nonce=open_nonce, ax=ax, ay=ay)
    params = ChannelParams(renter.address, PROVIDER.address, ZERO_ADDRESS, Seconds(3600),
                           name.salt)  # fmt: skip
    return ChannelDescription("zk", ChainId(31337), rollup, params, Wei(10**18), name)


def test_the_zk_key_is_the_one_an_l1_wallet_derives() -> None:
    account = Account.from_key(bytes(RENTER.secret))
    assert _key() == zk_private_key_of_account(account, 31337, ROLLUP)


def test_a_voucher_signed_on_another_deployment_verifies_nowhere_else() -> None:
    # The renter holds the same index and open nonce on two rollups (a testnet and
    # mainnet, a rollup and its validium): the ledger's message is the same on both.
    here, there = _description(), _description(rollup=OTHER_ROLLUP)
    assert voucher_message(7, 5, 10**17) == voucher_message(7, 5, 10**17)
    signed_there = sign_voucher(RENTER, voucher_domain(there), there.channel_id, Wei(10**17))
    assert signed_there.signer(voucher_domain(there)) == RENTER.address
    assert signed_there.signer(voucher_domain(here)) is None  # another key signed it


def test_a_description_round_trips_and_binds_its_zk_part() -> None:
    described = _description()
    data = described.to_json()
    assert ChannelDescription.from_json(data) == described
    forged = {**data, "zk": {**data["zk"], "open_nonce": 6}}
    with pytest.raises(InvalidValue, match="zk part"):
        ChannelDescription.from_json(forged)
    without = {k: v for k, v in data.items() if k != "zk"}
    with pytest.raises(InvalidValue, match="'zk'"):
        ChannelDescription.from_json(without)
    with pytest.raises(InvalidValue, match="zk part"):
        ChannelDescription.from_json({**data, "zk": "nonsense"})


def test_vouchers_verify_under_the_renters_key_and_the_channels_name_only() -> None:
    described = _description()
    domain = voucher_domain(described)
    voucher = sign_voucher(RENTER, domain, described.channel_id, Wei(123_456_789))
    assert voucher.signer(domain) == RENTER.address
    # It is the ledger's own voucher: the CLOSE checks this very signature.
    ax, ay = zk_public_key(_key())
    digest = voucher_message(7, 5, 123_456_789)
    unpacked = eddsa.unpack_signature(voucher.signature)
    assert eddsa.verify(digest, unpacked, eddsa.public_key(_key()))
    assert (ax, ay) == (described.zk.ax, described.zk.ay)  # type: ignore[union-attr]
    # Another amount, another key, another channel name, garbage: nobody signed it.
    assert Voucher(voucher.channel_id, Wei(123_456_790), voucher.signature).signer(domain) is None
    other = sign_voucher(PROVIDER, domain, described.channel_id, Wei(5))
    assert other.signer(domain) is None
    old = zk_sign_voucher(_key(), 7, 4, 5)  # the renter's earlier channel
    assert Voucher(voucher.channel_id, Wei(5), eddsa.pack_signature(old)).signer(domain) is None
    for junk in (b"", b"\x00" * 64, b"\xff" * 64, voucher.signature[:63]):
        assert Voucher(voucher.channel_id, Wei(5), junk).signer(domain) is None


def test_the_provider_takes_zk_vouchers_as_it_takes_eip712_ones() -> None:
    described = _description()
    domain = voucher_domain(described)
    state = PayeeState(described.channel_id, RENTER.address, domain, described.deposit, Wei(10))
    voucher = sign_voucher(RENTER, domain, described.channel_id, Wei(10))
    state, events = payee_transition(state, VoucherReceived(voucher, Timestamp(1)))
    assert events == [VoucherTaken(voucher)]
    forged = sign_voucher(PROVIDER, domain, described.channel_id, Wei(20))
    _, events = payee_transition(state, VoucherReceived(forged, Timestamp(2)))
    assert "not signed by the renter" in events[0].reason  # type: ignore[union-attr]
