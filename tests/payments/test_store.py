"""The voucher store on SQLite and PostgreSQL: only higher vouchers replace lower ones."""

from __future__ import annotations

import threading

import pytest

from l2gpu.core.channel.vouchers import Voucher, channel_domain, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address, ChainId, Hash32, Wei
from l2gpu.db import DatabaseError, open_database
from l2gpu.payments.store import VoucherStore

CHAIN, MANAGER = ChainId(131277322940537), Address(b"\x07" * 20)
DOMAIN = channel_domain(CHAIN, MANAGER)
RENTER = PrivateKey((2).to_bytes(32, "big"))
CID = Hash32(b"\x01" * 32)


def voucher(amount: int, cid: Hash32 = CID) -> Voucher:
    return sign_voucher(RENTER, DOMAIN, cid, Wei(amount))


def test_only_a_higher_voucher_replaces_the_stored_one(database_url) -> None:
    url, schema = database_url
    store = VoucherStore(open_database(url, schema=schema))
    assert store.best(CID) is None
    assert store.offer(voucher(100), chain_id=CHAIN, manager=MANAGER)
    assert not store.offer(voucher(50), chain_id=CHAIN, manager=MANAGER)
    assert not store.offer(voucher(100), chain_id=CHAIN, manager=MANAGER)
    big = 2**256 - 1  # wei beyond 64 bits survive exactly
    assert store.offer(voucher(big), chain_id=CHAIN, manager=MANAGER)
    assert store.best(CID) == voucher(big)
    other = Hash32(b"\x02" * 32)
    store.offer(voucher(7, other), chain_id=CHAIN, manager=MANAGER)
    assert {v.channel_id for v in store.all(chain_id=CHAIN, manager=MANAGER)} == {CID, other}


def test_a_reopened_store_remembers(database_url) -> None:
    url, schema = database_url
    VoucherStore(open_database(url, schema=schema)).offer(
        voucher(321), chain_id=CHAIN, manager=MANAGER
    )
    assert VoucherStore(open_database(url, schema=schema)).best(CID).amount == 321


def test_concurrent_offers_keep_the_highest(database_url) -> None:
    url, schema = database_url
    store = VoucherStore(open_database(url, schema=schema))
    amounts = list(range(1, 41))
    threads = [
        threading.Thread(
            target=lambda a=a: store.offer(voucher(a), chain_id=CHAIN, manager=MANAGER)
        )
        for a in reversed(amounts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.best(CID).amount == max(amounts)


def test_a_malformed_database_url_is_a_clear_error() -> None:
    with pytest.raises(DatabaseError, match="invalid database URL"):
        open_database("not a url")
