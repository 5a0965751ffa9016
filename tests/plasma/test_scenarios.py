"""Plasma's attacks as scenarios (issue 17): one per attack, in the scenario language
of ``l2gpu.scenarios.plasma_story``, on the Plasma contract with its specification
run in lockstep (any disagreement fails the scenario)."""

from __future__ import annotations

import pytest

from l2gpu.core.plasma.root_chain import Included, StartExit
from l2gpu.core.plasma.sumtree import ProofStep, SumProof
from l2gpu.scenarios.plasma_arena import PlasmaArena
from l2gpu.scenarios.plasma_story import Story, StoryError

BOND = 10**16  # the arena's exit and challenge bonds
NAMES = ["alice", "bob", "carol", "dave", "mallory", "watcher"]


@pytest.fixture
def story(chain) -> Story:
    return Story(PlasmaArena(chain, NAMES))


def test_an_exit_of_coins_already_spent_is_cancelled_by_the_spend(story: Story) -> None:
    story.run(f"""
        given alice deposits 100
        and alice pays bob coins 0-60
        and the operator seals a block
        and bob pays carol coins 0-60
        and the operator seals a block
        when bob exits with block 1
        and carol watches
        then exit 0 is canceled
        and carol was paid {BOND}
        when carol exits
        and alice exits
        and the exit period passes
        and dave finalizes the exits
        then carol exited 60 coins
        and alice exited 40 coins
        and the contract holds 0
    """)


def test_a_double_spend_between_parent_and_exit_is_cancelled(story: Story) -> None:
    # Alice paid bob in block 1; she signs the same coins to mallory again, and a
    # dishonest operator includes it in block 2. Mallory's exit names alice's deposit
    # as its parent: bob's transfer spends that parent before it.
    story.run(f"""
        given alice deposits 100
        and alice pays bob coins 0-100
        and the operator seals a block
        when alice double-spends coins 0-100 to mallory naming block 0
        and the operator seals a block
        and mallory exits with block 2
        and bob watches
        then exit 0 is canceled
        and bob was paid {BOND}
        when bob exits
        and the exit period passes
        and bob finalizes the exits
        then bob exited 100 coins
        and mallory exited 0 coins
    """)


def test_an_exit_through_a_forged_history_loses_to_the_skipped_owner(story: Story) -> None:
    # The operator forges a transfer of alice's coins signed by mallory (who never held
    # them) and then mallory's own spend of them to dave: dave's exit names a parent
    # that looks right. Alice's deposit is the owner the history skips.
    story.run(f"""
        given alice deposits 100
        and the operator seals a block
        when the operator forges coins 0-100 from mallory to mallory naming block 0
        and the operator seals a block
        and the operator forges coins 0-100 from mallory to dave naming block 2
        and the operator seals a block
        and dave exits with block 3
        and watcher watches
        then exit 0 is open
        when 8 days pass
        and dave cannot answer the challenges
        and dave finalizes the exits
        then exit 0 is canceled
        when watcher settles the challenges
        then watcher was paid {2 * BOND}
        when alice exits
        and the exit period passes
        and alice finalizes the exits
        then alice exited 100 coins
        and the contract holds 0
    """)


def test_a_valid_exit_wrongly_challenged_wins_with_its_response(story: Story) -> None:
    # Dave's coins went alice -> bob -> carol -> dave. Mallory claims his history skips
    # alice (the depositor) and bob: dave answers each with their spend, and wins both
    # bonds. History before the parent only: carol's receipt (block 2) is the parent.
    story.run(f"""
        given alice deposits 100
        and alice pays bob coins 0-100
        and the operator seals a block
        and bob pays carol coins 0-100
        and the operator seals a block
        and carol pays dave coins 0-100
        and the operator seals a block
        when dave exits
        and mallory challenges exit 0 with the deposit
        and mallory challenges exit 0 with block 1
        and mallory challenges exit 0 with block 2
        then the last step was refused: not between the coin's deposit and the exit's parent
        when dave answers the challenges
        and the exit period passes
        and dave finalizes the exits
        then exit 0 is finalized
        and dave exited 100 coins
        and dave was paid {100 + 3 * BOND}
        and mallory was paid 0
    """)


def test_an_exit_straight_from_a_deposit_has_no_history_to_challenge(story: Story) -> None:
    story.run("""
        given alice deposits 100
        and alice pays bob coins 0-100
        and the operator seals a block
        when bob exits
        and mallory challenges exit 0 with the deposit
        then the last step was refused: came straight from their deposit
    """)


def test_a_late_history_challenge_leaves_a_response_period(story: Story) -> None:
    arena = story.arena
    story.run("""
        given alice deposits 100
        and alice pays bob coins 0-100
        and the operator seals a block
        and bob pays carol coins 0-100
        and the operator seals a block
        when carol exits
        and 6 days pass
    """)
    arena.pass_time(23 * 3600)
    story.run("when mallory challenges exit 0 with the deposit")
    # Two hours later the exit period is over, but the response period still runs.
    arena.pass_time(2 * 3600)
    assert arena.finalize(0).refused == "plasma: the exit is still in its challenge period"
    story.run("""
        when carol answers the challenges
        and 1 days pass
        and carol finalizes the exits
        then exit 0 is finalized
    """)


