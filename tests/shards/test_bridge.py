"""The shards' bridge on the embedded L1: routing, moves between shards on the slow
path and the fast path, and the attacks on both (forged and replayed messages, a
front of a move whose source batch a fraud proof reverts)."""

from __future__ import annotations

import copy

import pytest

from l2gpu.core.l2.transactions import Withdraw
from l2gpu.core.shards.bridge import Move, sign_move
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.types import Address, Wei
from l2gpu.fraud.watcher import Watcher
from l2gpu.l1 import ContractRevert
from l2gpu.l1.contracts.dispute_game import DisputeClient
from l2gpu.l1.contracts.rollup import TWELVE_HOURS, RollupClient
from l2gpu.scenarios.shard_world import ETH, ShardWorld

WINDOW = 3600


@pytest.fixture(scope="module")
def deployed() -> ShardWorld:
    return ShardWorld(2, challenge_window=WINDOW)


@pytest.fixture
def world(deployed: ShardWorld) -> ShardWorld:
    deployed.reset()
    return deployed


def two_users(world: ShardWorld) -> tuple[int, int]:
    """A user on shard 0 and one on shard 1, both funded there."""
    alice, bob = world.users_on(0, 1)[0], world.users_on(1, 1)[0]
    world.deposit(alice, ETH)
    world.deposit(bob, ETH)
    for shard in world.shards:
        world.post(shard)
    return alice, bob


