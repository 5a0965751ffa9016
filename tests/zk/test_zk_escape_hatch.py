"""The zk rollup's escape hatch on the py-evm chain: real proven batches, then the
operator stops; an overdue deposit lets anyone freeze; every account exits with its
Merkle proof from the spec (``ZkState.proof``) and the untaken deposit is refunded,
until the contract holds nothing the L2 is owed. A lease channel open at the freeze
pays its whole deposit back to its renter's address (``exit_channel``).

The contract takes any genesis root, so the tests that need no batch start from a
state the spec builds (accounts and channels at chosen indices) over a stand-in
verifier that is never called."""

from __future__ import annotations

from dataclasses import replace

import pytest

from l2gpu.core.types import Address
from l2gpu.core.zk.pubdata import BatchShape
from l2gpu.core.zk.state import Account, Channel, MerkleProof, ZkState
from l2gpu.core.zk.transfer import TransferTx
from l2gpu.core.zk.withdrawal import WithdrawalTx
from l2gpu.l1 import Chain, ContractRevert, DeployedContract, Receipt, compile_contract
from l2gpu.l1.contracts.zk_rollup import ZkRollupClient, exit_channel_gas
from l2gpu.node.zk.escape import escape, rebuilt_state
from l2gpu.zk.setup import Keys
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain

from .test_zk_rollup_batches import ETH, ZkWorld, l2_key

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

DELAY = 3600  # ZkWorld's forced-inclusion delay
NOT_OPEN = "do not open to the last proven state root"
CHANNEL_NOT_OPEN = "the channel's fields and siblings " + NOT_OPEN
RENTER_NOT_OPEN = "the renter's account fields and siblings " + NOT_OPEN


@pytest.fixture
def world(chain: Chain, batch_circuit: CompiledCircuit, batch_keys: Keys, toolchain: Toolchain):
    return ZkWorld(chain, batch_circuit, batch_keys, toolchain)


@pytest.fixture
def stand_in(chain: Chain) -> DeployedContract:
    """A contract in the verifier's place where no batch is submitted (the rollup
    checks only that its verifier is a contract)."""
    return chain.deploy(compile_contract("testing/RefusingReceiver.vy"), sender=chain.accounts[0])


def execution_gas(
    rollup: ZkRollupClient, gas_used: int, *args: object, function: str = "exit_account"
) -> int:
    """An exit's gas less the transaction's intrinsic part (21,000 and 4 or 16 per
    calldata byte): what the exit itself costs."""
    data = rollup.contract.function(function, *args)._encode_transaction_data()
    calldata = bytes.fromhex(data[2:])
    return gas_used - 21_000 - sum(16 if byte else 4 for byte in calldata)


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

    # Alice leaves as 'l2gpu zk exit' does: the state rebuilt from the calldata of L1's
    # submit_batch transactions alone (no operator, no spec), then her exit.
    rebuilt = rebuilt_state(rollup)
    assert rebuilt.root() == state.root()
    assert (rebuilt.account(1), rebuilt.account(2)) == (state.account(1), state.account(2))
    report = escape(rollup, alice)
    assert (report.account, report.refunded, report.channels) == (balances[1], 0, 0)
    gas_used = int(chain.w3.eth.get_transaction_receipt(report.transactions[0])["gasUsed"])
    gas = execution_gas(rollup, gas_used, *exit_args(1, state.account(1), state.proof(1)))
    print(f"\nexit_account at depth {state.depth}: {gas_used} gas used, {gas} of execution")
    rollup.withdraw_credit(alice)
    assert chain.balance(rollup.address) == 0  # every wei the L2 held has left


