"""Bridge.vy against its specification (core/shards/bridge.py), call by call: the
same refusals with the same reasons, the same deposits on the same shards, the same
repayments. Seeded random runs of deposits, fronts and relays, honest and forged."""

from __future__ import annotations

import random

import pytest

from l2gpu.core.shards import bridge as spec
from l2gpu.core.shards.bridge import BridgeState, Move, sign_move
from l2gpu.l1 import ContractRevert, Receipt
from l2gpu.scenarios.shard_world import ETH, ShardWorld

WINDOW = 3600
STEPS = 60


@pytest.fixture(scope="module")
def world() -> ShardWorld:
    return ShardWorld(3, challenge_window=WINDOW)


def observed(world: ShardWorld, receipt: Receipt) -> list[object]:
    """The spec's events as L1 shows them: queued deposits per shard, landings."""
    shard_of = {s.client.address: s.number for s in world.shards}
    seen: list[object] = []
    for event in receipt.events:
        if event.name == "Queued" and event.contract in shard_of:
            seen.append(spec.Deposited(shard_of[event.contract], event.args["sender"],
                                       int(event.args["amount"])))  # fmt: skip
        elif event.name == "Landed":
            args = event.args
            landed = spec.Landed(bytes(args["message"]), args["paid_to"], int(args["amount"]),
                                 bool(args["fronted"]))  # fmt: skip
            seen.append(landed)
        elif event.name == "Fronted":
            seen.append(spec.Fronted(bytes(event.args["message"]), event.args["provider"],
                                     int(event.args["delivered"])))  # fmt: skip
    return seen


def expected(events: list[object]) -> list[object]:
    """The spec's events L1 logs (a payment to a provider is a transfer, not a log)."""
    return [e for e in events if not isinstance(e, spec.Paid)]


def perform(
    world: ShardWorld, call: spec.BridgeInput, sender: int, batch: int
) -> tuple[Receipt | None, str | None]:
    """Send ``call`` to Bridge.vy from account ``sender``: (receipt, None) or the revert."""
    try:
        if isinstance(call, spec.Front):
            receipt = world.bridge.contract.transact(
                "front", call.move.as_tuple(), call.signature, sender=world.account(sender),
                value=call.value,
            )  # fmt: skip
        else:
            assert isinstance(call, spec.Relay)
            receipt = world.relay(call.move, call.signature, batch, sender=sender)
    except ContractRevert as exc:
        return None, exc.reason
    return receipt, None


@pytest.mark.parametrize("seed", range(3))
def test_the_contract_follows_the_spec_call_by_call(world: ShardWorld, seed: int) -> None:
    world.reset()
    rng = random.Random(seed)
    state = BridgeState(world.bridge.domain, len(world.shards))
    # optimistic shards: exits are proven leaves, so no owner's fronts are limited
    assert not any(world.bridge.contract.call("exits_are_positions", i) for i in range(3))
    users = list(range(1, 9))
    exits: list[tuple[int, int, int, int]] = []  # (owner, exit index, amount, batch)
    final: set[int] = set()  # positions in exits whose batch is final
    outcomes: set[str] = set()
    fronted: set[int] = set()  # positions in exits fronted
    for who in users:  # everyone has funds on its shard
        state, events = spec.state_transition(state, spec.RouteDeposit(world.address(who), ETH))
        assert observed(world, world.deposit(who, ETH)) == expected(events)
    for shard in world.shards:
        world.post(shard)
    for step in range(STEPS):
        roll = rng.random()
        if roll < 0.25 or not exits:  # a user burns some of its balance to move it
            who = rng.choice(users)
            amount = rng.randrange(1, 100) * 10**15  # L2 amounts are floats: exact ones
            _, index, batch = world.burn(who, amount)
            exits.append((who, index, amount, batch))
            if rng.random() < 0.5:
                world.chain.time_travel(WINDOW + 1)
                final.update(range(len(exits)))
            continue
        position = max(0, len(exits) - 1 - rng.randrange(3))  # mostly the newest exits
        if roll >= 0.6 and fronted and rng.random() < 0.5:  # relay what was fronted
            position = rng.choice(sorted(fronted))
        owner, index, amount, batch = exits[position]
        home = world.home(owner).number
        to_shard = rng.choice([s for s in range(3) if s != home] + [home, 7][: rng.random() < 0.1])
        to = rng.choice(users)
        fee = rng.choice([0, amount // 10, amount])  # amount: over the limit
        move = Move(home, index, world.address(owner), amount, to_shard, world.address(to), fee)
        signer = owner if rng.random() < 0.85 else rng.choice(users)
        signature = sign_move(world.key(signer), world.bridge.domain, move)
        sender = rng.choice(users)
        if roll < 0.6:
            value = amount - fee if rng.random() < 0.9 else amount - fee + 1
            claimed = bool(world.shards[home].client.contract.call("exit_claimed", index))
            call: spec.BridgeInput = spec.Front(move, signature, world.address(sender), value,
                                                claimed)  # fmt: skip
        else:
            claimed = bool(world.shards[home].client.contract.call("exit_claimed", index))
            refusal = ("rollup: exit already claimed" if claimed else
                       None if position in final else "rollup: batch not final")  # fmt: skip
            call = spec.Relay(move, signature, refusal)
        state, events = spec.state_transition(state, call)
        outcomes.update(type(e).__name__ + str(getattr(e, "fronted", "")) for e in events)
        receipt, reason = perform(world, call, sender, batch)
        if reason is not None:
            assert events == [spec.Rejected(reason)], (seed, step, call)
            continue
        assert receipt is not None
        assert observed(world, receipt) == expected(events), (seed, step, call)
        debtor = world.address(owner)
        assert world.bridge.contract.call("owed_on", home, debtor) == state.owed_by(home, debtor)
        if any(isinstance(e, spec.Fronted) for e in events):
            fronted.add(position)
        for event in events:
            if isinstance(event, spec.Paid):
                assert any(e.name == "Landed" and e.args["paid_to"] == event.to
                           for e in receipt.events)  # fmt: skip
    assert world.chain.balance(world.bridge.address) == 0  # nothing ever stays
    # Each run reached every outcome: refusals, fronts, and landings of both kinds.
    assert outcomes >= {"Rejected", "Fronted", "LandedTrue", "LandedFalse"}, outcomes