def test_every_honest_user_exits_all_coins_when_the_operator_withholds_a_block(
    story: Story,
) -> None:
    # Block 2 is withheld: it holds a forged spend of bob's and carol's coins to
    # mallory. Everyone exits with the history up to block 1; mallory's exits, through
    # the withheld block, are challenged by the watcher speaking for bob and carol.
    story.run(f"""
        given alice deposits 100
        and bob deposits 200
        and carol deposits 300
        and alice pays dave coins 0-50
        and the operator seals a block
        when the operator forges coins 100-300 from mallory to mallory naming block 0
        and the operator forges coins 300-600 from mallory to mallory naming block 0
        and the operator seals a block and withholds it
        and the operator forges coins 100-300 from mallory to mallory naming block 2
        and the operator forges coins 300-600 from mallory to mallory naming block 2
        and the operator seals a block
        and mallory exits with block 3
        and alice exits
        and bob exits
        and carol exits
        and dave exits
        and watcher watches for bob, carol
        and 8 days pass
        and mallory cannot answer the challenges
        and watcher finalizes the exits
        and watcher settles the challenges
        then alice exited 50 coins
        and bob exited 200 coins
        and carol exited 300 coins
        and dave exited 50 coins
        and mallory exited 0 coins
        and watcher was paid {2 * 2 * BOND}
        and the contract holds 0
    """)


def test_a_malformed_proof_is_refused_and_changes_nothing(story: Story) -> None:
    arena = story.arena
    story.run("""
        given alice deposits 100
        and alice pays bob coins 0-100
        and the operator seals a block
    """)
    bob = arena["bob"]
    good = arena.evidence_in(1)[0]
    steps = good.proof.steps
    flipped = ProofStep(
        bytes([steps[0].hash[0] ^ 1]) + steps[0].hash[1:], steps[0].size, steps[0].left
    )
    resized = ProofStep(steps[0].hash, steps[0].size + 1, steps[0].left)
    huge = ProofStep(steps[0].hash, 2**128, steps[0].left)
    cases = {
        "a flipped sibling": (SumProof((flipped, *steps[1:])), 1),
        "a wrong size": (SumProof((resized, *steps[1:])), 1),
        "a sibling past the coin space": (SumProof((huge, *steps[1:])), 1),
        "a truncated path": (SumProof(steps[:-1]), 1),
        "a block that does not exist": (good.proof, 9),
    }
    for what, (proof, block) in cases.items():
        bad = Included(good.signed, block, proof)
        outcome = arena.call(StartExit(bob.address, arena.tick(), BOND, bad, None, 0, 0, 100), bob)
        assert outcome.refused in (
            "plasma: the transfer is not in that block",
            "plasma: no such block",
        ), what
    assert arena.spec.exits == ()
    assert arena.client.contract.call("exit_count") == 0


def test_exit_spam_costs_the_spammer_its_bonds_and_delays_no_one(story: Story) -> None:
    arena = story.arena
    spam = 10
    story.run("""
        given alice deposits 1000
        and the operator seals a block
    """)
    # Mallory, with the operator, forges ten ranges of alice's deposit to herself and
    # exits each through a forged parent: ten exits, ten bonds.
    for i in range(spam):
        arena.forge("mallory", "mallory", 10 * i, 10 * i + 10, 0)
    arena.seal()
    for i in range(spam):
        arena.forge("mallory", "mallory", 10 * i, 10 * i + 10, 2)
    arena.seal()
    story.run("when mallory exits with block 3")
    assert len(arena.spec.exits) == spam
    watcher_before = arena.chain.balance(arena["watcher"].address)
    story.run("""
        when alice exits
        and watcher watches
        and 8 days pass
        and watcher finalizes the exits
        and watcher settles the challenges
        then alice exited 1000 coins
        and mallory exited 0 coins
        and the contract holds 0
    """)
    for exit_id in range(spam):
        assert arena.spec.exits[exit_id].status == "canceled"
    watcher_after = arena.chain.balance(arena["watcher"].address)
    # The watcher posted ten challenge bonds, got them back with mallory's ten exit bonds,
    # and paid the gas of its calls: the spam left it richer.
    assert watcher_after > watcher_before


def test_an_unknown_step_or_a_false_claim_names_its_line(story: Story) -> None:
    with pytest.raises(StoryError, match="line 1: 'alice flies' is not a step"):
        story.run("given alice flies")
    with pytest.raises(StoryError, match="line 2: 'then alice exited 5 coins' does not hold"):
        story.run("given alice deposits 5\nthen alice exited 5 coins")


def test_an_operator_cannot_freeze_coins_in_transit_with_a_forged_earlier_spend(
    story: Story,
) -> None:
    # Alice's payment to bob (block 3) names her deposit; before it, the operator put a
    # forged spend of the same coins to mallory in block 2. That forgery lies between
    # the exit's parent (the deposit) and its transfer: only a double spend signed by
    # alice could cancel bob's exit there, and history challenges look before the parent.
    story.run("""
        given alice deposits 100
        and the operator seals a block
        when the operator forges coins 0-100 from mallory to mallory naming block 0
        and the operator seals a block and withholds it
        and alice double-spends coins 0-100 to bob naming block 0
        and the operator seals a block
        and bob exits with block 3
        and watcher watches
        and mallory challenges exit 0 with block 2
        then the last step was refused: came straight from their deposit
        when the exit period passes
        and bob finalizes the exits
        then bob exited 100 coins
        and the contract holds 0
    """)
