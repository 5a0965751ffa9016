"""The batch circuit: circuits/batch.circom against the spec in core/zk/batch.py.

``Batch(1, 2, 1, 8)``: one deposit slot, two transfer slots, one withdrawal slot, a
tree of depth 8. Valid batches (mixed sections, no-ops, a transfer to oneself, skipped
deposits, the fee credit) give a witness whose public input is the spec's; each bad
input (forged as a dishonest prover would, the public input recomputed over the
forged public data so that only the rule under test is broken) is refused at the line
of the circuit for that rule.
"""

from __future__ import annotations

import re

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.crypto.babyjubjub import GENERATOR
from l2gpu.core.crypto.poseidon import FIELD_MODULUS as P
from l2gpu.core.zk import pubdata as pd
from l2gpu.core.zk.batch import BatchResult, apply_batch
from l2gpu.core.zk.batch_input import BatchInput
from l2gpu.core.zk.state import MAX_BALANCE, Account, ZkState
from l2gpu.core.zk.transfer import TRANSFER_TAG, TransferTx, sign_transfer
from l2gpu.core.zk.withdrawal import WithdrawalTx, sign_withdrawal
from l2gpu.zk.toolchain import (
    CIRCUITS,
    CompiledCircuit,
    Toolchain,
    Witness,
    WitnessError,
    calculate_witnesses,
    compile_circuit,
)

DEPTH = 8
SHAPE = pd.BatchShape(deposits=1, transfers=2, withdrawals=1)
MAIN = (
    'pragma circom 2.0.0;\ninclude "batch.circom";\n'
    "component main {public [input_hash]} = "
    f"Batch({SHAPE.deposits}, {SHAPE.transfers}, {SHAPE.withdrawals}, {DEPTH});\n"
)
KEYS = (bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34)))
PUBLIC = tuple(eddsa.public_key(key) for key in KEYS)
ADDRESS = (0xA1, 0xB2, 0xC3)
ETHER = 10**18
FEE_ACCOUNT = 9


@pytest.fixture(scope="module")
def circuit(toolchain: Toolchain) -> CompiledCircuit:
    return compile_circuit(MAIN, f"batch_1_2_1_{DEPTH}", toolchain=toolchain)


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
) -> BatchResult:
    """apply_batch with each transaction signed by the key numbered beside it."""
    signatures = [sign_transfer(KEYS[key], tx) for tx, key in transfers]
    signatures += [sign_withdrawal(KEYS[key], tx) for tx, key in withdrawals]
    return apply_batch(
        state, SHAPE, FEE_ACCOUNT, deposits, [tx for tx, _ in transfers],
        [tx for tx, _ in withdrawals], signatures,
    )  # fmt: skip


MIXED = batch(
    [deposit(5, 2, 10**16)],  # creates account 5, which pays the self transfer below
    [(TransferTx(1, FEE_ACCOUNT, 10**17, 3, 4), 0), (TransferTx(5, 5, 10**14, 2, 0), 2)],
    [(WithdrawalTx(1, 2 * 10**17, 5), 0)],
)
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
}


def test_valid_batches_give_the_specs_public_input(circuit: CompiledCircuit) -> None:
    results = calculate_witnesses(circuit, [b.circuit_input for b in VALID.values()])
    for (name, result), witness in zip(VALID.items(), results, strict=True):
        assert isinstance(witness, Witness), (name, witness)
        assert witness["main.input_hash"] == result.public_input, name
    skipped = [b for name, b in VALID.items() if "skipped" in name]
    assert all(b.new_state.root() == STATE.root() for b in skipped)  # the state is as it was


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
}  # fmt: skip


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
        template = "Batch" if file == "batch.circom" else "TransferSlot"
        line = circuit_line(file, text)
        assert re.search(rf"template {template}_\d+ line: {line}\b", str(result)), (name, result)
