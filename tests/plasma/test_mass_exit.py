"""When the operator withholds a block, a hundred users exit all their coins within
one exit period, and finalizing takes a bounded number of exits per call."""

from __future__ import annotations

from l2gpu.core.plasma import exit_game
from l2gpu.core.plasma.root_chain import ExitFinalized, FinalizeExit, Rejected
from l2gpu.scenarios.plasma_arena import PlasmaArena

USERS = [f"user{i}" for i in range(100)]


def test_a_hundred_users_exit_everything_when_a_block_is_withheld(chain) -> None:
    arena = PlasmaArena(chain, [*USERS, "mallory"])
    for i, name in enumerate(USERS):
        arena.deposit(name, 1_000 + i)
    deposits = {d.owner: d for d in arena.deposits}
    # Half the users paid the other half part of their coins in block 1.
    for i in range(0, 100, 2):
        start = deposits[arena[USERS[i]].address].start
        assert arena.pay(USERS[i], USERS[i + 1], start, start + 400) is None
    arena.seal()
    # Block 2 is withheld, and holds a forged spend of every user's coins to mallory.
    for d in arena.deposits:
        arena.forge("mallory", "mallory", d.start, d.end, 0)
    arena.seal(withhold=True)
    started = arena.now
    for name in USERS:
        assert all(o.refused is None for o in arena.exit(name))
    assert arena.now - started < arena.spec.rules.exit_period
    assert len(arena.spec.exits) == 150  # 100 remainders of deposits, 50 transfers
    arena.pass_time(arena.spec.rules.exit_period + 1)
    ids = list(range(len(arena.spec.exits)))
    for chunk in range(0, len(ids), 32):
        outcome = arena.finalize_many(ids[chunk : chunk + 32], "mallory")
        assert outcome.refused is None
        assert len([e for e in outcome.events if isinstance(e, ExitFinalized)]) == len(
            ids[chunk : chunk + 32]
        )
    for i, name in enumerate(USERS):
        held = 1_000 + i + (400 if i % 2 else -400)
        got = sum(e.end - e.start for e in arena.spec.exits if e.owner == arena[name].address)
        assert got == held
    assert arena.chain.balance(arena.client.address) == 0
    assert arena.client.exited() == list(arena.spec.exited)


def test_a_wrong_hint_is_refused_and_a_second_exit_of_the_same_coins_pays_nothing(chain) -> None:
    arena = PlasmaArena(chain, ["alice", "bob"])
    arena.deposit("alice", 100)
    arena.deposit("bob", 100)
    arena.exit("alice")
    arena.exit("bob")
    arena.exit("alice")  # the same coins again
    arena.pass_time(arena.spec.rules.exit_period + 1)
    assert arena.finalize(1).refused is None  # bob's: coins 100-200
    bob = arena["bob"]
    # Alice's coins 0-100 come before bob's: only hint 0 (the head) places them.
    wrong = arena.call(FinalizeExit(bob.address, arena.tick(), 0, 101), bob)
    assert wrong.refused == "plasma: the hint is not the exited range just before the exit's coins"
    assert arena.finalize(0).refused is None
    second = arena.finalize(2, by="bob")
    assert [type(e).__name__ for e in second.events] == ["ExitCanceled", "Paid"]
    assert second.events[1].to == bob.address  # the stale exit's bond pays the caller
    assert arena.spec.exited == ((0, 100), (100, 200))
    state, events = exit_game.state_transition(
        arena.spec, FinalizeExit(bob.address, arena.now, 9, 0)
    )
    assert events == [Rejected("plasma: no such exit")]
    assert state == arena.spec
