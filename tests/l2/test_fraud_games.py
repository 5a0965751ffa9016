"""The adversarial suite: a lying proposer against one honest watcher, on a real EVM.

Every game ends with the liar's batches reverted and its bond slashed, and with
no stray funds: the dispute contract holds nothing once its games are over, and
the rollup holds exactly the deposits plus the remaining bonds (OP Stack's
solvency invariant).
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from l2gpu.core.l2.transactions import CooperativeClose, OpenChannel, Transfer, Withdraw
from l2gpu.core.types import Seconds, Timestamp, Wei
from l2gpu.fraud.watcher import Watcher
from l2gpu.l1.contracts.dispute_game import CHALLENGER_WON, PROPOSER_WON
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.errors import ContractRevert
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.l1.keys import account_from_private_key
from l2gpu.scenarios.arena import ETH, LIES, Arena, Lie

from .restart_world import ANVIL_KEYS_ALL

RUNS = 80  # seeded evil runs: bounded by examples; every kind of lie must come up


@pytest.fixture(scope="module")
def arena(anvil_url: str) -> Arena:
    chain = connect_jsonrpc(anvil_url, [account_from_private_key(k) for k in ANVIL_KEYS_ALL])
    return Arena(chain)


def assert_solvent(arena: Arena) -> None:
    game = arena.game.contract.address
    assert arena.chain.balance(game) == 0, "the dispute contract kept funds"
    rollup = arena.client.contract
    bonds = int(rollup.call("bond", arena.proposer.address))
    assert arena.chain.balance(rollup.address) == arena.deposited + bonds


def test_the_honest_watcher_wins_every_randomized_evil_run(arena: Arena) -> None:
    kinds: Counter[str] = Counter()
    segments: Counter[str] = Counter()
    for seed in range(RUNS):
        result = arena.random_run(random.Random(seed))
        assert result.honest_watcher_won, (seed, result)
        kinds[result.lie.kind] += 1
        segments["l1 operations" if result.lie.segment == 0 else "commitment"] += 1
    assert set(kinds) == set(LIES), kinds
    assert segments["l1 operations"] > 0
    assert segments["commitment"] > 0


def lie_in_traffic(arena: Arena, lie_kind: str, traffic: list) -> tuple[int, list]:
    """Batch 1: deposits (honest); batch 2: ``traffic`` with a lie at its first step."""
    arena.reset()
    arena.post(arena.seal())
    for who, tx in traffic:
        arena.send(who, tx)
    return arena.post(arena.seal(), Lie(lie_kind, 1, 0))


@pytest.mark.parametrize("kind", ["overspend", "signature", "nonce", "root", "silent"])
def test_each_kind_of_lie_is_reverted_and_slashed(arena: Arena, kind: str) -> None:
    index, claimed = lie_in_traffic(arena, kind, [(1, Transfer(1, 2, Wei(10**15), Wei(0)))])
    before = arena.chain.balance(arena.challenger.address)
    log = arena.fight(index, claimed, silent=kind == "silent")
    result = arena.outcome(index, Lie(kind, 1, 0), log)
    assert result.honest_watcher_won, log
    # The challenger got its bond back and half of the proposer's (minus gas).
    assert arena.chain.balance(arena.challenger.address) > before + ETH // 2 - ETH // 100
    assert_solvent(arena)


def test_a_double_spent_channel_close_is_proven(arena: Arena) -> None:
    arena.reset()
    arena.post(arena.seal())
    expires = Timestamp(arena.chain.timestamp() + 3600)
    arena.send(1, OpenChannel(1, 2, Wei(10**16), expires, Seconds(600)))
    arena.post(arena.seal())
    arena.send(1, CooperativeClose(1, 0, Wei(10**15)))
    index, claimed = arena.post(arena.seal(), Lie("duplicate", 1, 0))
    log = arena.fight(index, claimed, silent=False)
    assert any("proved StepFault" in line for line in log), log
    assert any("channel: already settled" in line for line in log), log
    assert arena.outcome(index, Lie("duplicate", 1, 0), log).honest_watcher_won
    assert_solvent(arena)


def test_malformed_batch_data_never_gets_a_root(arena: Arena) -> None:
    arena.reset()
    batch = arena.seal()
    data = batch.encode()
    for bad in (data[:-1], b"\x02" + data[1:], data + b"\x00"):
        with pytest.raises(ContractRevert, match="rollup:"):
            arena.client.contract.transact("submit_batch", bad, batch.post_root,
                                           batch.deposits, sender=arena.proposer)  # fmt: skip


def test_a_challenge_against_a_correct_root_costs_the_challenger_its_bond(arena: Arena) -> None:
    arena.reset()
    index, _ = arena.post(arena.seal())
    posted = arena.defender
    posted.poll()
    # A griefer challenges the honest batch; the proposer's node reveals the true roots.
    from l2gpu.core.l2.segments import segments_of_data

    raw_batch = next(b for i, b, _ in arena.posted if i == index)
    segs = segments_of_data(raw_batch.encode(), arena.replica_before(index).root())
    gid, _ = arena.game.challenge(index, segs, 0, arena.users[0])
    assert arena.game.status(gid)["status"] == 1
    arena.defender.poll()
    assert arena.game.status(gid)["status"] == 2, arena.defender.log
    proposer_before = arena.chain.balance(arena.proposer.address)
    # No step can be proven wrong; after the proof period the proposer takes the bond.
    # Past its window, the batch is still held by the open game, and so are later ones.
    arena.chain.time_travel(int(arena.client.contract.call("CHALLENGE_WINDOW")) + 1)
    assert arena.client.contract.call("is_final", index) is False
    assert arena.client.game.call("holds", index) is True
    assert int(arena.client.contract.call("last_final_batch")) == index - 1
    arena.game.timeout(gid, arena.challenger)
    assert arena.client.contract.call("is_final", index) is True
    assert int(arena.client.contract.call("last_final_batch")) == index
    assert arena.game.status(gid)["status"] == PROPOSER_WON
    assert (
        arena.chain.balance(arena.proposer.address) == proposer_before + arena.terms.challenge_bond
    )
    assert int(arena.client.contract.call("batch_count")) == index + 1
    assert_solvent(arena)


def test_two_challengers_racing_one_wins_the_other_loses_nothing(arena: Arena) -> None:
    index, claimed = lie_in_traffic(arena, "root", [(1, Transfer(1, 2, Wei(10**15), Wei(0)))])
    second = Watcher(RollupClient(arena.chain, arena.client.contract), arena.game,
                     arena.users[1], defend=False)  # fmt: skip
    first_log = arena.watcher.poll()
    assert any("challenged batch" in line for line in first_log)
    # The second sees the first's game on the very segment it found wrong: it follows
    # that game instead of paying a second bond.
    second_log = second.poll()
    assert not any("challenged batch" in line for line in second_log), second_log
    assert [g.role for g in second.games.values()] == ["observer"]
    arena.answer(index, claimed, silent=False)
    second_before = arena.chain.balance(arena.users[1].address)
    race = second.poll() + arena.watcher.poll() + second.poll()
    assert sum("proved StepFault" in line for line in race) == 1, race
    assert arena.outcome(index, Lie("root", 1, 0), first_log + race).honest_watcher_won
    # The second watcher proved first and took the reward; it paid no bond.
    assert arena.chain.balance(arena.users[1].address) > second_before
    assert_solvent(arena)


def test_a_challenge_in_the_last_second_of_the_window_counts(arena: Arena) -> None:
    index, claimed = lie_in_traffic(arena, "root", [(1, Transfer(1, 2, Wei(10**15), Wei(0)))])
    posted_at = int(arena.client.contract.call("batch_time", index))
    window = int(arena.client.contract.call("CHALLENGE_WINDOW"))
    arena.chain.set_next_block_timestamp(posted_at + window - 1)
    log = arena.fight(index, claimed, silent=False)
    game = arena.game.status(0)
    assert game["status"] == CHALLENGER_WON, log
    assert arena.outcome(index, Lie("root", 1, 0), log).honest_watcher_won
    # One second later the window is closed to everyone.
    index, claimed = lie_in_traffic(arena, "root", [(1, Transfer(1, 2, Wei(10**15), Wei(0)))])
    posted_at = int(arena.client.contract.call("batch_time", index))
    arena.chain.set_next_block_timestamp(posted_at + window)
    log = arena.watcher.poll()
    assert any("could not challenge batch" in line for line in log), log
    assert int(arena.game.contract.call("challenge_count")) == 0


def test_a_liar_that_challenges_itself_first_still_loses(arena: Arena) -> None:
    # The proposer opens the game on its own wrong segment from a second address and
    # answers with its roots, hoping nobody else may prove; the watcher proves anyway.
    index, claimed = lie_in_traffic(arena, "root", [(1, Transfer(1, 2, Wei(10**15), Wei(0)))])
    from l2gpu.core.l2.segments import segments_of_data

    batch = next(b for i, b, _ in arena.posted if i == index)
    segs = segments_of_data(batch.encode(), arena.replica_before(index).root())
    accomplice = arena.users[2]
    gid, _ = arena.game.challenge(index, segs, 1, accomplice)
    before = arena.chain.balance(arena.challenger.address)
    log = arena.fight(index, claimed, silent=False)
    assert any("proved StepFault" in line for line in log), log
    assert arena.game.status(gid)["status"] == CHALLENGER_WON
    assert arena.outcome(index, Lie("root", 1, 0), log).honest_watcher_won
    # The prover, not the accomplice, got half the slashed bond.
    assert arena.chain.balance(arena.challenger.address) > before + ETH // 2 - ETH // 100
    assert_solvent(arena)


def test_the_watchers_quick_state_equals_a_replay_from_genesis(arena: Arena) -> None:
    index, _ = lie_in_traffic(arena, "root", [(1, Transfer(1, 2, Wei(10**15), Wei(0))),
                                              (2, Withdraw(2, Wei(10**15), Wei(0)))])  # fmt: skip
    watcher = arena.watcher
    watcher.poll()
    live = watcher.state.root()
    for segment in range(len(watcher.posted[index].segments)):
        with watcher._state_before(index, segment) as quick:
            quick_root = quick.root()
        assert quick_root == watcher.state_at(index, segment).root()
    assert watcher.state.root() == live
