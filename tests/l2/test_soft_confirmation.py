"""Soft confirmation (issue #14): a transaction is answered with the proposer's signed
receipt once it is in the log, and an OpenChannel's channel is visible as pending,
under the id it will have, until a seal includes it or drops it."""

from __future__ import annotations

import dataclasses
import random
import threading

import pytest
from fastapi.testclient import TestClient

from l2gpu.core.channel.state import ChannelParams
from l2gpu.core.errors import SignatureError
from l2gpu.core.l2.envelope import rollup_domain
from l2gpu.core.l2.receipts import (
    RECEIPT,
    BadReceipt,
    SequencerReceipt,
    check_receipt,
    receipt_digest,
)
from l2gpu.core.l2.transactions import OpenChannel, Transfer
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.node.api import create_app
from l2gpu.node.cosign_desk import CoSignDesk

from .node_world import Deployed, wire
from .test_node_cosigning import answer, started, wait_for_request

DEPOSIT = Wei(10**16)


@pytest.fixture(scope="module")
def deployed() -> Deployed:
    return Deployed()


@pytest.fixture
def world(deployed: Deployed) -> Deployed:
    deployed.reset()
    return deployed


def opening(world: Deployed, node, renter: int = 1, provider: int = 2, nonce: int = 0):
    tx = OpenChannel(renter, provider, DEPOSIT, Timestamp(2**32 - 1), Seconds(3600))
    envelope = world.envelope(node, renter, tx, nonce)
    params = ChannelParams(world.keys[renter].address, world.keys[provider].address,
                           ZERO_ADDRESS, Seconds(3600), nonce.to_bytes(32, "big"))  # fmt: skip
    return envelope, str(params.id)


def test_the_receipt_is_the_proposers_promise_for_that_transaction(world, tmp_path) -> None:
    desk = CoSignDesk(timeout=30)
    node, api = started(world, tmp_path, desk)
    proposer = Address.from_hex(api.get("/l2/status").json()["proposer"])
    assert proposer == Address.from_hex(world.operator.address)
    envelope = world.envelope(node, 1, Transfer(1, 2, Wei(10**15), Wei(10**12)), 0)
    answered = api.post("/l2/transactions", json=wire(envelope)).json()
    receipt = SequencerReceipt.from_json(answered["receipt"])
    assert receipt.position == answered["accepted"]
    check_receipt(receipt, node.domain, envelope, proposer)  # holds
    # Changed after signing, or held against another transaction: it does not hold.
    moved = dataclasses.replace(receipt, position=receipt.position + 1)
    with pytest.raises(BadReceipt, match="not by the rollup's proposer"):
        check_receipt(moved, node.domain, envelope, proposer)
    other = world.envelope(node, 1, Transfer(1, 3, Wei(10**15), Wei(10**12)), 0)
    with pytest.raises(BadReceipt, match="names another transaction"):
        check_receipt(receipt, node.domain, other, proposer)
    with pytest.raises(BadReceipt, match="malformed"):
        SequencerReceipt.from_json({"tx_hash": "0x12", "signature": "0x", "position": 1})


def test_an_opened_channel_is_pending_then_open_under_the_same_id(world, tmp_path) -> None:
    desk = CoSignDesk(timeout=30)
    node, api = started(world, tmp_path, desk)
    envelope, cid = opening(world, node)
    assert api.get(f"/l2/channels/{cid}").status_code == 404
    api.post("/l2/transactions", json=wire(envelope))
    pending = api.get(f"/l2/channels/{cid}").json()
    assert pending["status"] == "pending"
    assert int(pending["deposit"]) == DEPOSIT
    assert pending["receipt"]["nonce"] == 0
    renter = world.keys[1].address.checksum
    assert [c["channel_id"] for c in api.get(f"/l2/accounts/{renter}/channels").json()] == [cid]
    assert api.get("/l2/status").json()["pending_channels"] == 1
    sealing = threading.Thread(target=node.seal_and_post)
    sealing.start()
    assert answer(api, wait_for_request(desk, 1), world.bls[1]).status_code == 200
    sealing.join(timeout=30)
    opened = api.get(f"/l2/channels/{cid}").json()
    assert opened["status"] == "open"  # the predicted id is the id the state gave it
    assert opened["index"] == 0
    assert api.get("/l2/status").json()["pending_channels"] == 0


