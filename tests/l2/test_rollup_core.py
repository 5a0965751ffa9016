"""The L2 spec and the sequencer: transfers, withdrawals, channels, co-signing, rollback."""

from __future__ import annotations

import pytest

from l2gpu.core.channel import ChannelStatus
from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
from l2gpu.core.errors import InvalidValue
from l2gpu.core.l2.codec import Batch, CodecError, decode_batch
from l2gpu.core.l2.commitment import InvalidCommitment, apply_commitment
from l2gpu.core.l2.envelope import seal
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.stf import L2Error, state_transition
from l2gpu.core.l2.transactions import (
    BlockContext,
    CloseByRenter,
    CooperativeClose,
    OpenChannel,
    SettleChannel,
    SubmitVoucher,
    Transfer,
    Withdraw,
)
from l2gpu.core.types import Seconds, Timestamp, Wei
from l2gpu.node.sequencer import Rejected, Sequencer

from .helpers import CHAIN, ROLLUP, T0, World

FEE = Wei(10**9)


def replay(world: World, batches: list[Batch]) -> L2State:
    """A watcher's view: a fresh state fed the deposits and the posted commitments."""
    state = L2State(CHAIN, ROLLUP)
    for i in range(world.n):
        state_transition(state, world.deposit(i, i, world.balance), BlockContext(Timestamp(T0), 0))
    for batch in batches:
        for commitment in decode_batch(batch.encode()).commitments:
            apply_commitment(state, commitment, batch.fee_recipient)
    return state


def test_transfers_and_withdrawals_are_sealed_and_replay_to_the_same_root() -> None:
    world = World()
    world.send(Transfer(1, 2, Wei(3 * 10**17), FEE))
    world.send(Transfer(2, 3, Wei(10**17), FEE))
    world.send(Withdraw(3, Wei(5 * 10**16), FEE))
    report = world.sequencer.seal()
    assert [len(c.txs) for c in report.commitments] == [2, 1]
    assert report.dropped == []
    assert report.batch is not None
    assert report.batch.post_root == world.state.root()
    assert world.balance_of(1) == 10**18 - 3 * 10**17 - FEE
    assert world.balance_of(0) == 10**18 + 3 * FEE
    assert world.state.exits[0].amount == 5 * 10**16
    assert replay(world, [report.batch]).root() == world.state.root()


def test_commitments_hold_at_most_32_transactions() -> None:
    world = World()
    for _ in range(40):
        world.send(Transfer(1, 2, Wei(10**15), FEE))
    report = world.sequencer.seal()
    assert [len(c.txs) for c in report.commitments] == [32, 8]
    with pytest.raises(ValueError, match="1 to 32 transactions"):
        Sequencer(world.state, fee_recipient=0, cosigners={}, clock=lambda: Timestamp(T0),
                  max_per_commitment=33)  # fmt: skip


def test_commitment_timestamps_never_go_back_when_the_clock_does() -> None:
    world = World()
    world.send(Transfer(1, 2, Wei(10**15), FEE))
    first = world.sequencer.seal().commitments[0]
    world.now -= 100  # a wall clock stepped back: L1 would refuse an older commitment
    world.send(Transfer(1, 2, Wei(10**15), FEE))
    second = world.sequencer.seal().commitments[0]
    assert second.timestamp == first.timestamp


def test_invalid_transactions_are_dropped_with_their_reason() -> None:
    world = World()
    world.send(Transfer(1, 2, Wei(2 * 10**18), FEE))  # more than the balance
    world.send(Transfer(2, 9, Wei(1), FEE))  # no account 9
    report = world.sequencer.seal()
    assert [reason for _, reason in report.dropped] == [
        "l2: insufficient balance",
        "l2: unknown recipient",
    ]
    assert report.commitments == []


def test_a_sender_that_does_not_cosign_is_left_out() -> None:
    world = World()
    world.send(Transfer(1, 2, Wei(10**17), FEE))
    world.send(Transfer(3, 2, Wei(10**17), FEE), cosign=False)  # 3's agent never saw it
    report = world.sequencer.seal()
    assert [tx.sender for c in report.commitments for tx in c.txs] == [1]
    assert report.dropped[0][1] == "a required signer did not co-sign"
    assert world.balance_of(3) == 10**18


def test_admission_checks_signature_nonce_and_encoding() -> None:
    world = World()
    forged = seal(world.keys[2], world.sequencer.domain, Transfer(1, 2, Wei(1), FEE), 0)
    with pytest.raises(Rejected, match="not signed by the sender"):
        world.sequencer.submit(forged)
    wrong_nonce = seal(world.keys[1], world.sequencer.domain, Transfer(1, 2, Wei(1), FEE), 5)
    with pytest.raises(Rejected, match="nonce 5 is not the next one"):
        world.sequencer.submit(wrong_nonce)
    with pytest.raises(InvalidValue, match="round it down to 123456000"):
        seal(world.keys[1], world.sequencer.domain, Transfer(1, 2, Wei(123_456_789), FEE), 0)
    stranger = seal(world.keys[1], world.sequencer.domain, Transfer(7, 2, Wei(1), FEE), 0)
    with pytest.raises(Rejected, match="unknown sender"):
        world.sequencer.submit(stranger)


