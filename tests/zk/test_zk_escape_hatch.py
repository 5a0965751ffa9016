"""The zk rollup's escape hatch on the py-evm chain: real proven batches, then the
operator stops; an overdue deposit lets anyone freeze; every account exits with its
Merkle proof from the spec (``ZkState.proof``) and the untaken deposit is refunded,
until the contract holds nothing the L2 is owed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2gpu.core.types import Address
from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.core.zk.state import Account, MerkleProof, ZkState
from l2gpu.core.zk.transfer import TransferTx
from l2gpu.core.zk.withdrawal import WithdrawalTx
from l2gpu.l1 import Chain, ContractRevert, Receipt
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

from .test_zk_rollup_batches import ETH, ZkWorld, l2_key

# Proving, compiling and chaos each need the CPU: this group runs on one xdist worker,
# one test at a time, so that none of them starves another (see the Makefile).
pytestmark = pytest.mark.xdist_group("cpu_heavy")

DELAY = 3600  # ZkWorld's forced-inclusion delay
NOT_OPEN = "do not open to the last proven state root"


@pytest.fixture
def world(chain: Chain, batch_circuit: CompiledCircuit, batch_keys: Keys, toolchain: Toolchain):
    return ZkWorld(chain, batch_circuit, batch_keys, toolchain)


def execution_gas(rollup: ZkRollupClient, receipt: Receipt, *args: object) -> int:
    """``exit_account``'s gas less the transaction's intrinsic part (21,000 and 4 or 16
    per calldata byte): what the exit itself costs."""
    data = rollup.contract.function("exit_account", *args)._encode_transaction_data()
    calldata = bytes.fromhex(data[2:])
    return receipt.gas_used - 21_000 - sum(16 if byte else 4 for byte in calldata)


def exit_args(index: int, account: Account, proof: MerkleProof) -> tuple[object, ...]:
    address = Address(account.eth_address.to_bytes(20, "big"))
    return (index, account.ax, account.ay, account.balance, account.nonce, address,
            list(proof.siblings))  # fmt: skip


def test_every_account_exits_with_its_balance_after_a_freeze(world: ZkWorld) -> None:
    chain, rollup = world.chain, world.rollup
    alice, bob, carol, anyone = (chain.accounts[i] for i in (1, 2, 3, 5))
    for who, amount in ((1, ETH), (2, 2 * ETH)):
        rollup.deposit(chain.accounts[who], l2_key(who), amount)
    for _ in range(2):  # one deposit slot per batch
        world.submit(*world.batch(deposits=1), deposits=1)
    # Bob pays Alice (the fee goes to the fee account, Alice's index 1) and withdraws.
    pay, out = TransferTx(2, 1, 5 * 10**17, 1, 0), WithdrawalTx(2, 25 * 10**16, 1)
    world.submit(*world.batch([(pay, 2)], [(out, 2)]))
    rollup.withdraw_credit(bob)  # the withdrawal, paid at once: nothing owed to Bob now
    state = world.state
    assert rollup.state_root() == state.root()
    balances = {i: state.account(i).balance for i in (1, 2)}
    assert balances == {1: ETH + 5 * 10**17 + pay.fee, 2: 2 * ETH - 5 * 10**17 - pay.fee
                        - 25 * 10**16}  # fmt: skip

    # Before a freeze no exit opens, even a valid one.
    with pytest.raises(ContractRevert, match="only when the rollup is frozen"):
        rollup.exit_account(2, state.account(2), state.proof(2), anyone)

    # Carol deposits; the operator posts nothing more; her deposit becomes overdue.
    rollup.deposit(carol, l2_key(3), 3 * 10**17)
    carol_deposit = rollup.queued_deposits()[-1]
    chain.time_travel(DELAY + 1)
    rollup.freeze(anyone)
    assert chain.balance(rollup.address) == balances[1] + balances[2] + 3 * 10**17

    # Refusals, each with its reason, and nothing credited by any of them.
    bob_account, bob_proof = state.account(2), state.proof(2)
    with pytest.raises(ContractRevert, match=NOT_OPEN):  # a forged balance
        rollup.exit_account(2, replace(bob_account, balance=bob_account.balance + 1),
                            bob_proof, anyone)  # fmt: skip
    siblings = list(bob_proof.siblings)
    siblings[3] ^= 1
    with pytest.raises(ContractRevert, match=NOT_OPEN):  # a wrong sibling
        rollup.exit_account(2, bob_account, replace(bob_proof, siblings=tuple(siblings)), anyone)
    with pytest.raises(ContractRevert, match=NOT_OPEN):  # another index's path
        rollup.exit_account(2, bob_account, state.proof(1), anyone)
    with pytest.raises(ContractRevert, match="one sibling per tree level"):
        rollup.exit_account(2, bob_account, replace(bob_proof, siblings=bob_proof.siblings[:-1]),
                            anyone)  # fmt: skip
    with pytest.raises(ContractRevert, match="not an account index"):
        rollup.exit_account(0, bob_account, state.proof(0), anyone)
    # Carol's index is assigned on L1, but no batch created her account: her leaf is
    # empty (0), which no account's fields hash to.
    assert state.leaf(3) == 0
    carol_account = Account(*l2_key(3), 3 * 10**17, 0, int(carol.address, 16))
    with pytest.raises(ContractRevert, match=NOT_OPEN):
        rollup.exit_account(3, carol_account, state.proof(3), anyone)
    assert all(rollup.credit(who.address) == 0 for who in (alice, bob, carol, anyone))

    # Anyone submits Bob's exit; the wei are credited to Bob, exactly his balance.
    receipt = rollup.exit_account(2, bob_account, bob_proof, anyone)
    exited = receipt.event("AccountExited").args
    assert (exited["account_index"], exited["amount"]) == (2, balances[2])
    assert rollup.credit(bob.address) == balances[2]
    assert rollup.exited(2)
    assert rollup.credit(anyone.address) == 0
    with pytest.raises(ContractRevert, match="exited already"):
        rollup.exit_account(2, bob_account, bob_proof, bob)
    rollup.refund_deposit(carol_deposit, anyone)
    assert rollup.credit(carol.address) == 3 * 10**17

    # What the contract holds now: Bob's and Carol's credit, and Alice's balance on L2
    # (the fee account: her deposit, Bob's payment and the fee), nothing else.
    owed = rollup.credit(bob.address) + rollup.credit(carol.address) + balances[1]
    assert chain.balance(rollup.address) == owed
    for who in (bob, carol):
        rollup.withdraw_credit(who)
    assert chain.balance(rollup.address) == balances[1]

    receipt = rollup.exit_account(1, state.account(1), state.proof(1), alice)
    gas = execution_gas(rollup, receipt, *exit_args(1, state.account(1), state.proof(1)))
    print(f"\nexit_account at depth {state.depth}: {receipt.gas_used} gas used, "
          f"{gas} of execution")  # fmt: skip
    rollup.withdraw_credit(alice)
    assert chain.balance(rollup.address) == 0  # every wei the L2 held has left


def test_an_exit_at_depth_24_costs(chain: Chain, world: ZkWorld) -> None:
    """The gas of one exit from a tree of the production depth. The contract takes any
    genesis root, so a depth-24 rollup starts at a state built by the spec (no batch
    circuit of depth 24 is needed to measure an exit)."""
    depth = 24
    deployer, owner = chain.accounts[0], chain.accounts[4]
    account = Account(*l2_key(1), ETH, 7, int(owner.address, 16))
    index = 2**depth - 2  # far from index 1: the path's bits mix left and right
    empty_account = Account(*l2_key(2), 0, 3, int(owner.address, 16))
    state = ZkState.empty(depth).with_account(index, account).with_account(5, empty_account)
    rollup = ZkRollupClient.deploy(
        chain, deployer, genesis_root=state.root(), verifier=world.rollup.contract,
        circuit_hash=bytes(32), shape=BatchShape(1, 1, 1), depth=depth, force_delay=DELAY,
    )  # fmt: skip
    rollup.deposit(owner, l2_key(1), ETH)  # the deposit no batch takes
    chain.time_travel(DELAY + 1)
    rollup.freeze(owner)
    with pytest.raises(ContractRevert, match="holds nothing to exit"):
        rollup.exit_account(5, empty_account, state.proof(5), owner)
    receipt = rollup.exit_account(index, account, state.proof(index), owner)
    gas = execution_gas(rollup, receipt, *exit_args(index, account, state.proof(index)))
    print(f"\nexit_account at depth {depth}: {receipt.gas_used} gas used, {gas} of execution")
    assert rollup.credit(owner.address) == ETH
