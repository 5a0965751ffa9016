"""The batch circuit: circuits/batch.circom against the spec in core/zk/batch.py.

``Batch(1, 2, 1, 1, 1, 1, 8)``: one deposit slot, two transfer slots, one withdrawal
slot, one slot each to open, close and reclaim a lease's channel, a tree of depth 8.
Valid batches (mixed sections, no-ops, a transfer to oneself, skipped deposits, the fee
credit, a channel opened, then closed or reclaimed in a later batch) give a witness
whose public input is the spec's; each bad
input (forged as a dishonest prover would, the public input recomputed over the
forged public data so that only the rule under test is broken) is refused at the line
of the circuit for that rule.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.crypto.babyjubjub import GENERATOR
from l2gpu.core.crypto.poseidon import FIELD_MODULUS as P
from l2gpu.core.zk import pubdata as pd
from l2gpu.core.zk.batch import BatchResult, apply_batch
from l2gpu.core.zk.batch_input import BatchInput
from l2gpu.core.zk.channel import (
    CloseChannelTx,
    OpenChannelTx,
    ReclaimTx,
    sign_close,
    sign_open,
    sign_voucher,
)
from l2gpu.core.zk.deposit import apply_deposit
from l2gpu.core.zk.forced_exit import ForcedExitRequest
from l2gpu.core.zk.state import MAX_BALANCE, Account, ZkError, ZkState
from l2gpu.core.zk.transfer import TRANSFER_TAG, TransferTx, sign_transfer, transfer_steps
from l2gpu.core.zk.withdrawal import WithdrawalTx, apply_withdrawal, sign_withdrawal
from l2gpu.zk.batch_circuit import batch_name, batch_source
from l2gpu.zk.toolchain import (
    CIRCUITS,
    CompiledCircuit,
    Toolchain,
    Witness,
    WitnessError,
    calculate_witness,
    calculate_witnesses,
    compile_circuit,
)

DEPTH = 8
SHAPE = pd.BatchShape(deposits=1, transfers=2, withdrawals=1)
MAIN = batch_source(SHAPE, DEPTH)
NAME = batch_name(SHAPE, DEPTH)
KEYS = (bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34)))
PUBLIC = tuple(eddsa.public_key(key) for key in KEYS)
ADDRESS = (0xA1, 0xB2, 0xC3)
ETHER = 10**18
FEE_ACCOUNT = 9


@pytest.fixture(scope="module")
def circuit(toolchain: Toolchain) -> CompiledCircuit:
    return compile_circuit(MAIN, NAME, toolchain=toolchain)


def owner(key: int, balance: int, nonce: int = 0) -> Account:
    return Account(PUBLIC[key].x, PUBLIC[key].y, balance, nonce, ADDRESS[key])


def deposit(index: int, key: int, amount: int, address: int | None = None) -> pd.DepositSlot:
    eth = (ADDRESS[key] if address is None else address).to_bytes(20, "big")
    return pd.DepositSlot(index, PUBLIC[key].x, PUBLIC[key].y, eth, amount)


STATE = (
    ZkState.empty(DEPTH)
    .with_account(1, owner(0, ETHER, 4))
    .with_account(FEE_ACCOUNT, owner(1, 10**16))
    .with_account(200, owner(2, MAX_BALANCE - 10))
)


def batch(
    deposits: list[pd.DepositSlot],
    transfers: list[tuple[TransferTx, int]],
    withdrawals: list[tuple[WithdrawalTx, int]],
    state: ZkState = STATE,
    *,
    opens: tuple[OpenChannelTx, ...] = (),
    closes: tuple[CloseChannelTx, ...] = (),
    reclaims: tuple[ReclaimTx, ...] = (),
    forced_exits: tuple[ForcedExitRequest, ...] = (),
    timestamp: int = 0,
) -> BatchResult:
    """apply_batch with each transaction signed by the key numbered beside it (an open
    by key 0, the renter of CHANNEL)."""
    signatures = [sign_transfer(KEYS[key], tx) for tx, key in transfers]
    signatures += [sign_withdrawal(KEYS[key], tx) for tx, key in withdrawals]
    return apply_batch(
        state, SHAPE, FEE_ACCOUNT, deposits, [tx for tx, _ in transfers],
        [tx for tx, _ in withdrawals], signatures,
        opens=[(tx, sign_open(KEYS[0], tx)) for tx in opens], closes=closes,
        reclaims=reclaims, forced_exits=forced_exits, timestamp=timestamp,
    )  # fmt: skip


def exit_of(index: int) -> ForcedExitRequest:
    """L1's queued full exit of account ``index``."""
    return ForcedExitRequest(index)