def test_a_deposit_lands_on_the_depositors_shard_by_the_stated_rule(world: ShardWorld) -> None:
    for who in range(1, 9):
        expected = shard_of(world.address(who), 2)
        assert world.bridge.shard_of(world.address(who)) == expected
        world.deposit(who, ETH // 10)
    for shard in world.shards:
        world.post(shard)
    for who in range(1, 9):
        home = world.home(who)
        assert world.balance(home, who) == ETH // 10
        other = world.shards[1 - home.number]
        assert world.balance(other, who) == 0
    assert {world.home(w).number for w in range(1, 9)} == {0, 1}  # both shards used


def test_a_move_on_the_slow_path_lands_once_the_source_batch_is_final(world: ShardWorld) -> None:
    alice, bob = two_users(world)
    source, target = world.shards
    exit_index = 0
    _, exit_index, batch = world.burn(alice, ETH // 4)
    move, signature = world.move(alice, exit_index, 1, bob, ETH // 4)
    with pytest.raises(ContractRevert, match="batch not final"):
        world.relay(move, signature, batch)
    world.chain.time_travel(WINDOW + 1)
    before = world.chain.balance(world.bridge.address)
    world.relay(move, signature, batch, sender=5)  # anyone carries it
    assert world.chain.balance(world.bridge.address) == before  # nothing stays in the bridge
    world.post(target)
    assert world.balance(target, bob) == ETH + ETH // 4
    # Replayed, or the same exit moved elsewhere: it landed once.
    with pytest.raises(ContractRevert, match="landed already"):
        world.relay(move, signature, batch)
    other, other_sig = world.move(alice, exit_index, 1, alice, ETH // 4)
    with pytest.raises(ContractRevert, match="landed already"):
        world.relay(other, other_sig, batch)
    assert world.bridge.landed(move)
    assert source.client.contract.call("exit_claimed", exit_index)


def test_forged_moves_are_refused(world: ShardWorld) -> None:
    alice, bob = two_users(world)
    _, exit_index, batch = world.burn(alice, ETH // 4)
    world.chain.time_travel(WINDOW + 1)
    move, _ = world.move(alice, exit_index, 1, bob, ETH // 4)
    # Bob signs Alice's exit over to himself.
    forged = sign_move(world.key(bob), world.bridge.domain, move)
    with pytest.raises(ContractRevert, match="not signed by the exit's owner"):
        world.relay(move, forged, batch)
    # Bob names himself the owner of Alice's exit: his own signature, no such exit.
    stolen = Move(0, exit_index, world.address(bob), ETH // 4, 1, world.address(bob))
    with pytest.raises(ContractRevert, match="bad exit proof"):
        world.relay(stolen, sign_move(world.key(bob), world.bridge.domain, stolen), batch)
    # More than the exit holds.
    bigger, big_sig = world.move(alice, exit_index, 1, bob, ETH)
    with pytest.raises(ContractRevert, match="bad exit proof"):
        world.relay(bigger, big_sig, batch)
    for bad, reason in [
        (Move(0, exit_index, world.address(alice), ETH // 4, 0, world.address(bob)), "source"),
        (Move(0, exit_index, world.address(alice), ETH // 4, 2, world.address(bob)), "no such"),
        (Move(0, exit_index, world.address(alice), ETH // 4, 1, world.address(bob), ETH // 4),
         "fee must be less"),
    ]:  # fmt: skip
        with pytest.raises(ContractRevert, match=reason):
            world.relay(bad, sign_move(world.key(alice), world.bridge.domain, bad), batch)
    # Only the bridge claims an exit for another or deposits for another address.
    source = world.shards[0].client
    with pytest.raises(ContractRevert, match="only the shards' bridge"):
        source.contract.transact("deposit_for", world.address(bob), b"", b"", b"",
                                 sender=world.account(bob), value=1)  # fmt: skip
    state = world.shards[0].posted[batch]
    parts = state.parts()
    with pytest.raises(ContractRevert, match="only the shards' bridge"):
        source.contract.transact(
            "bridge_withdraw", batch, exit_index, world.address(alice), ETH // 4,
            state.exit_tree.proof(exit_index), parts.accounts_root, parts.channels_root,
            parts.deposits_processed, parts.exit_count, sender=world.account(bob),
        )  # fmt: skip
    with pytest.raises(Exception, match="only a shard sends ether"):  # a stranger's ether
        world.chain.w3.eth.call({"from": world.account(bob).address, "value": 1,
                                 "to": world.bridge.address.checksum})  # fmt: skip
    # The honest move still lands: nothing above consumed it.
    good, good_sig = world.move(alice, exit_index, 1, bob, ETH // 4)
    world.relay(good, good_sig, batch)


def test_a_fronted_move_pays_its_recipient_now_and_its_provider_when_it_lands(
    world: ShardWorld,
) -> None:
    alice, bob = two_users(world)
    provider = world.users_on(1, 2)[1]
    target = world.shards[1]
    _, exit_index, batch = world.burn(alice, ETH // 4)
    fee = ETH // 1000
    move, signature = world.move(alice, exit_index, 1, bob, ETH // 4, fee)
    with pytest.raises(ContractRevert, match="amount less the fee"):  # the whole amount
        world.bridge.contract.transact(
            "front", move.as_tuple(), signature, sender=world.account(provider), value=ETH // 4
        )
    world.bridge.front(world.account(provider), move, signature)
    world.post(target)  # the target's next batch: no challenge window on this path
    assert world.balance(target, bob) == ETH + ETH // 4 - fee
    with pytest.raises(ContractRevert, match="fronted already"):
        world.bridge.front(world.account(5), move, signature)
    world.chain.time_travel(WINDOW + 1)
    # Alice cannot also take the fronted exit herself: it leaves through the bridge.
    with pytest.raises(ContractRevert, match="fronted on another shard"):
        world.shards[0].client.withdraw(world.shards[0].posted[batch], batch, exit_index,
                                        world.account(alice))  # fmt: skip
    before = world.chain.balance(world.address(provider))
    # Alice signs another move of the same exit, to herself: it is the same message,
    # so it repays the provider and pays Alice nothing twice.
    again, again_sig = world.move(alice, exit_index, 1, alice, ETH // 4)
    world.relay(again, again_sig, batch)
    assert world.chain.balance(world.address(provider)) - before == ETH // 4
    world.post(target)
    assert world.balance(target, bob) == ETH + ETH // 4 - fee  # paid once
    assert world.balance(target, alice) == 0
    with pytest.raises(ContractRevert, match="landed already"):
        world.bridge.front(world.account(5), again, again_sig)


def test_a_front_on_a_batch_that_a_fraud_proof_reverts_costs_its_provider_only(
    world: ShardWorld,
) -> None:
    alice, bob = two_users(world)  # Alice colludes with shard 0's proposer
    provider, challenger = world.users_on(1, 2)[1], world.users_on(0, 3)[2]
    source, target = world.shards
    world.transfer(source, alice, alice, 1)  # any commitment to hang the lie on
    stolen, fee = 5 * ETH, ETH // 100
    batch, fake_exit = world.post_lie(source, alice, stolen)  # an exit Alice never paid for
    move, signature = world.move(alice, fake_exit, 1, bob, stolen, fee)
    lp_before = world.chain.balance(world.address(provider))
    world.bridge.front(world.account(provider), move, signature)  # it did not re-execute
    world.post(target)
    assert world.balance(target, bob) == ETH + stolen - fee  # the recipient keeps it
    # A watcher challenges the lie; the proposer stays silent; the batch is reverted.
    contract = source.client.contract
    watcher = Watcher(RollupClient(world.chain, contract),
                      DisputeClient(world.chain, source.client.game),
                      world.account(challenger), defend=False)  # fmt: skip
    log = watcher.poll()
    world.chain.time_travel(WINDOW // 7 + 1)
    log += watcher.poll() + watcher.poll()
    assert int(contract.call("batch_count")) <= batch, log  # reverted
    world.chain.time_travel(WINDOW + 1)
    with pytest.raises(ContractRevert):
        world.relay(move, signature, batch)
    assert not world.bridge.landed(move)
    # Who lost: the provider, what it fronted (and its gas); never repaid.
    lost = lp_before - world.chain.balance(world.address(provider))
    assert stolen - fee <= lost < stolen - fee + ETH // 100
    # Nobody else: the bridge holds nothing, shard 1 holds its deposits and what was
    # fronted, shard 0 its deposits and the (slashed) bonds.
    assert world.chain.balance(world.bridge.address) == 0
    assert world.chain.balance(target.client.address) == ETH + (stolen - fee) + int(
        target.client.contract.call("bond", world.operator.address)
    )
    bonds = int(contract.call("bond", world.operator.address))
    assert world.chain.balance(contract.address) == ETH + bonds


def test_a_shard_whose_sequencer_stops_lets_its_users_out_and_the_others_go_on(
    world: ShardWorld,
) -> None:
    alice, bob = two_users(world)
    stopped, going = world.shards
    _, exit_index, batch = world.burn(bob, ETH // 4)  # Bob means to move it to shard 0
    world.chain.time_travel(WINDOW + 1)
    # Shard 0's sequencer stops: Alice's withdrawal, asked on L1, waits past the delay.
    stopped.client.force_withdraw(world.account(alice), ETH)
    world.chain.time_travel(TWELVE_HOURS + 1)
    stopped.client.freeze(world.operator)
    final = stopped.posted[max(stopped.posted)]
    before = world.chain.balance(world.address(alice))
    account = final.account_of(world.address(alice))
    assert account is not None
    stopped.client.exit_account(final, account, world.operator)  # anyone may send it
    assert world.chain.balance(world.address(alice)) - before == ETH
    # A move into the stopped shard is refused whole, and the exit stays Bob's.
    move, signature = world.move(bob, exit_index, 0, alice, ETH // 4)
    with pytest.raises(ContractRevert, match="frozen"):
        world.relay(move, signature, batch)
    before = world.chain.balance(world.address(bob))
    going.client.withdraw(going.posted[batch], batch, exit_index, world.operator)
    assert world.chain.balance(world.address(bob)) - before == ETH // 4
    # The other shard goes on.
    world.deposit(bob, ETH // 2)  # Bob lives on shard 1
    assert world.post(going) is not None
    # (Bob is shard 1's account 0, which collects its fees: his own came back.)
    assert world.balance(going, bob) == ETH - ETH // 4 + ETH // 2


def test_an_exit_withdrawn_already_is_not_fronted(world: ShardWorld) -> None:
    alice, bob = two_users(world)
    source = world.shards[0]
    _, exit_index, batch = world.burn(alice, ETH // 4)
    move, signature = world.move(alice, exit_index, 1, bob, ETH // 4, ETH // 1000)
    world.chain.time_travel(WINDOW + 1)
    source.client.withdraw(source.posted[batch], batch, exit_index, world.account(alice))
    with pytest.raises(ContractRevert, match="exit was claimed already"):
        world.bridge.front(world.account(5), move, signature)
    # A move with no owner and a malformed signature (ecrecover gives the zero address).
    nobody = Move(0, exit_index, Address(bytes(20)), ETH // 4, 1, world.address(bob))
    with pytest.raises(ContractRevert, match="no owner"):
        world.bridge.contract.transact("front", nobody.as_tuple(), b"", sender=world.account(5),
                                       value=ETH // 4)  # fmt: skip


def test_after_a_freeze_an_exit_of_a_later_batch_is_not_paid_on_top(world: ShardWorld) -> None:
    alice, bob = two_users(world)
    stopped = world.shards[1]  # Bob's shard
    stopped.client.force_withdraw(world.account(alice), 1)  # a queued operation it ignores
    world.chain.time_travel(TWELVE_HOURS - 60)
    # Bob burns in a batch that leaves the queue alone; it is not final at the freeze.
    world.send(stopped, bob, Withdraw(world.index(stopped, bob), Wei(ETH // 2), Wei(0)))
    sealed = stopped.sequencer.seal().batch
    assert sealed is not None
    batch, _ = stopped.client.submit(sealed, stopped.state.deposits_processed, world.operator)
    stopped.posted[batch] = copy.deepcopy(stopped.state)
    exit_index = len(stopped.state.exits) - 1
    world.chain.time_travel(61)
    stopped.client.freeze(world.operator)
    assert int(stopped.client.contract.call("frozen_batch")) < batch
    final = stopped.posted[int(stopped.client.contract.call("frozen_batch"))]
    account = final.account_of(world.address(bob))
    assert account is not None
    stopped.client.exit_account(final, account, world.operator)  # his whole pre-burn balance
    world.chain.time_travel(WINDOW + 1)
    with pytest.raises(ContractRevert, match="exits after the frozen batch"):
        stopped.client.withdraw(stopped.posted[batch], batch, exit_index, world.operator)