def test_a_dropped_open_leaves_no_channel_and_a_restart_keeps_pending_ones(world, tmp_path) -> None:
    desk = CoSignDesk(timeout=30)
    node, api = started(world, tmp_path, desk)
    refused, refused_id = opening(world, node, renter=1)
    kept, kept_id = opening(world, node, renter=3)
    api.post("/l2/transactions", json=wire(refused))
    api.post("/l2/transactions", json=wire(kept))
    # A node started on the same log before any seal (a restart) shows both pending.
    again = world.node(tmp_path / "node.db", desk)
    api = TestClient(create_app(again, desk))
    assert api.get(f"/l2/channels/{refused_id}").json()["status"] == "pending"
    assert api.get(f"/l2/channels/{kept_id}").json()["status"] == "pending"
    sealing = threading.Thread(target=again.seal_and_post)
    sealing.start()
    assert answer(api, wait_for_request(desk, 1), world.bls[1], refuse=True).status_code == 200
    assert answer(api, wait_for_request(desk, 3), world.bls[3]).status_code == 200
    sealing.join(timeout=30)
    assert api.get(f"/l2/channels/{refused_id}").status_code == 404  # dropped: nothing locked
    assert again.state.accounts[1].balance == node.state.accounts[1].balance
    # The other one shared the refused commitment: it is drafted again at the next seal.
    assert api.get(f"/l2/channels/{kept_id}").json()["status"] == "pending"
    sealing = threading.Thread(target=again.seal_and_post)
    sealing.start()
    assert answer(api, wait_for_request(desk, 3), world.bls[3]).status_code == 200
    sealing.join(timeout=30)
    assert api.get(f"/l2/channels/{kept_id}").json()["status"] == "open"


def test_only_an_open_the_renters_balance_covers_is_shown_pending(world, tmp_path) -> None:
    """An account with any deposit could otherwise show channels of any size as pending
    (and hold a market's offers with opens that must fail when sealed)."""
    desk = CoSignDesk(timeout=30)
    node, api = started(world, tmp_path, desk)
    balance = int(node.state.accounts[1].balance)
    huge = OpenChannel(1, 2, Wei(2 * balance), Timestamp(2**32 - 1), Seconds(3600))
    envelope = world.envelope(node, 1, huge, 0)
    api.post("/l2/transactions", json=wire(envelope))
    cid = ChannelParams(world.keys[1].address, world.keys[2].address, ZERO_ADDRESS,
                        Seconds(3600), (0).to_bytes(32, "big")).id  # fmt: skip
    assert api.get(f"/l2/channels/{cid}").status_code == 404
    # covered by the balance alone, but not after the renter's earlier transfer out
    drain = world.envelope(node, 3, Transfer(3, 2, Wei(balance - DEPOSIT // 2), Wei(0)), 0)
    assert api.post("/l2/transactions", json=wire(drain)).is_success
    after, after_id = opening(world, node, renter=3, nonce=1)
    api.post("/l2/transactions", json=wire(after))
    assert api.get(f"/l2/channels/{after_id}").status_code == 404
    # an open the balance covers is pending at once
    covered, covered_id = opening(world, node, renter=2, provider=1)
    api.post("/l2/transactions", json=wire(covered))
    assert api.get(f"/l2/channels/{covered_id}").json()["status"] == "pending"


def test_the_receipt_digest_is_the_eip712_digest_of_the_receipt() -> None:
    """The node's direct encoding of a receipt signs the same bytes as the generic
    EIP-712 encoder, and refuses what the type cannot hold."""
    rng = random.Random(5)
    domain = rollup_domain(ChainId(31337), Address(rng.randbytes(20)))
    for _ in range(200):
        words = [rng.choice((0, 1, 2**64 - 1, rng.randrange(2**64))) for _ in range(3)]
        receipt = SequencerReceipt(rng.randbytes(32), *words, b"")
        assert receipt_digest(domain, receipt.tx_hash, *words) == RECEIPT.digest(
            domain, receipt.message())  # fmt: skip
    for words in ((2**64, 0, 0), (0, -1, 0), (0, 0, 2**70)):
        with pytest.raises(SignatureError):
            receipt_digest(domain, bytes(32), *words)
    with pytest.raises(SignatureError):
        receipt_digest(domain, bytes(31), 0, 0, 0)
