"""Lease payment channels: the spec in core/zk/channel.py, and circuits/channel.circom
against it.

The spec: every refusal reason of OPEN, CLOSE and RECLAIM, the leaves each one
updates, a channel to oneself, a voucher that cannot be replayed on another channel.
The circuits: ``OpenSlot(4)``, ``CloseSlot(4)``, ``ReclaimSlot(4)`` on their own (a
tree of 16 leaves: accounts 1..7, channels 8..15); valid operations give the spec's
root and public data bytes, no-ops leave the root, and each forged input (made with
plain field arithmetic, as a dishonest prover would) is refused at the line of the
circuit for the rule it breaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto import poseidon
from l2gpu.core.crypto.poseidon import FIELD_MODULUS as P
from l2gpu.core.zk import pubdata as pd
from l2gpu.core.zk.batch_input import Signals, close_signals, open_signals, reclaim_signals
from l2gpu.core.zk.channel import (
    OPEN_TAG,
    ChannelSteps,
    CloseChannelTx,
    OpenChannelTx,
    ReclaimTx,
    close_steps,
    open_steps,
    reclaim_steps,
    sign_close,
    sign_open,
    sign_voucher,
)
from l2gpu.core.zk.state import (
    MAX_BALANCE,
    MAX_NONCE,
    Account,
    Channel,
    ZkError,
    ZkState,
    account_leaf,
)
from l2gpu.zk.toolchain import (
    CIRCUITS,
    CompiledCircuit,
    Toolchain,
    Witness,
    WitnessError,
    calculate_witnesses,
    compile_circuit,
)

pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

DEPTH = 4
KEYS = (bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34)))
PUBLIC = tuple(eddsa.public_key(key) for key in KEYS)
TIME = 1_000
RENTER, PROVIDER, RICH = 1, 2, 3


def owner(key: int, balance: int, nonce: int = 0) -> Account:
    return Account(PUBLIC[key].x, PUBLIC[key].y, balance, nonce, 0xA0 + key)


STATE = (
    ZkState.empty(DEPTH)
    .with_account(RENTER, owner(0, 1000, nonce=2))
    .with_account(PROVIDER, owner(1, 50))
    .with_account(RICH, owner(2, MAX_BALANCE - 5))
)
OPEN = OpenChannelTx(channel_index=9, renter=RENTER, provider=PROVIDER, deposit=300,
                     expiry=2_000, nonce=2)  # fmt: skip


def opened(
    state: ZkState = STATE, tx: OpenChannelTx = OPEN, key: int = 0, timestamp: int = TIME
) -> ChannelSteps:
    return open_steps(state, tx, sign_open(KEYS[key], tx), timestamp)


OPENED = opened().after


def close_tx(
    channel: int = 9,
    amount: int = 120,
    *,
    renter_key: int = 0,
    provider_key: int = 1,
    name: tuple[int, int] = (RENTER, 2),
) -> CloseChannelTx:
    """A close of ``channel`` at ``amount``, the voucher and close signed over ``name``
    (the channel's renter and open nonce) by the keys given."""
    return CloseChannelTx(
        channel, amount, sign_voucher(KEYS[renter_key], *name, amount),
        sign_close(KEYS[provider_key], *name, amount),
    )  # fmt: skip


# --- the spec -------------------------------------------------------------------------


def refusals() -> dict[str, tuple[Callable[[], object], str]]:
    """Each refusal of the spec: the call and the reason it must raise."""

    def open_with(key: int = 0, state: ZkState = STATE, **changes: int) -> Callable[[], object]:
        return lambda: opened(state, replace(OPEN, **changes), key)

    no_nonce = STATE.with_account(RENTER, owner(0, 1000, nonce=MAX_NONCE))
    to_nobody = opened(tx=replace(OPEN, provider=5)).after
    orphan = STATE.with_channel(12, Channel(6, 0, PROVIDER, 10, 500))
    return {
        "open: channel index in the accounts' half": (open_with(channel_index=4),
                                                      "zk: not a channel index"),
        "open: provider in the channels' half": (open_with(provider=9), "zk: index out of range"),
        "open: renter in the channels' half": (open_with(renter=8), "zk: index out of range"),
        "open: provider 0": (open_with(provider=0), "zk: index 0 is not an account"),
        "open: deposit of 2^128": (open_with(deposit=2**128), "zk: amount out of range"),
        "open: expiry of 2^32": (open_with(expiry=2**32), "zk: expiry out of range"),
        "open: nonce of 2^32": (open_with(nonce=2**32), "zk: nonce out of range"),
        "open: zero deposit": (open_with(deposit=0), "zk: zero amount"),
        "open: expiry at the batch's time": (open_with(expiry=TIME), "zk: channel already expired"),
        "open: an empty renter slot": (open_with(renter=5), "zk: unknown sender"),
        "open: signed by another key": (open_with(key=1), "zk: bad signature"),
        "open: a used nonce": (open_with(nonce=1), "zk: wrong nonce"),
        "open: above the balance": (open_with(deposit=1001), "zk: insufficient balance"),
        "open: nonces used up": (open_with(state=no_nonce, nonce=MAX_NONCE), "zk: nonce overflow"),
        "open: a taken slot": (open_with(state=OPENED, nonce=3), "zk: channel slot taken"),
        "close: an account's index": (lambda: close_steps(OPENED, close_tx(channel=1)),
                                      "zk: not a channel index"),
        "close: an empty slot": (lambda: close_steps(OPENED, close_tx(channel=10)),
                                 "zk: unknown channel"),
        "close: above the deposit": (lambda: close_steps(OPENED, close_tx(amount=301)),
                                     "zk: amount above the deposit"),
        "close: voucher by the provider": (lambda: close_steps(OPENED, close_tx(renter_key=1)),
                                           "zk: bad voucher signature"),
        "close: close by the renter": (lambda: close_steps(OPENED, close_tx(provider_key=0)),
                                       "zk: bad close signature"),
        "close: a provider with no account": (lambda: close_steps(to_nobody, close_tx()),
                                              "zk: unknown provider"),
        "reclaim: an account's index": (lambda: reclaim_steps(OPENED, ReclaimTx(1), 5_000),
                                        "zk: not a channel index"),
        "reclaim: an empty slot": (lambda: reclaim_steps(OPENED, ReclaimTx(10), 5_000),
                                   "zk: unknown channel"),
        "reclaim: before the expiry": (lambda: reclaim_steps(OPENED, ReclaimTx(9), 1_999),
                                       "zk: channel not expired"),
        "reclaim: a renter with no account": (lambda: reclaim_steps(orphan, ReclaimTx(12), 500),
                                              "zk: unknown sender"),
    }  # fmt: skip


REFUSALS = refusals()


@pytest.mark.parametrize("name", list(REFUSALS))
def test_the_spec_refuses(name: str) -> None:
    call, reason = REFUSALS[name]
    with pytest.raises(ZkError) as refused:
        call()
    assert refused.value.reason == reason


def test_close_refuses_a_balance_overflow() -> None:
    to_rich = opened(tx=replace(OPEN, provider=RICH)).after
    tx = close_tx(amount=6, provider_key=2)
    with pytest.raises(ZkError) as refused:
        close_steps(to_rich, tx)
    assert refused.value.reason == "zk: balance overflow"
    close_steps(to_rich, close_tx(amount=5, provider_key=2))  # exactly 2^128 - 1 is fine


def test_open_close_and_reclaim_update_the_leaves_in_order() -> None:
    steps = opened()
    assert len(steps.states) == 3
    middle, after = steps.states[1], steps.states[2]
    assert middle.account(RENTER) == owner(0, 700, nonce=3)
    assert middle.leaf(9) == 0
    assert after.channel(9) == Channel(RENTER, 2, PROVIDER, 300, 2_000)
    assert after.leaf(9) == steps.channel.leaf
    closed = close_steps(after, close_tx(amount=120))
    emptied, paid, refunded = closed.states[1:]
    assert emptied.leaf(9) == 0
    assert emptied.account(PROVIDER) == owner(1, 50)
    assert paid.account(PROVIDER) == owner(1, 170)
    assert paid.account(RENTER) == owner(0, 700, 3)
    assert refunded.account(RENTER) == owner(0, 880, nonce=3)  # no nonce moves on close
    reclaimed = reclaim_steps(after, ReclaimTx(9), 2_000)  # at the expiry exactly
    assert reclaimed.states[1].leaf(9) == 0
    assert reclaimed.after.account(RENTER) == owner(0, 1000, nonce=3)
    assert reclaimed.after.account(PROVIDER) == owner(1, 50)


def test_a_channel_to_oneself() -> None:
    tx = replace(OPEN, provider=RENTER)
    after = opened(tx=tx).after
    closed = close_steps(after, close_tx(amount=100, provider_key=0))
    assert closed.after.account(RENTER) == owner(0, 1000, nonce=3)
    assert closed.after.leaf(9) == 0


def test_a_voucher_does_not_replay_on_another_channel() -> None:
    two = opened(OPENED, replace(OPEN, channel_index=10, nonce=3)).after
    voucher = sign_voucher(KEYS[0], RENTER, 2, 100)  # for channel (1, 2), at index 9
    replayed = CloseChannelTx(10, 100, voucher, sign_close(KEYS[1], RENTER, 3, 100))
    with pytest.raises(ZkError) as refused:
        close_steps(two, replayed)
    assert refused.value.reason == "zk: bad voucher signature"
    close_steps(two, close_tx(channel=10, amount=100, name=(RENTER, 3)))  # its own is fine


# --- the circuits -----------------------------------------------------------------------


def main(kind: str) -> str:
    return f'pragma circom 2.0.0;\ninclude "channel.circom";\ncomponent main = {kind}({DEPTH});\n'


@pytest.fixture(scope="module")
def circuits(toolchain: Toolchain) -> dict[str, CompiledCircuit]:
    kinds = ("OpenSlot", "CloseSlot", "ReclaimSlot")
    return {k: compile_circuit(main(k), f"{k.lower()}_{DEPTH}", toolchain=toolchain) for k in kinds}


def bits_of(data: bytes) -> list[int]:
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]


