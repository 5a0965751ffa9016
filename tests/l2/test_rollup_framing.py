"""Rollup.vy at submission: batch framing, segments, and account indices in the L1 queue.

Framing faults are checked with ``eth_call`` (one execution, the revert reason back);
batches that pass are sent as transactions and their stored fields read back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.proofs.step import NO_ACCOUNT
from l2gpu.core.l2.segments import segments_of_data, segments_root
from l2gpu.core.l2.transactions import (
    CloseByProvider,
    CloseByRenter,
    CooperativeClose,
    OpenChannel,
    SettleChannel,
    SubmitVoucher,
    TopUpChannel,
)
from l2gpu.core.types import Seconds, Timestamp, Wei
from l2gpu.l1 import Chain, ContractRevert
from l2gpu.l1.contracts.rollup import RollupClient, address_of
from l2gpu.l1.embedded import start_embedded_chain

ETH = 10**18
GENESIS = b"\x0a" * 32
ROOT, OTHER_ROOT = b"\x0b" * 32, b"\x0c" * 32


@dataclass
class L1:
    """A deployed rollup with a staked proposer (account 0)."""

    chain: Chain
    client: RollupClient

    @property
    def now(self) -> int:
        return int(self.chain.timestamp())

    def call(self, data: bytes, state_root: bytes = ROOT, queue_end: int = 0) -> int:
        proposer = address_of(self.chain.accounts[0])
        args = (data, state_root, queue_end)
        return int(self.client.contract.call("submit_batch", *args, sender=proposer))

    def submit(self, data: bytes, state_root: bytes = ROOT, queue_end: int = 0) -> int:
        receipt = self.client.contract.transact(
            "submit_batch", data, state_root, queue_end, sender=self.chain.accounts[0]
        )
        return int(receipt.event("BatchPosted").args["index"])

    def batch(self, function: str, index: int) -> int:
        return int(self.client.contract.call(function, index))


@pytest.fixture(scope="module")
def deployed() -> tuple[Chain, RollupClient]:
    chain = start_embedded_chain()
    client = RollupClient.deploy(chain, chain.accounts[0], genesis_root=GENESIS)
    client.stake(chain.accounts[0], ETH)
    return chain, client


@pytest.fixture
def l1(deployed: tuple[Chain, RollupClient]) -> Iterator[L1]:
    chain, client = deployed
    snapshot = chain.snapshot()
    yield L1(chain, RollupClient(chain, client.contract))  # a fresh log poller
    chain.revert(snapshot)


def commitment(
    timestamp: int,
    *,
    kind: int = 1,
    count: int = 1,
    body: bytes | None = None,
    root: bytes = ROOT,
) -> bytes:
    """Commitment bytes; L1 reads the framing only, so zero bodies and signatures do."""
    body = bytes(11 * count) if body is None else body
    return bytes((kind, count)) + timestamp.to_bytes(8, "big") + body + bytes(48) + root


def batch(
    *commitments: bytes,
    deposits: int = 0,
    deposits_root: bytes = OTHER_ROOT,
    version: int = 1,
    fee_recipient: int = 0,
) -> bytes:
    """Batch bytes around ``commitments``."""
    head = bytes((version,)) + fee_recipient.to_bytes(3, "big") + deposits.to_bytes(4, "big")
    return head + (deposits_root if deposits else b"") + b"".join(commitments)


def test_a_well_framed_batch_is_stored_as_its_segments(l1: L1) -> None:
    t = l1.now
    data = batch(commitment(t, root=OTHER_ROOT), commitment(t, kind=2, count=3, body=bytes(24)),
                 fee_recipient=5)  # fmt: skip
    index = l1.submit(data)
    assert index == 1
    stored = bytes(l1.client.contract.call("batch_segments_root", index))
    assert stored == segments_root(segments_of_data(data, GENESIS))
    assert l1.batch("batch_segment_count", index) == 3
    assert l1.batch("batch_fee_recipient", index) == 5
    assert l1.batch("batch_last_timestamp", index) == t
    assert l1.batch("batch_serial", index) == 1
    assert l1.batch("batch_queue_end", index) == 0
    assert l1.batch("batch_time", index) >= t
    second = l1.submit(batch(commitment(t)))
    assert l1.batch("batch_serial", second) == 2
    assert int(l1.client.contract.call("last_serial")) == 2
    assert int(l1.client.contract.call("batch_count")) == 3


def test_every_channel_op_has_its_size_on_l1(l1: L1) -> None:
    sig = b"\x01" * 65
    txs = (
        OpenChannel(1, 2, Wei(10**15), Timestamp(l1.now + 3600), Seconds(600)),
        TopUpChannel(1, 0, Wei(10**15), Timestamp(l1.now + 7200)),
        CooperativeClose(2, 0, Wei(10**14)),
        CloseByRenter(1, 0, Wei(10**14)),
        SubmitVoucher(2, 0, Wei(123_456_789), sig),
        CloseByProvider(2, 0, Wei(123_456_789), sig),
        SettleChannel(1, 0),
    )
    encoded = Commitment(3, Timestamp(l1.now), txs, bytes(48), ROOT).encode()
    assert len(encoded) == 10 + 18 + 15 + 10 + 10 + 88 + 88 + 7 + 80
    data = batch(encoded)
    index = l1.submit(data)
    stored = bytes(l1.client.contract.call("batch_segments_root", index))
    assert stored == segments_root(segments_of_data(data, GENESIS))
    with pytest.raises(ContractRevert, match="batch ends inside a commitment"):
        l1.call(batch(encoded[:-1]))  # one byte short: the sizes add up exactly


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda t: batch(commitment(t), version=2), "unknown batch version"),
        (lambda t: batch(commitment(t))[:5], "batch ends inside its header"),
        (lambda t: batch(commitment(t), deposits=1), "deposit count does not match the queue"),
        (lambda t: batch(commitment(t, kind=0)), "unknown commitment kind"),
        (lambda t: batch(commitment(t, kind=4)), "unknown commitment kind"),
        (lambda t: batch(commitment(t, count=0, body=bytes(11))), "1 to 32 transactions"),
        (lambda t: batch(commitment(t, count=33)), "1 to 32 transactions"),
        (lambda t: batch(commitment(t, kind=3, body=b"\x00" + bytes(6))), "unknown channel op"),
        (lambda t: batch(commitment(t, kind=3, body=b"\x09" + bytes(6))), "unknown channel op"),
        (lambda t: batch(commitment(t)) + b"\x01", "bytes after the last commitment"),
        (lambda t: batch(commitment(t)) + bytes(9), "bytes after the last commitment"),
        (lambda t: batch(commitment(t))[:-1], "batch ends inside a commitment"),
        (lambda t: batch(commitment(t, count=2, body=bytes(11))), "batch ends inside a commitment"),
        (lambda t: batch(commitment(t), commitment(t)[:50]), "batch ends inside a commitment"),
        (lambda t: batch(commitment(t + 10**6)), "commitment timestamp in the future"),
        (lambda t: batch(commitment(t), commitment(t - 1)), "commitment timestamps go backwards"),
        (lambda t: batch(commitment(t, root=OTHER_ROOT)), "state root is not the last post root"),
        (lambda t: batch(), "empty batch"),
    ],
)
def test_a_badly_framed_batch_is_refused(
    l1: L1, build: Callable[[int], bytes], reason: str
) -> None:
    l1.call(batch(commitment(l1.now)))  # the same call with good bytes goes through
    with pytest.raises(ContractRevert, match=reason):
        l1.call(build(l1.now))


def test_deposits_must_match_the_queue_and_may_come_alone(l1: L1) -> None:
    user = l1.chain.accounts[1]
    l1.client.deposit(user, BlsSecretKey.from_seed(b"\x01" * 32), ETH)
    with pytest.raises(ContractRevert, match="deposit count does not match the queue"):
        l1.call(batch(commitment(l1.now)), queue_end=1)
    with pytest.raises(ContractRevert, match="deposit count does not match the queue"):
        l1.call(batch(commitment(l1.now), deposits=2), queue_end=1)
    with pytest.raises(ContractRevert, match="batch ends inside its header"):
        l1.call(batch(deposits=1)[:39], state_root=OTHER_ROOT, queue_end=1)
    with pytest.raises(ContractRevert, match="state root is not the last post root"):
        l1.call(batch(deposits=1), state_root=ROOT, queue_end=1)
    index = l1.submit(batch(deposits=1), state_root=OTHER_ROOT, queue_end=1)
    assert l1.batch("batch_segment_count", index) == 1
    assert l1.batch("batch_queue_end", index) == 1


def test_timestamps_never_go_back_across_batches(l1: L1) -> None:
    t = l1.now
    l1.submit(batch(commitment(t)))
    with pytest.raises(ContractRevert, match="commitment timestamps go backwards"):
        l1.call(batch(commitment(t - 1)))
    l1.submit(batch(commitment(t)))  # the same second is fine


def test_a_batch_holds_at_most_1023_commitments(l1: L1) -> None:
    settle = commitment(l1.now, kind=3, body=b"\x07" + bytes(6))  # the smallest: 97 bytes
    with pytest.raises(ContractRevert, match="too many commitments"):
        l1.call(batch(*[settle] * 1024))
    data = batch(*[settle] * 1023)
    receipt = l1.client.contract.transact(
        "submit_batch", data, ROOT, 0, sender=l1.chain.accounts[0], gas=15_000_000
    )
    index = int(receipt.event("BatchPosted").args["index"])
    assert l1.batch("batch_segment_count", index) == 1024
    stored = bytes(l1.client.contract.call("batch_segments_root", index))
    assert stored == segments_root(segments_of_data(data, GENESIS))


def test_l1_gives_account_indices_in_queue_order(l1: L1) -> None:
    contract = l1.client.contract
    alice, bob, carol = l1.chain.accounts[1:4]
    key = BlsSecretKey.from_seed(b"\x02" * 32)

    def index_of(account: object) -> int:
        return int(contract.call("account_index", address_of(account)))  # type: ignore[arg-type]

    assert index_of(alice) == NO_ACCOUNT == int(contract.call("NO_ACCOUNT"))
    l1.client.deposit(alice, key, ETH)  # queue 0: alice gets 0
    l1.client.deposit(bob, key, ETH)  # queue 1: bob gets 1
    l1.client.deposit(alice, key, ETH)  # queue 2: alice keeps 0
    l1.client.force_withdraw(carol, ETH)  # queue 3: carol never deposited
    l1.client.force_withdraw(bob, ETH)  # queue 4
    l1.client.deposit(carol, key, ETH)  # queue 5: carol gets 2 now
    expected = [0, 1, 0, NO_ACCOUNT, 1, 2]
    assert (index_of(alice), index_of(bob), index_of(carol)) == (0, 1, 2)
    assert int(contract.call("account_count")) == 3
    operations = l1.client.new_operations()
    assert [l1.client.queue_account_index(op.queue_index) for op in operations] == expected
    # From the logs alone, as a prover that never followed the queue would.
    fresh = RollupClient(l1.chain, contract)
    assert [fresh.queue_account_index(i) for i in range(6)] == expected
    for op in operations:
        assert bytes(contract.call("queue", op.queue_index)) == l1.client.queue_entry_hash(op)
    assert l1.client.queue_entry_args(operations[3])[-1] == NO_ACCOUNT
    with pytest.raises(Exception, match="no queue entry 6"):
        fresh.queue_account_index(6)


def test_more_than_16_cooperative_closes_in_a_commitment_are_refused(l1: L1) -> None:
    from l2gpu.core.l2.codec import MAX_CLOSES, CodecError, decode_batch

    close = bytes((3,)) + bytes(3) + bytes(3) + bytes(3)  # op 3, sender, channel, amount
    t = l1.now
    too_many = batch(commitment(t, kind=3, count=MAX_CLOSES + 1, body=close * (MAX_CLOSES + 1)))
    with pytest.raises(ContractRevert, match="more than 16 cooperative closes"):
        l1.call(too_many)
    with pytest.raises(CodecError, match="more than 16 cooperative closes"):
        decode_batch(too_many)
    closes = tuple(CooperativeClose(i, i, Wei(10**15)) for i in range(MAX_CLOSES + 1))
    with pytest.raises(CodecError, match="more than 16 cooperative closes"):
        Commitment(3, Timestamp(1), closes).encode()
    assert l1.call(batch(commitment(t, kind=3, count=MAX_CLOSES, body=close * MAX_CLOSES))) == 1