def test_a_lease_channel_inside_the_rollup_opens_and_closes_cooperatively() -> None:
    world = World()
    renter, provider = 1, 2
    world.send(OpenChannel(renter, provider, Wei(10**17), Timestamp(T0 + 3600), Seconds(600)))
    world.sequencer.seal()
    channel = world.state.channels[0]
    assert channel.channel.status == ChannelStatus.OPEN
    assert world.balance_of(renter) == 10**18 - 10**17
    close = CooperativeClose(provider, 0, Wei(36 * 10**15))
    world.send(close)
    world.expect(renter, close)  # the renter co-signs the close too
    report = world.sequencer.seal()
    assert report.dropped == []
    assert world.state.channels[0].channel.status == ChannelStatus.SETTLED
    assert world.balance_of(provider) == 10**18 + 36 * 10**15
    assert world.balance_of(renter) == 10**18 - 36 * 10**15
    # the settled leaf holds zeros (as on L1); the state keeps what it paid, in no root
    assert world.state.channels[0].channel.deposit == 0
    assert world.state.settlements == {0: (36 * 10**15, 10**17 - 36 * 10**15)}


def test_a_settlement_rolled_back_leaves_no_record() -> None:
    world = World()
    world.send(OpenChannel(1, 2, Wei(10**17), Timestamp(T0 + 3600), Seconds(600)))
    world.sequencer.seal()
    root = world.state.root()
    mark = world.state.checkpoint()
    world.state.record_settlement(0, Wei(1), Wei(2))
    world.state.rollback(mark)
    world.state.commit()
    assert world.state.settlements == {}
    assert world.state.root() == root


def test_a_close_without_the_renters_cosignature_does_not_happen() -> None:
    world = World()
    world.send(OpenChannel(1, 2, Wei(10**17), Timestamp(T0 + 3600), Seconds(600)))
    world.sequencer.seal()
    world.send(CooperativeClose(2, 0, Wei(10**17)))  # the provider alone wants everything
    report = world.sequencer.seal()
    assert report.commitments == []
    assert world.state.channels[0].channel.status == ChannelStatus.OPEN


def test_stale_close_answered_by_a_voucher_then_settled() -> None:
    world = World()
    renter, provider, watcher = 1, 2, 3
    world.send(OpenChannel(renter, provider, Wei(10**17), Timestamp(T0 + 3600), Seconds(600)))
    world.sequencer.seal()
    cid = world.state.channels[0].channel.params.id
    voucher = sign_voucher(world.keys[renter], channel_domain(CHAIN, ROLLUP), cid, Wei(6 * 10**16))
    world.send(CloseByRenter(renter, 0, Wei(10**15)))
    world.sequencer.seal()
    world.now += 10
    world.send(SubmitVoucher(watcher, 0, voucher.amount, voucher.signature))
    world.sequencer.seal()
    world.now += 600
    world.send(SettleChannel(watcher, 0))
    world.sequencer.seal()
    assert world.balance_of(provider) == 10**18 + 6 * 10**16
    assert world.state.total_value() == 4 * 10**18 - sum(e.amount for e in world.state.exits)


def test_a_tampered_commitment_is_rejected_and_rolled_back() -> None:
    world = World()
    world.send(Transfer(1, 2, Wei(10**17), FEE))
    batch = world.sequencer.seal().batch
    assert batch is not None
    honest = replay(world, [])
    before = honest.root()
    commitment = batch.commitments[0]
    from dataclasses import replace

    bad_root = replace(commitment, post_root=b"\x01" * 32)
    with pytest.raises(InvalidCommitment, match="wrong post-state root"):
        apply_commitment(honest, bad_root, 0)
    assert honest.root() == before
    stolen = replace(commitment, txs=(Transfer(1, 3, Wei(10**17), FEE),))
    with pytest.raises(InvalidCommitment, match="bad aggregate signature"):
        apply_commitment(honest, stolen, 0)
    assert honest.root() == before
    overspend = replace(commitment, txs=(Transfer(1, 2, Wei(5 * 10**18), FEE),))
    with pytest.raises(InvalidCommitment, match="insufficient balance"):
        apply_commitment(honest, overspend, 0)
    assert honest.root() == before
    apply_commitment(honest, commitment, 0)
    assert honest.root() == world.state.root()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "ends inside the version"),
        (b"\x02" + bytes(7), "unknown batch version"),
        (b"\x01" + bytes(6), "ends inside the deposit count"),
        (b"\x01" + bytes(7) + b"\x09", "unknown commitment kind 9"),
        (b"\x01" + bytes(7) + b"\x01\x00", "empty commitment"),
        (b"\x01" + bytes(7) + b"\x01\x21", "at most 32 transactions"),
        (b"\x01" + bytes(7) + b"\x01\x01" + bytes(8) + bytes(7), "ends inside the amount"),
        (b"\x01" + bytes(7) + b"\x03\x01" + bytes(8) + b"\x63", "unknown channel op 99"),
    ],
)
def test_malformed_batch_bytes_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        decode_batch(data)


def test_a_rejected_transaction_leaves_the_state_unchanged() -> None:
    world = World()
    before = world.state.root()
    with pytest.raises(L2Error, match="l2: unknown channel"):
        state_transition(world.state, SettleChannel(1, 5), BlockContext(Timestamp(T0), 0))
    assert world.state.root() == before


def test_the_sequencer_puts_at_most_16_cooperative_closes_in_a_commitment() -> None:
    from l2gpu.core.l2.codec import MAX_CLOSES
    from l2gpu.core.l2.transactions import CooperativeClose, OpenChannel

    world = World(n=3)
    for _ in range(MAX_CLOSES + 1):
        world.send(OpenChannel(1, 2, Wei(10**15), Timestamp(world.now + 3600), Seconds(600)))
    world.sequencer.seal()
    for channel in range(MAX_CLOSES + 1):
        close = CooperativeClose(1, channel, Wei(10**14))
        world.expect(2, close)
        world.send(close)
    report = world.sequencer.seal()
    assert report.dropped == []
    assert [len(c.txs) for c in report.commitments] == [MAX_CLOSES, 1]