def forged_open(
    state: ZkState, tx: OpenChannelTx, key: int = 0, timestamp: int = TIME, signer: int = 0
) -> Signals:
    """The open slot's input as a prover computes it with field arithmetic and no rule:
    the renter's leaf paid, the channel's path under that intermediate root. ``key``
    names the account fields claimed for the renter, ``signer`` the key that signs."""
    renter = state.account(tx.renter) or Account(PUBLIC[0].x, PUBLIC[0].y, 0)
    claimed = replace(renter, ax=PUBLIC[key].x, ay=PUBLIC[key].y)
    paid = account_leaf(renter.ax, renter.ay, (renter.balance - tx.deposit) % P,
                        renter.nonce + 1, renter.eth_address)  # fmt: skip
    middle = state.with_leaf(tx.renter, paid) if tx.renter else state
    fields = [OPEN_TAG, tx.renter, tx.provider, tx.deposit, tx.expiry, tx.nonce]
    signature = eddsa.sign(KEYS[signer], poseidon.hash(fields))  # whatever their range
    return {
        "root_in": state.root(), "timestamp": timestamp, "channel": tx.channel_index,
        "renter": tx.renter, "provider": tx.provider, "deposit": tx.deposit,
        "expiry": tx.expiry, "nonce": tx.nonce, "R8x": signature.r8.x, "R8y": signature.r8.y,
        "S": signature.s, "renter_ax": claimed.ax, "renter_ay": claimed.ay,
        "renter_balance": renter.balance, "renter_nonce": renter.nonce,
        "renter_address": renter.eth_address,
        "renter_path": list(state.proof(tx.renter).siblings),
        "channel_path": list(middle.proof(tx.channel_index).siblings),
    }  # fmt: skip