# A lease's channel: account 1 (key 0) locks 0.1 ether for the fee account (key 1) at
# channel index 130 (the channels' half of a depth-8 tree starts at 128) until 2000.
CHANNEL = OpenChannelTx(130, 1, FEE_ACCOUNT, 10**17, expiry=2_000, nonce=4)
OPENED = batch([], [], [], opens=(CHANNEL,), timestamp=1_000)
PAID = 4 * 10**16
CLOSE = CloseChannelTx(130, PAID, sign_voucher(KEYS[0], 1, 4, PAID),
                       sign_close(KEYS[1], 1, 4, PAID))  # fmt: skip
CLOSED = batch([], [(TransferTx(1, 200, 10, 0, 5), 0)], [], OPENED.new_state,
               closes=(CLOSE,), timestamp=1_500)  # fmt: skip
RECLAIMED = batch([], [], [], OPENED.new_state, reclaims=(ReclaimTx(130),), timestamp=2_000)


MIXED = batch(
    [deposit(5, 2, 10**16)],  # creates account 5, which pays the self transfer below
    [(TransferTx(1, FEE_ACCOUNT, 10**17, 3, 4), 0), (TransferTx(5, 5, 10**14, 2, 0), 2)],
    [(WithdrawalTx(1, 2 * 10**17, 5), 0)],
)
# The operator posts but leaves account 1's withdrawals out: L1 queued its exit.
WHOLE_EXIT = batch([], [], [], forced_exits=(exit_of(1),))
# after MIXED's withdrawal in the same batch: what is left, 0.7 ether less fees
MIXED_EXIT = batch(
    [], [(TransferTx(1, FEE_ACCOUNT, 10**17, 3, 4), 0)], [(WithdrawalTx(1, 2 * 10**17, 5), 0)],
    forced_exits=(exit_of(1),),
)  # fmt: skip
VALID: dict[str, BatchResult] = {
    "mixed sections, a transfer to oneself, fees": MIXED,
    "only no-ops (the fee credit of 0 still opens the fee account)": batch([], [], []),
    "a deposit to an existing owner, then a transfer from it": batch(
        [deposit(1, 0, 5)], [(TransferTx(1, 200, 5, 0, 4), 0)], []
    ),
    "a deposit to another owner's index is skipped": batch([deposit(1, 1, 5)], [], []),
    "a deposit that would overflow is skipped": batch([deposit(200, 2, 11)], [], []),
    "a deposit with a key off the curve is skipped": batch(
        [pd.DepositSlot(6, 1, 2, bytes(20), 5)], [], []
    ),
    "a deposit with a non-canonical key (x + p) is skipped": batch(
        [pd.DepositSlot(6, GENERATOR.x + P, GENERATOR.y, bytes(20), 5)], [], []
    ),
    "a channel opened": OPENED,
    "a later batch closes it (and a transfer moves the renter's nonce)": CLOSED,
    "a later batch reclaims it at its expiry": RECLAIMED,
    "a forced exit pays the whole balance": WHOLE_EXIT,
    "a forced exit after a transfer and a withdrawal of the same account": MIXED_EXIT,
    "a forced exit of an empty balance pays nothing": batch(
        [], [], [], WHOLE_EXIT.new_state, forced_exits=(exit_of(1),)
    ),
    "a forced exit of the fee account, in a batch whose fees it then gets": batch(
        [],
        [(TransferTx(1, FEE_ACCOUNT, 10**15, 7, 4), 0)],
        [],
        forced_exits=(exit_of(FEE_ACCOUNT),),
    ),
    "a forced exit leaves a channel's deposit locked": batch(
        [], [], [], OPENED.new_state, forced_exits=(exit_of(1),)
    ),
    "an open and a close in one batch (another channel)": batch(
        [],
        [],
        [],
        OPENED.new_state,
        opens=(replace(CHANNEL, channel_index=131, nonce=5),),
        closes=(CLOSE,),
        timestamp=1_000,
    ),
}


def test_valid_batches_give_the_specs_public_input(circuit: CompiledCircuit) -> None:
    results = calculate_witnesses(circuit, [b.circuit_input for b in VALID.values()])
    for (name, result), witness in zip(VALID.items(), results, strict=True):
        assert isinstance(witness, Witness), (name, witness)
        assert witness["main.input_hash"] == result.public_input, name
    skipped = [b for name, b in VALID.items() if "skipped" in name]
    assert all(b.new_state.root() == STATE.root() for b in skipped)  # the state is as it was


