"""Plasma.vy against its specification (``core/plasma/exit_game``): random calls,
honest and not, given to both; the arena fails on the first call they answer
differently (refused or not, the reason, the events, the payments). Money is
conserved: the contract holds exactly the deposits and bonds it has not paid out."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2gpu.core.plasma.root_chain import (
    ChallengeDoubleSpend,
    ChallengeHistory,
    ChallengeSpent,
    FinalizeExit,
    RespondHistory,
    SettleChallenge,
    StartDepositExit,
    StartExit,
    exited_hint,
)
from l2gpu.scenarios.plasma_arena import DAY, PlasmaArena

NAMES = ["alice", "bob", "carol", "mallory"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_the_contract_answers_every_call_as_its_specification(module_chain, data) -> None:
    snapshot = module_chain.snapshot()
    try:
        _run(PlasmaArena(module_chain, NAMES), data)
    finally:
        module_chain.revert(snapshot)


def _run(arena: PlasmaArena, data) -> None:
    # A history to play with: everyone deposits, then a few blocks of payments, some
    # with a forged or double-spending transfer, some withheld.
    for name in NAMES:
        arena.deposit(name, data.draw(st.integers(1, 1000)))
    for _ in range(data.draw(st.integers(2, 4))):
        for party in arena.parties.values():
            held = arena.view().of(party.address)
            if held and data.draw(st.booleans()):
                h = data.draw(st.sampled_from(held))
                arena.pay(
                    party.name,
                    data.draw(st.sampled_from(NAMES)),
                    h.start,
                    data.draw(st.integers(h.start + 1, h.end)),
                )
        if data.draw(st.booleans()):
            start = data.draw(st.integers(0, arena.spec.coins - 1))
            arena.forge(
                data.draw(st.sampled_from(NAMES)),
                data.draw(st.sampled_from(NAMES)),
                start,
                data.draw(st.integers(start + 1, arena.spec.coins)),
                data.draw(st.integers(0, arena.spec.height)),
            )
        arena.seal(withhold=data.draw(st.integers(0, 4)) == 0)
    for _ in range(data.draw(st.integers(15, 40))):
        who = arena[data.draw(st.sampled_from(NAMES))]
        other = data.draw(st.sampled_from(NAMES))
        pool = [e for n in arena.blocks for e in arena.evidence_in(n)]
        kind = data.draw(
            st.sampled_from(
                [
                    "challenge",
                    "exit_any",
                    "watch",
                    "respond",
                    "answer",
                    "finalize",
                    "time",
                    "settle",
                    "exit",
                    "exit_any",
                    "challenge",
                    "pay",
                    "seal",
                    "forge",
                    "time",
                    "watch",
                    "finalize",
                    "deposit",
                ]
            )
        )
        coin_max = max(arena.spec.coins, 1)
        if kind == "deposit":
            arena.deposit(who.name, data.draw(st.integers(1, 1000)))
            continue
        if kind == "watch":  # an honest watcher's challenges: these succeed
            arena.watch(who.name, protects=data.draw(st.sampled_from([(), tuple(NAMES)])))
            continue
        if kind == "answer":
            for cid, challenge in enumerate(arena.spec.challenges):
                if challenge.status == "open":
                    arena.respond(who.name, cid)
            continue
        if kind == "pay":
            held = arena.view().of(who.address)
            if held:
                h = data.draw(st.sampled_from(held))
                cut = data.draw(st.integers(h.start + 1, h.end))
                arena.pay(who.name, other, h.start, cut)
            continue
        if kind == "forge":
            start = data.draw(st.integers(0, coin_max - 1))
            end = data.draw(st.integers(start + 1, coin_max))
            arena.forge(who.name, other, start, end, data.draw(st.integers(0, arena.spec.height)))
            continue
        if kind == "seal":
            arena.seal(withhold=data.draw(st.booleans()))
            continue
        if kind == "time":
            arena.pass_time(data.draw(st.sampled_from([8 * DAY, DAY])))
            continue
        input_ = _call(arena, data, kind, who, pool, coin_max)
        if input_ is None:
            continue
        if isinstance(input_, tuple):  # a call from someone else than ``who``
            who, input_ = input_
        arena.call(input_, who)
    assert int(arena.chain.balance(arena.client.address)) == arena.value_in - arena.value_out


def _near(data, pool, coin, block=None):
    """Evidence from ``pool``: mostly a transfer that moves ``coin`` (in ``block``),
    sometimes any."""
    close = [
        e
        for e in pool
        if e.signed.transfer.start <= coin < e.signed.transfer.end
        and (block is None or e.block == block)
    ]
    if close and data.draw(st.integers(0, 3)):
        return data.draw(st.sampled_from(close))
    return data.draw(st.sampled_from(pool))


def _call(arena: PlasmaArena, data, kind, who, pool, coin_max):
    """A call that is mostly well formed (so that it reaches the deeper checks) and
    sometimes off by one field."""
    rules = arena.spec.rules
    exits, challenges = arena.spec.exits, arena.spec.challenges
    coin = data.draw(st.integers(0, coin_max - 1))
    if kind == "exit":
        honest = list(arena.view().of(who.address))
        if not honest:
            return None
        h = data.draw(st.sampled_from(honest))
        if h.paid_by is None:
            return StartDepositExit(
                who.address, arena.tick(), rules.exit_bond, h.deposit.start, h.start, h.end
            )
        return StartExit(
            who.address,
            arena.tick(),
            rules.exit_bond,
            h.paid_by,
            h.parent,
            h.deposit.start,
            h.start,
            h.end,
        )
    if kind == "exit_any" and pool:
        exiting = data.draw(st.sampled_from(pool))
        t = exiting.signed.transfer
        start = data.draw(st.integers(t.start, t.end - 1))
        end = data.draw(st.integers(start + 1, t.end))
        deposit = next((d for d in arena.deposits if d.start <= start < d.end), arena.deposits[0])
        if data.draw(st.integers(0, 5)) == 0:
            deposit = data.draw(st.sampled_from(arena.deposits))
        parent = None if data.draw(st.booleans()) else _near(data, pool, start, t.prev_block)
        if data.draw(st.integers(0, 5)) == 0:
            exiting = replace(exiting, block=exiting.block + data.draw(st.sampled_from([-1, 1])))
        sender = (
            arena[who.name]
            if data.draw(st.integers(0, 5)) == 0
            else next((p for p in arena.parties.values() if p.address == t.recipient), who)
        )
        return sender, StartExit(
            sender.address,
            arena.tick(),
            rules.exit_bond,
            exiting,
            parent,
            deposit.start,
            start,
            end,
        )
    if kind == "challenge" and exits and pool:
        exit_id = data.draw(st.integers(0, len(exits) - 1))
        if data.draw(st.integers(0, 9)) == 0:
            exit_id = len(exits)  # no such exit
        if exit_id < len(exits) and data.draw(st.integers(0, 5)):
            coin = data.draw(st.integers(exits[exit_id].start, exits[exit_id].end - 1))
        which = data.draw(st.sampled_from(["spent", "double", "history", "history_deposit"]))
        if which == "spent":
            return ChallengeSpent(who.address, exit_id, coin, _near(data, pool, coin))
        if which == "double":
            return ChallengeDoubleSpend(who.address, exit_id, coin, _near(data, pool, coin))
        earlier = None if which == "history_deposit" else _near(data, pool, coin)
        bond = rules.challenge_bond - (data.draw(st.integers(0, 7)) == 0)
        return ChallengeHistory(who.address, arena.tick(), bond, exit_id, coin, earlier)
    if kind == "respond" and challenges and pool:
        challenge_id = data.draw(st.integers(0, len(challenges) - 1))
        spend = _near(data, pool, challenges[challenge_id].coin)
        return RespondHistory(who.address, challenge_id, spend)
    if kind == "finalize" and exits:
        exit_id = data.draw(st.integers(0, len(exits) - 1))
        hint = exited_hint(arena.spec, exits[exit_id].start)
        if data.draw(st.integers(0, 4)) == 0:
            hint = data.draw(
                st.sampled_from([0, 1, hint + 1, *[s + 1 for s, _ in arena.spec.exited]])
            )
        return FinalizeExit(who.address, arena.tick(), exit_id, hint)
    if kind == "settle" and challenges:
        return SettleChallenge(who.address, data.draw(st.integers(0, len(challenges) - 1)))
    return None