def forged_close(
    state: ZkState, tx: CloseChannelTx, channel: Channel | None = None, provider_key: int = 1
) -> Signals:
    """The close slot's input by field arithmetic: the channel's fields (``channel``, or
    the leaf's), the provider credited under the emptied root, the renter under the next
    one; ``provider_key`` names the key claimed for the provider's account."""
    fields = channel or state.channel(tx.channel_index)
    assert fields is not None
    emptied = state.without_leaf(tx.channel_index)
    provider = emptied.account(fields.provider)
    renter = emptied.account(fields.renter)
    assert provider is not None
    assert renter is not None
    paid_provider = account_leaf(provider.ax, provider.ay, (provider.balance + tx.amount) % P,
                                 provider.nonce, provider.eth_address)  # fmt: skip
    paid = emptied.with_leaf(fields.provider, paid_provider)
    if fields.renter == fields.provider:
        renter = replace(renter, balance=(renter.balance + tx.amount) % P)
    return {
        "root_in": state.root(), "channel": tx.channel_index, "amount": tx.amount,
        "renter": fields.renter, "open_nonce": fields.open_nonce, "provider": fields.provider,
        "deposit": fields.deposit, "expiry": fields.expiry,
        "channel_path": list(state.proof(tx.channel_index).siblings),
        "voucher_R8x": tx.voucher.r8.x, "voucher_R8y": tx.voucher.r8.y,
        "voucher_S": tx.voucher.s, "close_R8x": tx.provider_signature.r8.x,
        "close_R8y": tx.provider_signature.r8.y, "close_S": tx.provider_signature.s,
        "provider_ax": PUBLIC[provider_key].x, "provider_ay": PUBLIC[provider_key].y,
        "provider_balance": provider.balance, "provider_nonce": provider.nonce,
        "provider_address": provider.eth_address,
        "provider_path": list(emptied.proof(fields.provider).siblings),
        "renter_ax": renter.ax, "renter_ay": renter.ay, "renter_balance": renter.balance,
        "renter_nonce": renter.nonce, "renter_address": renter.eth_address,
        "renter_path": list(paid.proof(fields.renter).siblings),
    }  # fmt: skip


