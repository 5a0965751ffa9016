"""TRANSFER: circuits/transfer.circom against the spec in core/zk/transfer.py.

A valid transfer's witness computes and its new root is the spec's; each bad input
is refused twice: by the spec with a named reason, and by the circuit with a failed
constraint. The circuit's bad inputs are forged with plain field arithmetic (as a
dishonest prover would make them), so that only the rule under test stops them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.crypto.poseidon import FIELD_MODULUS as P
from l2gpu.core.zk.pubdata import FEE_UNIT_WEI, encode_float40, representable
from l2gpu.core.zk.state import (
    MAX_BALANCE,
    Account,
    MerkleProof,
    ZkError,
    ZkState,
    account_leaf,
)
from l2gpu.core.zk.transfer import (
    TRANSFER_TAG,
    CircuitInput,
    TransferTx,
    apply_transfer,
    check_statement,
    circuit_input,
    input_signals,
    sign_transfer,
    transfer_steps,
)
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
KEYS = (bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34)))
PUBLIC = tuple(eddsa.public_key(key) for key in KEYS)
MAIN = (
    'pragma circom 2.0.0;\ninclude "transfer.circom";\n'
    f"component main {{public [old_root, new_root]}} = Transfer({DEPTH});\n"
)


@pytest.fixture(scope="module")
def circuit(toolchain: Toolchain) -> CompiledCircuit:
    return compile_circuit(MAIN, f"transfer_{DEPTH}", toolchain=toolchain)


def owner(key: int, balance: int, nonce: int = 0) -> Account:
    return Account(PUBLIC[key].x, PUBLIC[key].y, balance, nonce)


@dataclass(frozen=True)
class Case:
    """A state, a transfer and the key that signs it."""

    state: ZkState
    tx: TransferTx
    key: bytes

    def signature(self) -> eddsa.Signature:
        """The signature of the tx's fields, whatever their range (a forger's)."""
        tx = self.tx
        fields = [TRANSFER_TAG, tx.from_index, tx.to_index, tx.amount, tx.fee_code, tx.nonce]
        return eddsa.sign(self.key, poseidon.hash(fields))


def forged_input(case: Case, signature: eddsa.Signature | None = None) -> CircuitInput:
    """The circuit's input as a prover computes it with field arithmetic and no rule
    (an amount with no float40 form goes in raw as its code, a code above 40 bits)."""
    state, tx = case.state, case.tx
    sig = signature if signature is not None else case.signature()
    sender = state.account(tx.from_index)
    assert sender is not None
    fee = tx.fee_code * FEE_UNIT_WEI
    paid = account_leaf(
        sender.ax, sender.ay, (sender.balance - tx.amount - fee) % P, sender.nonce + 1,
        sender.eth_address,
    )  # fmt: skip
    middle = state.with_leaf(tx.from_index, paid)
    receiver = middle.account(tx.to_index) or Account(PUBLIC[0].x, PUBLIC[0].y, 0)
    credited = account_leaf(
        receiver.ax, receiver.ay, receiver.balance + tx.amount, receiver.nonce,
        receiver.eth_address,
    )  # fmt: skip
    after = middle.with_leaf(tx.to_index, credited) if tx.to_index else middle
    code = encode_float40(tx.amount) if representable(tx.amount) else tx.amount
    representable_tx = replace(tx, amount=1)  # input_signals encodes the amount
    values = input_signals(state, middle, after, representable_tx, sig, sender, receiver)
    return {**values, "amount_code": code}


BASE_STATE = (
    ZkState.empty(DEPTH)
    .with_account(3, owner(0, 10**16, nonce=5))
    .with_account(130, owner(1, 10))
    .with_account(131, owner(2, MAX_BALANCE - 5))
)
BASE = Case(BASE_STATE, TransferTx(3, 130, amount=100, fee_code=7, nonce=5), KEYS[0])


def with_tx(**changes: int) -> Case:
    return replace(BASE, tx=replace(BASE.tx, **changes))


def bumped(values: CircuitInput, signal: str, position: int | None = None) -> CircuitInput:
    """``values`` with one signal (or one element of an array signal) plus one."""
    changed = dict(values)
    old = changed[signal]
    if isinstance(old, list):
        assert position is not None
        changed[signal] = [v + 1 if i == position else v for i, v in enumerate(old)]
    else:
        changed[signal] = old + 1
    return changed


BadCase = tuple[Case, eddsa.Signature | None, Callable[[CircuitInput], CircuitInput], str, str]
"""A case, its signature (None: its own), a change to the forged input, the spec's
reason, and the line of circuits/transfer.circom whose constraint must refuse it."""
OTHER_KEY = replace(BASE, key=KEYS[1])
SAME: Callable[[CircuitInput], CircuitInput] = lambda values: values  # noqa: E731
BAD: dict[str, BadCase] = {
    "bad signature": (OTHER_KEY, OTHER_KEY.signature(), SAME, "zk: bad signature",
                      "signature.M <== message.out;"),
    "wrong nonce": (with_tx(nonce=6), None, SAME, "zk: wrong nonce", "nonce === sender_nonce;"),
    "overspend": (with_tx(amount=10**16), None, SAME, "zk: insufficient balance",
                  "sender_balance_bits.in <== sender_new_balance;"),
    "amount 10^41 (above 2^128)": (with_tx(amount=10**41, fee_code=0), None, SAME,
                                   "zk: insufficient balance",
                                   "sender_balance_bits.in <== sender_new_balance;"),
    "amount with no float40 form (a code above 40 bits)": (
        with_tx(amount=10**70), None, SAME, "zk: amount not representable",
        "amount.code <== amount_code;",
    ),
    "fee code 256": (with_tx(fee_code=256), None, SAME, "zk: fee code out of range",
                     "fee_bits.in <== fee_code;"),
    "recipient index 0": (with_tx(to_index=0), None, SAME, "zk: index 0 is not an account",
                          "active * to_zero.out === 0;"),
    "receiver overflow": (with_tx(to_index=131, amount=6, fee_code=0), None, SAME,
                          "zk: balance overflow",
                          "receiver_balance_bits.in <== receiver_new_balance;"),
    "unknown recipient": (with_tx(to_index=200), None, SAME, "zk: unknown recipient",
                          "receiver_path_old.root === middle_path.root;"),
    "zero amount": (with_tx(amount=0), None, SAME, "zk: zero amount",
                    "active * zero_amount.out === 0;"),
    "sender path not under old_root": (
        BASE, None, lambda v: bumped(v, "sender_path", 2), "zk: proof does not match the root",
        "old_path.root === root_in;",
    ),
    "receiver path not under the middle root": (
        BASE, None, lambda v: bumped(v, "receiver_path", 0), "zk: proof does not match the root",
        "receiver_path_old.root === middle_path.root;",
    ),
    "new_root not the spec's": (BASE, None, lambda v: bumped(v, "new_root"), "zk: wrong new root",
                                "slot.root_out === new_root;"),
}  # fmt: skip


def circuit_line(text: str) -> int:
    """The line number of ``text`` in circuits/transfer.circom (it must occur once)."""
    lines = (CIRCUITS / "transfer.circom").read_text().splitlines()
    found = [number for number, line in enumerate(lines, 1) if line.strip() == text]
    assert len(found) == 1, text
    return found[0]


def python_refusal(name: str) -> None:
    """Make the spec refuse bad case ``name`` the way the circuit is asked to."""
    case, signature, change, _, _ = BAD[name]
    sig = signature if signature is not None else case.signature()
    forged = change(forged_input(case, sig))
    if "path" in name:
        # The spec builds paths itself; given a prover's path, it checks it as the
        # circuit does: the sender's under the old root, the receiver's under the middle.
        steps = transfer_steps(case.state, case.tx, sig)
        sender = "sender" in name
        state = steps.before if sender else steps.middle
        index = case.tx.from_index if sender else case.tx.to_index
        siblings = forged["sender_path" if sender else "receiver_path"]
        assert isinstance(siblings, list)
        MerkleProof(index, state.leaf(index), tuple(siblings)).verify(state.root())
    new_root = forged["new_root"]
    assert isinstance(new_root, int)
    check_statement(case.state, case.tx, sig, new_root)


@pytest.mark.parametrize("name", list(BAD))
def test_the_spec_refuses_each_bad_input(name: str) -> None:
    with pytest.raises(ZkError) as refused:
        python_refusal(name)
    assert refused.value.reason == BAD[name][3]


def test_the_circuit_refuses_each_bad_input(circuit: CompiledCircuit) -> None:
    inputs = [forged_input(BASE)]  # the control: the same forging, no rule broken
    for case, signature, change, _, _ in BAD.values():
        inputs.append(change(forged_input(case, signature)))
    control, *results = calculate_witnesses(circuit, inputs)
    assert isinstance(control, Witness), control
    assert control["main.new_root"] == apply_transfer(BASE.state, BASE.tx, BASE.signature()).root()
    for (name, bad), result in zip(BAD.items(), results, strict=True):
        assert isinstance(result, WitnessError), f"the circuit accepted: {name}"
        assert "Assert Failed" in str(result), (name, result)
        # The rule under test refused it, not some other constraint on the way.
        line = circuit_line(bad[4])
        assert re.search(rf"template Transfer(Slot)?_\d+ line: {line}\b", str(result)), (
            name,
            result,
        )


def float40_floor(amount: int) -> int:
    """The largest amount with a float40 form at most ``amount`` (its first ten digits)."""
    digits = len(str(amount))
    return amount if digits <= 10 else amount // 10 ** (digits - 10) * 10 ** (digits - 10)


@st.composite
def valid_cases(draw: st.DrawFn) -> Case:
    """Three accounts at drawn slots, a transfer between two of them (maybe one)."""
    slots = draw(st.lists(st.integers(1, 2**DEPTH - 1), min_size=3, max_size=3, unique=True))
    balances = [draw(st.integers(1, MAX_BALANCE - 1)) for _ in slots]
    nonces = [draw(st.integers(0, 2**32 - 2)) for _ in slots]
    state = ZkState.empty(DEPTH)
    for key, (slot, balance, nonce) in enumerate(zip(slots, balances, nonces, strict=True)):
        state = state.with_account(slot, owner(key, balance, nonce))
    sender, receiver = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    room = MAX_BALANCE - balances[receiver] if sender != receiver else MAX_BALANCE
    amount = float40_floor(draw(st.integers(1, max(1, min(balances[sender], room)))))
    fee_code = draw(st.integers(0, min(255, (balances[sender] - amount) // FEE_UNIT_WEI)))
    tx = TransferTx(slots[sender], slots[receiver], amount, fee_code, nonces[sender])
    return Case(state, tx, KEYS[sender])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=valid_cases())
def test_valid_transfers_give_the_specs_new_root(circuit: CompiledCircuit, case: Case) -> None:
    signature = sign_transfer(case.key, case.tx)
    after = apply_transfer(case.state, case.tx, signature)
    witness = calculate_witness(circuit, circuit_input(case.state, case.tx, signature))
    assert witness["main.old_root"] == case.state.root()
    assert witness["main.new_root"] == after.root()
    sender = after.account(case.tx.from_index)
    before = case.state.account(case.tx.from_index)
    assert sender is not None
    assert before is not None
    assert sender.nonce == before.nonce + 1
    if case.tx.to_index == case.tx.from_index:
        assert sender.balance == before.balance - case.tx.fee  # pays only the fee


def test_a_transfer_to_oneself_pays_the_fee(circuit: CompiledCircuit) -> None:
    tx = TransferTx(3, 3, amount=10, fee_code=2, nonce=5)
    signature = sign_transfer(KEYS[0], tx)
    after = apply_transfer(BASE_STATE, tx, signature)
    assert after.account(3) == owner(0, 10**16 - 2 * FEE_UNIT_WEI, nonce=6)
    witness = calculate_witness(circuit, circuit_input(BASE_STATE, tx, signature))
    assert witness["main.new_root"] == after.root()


def test_spec_refusals_say_what_was_wrong() -> None:
    signature = BASE.signature()
    with pytest.raises(ZkError, match="index out of range") as refused:
        apply_transfer(BASE_STATE, replace(BASE.tx, to_index=2**DEPTH), signature)
    assert "[0, 256)" in str(refused.value)
    with pytest.raises(ZkError, match="nonce is 5, the transfer's 6"):
        apply_transfer(BASE_STATE, replace(BASE.tx, nonce=6), with_tx(nonce=6).signature())
    with pytest.raises(ZkError, match="unknown sender"):
        apply_transfer(BASE_STATE, replace(BASE.tx, from_index=4), signature)
    assert BASE_STATE.account(3) == owner(0, 10**16, nonce=5)  # refusals change nothing