def test_channel_batches_move_the_deposit_as_the_spec_says() -> None:
    renter, provider = STATE.account(1), STATE.account(FEE_ACCOUNT)
    assert renter is not None
    assert provider is not None
    assert OPENED.new_state.channel(130) is not None
    assert OPENED.new_state.account(1) == replace(renter, balance=ETHER - 10**17, nonce=5)
    assert CLOSED.new_state.leaf(130) == 0
    assert CLOSED.new_state.account(FEE_ACCOUNT) == replace(
        provider, balance=provider.balance + PAID
    )
    assert CLOSED.new_state.account(1) == replace(renter, balance=ETHER - PAID - 10, nonce=6)
    assert RECLAIMED.new_state.leaf(130) == 0
    assert RECLAIMED.new_state.account(1) == replace(renter, nonce=5)
    assert int.from_bytes(RECLAIMED.pubdata[67:71], "big") == 2_000


def test_a_forced_exit_pays_the_whole_balance_and_leaves_the_account() -> None:
    renter = STATE.account(1)
    assert renter is not None
    assert WHOLE_EXIT.new_state.account(1) == replace(renter, balance=0)  # the nonce stays
    assert pd.sections_of(SHAPE, WHOLE_EXIT.pubdata)[6] == pd.encode_forced_exit(
        pd.ForcedExitSlot(1, ETHER)
    )
    left = ETHER - 10**17 - 3 * pd.FEE_UNIT_WEI - 2 * 10**17
    assert MIXED_EXIT.new_state.account(1) == replace(renter, balance=0, nonce=6)
    sections = pd.sections_of(SHAPE, MIXED_EXIT.pubdata)
    assert sections[6] == pd.encode_forced_exit(pd.ForcedExitSlot(1, left))
    drained = VALID["a forced exit of an empty balance pays nothing"]
    assert pd.sections_of(SHAPE, drained.pubdata)[6] == (1).to_bytes(3, "big") + bytes(16)
    # the fee account exits before the fee credit: the batch's fees stay with it
    fee_exit = VALID["a forced exit of the fee account, in a batch whose fees it then gets"]
    fee_account = fee_exit.new_state.account(FEE_ACCOUNT)
    assert fee_account is not None
    assert fee_account.balance == 7 * pd.FEE_UNIT_WEI
    paid_out = pd.sections_of(SHAPE, fee_exit.pubdata)[6]
    assert paid_out == pd.encode_forced_exit(pd.ForcedExitSlot(FEE_ACCOUNT, 10**16 + 10**15))
    # only the free balance leaves: the lease channel keeps its deposit
    locked = VALID["a forced exit leaves a channel's deposit locked"]
    assert locked.new_state.account(1) == replace(renter, balance=0, nonce=5)
    assert locked.new_state.channel(130) == OPENED.new_state.channel(130)
    paid = pd.sections_of(SHAPE, locked.pubdata)[6]
    assert int.from_bytes(paid[3:], "big") == ETHER - 10**17


def test_a_forced_exit_l1_could_not_have_queued_refuses_the_batch() -> None:
    cases = {
        "zk: index 0 is not an account": exit_of(0),
        "zk: not an account index": exit_of(130),
        "zk: index out of range": exit_of(256),
        "zk: unknown sender": exit_of(7),
    }
    for reason, request in cases.items():
        with pytest.raises(ZkError) as refused:
            batch([], [], [], forced_exits=(request,))
        assert refused.value.reason == reason
    with pytest.raises(ZkError, match="too many forced exits"):
        batch([], [], [], forced_exits=(exit_of(1), exit_of(1)))


def with_bytes(result: BatchResult, changes: dict[int, int]) -> int:
    """The public input of ``result``'s public data with some bytes replaced."""
    data = bytearray(result.pubdata)
    for offset, value in changes.items():
        data[offset] = value
    return pd.public_input(bytes(data))


def changed(values: BatchInput, **signals: int | list[int] | list[list[int]]) -> BatchInput:
    return {**values, **signals}


def forged_new_root() -> BatchInput:
    """A new root one more than the spec's, published as such."""
    values = MIXED.circuit_input
    new_root = MIXED.new_state.root() + 1
    header = dict(enumerate(new_root.to_bytes(32, "big"), start=32))
    return changed(values, new_root=new_root, input_hash=with_bytes(MIXED, header))