def forged_reclaim(
    state: ZkState, index: int, timestamp: int, channel: Channel | None = None, key: int = 0
) -> Signals:
    """The reclaim slot's input by field arithmetic (``key``: the renter's claimed key)."""
    fields = channel or state.channel(index)
    assert fields is not None
    emptied = state.without_leaf(index)
    renter = emptied.account(fields.renter)
    assert renter is not None
    return {
        "root_in": state.root(), "timestamp": timestamp, "channel": index,
        "renter": fields.renter, "open_nonce": fields.open_nonce, "provider": fields.provider,
        "deposit": fields.deposit, "expiry": fields.expiry,
        "channel_path": list(state.proof(index).siblings),
        "renter_ax": PUBLIC[key].x, "renter_ay": PUBLIC[key].y,
        "renter_balance": renter.balance, "renter_nonce": renter.nonce,
        "renter_address": renter.eth_address,
        "renter_path": list(emptied.proof(fields.renter).siblings),
    }  # fmt: skip


def test_valid_operations_give_the_specs_roots_and_bytes(
    circuits: dict[str, CompiledCircuit],
) -> None:
    open_sig = sign_open(KEYS[0], OPEN)
    steps = open_steps(STATE, OPEN, open_sig, TIME)
    self_open = replace(OPEN, provider=RENTER)
    self_steps = opened(tx=self_open)
    cases = [
        (steps, {"root_in": STATE.root(), "timestamp": TIME,
                 **open_signals(STATE, (OPEN, open_sig, steps))}, pd.encode_open(OPEN.slot)),
        (self_steps, {"root_in": STATE.root(), "timestamp": TIME,
                      **open_signals(STATE, (self_open, sign_open(KEYS[0], self_open),
                                             self_steps))}, pd.encode_open(self_open.slot)),
        (None, {"root_in": OPENED.root(), "timestamp": TIME, **open_signals(OPENED, None)},
         pd.encode_open(None)),
    ]  # fmt: skip
    witnesses = calculate_witnesses(circuits["OpenSlot"], [values for _, values, _ in cases])
    for (steps_, values, data), witness in zip(cases, witnesses, strict=True):
        assert isinstance(witness, Witness), witness
        expected = steps_.after.root() if steps_ else values["root_in"]
        assert witness["main.root_out"] == expected
        assert [witness[f"main.bytes[{i}]"] for i in range(8 * len(data))] == bits_of(data)

    self_opened = self_steps.after
    closes = [
        (OPENED, close_tx(amount=120)),
        (OPENED, close_tx(amount=300)),  # all of it to the provider
        (OPENED, close_tx(amount=0)),  # all of it back
        (self_opened, close_tx(amount=100, provider_key=0)),  # a channel to oneself
    ]
    inputs: list[Signals] = []
    expected_roots = []
    for state, tx in closes:
        closed = close_steps(state, tx)
        inputs.append({"root_in": state.root(), **close_signals(state, (tx, closed))})
        expected_roots.append(closed.after.root())
    inputs.append({"root_in": OPENED.root(), **close_signals(OPENED, None)})
    expected_roots.append(OPENED.root())
    witnesses = calculate_witnesses(circuits["CloseSlot"], inputs)
    for (_, tx), witness in zip(closes, witnesses, strict=False):
        assert isinstance(witness, Witness), witness
        data = pd.encode_close(tx.slot)
        assert [witness[f"main.bytes[{i}]"] for i in range(8 * len(data))] == bits_of(data)
    for root, witness in zip(expected_roots, witnesses, strict=True):
        assert isinstance(witness, Witness), witness
        assert witness["main.root_out"] == root

    reclaimed = reclaim_steps(OPENED, ReclaimTx(9), 2_000)
    inputs = [
        {"root_in": OPENED.root(), "timestamp": 2_000,
         **reclaim_signals(OPENED, (ReclaimTx(9), reclaimed))},
        {"root_in": OPENED.root(), "timestamp": 2_000, **reclaim_signals(OPENED, None)},
    ]  # fmt: skip
    first, noop = calculate_witnesses(circuits["ReclaimSlot"], inputs)
    assert isinstance(first, Witness)
    assert isinstance(noop, Witness)
    assert first["main.root_out"] == reclaimed.after.root()
    assert noop["main.root_out"] == OPENED.root()
    assert [first[f"main.bytes[{i}]"] for i in range(24)] == bits_of(
        pd.encode_reclaim(ReclaimTx(9).slot)
    )


