"""The zk batch's public data: float40 amounts, slot layouts and the public input."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2gpu.core.crypto.poseidon import FIELD_MODULUS
from l2gpu.core.zk import pubdata as pd
from l2gpu.core.zk.state import ZkError


@given(st.integers(0, pd.MAX_MANTISSA), st.integers(0, pd.MAX_EXPONENT))
def test_every_float40_form_round_trips(mantissa: int, exponent: int) -> None:
    amount = mantissa * 10**exponent
    assert pd.decode_float40(pd.encode_float40(amount)) == amount


def test_amounts_without_a_float40_form_are_refused() -> None:
    assert pd.encode_float40(12345) == 12345  # fits the mantissa: exponent 0
    assert pd.decode_float40(pd.encode_float40(10**18)) == 10**18
    assert pd.decode_float40(pd.encode_float40(10**30)) == 10**30
    with pytest.raises(ZkError, match="not representable"):
        pd.encode_float40(2**35 * 10 + 1)  # one digit too many
    with pytest.raises(ZkError, match="not representable"):
        pd.encode_float40(10**70)  # exponent above 31
    assert not pd.representable(2**36 + 1)
    with pytest.raises(ZkError, match="out of range"):
        pd.encode_float40(-1)


def test_slots_have_their_stated_sizes_and_noops_are_zero() -> None:
    assert pd.TRANSFER_BYTES == 12
    address = bytes(range(20))
    assert len(pd.encode_transfer(pd.TransferSlot(1, 2, 5 * 10**15, 3))) == 12
    assert len(pd.encode_deposit(pd.DepositSlot(7, 1, 2, address, 10**18))) == pd.DEPOSIT_BYTES
    assert len(pd.encode_withdrawal(pd.WithdrawalSlot(7, address, 10**18))) == 39
    assert pd.encode_transfer(None) == bytes(12)
    with pytest.raises(ZkError, match="index 0"):
        pd.encode_transfer(pd.TransferSlot(0, 2, 1, 0))
    with pytest.raises(ZkError, match="20 bytes"):
        pd.encode_withdrawal(pd.WithdrawalSlot(1, b"\x01", 1))
    with pytest.raises(ZkError, match="fee code"):
        pd.encode_transfer(pd.TransferSlot(1, 2, 1, 256))
    assert pd.fee_of(255) == 255 * pd.FEE_UNIT_WEI


def test_the_batch_layout_and_its_public_input() -> None:
    shape = pd.BatchShape(deposits=1, transfers=3, withdrawals=1)
    transfer = pd.TransferSlot(1, 2, 10**15, 1)
    opened = pd.OpenSlot(200, 1, 2, 10**18 + 1, 2**32 - 1)
    closed = pd.CloseSlot(200, 7)
    forced = pd.ForcedExitSlot(4, 10**18)
    data = pd.encode_batch(shape, 11, 22, 1, [], [transfer], [], [opened], [closed], [],
                           timestamp=1_700_000_000, forced_exits=[forced])  # fmt: skip
    assert len(data) == shape.size == 71 + 103 + 36 + 39 + 29 + 19 + 3 + 19
    assert data[:32] == (11).to_bytes(32, "big")
    assert data[32:64] == (22).to_bytes(32, "big")
    assert data[67:71] == (1_700_000_000).to_bytes(4, "big")
    assert data[71:174] == bytes(103)  # the deposit slot is a no-op
    assert data[174:186] == pd.encode_transfer(transfer)
    assert data[249:278] == pd.encode_open(opened)
    assert data[278:297] == (200).to_bytes(3, "big") + (7).to_bytes(16, "big")
    assert data[297:300] == bytes(3)  # the reclaim slot is a no-op
    assert data[300:] == (4).to_bytes(3, "big") + (10**18).to_bytes(16, "big")
    digest = int.from_bytes(hashlib.sha256(data).digest(), "big")
    assert pd.public_input(data) == digest % FIELD_MODULUS < FIELD_MODULUS
    with pytest.raises(ZkError, match="do not fit"):
        pd.encode_batch(shape, 1, 2, 1, [], [transfer] * 4, [])
    with pytest.raises(ZkError, match="timestamp out of range"):
        pd.encode_batch(shape, 1, 2, 1, [], [], [], timestamp=2**32)
    with pytest.raises(ZkError, match="too many forced exits"):
        pd.encode_batch(shape, 1, 2, 1, [], [], [], forced_exits=[forced] * 2)
    with pytest.raises(ZkError, match="amount out of range"):
        pd.encode_forced_exit(pd.ForcedExitSlot(4, 2**128))
    with pytest.raises(ZkError, match="index 0 is not an account"):
        pd.encode_forced_exit(pd.ForcedExitSlot(0, 1))
    with pytest.raises(ZkError, match="at least one slot"):
        pd.BatchShape(1, 1, 1, opens=0)
    with pytest.raises(ZkError, match="at least one slot"):
        pd.BatchShape(1, 1, 1, forced_exits=0)


def test_a_validium_keeps_transfers_and_channels_off_l1_and_binds_them_by_digest() -> None:
    shape = pd.BatchShape(deposits=1, transfers=2, withdrawals=1)
    transfer = pd.TransferSlot(1, 2, 10**15, 1)
    withdrawal = pd.WithdrawalSlot(3, bytes(range(20)), 5)
    opened = pd.OpenSlot(200, 1, 2, 10**18, 2_000)
    forced = pd.ForcedExitSlot(3, 6)
    data = pd.encode_batch(shape, 11, 22, 1, [], [transfer], [withdrawal], [opened], [], [],
                           timestamp=1_000, forced_exits=[forced])  # fmt: skip
    onchain, offchain = pd.split_sections(shape, data)
    header_and_deposits = data[: 71 + 103]
    # L1 checks the forced exits against its queue and pays them: they stay on L1
    assert onchain == (header_and_deposits + pd.encode_withdrawal(withdrawal)
                       + pd.encode_forced_exit(forced))  # fmt: skip
    assert offchain == (
        pd.encode_transfer(transfer) + bytes(12) + pd.encode_open(opened) + bytes(19 + 3)
    )
    assert pd.offchain_digest(shape, data) == hashlib.sha256(offchain).digest()
    digest = hashlib.sha256(onchain + hashlib.sha256(offchain).digest()).digest()
    assert pd.validium_public_input(shape, data) == int.from_bytes(digest, "big") % FIELD_MODULUS
    assert pd.batch_public_input(shape, data, validium=True) != pd.public_input(data)
    assert pd.batch_public_input(shape, data) == pd.public_input(data)
    # every byte of the off-L1 part moves the public input
    changed = bytearray(data)
    changed[71 + 103 + 2] ^= 1  # a transfer's sender
    assert pd.validium_public_input(shape, bytes(changed)) != pd.validium_public_input(shape, data)
    with pytest.raises(ZkError, match="not 307 "):
        pd.split_sections(shape, data + b"\x00")


def test_withdrawal_slots_decode_as_they_were_encoded() -> None:
    shape = pd.BatchShape(1, 1, 3)
    out = [pd.WithdrawalSlot(5, b"\x07" * 20, 2**128 - 1), pd.WithdrawalSlot(1, b"\x01" * 20, 9)]
    data = pd.encode_batch(shape, 1, 2, 1, [], [], out)
    assert pd.decode_withdrawals(shape, data) == [*out, None]
    with pytest.raises(ZkError, match="not .* for"):
        pd.decode_withdrawals(shape, data[:-1])