DEPOSIT_ONLY = batch([deposit(5, 2, 10**16)], [], [])


def unapplied_deposit() -> BatchInput:
    """A new root as if the queued deposit had been skipped (the state unchanged)."""
    new_root = STATE.root()
    header = dict(enumerate(new_root.to_bytes(32, "big"), start=32))
    values = DEPOSIT_ONLY.circuit_input
    return changed(values, new_root=new_root, input_hash=with_bytes(DEPOSIT_ONLY, header))


def wrong_public_input() -> BatchInput:
    """The public input of the public data with its last byte changed."""
    last = len(MIXED.pubdata) - 1
    return changed(MIXED.circuit_input, input_hash=with_bytes(MIXED, {last: 1}))


def bad_signature() -> BatchInput:
    """The first transfer signed by another key than the sender's."""
    tx = TransferTx(1, FEE_ACCOUNT, 10**17, 3, 4)
    other = sign_transfer(KEYS[1], tx)
    values = MIXED.circuit_input
    return changed(
        values,
        transfer_R8x=_row(values, "transfer_R8x", 0, other.r8.x),
        transfer_R8y=_row(values, "transfer_R8y", 0, other.r8.y),
        transfer_S=_row(values, "transfer_S", 0, other.s),
    )


def overdraft() -> BatchInput:
    """A transfer of 10 ether from an account of 1, signed by its owner: the prover
    changes the amount code and the signature, and the public input over them."""
    values = MIXED.circuit_input
    amount = 10 * ETHER
    fields = [TRANSFER_TAG, 1, FEE_ACCOUNT, amount, 3, 4]
    signature = eddsa.sign(KEYS[0], poseidon.hash(fields))
    code = pd.encode_float40(amount)
    offset = pd.HEADER_BYTES + pd.DEPOSIT_BYTES + 6
    code_bytes = dict(enumerate(code.to_bytes(5, "big"), start=offset))
    return changed(
        values,
        transfer_amount_code=_row(values, "transfer_amount_code", 0, code),
        transfer_R8x=_row(values, "transfer_R8x", 0, signature.r8.x),
        transfer_R8y=_row(values, "transfer_R8y", 0, signature.r8.y),
        transfer_S=_row(values, "transfer_S", 0, signature.s),
        input_hash=with_bytes(MIXED, code_bytes),
    )


NOOPS = batch([], [], [])


def nonzero_noop() -> BatchInput:
    """The second transfer slot, a no-op (from 0), naming recipient 7 (an empty leaf,
    its path given): only the all-zeros rule is broken."""
    values = NOOPS.circuit_input
    offset = pd.HEADER_BYTES + pd.DEPOSIT_BYTES + pd.TRANSFER_BYTES + 3
    return changed(
        values,
        transfer_to=_row(values, "transfer_to", 1, 7),
        transfer_receiver_path=[list(STATE.proof(0).siblings), list(STATE.proof(7).siblings)],
        input_hash=with_bytes(NOOPS, {offset + 2: 7}),
    )


def _row(values: BatchInput, name: str, slot: int, value: int) -> list[int]:
    column = values[name]
    assert isinstance(column, list)
    return [value if k == slot else v for k, v in enumerate(column)]  # type: ignore[misc]


def early_reclaim() -> BatchInput:
    """The reclaim with the batch's time one second before the channel's expiry."""
    time = dict(enumerate((1_999).to_bytes(pd.TIMESTAMP_BYTES, "big"), start=67))
    return changed(RECLAIMED.circuit_input, timestamp=1_999,
                   input_hash=with_bytes(RECLAIMED, time))  # fmt: skip


def overpaid_close() -> BatchInput:
    """The close paying the provider one wei more than the deposit, both signatures
    over that amount."""
    values = CLOSED.circuit_input
    amount = CHANNEL.deposit + 1
    voucher, close = sign_voucher(KEYS[0], 1, 4, amount), sign_close(KEYS[1], 1, 4, amount)
    offset = (pd.HEADER_BYTES + pd.DEPOSIT_BYTES + 2 * pd.TRANSFER_BYTES + pd.WITHDRAWAL_BYTES
              + pd.OPEN_BYTES + 3)  # fmt: skip
    return changed(
        values, close_amount=[amount], close_voucher_R8x=[voucher.r8.x],
        close_voucher_R8y=[voucher.r8.y], close_voucher_S=[voucher.s],
        close_close_R8x=[close.r8.x], close_close_R8y=[close.r8.y], close_close_S=[close.s],
        input_hash=with_bytes(CLOSED, dict(enumerate(amount.to_bytes(16, "big"), start=offset))),
    )  # fmt: skip