def test_an_exit_at_depth_24_costs(chain: Chain, stand_in: DeployedContract) -> None:
    """The gas of one exit from a tree of the production depth. The contract takes any
    genesis root, so a depth-24 rollup starts at a state built by the spec (no batch
    circuit of depth 24 is needed to measure an exit)."""
    depth = 24
    deployer, owner = chain.accounts[0], chain.accounts[4]
    account = Account(*l2_key(1), ETH, 7, int(owner.address, 16))
    index = 2 ** (depth - 1) - 2  # the accounts' half, far from index 1: bits mix
    empty_account = Account(*l2_key(2), 0, 3, int(owner.address, 16))
    state = ZkState.empty(depth).with_account(index, account).with_account(5, empty_account)
    rollup = ZkRollupClient.deploy(
        chain, deployer, genesis_root=state.root(), verifier=stand_in,
        circuit_hash=bytes(32), shape=BatchShape(1, 1, 1), depth=depth, force_delay=DELAY,
    )  # fmt: skip
    rollup.deposit(owner, l2_key(1), ETH)  # the deposit no batch takes
    chain.time_travel(DELAY + 1)
    rollup.freeze(owner)
    with pytest.raises(ContractRevert, match="holds nothing to exit"):
        rollup.exit_account(5, empty_account, state.proof(5), owner)
    receipt = rollup.exit_account(index, account, state.proof(index), owner)
    gas = execution_gas(rollup, receipt.gas_used, *exit_args(index, account, state.proof(index)))
    print(f"\nexit_account at depth {depth}: {receipt.gas_used} gas used, {gas} of execution")
    assert rollup.credit(owner.address) == ETH


RENTER, PROVIDER = 1, 2  # account indices, and the L1 accounts that own them


def frozen_channel_rollup(
    chain: Chain, verifier: DeployedContract, state: ZkState
) -> ZkRollupClient:
    """A rollup whose last proven state is ``state``, frozen by an overdue deposit (of
    the L1 account 5, which brings the wei the exits are paid from)."""
    rollup = ZkRollupClient.deploy(
        chain, chain.accounts[0], genesis_root=state.root(), verifier=verifier,
        circuit_hash=bytes(32), shape=BatchShape(1, 1, 1), depth=state.depth,
        force_delay=DELAY,
    )  # fmt: skip
    rollup.deposit(chain.accounts[5], l2_key(1), 2 * ETH)
    return rollup


def channel_state(chain: Chain, depth: int, channel_index: int) -> tuple[ZkState, Channel]:
    """Renter 1 (after opening the channel: its nonce moved past the open's) and
    provider 2, and the renter's channel to the provider at ``channel_index``."""
    renter = Account(*l2_key(1), ETH, 4, int(chain.accounts[RENTER].address, 16))
    provider = Account(*l2_key(2), 3 * ETH, 9, int(chain.accounts[PROVIDER].address, 16))
    channel = Channel(RENTER, 3, PROVIDER, 4 * 10**17, 1_900_000_000)
    state = (ZkState.empty(depth).with_account(RENTER, renter).with_account(PROVIDER, provider)
             .with_channel(channel_index, channel))  # fmt: skip
    return state, channel