TWO = opened(OPENED, replace(OPEN, channel_index=10, nonce=3)).after
ORPHAN_FIELDS = Channel(RENTER, 7, PROVIDER, 300, 2_000)  # no such leaf anywhere
BadInput = tuple[Callable[[], Signals], str, str]
"""A forged input, the template and the line of circuits/channel.circom that refuses it."""
BAD: dict[str, dict[str, BadInput]] = {
    "OpenSlot": {
        "signed by another key": (lambda: forged_open(STATE, OPEN, signer=1), "OpenSlot",
                                  "signature.M <== message.out;"),
        "another key claimed for the renter": (
            lambda: forged_open(STATE, OPEN, key=1, signer=1), "OpenSlot",
            "old_path.root === root_in;"),
        "a used nonce": (lambda: forged_open(STATE, replace(OPEN, nonce=1)), "OpenSlot",
                         "nonce === renter_nonce;"),
        "a deposit above the balance": (lambda: forged_open(STATE, replace(OPEN, deposit=1001)),
                                        "OpenSlot", "balance_bits.in <== new_balance;"),
        "a deposit of 2^128": (lambda: forged_open(STATE, replace(OPEN, deposit=2**128)),
                               "OpenSlot", "deposit_bits.in <== deposit;"),
        "a zero deposit": (lambda: forged_open(STATE, replace(OPEN, deposit=0)), "OpenSlot",
                           "active * zero_deposit.out === 0;"),
        "expired (expiry at the batch's time)": (
            lambda: forged_open(STATE, replace(OPEN, expiry=TIME)), "OpenSlot",
            "active * (1 - future.out) === 0;"),
        "a taken slot": (lambda: forged_open(OPENED, replace(OPEN, nonce=3)), "OpenSlot",
                         "empty_path.root === middle_path.root;"),
        "a channel index in the accounts' half": (
            lambda: forged_open(STATE, replace(OPEN, channel_index=5)), "OpenSlot",
            "active * (1 - channel_bits.path[depth - 1]) === 0;"),
        "a provider in the channels' half": (
            lambda: forged_open(STATE, replace(OPEN, provider=12)), "OpenSlot",
            "active * provider_bits.path[depth - 1] === 0;"),
        "provider 0": (lambda: forged_open(STATE, replace(OPEN, provider=0)), "OpenSlot",
                       "active * provider_zero.out === 0;"),
        "a non-zero no-op": (
            lambda: forged_open(STATE, replace(OPEN, channel_index=0)), "OpenSlot",
            "noop.out * (renter + provider + deposit + expiry) === 0;"),
    },
    "CloseSlot": {
        "an amount above the deposit": (lambda: forged_close(OPENED, close_tx(amount=301)),
                                        "CloseSlot", "refund_bits.in <== refund;"),
        "a voucher signed by the provider": (
            lambda: forged_close(OPENED, close_tx(renter_key=1)), "CloseSlot",
            "voucher_signature.M <== voucher_message.out;"),
        "a close signed by the renter": (
            lambda: forged_close(OPENED, close_tx(provider_key=0)), "CloseSlot",
            "close_signature.M <== close_message.out;"),
        "the renter's key claimed for the provider": (
            lambda: forged_close(OPENED, close_tx(provider_key=0), provider_key=0),
            "CreditAccount", "old_path.root === root_in;"),
        "an empty slot": (lambda: forged_close(OPENED, close_tx(channel=10), ORPHAN_FIELDS),
                          "TakeChannel", "old_path.root === root_in;"),
        "a voucher of another channel": (
            lambda: forged_close(TWO, CloseChannelTx(
                10, 100, sign_voucher(KEYS[0], RENTER, 2, 100), sign_close(KEYS[1], RENTER, 3, 100),
            )), "CloseSlot", "voucher_signature.M <== voucher_message.out;"),
        "a provider's balance above 2^128": (
            lambda: forged_close(opened(tx=replace(OPEN, provider=RICH)).after,
                                 close_tx(amount=6, provider_key=2), provider_key=2),
            "CreditAccount", "balance_bits.in <== new_balance;"),
    },
    "ReclaimSlot": {
        "before the expiry": (lambda: forged_reclaim(OPENED, 9, 1_999), "ReclaimSlot",
                              "active * (1 - expired.out) === 0;"),
        "an empty slot": (lambda: forged_reclaim(OPENED, 10, 5_000, ORPHAN_FIELDS),
                          "TakeChannel", "old_path.root === root_in;"),
        "another key claimed for the renter": (lambda: forged_reclaim(OPENED, 9, 5_000, key=1),
                                               "CreditAccount", "old_path.root === root_in;"),
        "an account's index": (
            lambda: forged_reclaim(OPENED.with_leaf(5, ORPHAN_FIELDS.leaf), 5, 5_000,
                                   ORPHAN_FIELDS),
            "ReclaimSlot", "active * (1 - channel_bits.path[depth - 1]) === 0;"),
    },
}  # fmt: skip
CONTROLS: dict[str, Callable[[], Signals]] = {
    "OpenSlot": lambda: forged_open(STATE, OPEN),
    "CloseSlot": lambda: forged_close(OPENED, close_tx()),
    "ReclaimSlot": lambda: forged_reclaim(OPENED, 9, 5_000),
}


def template_lines(template: str, text: str) -> list[int]:
    """The lines of ``template`` in circuits/channel.circom that read ``text``."""
    lines = (CIRCUITS / "channel.circom").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"template {template}("))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("}")), len(lines))
    found = [i + 1 for i in range(start, end) if lines[i].strip() == text]
    assert len(found) == 1, (template, text)
    return found


@pytest.mark.parametrize("kind", list(BAD))
def test_the_circuits_refuse_each_forged_input(
    circuits: dict[str, CompiledCircuit], kind: str
) -> None:
    cases = BAD[kind]
    inputs = [CONTROLS[kind]()] + [make() for make, _, _ in cases.values()]
    control, *results = calculate_witnesses(circuits[kind], inputs)
    assert isinstance(control, Witness), control  # the same forging, no rule broken
    for (name, (_, template, text)), result in zip(cases.items(), results, strict=True):
        assert isinstance(result, WitnessError), f"the circuit accepted: {name}"
        assert "Assert Failed" in str(result), (name, result)
        (line,) = template_lines(template, text)
        assert re.search(rf"template {template}_\d+ line: {line}\b", str(result)), (name, result)