def exit_paying(result: BatchResult, paid: int) -> BatchInput:
    """``result``'s forced exit paying ``paid`` instead, published as such (the new
    root is the spec's: the circuit stops at the rule before)."""
    values = result.circuit_input
    offset = SHAPE.size - 16
    paid_bytes = dict(enumerate(paid.to_bytes(16, "big"), start=offset))
    return changed(values, forced_exit_paid=[paid], input_hash=with_bytes(result, paid_bytes))


def exit_with_another_owner() -> BatchInput:
    """``WHOLE_EXIT``'s witness opening account 1's leaf with another L1 address (the
    one L1 pays is its own, but the leaf must still be the account's)."""
    values = WHOLE_EXIT.circuit_input
    return changed(values, forced_exit_account_address=[ADDRESS[1]])


BAD = {
    "a forged new root": (forged_new_root, "batch.circom", "credit.root_out === new_root;"),
    "a queued deposit left unapplied": (
        unapplied_deposit, "batch.circom", "credit.root_out === new_root;",
    ),
    "a wrong public input (one byte changed)": (
        wrong_public_input, "batch.circom", "input_hash === digest.out;",
    ),
    "a bad signature": (bad_signature, "transfer.circom", "signature.M <== message.out;"),
    "an overdraft": (
        overdraft, "transfer.circom", "sender_balance_bits.in <== sender_new_balance;",
    ),
    "a non-zero no-op slot": (
        nonzero_noop, "transfer.circom", "noop.out * (to_index + amount_code + fee_code) === 0;",
    ),
    "a reclaim before the expiry": (
        early_reclaim, "channel.circom", "active * (1 - expired.out) === 0;",
    ),
    "a close above the deposit": (
        overpaid_close, "channel.circom", "refund_bits.in <== refund;",
    ),
    "a forced exit paying more than the balance": (
        lambda: exit_paying(WHOLE_EXIT, ETHER + 1), "withdrawal.circom",
        "exit_path.root === root_in;",
    ),
    "a forced exit paying less than the balance": (
        lambda: exit_paying(WHOLE_EXIT, ETHER - 1), "withdrawal.circom",
        "exit_path.root === root_in;",
    ),
    "a forced exit paying nothing from a balance": (
        lambda: exit_paying(WHOLE_EXIT, 0), "withdrawal.circom",
        "exit_path.root === root_in;",
    ),
    "a forced exit opening the leaf with another address": (
        exit_with_another_owner, "withdrawal.circom", "exit_path.root === root_in;",
    ),
}  # fmt: skip
TEMPLATES = {"batch.circom": "Batch", "transfer.circom": "TransferSlot",
             "channel.circom": "(Reclaim|Close)Slot",
             "withdrawal.circom": "ForcedExitSlot"}  # fmt: skip


def circuit_line(file: str, text: str) -> int:
    """The line number of ``text`` in ``circuits/<file>`` (it must occur once)."""
    lines = (CIRCUITS / file).read_text().splitlines()
    found = [number for number, line in enumerate(lines, 1) if line.strip() == text]
    assert len(found) == 1, text
    return found[0]


def test_the_circuit_refuses_each_bad_input(circuit: CompiledCircuit) -> None:
    results = calculate_witnesses(circuit, [make() for make, _, _ in BAD.values()])
    for (name, (_, file, text)), result in zip(BAD.items(), results, strict=True):
        assert isinstance(result, WitnessError), f"the circuit accepted: {name}"
        assert "Assert Failed" in str(result), (name, result)
        template = TEMPLATES[file]
        line = circuit_line(file, text)
        assert re.search(rf"template {template}_\d+ line: {line}\b", str(result)), (name, result)


def float40_floor(amount: int) -> int:
    """The largest amount with a float40 form at most ``amount`` (its first ten digits)."""
    digits = len(str(amount))
    return amount if digits <= 10 else amount // 10 ** (digits - 10) * 10 ** (digits - 10)