def test_a_channel_open_at_the_freeze_pays_its_deposit_to_the_renter_once(
    chain: Chain, stand_in: DeployedContract
) -> None:
    depth = 8
    index = 128 + 77  # in the channels' half, from 2^(depth-1): its bits mix left and right
    state, channel = channel_state(chain, depth, index)
    renter, provider = state.account(RENTER), state.account(PROVIDER)
    renter_owner, provider_owner, anyone = (chain.accounts[i] for i in (RENTER, PROVIDER, 6))
    rollup = frozen_channel_rollup(chain, stand_in, state)
    proof, renter_proof = state.proof(index), state.proof(RENTER)

    def exit_(
        index: int = index,
        channel: Channel = channel,
        proof: MerkleProof = proof,
        renter: Account = renter,
        renter_proof: MerkleProof = renter_proof,
    ) -> Receipt:
        return rollup.exit_channel(index, channel, proof, renter, renter_proof, anyone)  # fmt: skip

    with pytest.raises(ContractRevert, match="only when the rollup is frozen"):
        exit_()
    chain.time_travel(DELAY + 1)  # the chain's clock: the deposit is overdue
    rollup.freeze(anyone)

    # A wrong proof: a sibling of the channel's path, a forged deposit, another leaf's
    # path; the renter's account with a forged balance, or the provider's in its place.
    siblings = list(proof.siblings)
    siblings[5] ^= 1
    with pytest.raises(ContractRevert, match=CHANNEL_NOT_OPEN):
        exit_(proof=replace(proof, siblings=tuple(siblings)))
    with pytest.raises(ContractRevert, match=CHANNEL_NOT_OPEN):
        exit_(channel=replace(channel, deposit=channel.deposit + 1))
    with pytest.raises(ContractRevert, match=CHANNEL_NOT_OPEN):
        exit_(index=index + 1)  # an empty channel slot: its leaf is 0
    with pytest.raises(ContractRevert, match=RENTER_NOT_OPEN):
        exit_(renter=replace(renter, balance=renter.balance + 1))
    with pytest.raises(ContractRevert, match=RENTER_NOT_OPEN):
        exit_(renter=provider, renter_proof=state.proof(PROVIDER))  # the wei to the provider
    with pytest.raises(ContractRevert, match="one sibling per tree level"):
        exit_(renter_proof=replace(renter_proof, siblings=renter_proof.siblings[:-1]))
    # An account's leaf is no channel: not at an account index, nor (forged into the
    # channels' half) opened with a channel's fields, which hash with Poseidon(6).
    with pytest.raises(ContractRevert, match="not a channel index"):
        exit_(index=RENTER, proof=renter_proof)
    forged = state.with_account(index + 2, renter)
    forged_rollup = frozen_channel_rollup(chain, stand_in, forged)
    chain.time_travel(DELAY + 1)
    forged_rollup.freeze(anyone)
    as_channel = Channel(RENTER, renter.nonce, PROVIDER, renter.balance, 0)
    with pytest.raises(ContractRevert, match=CHANNEL_NOT_OPEN):
        forged_rollup.exit_channel(index + 2, as_channel, forged.proof(index + 2), renter,
                                   forged.proof(RENTER), anyone)  # fmt: skip
    assert all(rollup.credit(who.address) == 0 for who in (renter_owner, provider_owner, anyone))

    # Anyone sends it; the renter's address is credited the whole deposit, once.
    receipt = exit_()
    exited = receipt.event("ChannelExited").args
    assert (exited["channel_index"], exited["renter_index"], exited["amount"]) == (
        index, RENTER, channel.deposit)  # fmt: skip
    assert rollup.credit(renter_owner.address) == channel.deposit
    assert rollup.credit(provider_owner.address) == rollup.credit(anyone.address) == 0
    assert rollup.channel_exited(index)
    with pytest.raises(ContractRevert, match="exited already"):
        exit_()
    # The renter's balance is other money (the open took the deposit out of it).
    rollup.exit_account(RENTER, renter, renter_proof, anyone)
    assert rollup.credit(renter_owner.address) == channel.deposit + renter.balance
    before = chain.balance(renter_owner.address)
    rollup.withdraw_credit(renter_owner)
    assert chain.balance(renter_owner.address) > before + channel.deposit + ETH - 10**16

    exit_args_ = rollup.exit_channel_args(index, channel, proof, renter, renter_proof)
    gas = execution_gas(rollup, receipt.gas_used, *exit_args_, function="exit_channel")
    print(f"\nexit_channel at depth {depth}: {receipt.gas_used} gas used, {gas} of execution")
    assert receipt.gas_used < exit_channel_gas(depth)


def test_a_channel_exit_at_depth_24_costs(chain: Chain, stand_in: DeployedContract) -> None:
    """The gas of one channel's exit from a tree of the production depth."""
    depth = 24
    index = 2**depth - 3  # the channels' half; far from the renter's path
    state, channel = channel_state(chain, depth, index)
    rollup = frozen_channel_rollup(chain, stand_in, state)
    chain.time_travel(DELAY + 1)
    rollup.freeze(chain.accounts[6])
    args = (index, channel, state.proof(index), state.account(RENTER), state.proof(RENTER))
    receipt = rollup.exit_channel(*args, chain.accounts[6])
    gas = execution_gas(
        rollup, receipt.gas_used, *rollup.exit_channel_args(*args), function="exit_channel"
    )
    print(f"\nexit_channel at depth {depth}: {receipt.gas_used} gas used, {gas} of execution")
    assert rollup.credit(chain.accounts[RENTER].address) == channel.deposit
    assert receipt.gas_used < exit_channel_gas(depth)