@st.composite
def valid_batches(draw: st.DrawFn) -> BatchResult:
    """Three accounts at drawn slots; a drawn deposit (new, to its owner, or skipped);
    up to two transfers and a withdrawal among them, valid where they are made."""
    slots = draw(st.lists(st.integers(1, 2**DEPTH - 1), min_size=4, max_size=4, unique=True))
    state = ZkState.empty(DEPTH)
    for key in range(3):
        balance = draw(st.integers(0, ETHER))
        state = state.with_account(slots[key], owner(key, balance, draw(st.integers(0, 9))))
    deposits = []
    if draw(st.booleans()):
        index = slots[draw(st.integers(0, 3))]  # slots[3] is empty: a new account
        deposits.append(deposit(index, draw(st.integers(0, 2)), draw(st.integers(0, ETHER))))
    current = state
    for slot in deposits:
        current = apply_deposit(current, slot).after
    transfers: list[tuple[TransferTx, int]] = []
    for _ in range(draw(st.integers(0, 2))):
        key, to = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        sender = current.account(slots[key])
        assert sender is not None
        if sender.balance == 0:
            continue
        amount = float40_floor(draw(st.integers(1, sender.balance)))
        fee_code = draw(st.integers(0, min(255, (sender.balance - amount) // pd.FEE_UNIT_WEI)))
        tx = TransferTx(slots[key], slots[to], amount, fee_code, sender.nonce)
        current = transfer_steps(current, tx, sign_transfer(KEYS[key], tx)).after
        transfers.append((tx, key))
    withdrawals: list[tuple[WithdrawalTx, int]] = []
    key = draw(st.integers(0, 2))
    account = current.account(slots[key])
    assert account is not None
    if account.balance > 0 and draw(st.booleans()):
        wtx = WithdrawalTx(slots[key], draw(st.integers(1, account.balance)), account.nonce)
        apply_withdrawal(current, wtx, sign_withdrawal(KEYS[key], wtx))
        withdrawals.append((wtx, key))
    signatures = [sign_transfer(KEYS[k], tx) for tx, k in transfers]
    signatures += [sign_withdrawal(KEYS[k], tx) for tx, k in withdrawals]
    fee_account = slots[draw(st.integers(0, 2))]
    exits = []
    key = draw(st.integers(0, 2))
    # a full exit L1 queued (for an account's index: L1 numbers them below the
    # channels' half), whatever the balance holds
    if draw(st.booleans()) and not state.is_channel_index(slots[key]):
        exits.append(exit_of(slots[key]))
    return apply_batch(
        state, SHAPE, fee_account, deposits, [tx for tx, _ in transfers],
        [tx for tx, _ in withdrawals], signatures, forced_exits=exits,
    )  # fmt: skip


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(result=valid_batches())
def test_drawn_batches_give_the_specs_public_input(
    circuit: CompiledCircuit, result: BatchResult
) -> None:
    witness = calculate_witness(circuit, result.circuit_input)
    assert witness["main.input_hash"] == result.public_input


def test_the_validium_circuit_proves_the_two_level_digest_of_the_same_batches(
    validium_circuit: CompiledCircuit,
) -> None:
    named = {"mixed": MIXED, "opened": OPENED, "an open and a close": VALID[
        "an open and a close in one batch (another channel)"],
        "a forced exit": MIXED_EXIT}  # fmt: skip
    inputs = [
        changed(b.circuit_input, input_hash=pd.validium_public_input(SHAPE, b.pubdata))
        for b in named.values()
    ]
    for name, witness in zip(named, calculate_witnesses(validium_circuit, inputs), strict=True):
        assert isinstance(witness, Witness), (name, witness)
    # apply_batch gives that public input when asked for a validium
    again = apply_batch(STATE, SHAPE, FEE_ACCOUNT, [], [], [], [],
                        opens=[(CHANNEL, sign_open(KEYS[0], CHANNEL))], timestamp=1_000,
                        validium=True)  # fmt: skip
    assert again.public_input == pd.validium_public_input(SHAPE, OPENED.pubdata)
    assert again.circuit_input == changed(OPENED.circuit_input, input_hash=again.public_input)
    # the rollup's public input, or the digest of other off-L1 bytes, is refused
    forged = bytearray(MIXED.pubdata)
    forged[71 + 103 + 8] ^= 1  # the first transfer's amount
    refused = calculate_witnesses(validium_circuit, [
        MIXED.circuit_input,
        changed(MIXED.circuit_input, input_hash=pd.validium_public_input(SHAPE, bytes(forged))),
    ])  # fmt: skip
    assert all(isinstance(r, WitnessError) for r in refused), refused
