"""``l2gpu bridge lp``'s provider on two shards of the embedded L1: it fronts a move
offered over its API once the move's exit is in a source batch it re-executed, and
relays it to be repaid once that batch is final; it never fronts a move on a lying
batch, on another's exit or beyond its budget; a crash between its journal and L1
neither fronts twice nor forgets a front; hostile bodies get clear refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from l2gpu.core.errors import L2gpuError
from l2gpu.core.shards import liquidity as lp
from l2gpu.core.shards.bridge import Move, message_of
from l2gpu.liquidity.app import create_app
from l2gpu.liquidity.client import offer_to_lp
from l2gpu.liquidity.provider import LiquidityProvider, LpRefused
from l2gpu.liquidity.records import entry_to_json, move_to_json
from l2gpu.liquidity.runner import start_lp
from l2gpu.scenarios.shard_world import ETH, ShardWorld
from l2gpu.serving.loopback import free_loopback_port, serve_on_loopback

from .test_bridge import two_users

WINDOW = 3600
TERMS = lp.LpTerms(min_fee_ppm=2_000, max_move=ETH, budget=ETH // 2, max_open=8, wait_s=600)
LP = 9  # the provider's L1 account (funded by the embedded chain)


class Crash(BaseException):
    """kill -9 at a chosen line: nothing after it runs, no handler catches it."""


@pytest.fixture(scope="module")
def deployed() -> ShardWorld:
    return ShardWorld(2, challenge_window=WINDOW)


@pytest.fixture
def world(deployed: ShardWorld) -> ShardWorld:
    deployed.reset()
    return deployed


def funded(world: ShardWorld) -> tuple[int, int]:
    """A user on shard 0 and one on shard 1, both funded there."""
    alice, bob = two_users(world)
    assert LP not in (alice, bob)
    return alice, bob


def provider(world: ShardWorld, folder: Path, *, ready: bool = True) -> LiquidityProvider:
    """A provider; ``ready``: after its first round (it takes offers only then)."""
    made = LiquidityProvider(world.chain, world.bridge, world.account(LP), TERMS, folder)
    if ready:
        made.step()
    return made


def document(world: ShardWorld, move: Move, signature: bytes) -> dict[str, Any]:
    return {**move_to_json(move), "signature": "0x" + signature.hex(),
            "bridge": world.bridge.address.checksum}  # fmt: skip


def test_an_offered_move_is_fronted_once_checked_and_repaid_when_final(
    world: ShardWorld, tmp_path: Path
) -> None:
    alice, bob = funded(world)
    target = world.shards[1]
    lp_provider = provider(world, tmp_path)
    api = TestClient(create_app(lp_provider))
    assert api.get("/lp").json()["available"] == str(ETH // 2)
    amount, fee = ETH // 4, ETH // 400  # 10,000 ppm
    _, exit_index, _ = world.burn(alice, amount)
    move, signature = world.move(alice, exit_index, 1, bob, amount, fee)
    answer = api.post("/lp/moves", json=document(world, move, signature))
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == lp.WAITING
    assert api.get("/lp").json()["committed"] == "0"  # waiting reserves nothing yet
    lp_before = world.chain.balance(world.address(LP))
    done = lp_provider.step()
    assert any(line.startswith("fronted") for line in done), done
    assert api.get("/lp").json()["committed"] == str(amount - fee)
    message = "0x" + message_of(move).hex()
    assert api.get(f"/lp/moves/{message}").json()["state"] == lp.FRONTED
    assert world.bridge.fronted_by(move) == world.address(LP)
    world.post(target)  # the target's next batch: bob has it now, no window
    assert world.balance(target, bob) == ETH + amount - fee
    assert lp_provider.step() == []  # the source batch is not final: nothing to do
    world.chain.time_travel(WINDOW + 1)
    done = lp_provider.step()
    assert any(line.startswith("relayed") for line in done), done
    assert world.bridge.landed(move)
    status = api.get(f"/lp/moves/{message}").json()
    assert status["state"] == lp.REPAID
    # The provider earned the fee, less the gas of its front and its relay.
    earned = world.chain.balance(world.address(LP)) - lp_before
    assert fee - ETH // 1000 < earned < fee
    assert api.get("/lp").json()["committed"] == "0"
    world.post(target)
    assert world.balance(target, bob) == ETH + amount - fee  # paid once


def test_a_move_on_a_lying_batch_is_never_fronted(world: ShardWorld, tmp_path: Path) -> None:
    alice, bob = funded(world)
    source = world.shards[0]
    world.transfer(source, alice, alice, 1)  # a commitment to hang the lie on
    batch, fake_exit = world.post_lie(source, alice, ETH // 4)  # an exit nobody burned
    lp_provider = provider(world, tmp_path)
    move, signature = world.move(alice, fake_exit, 1, bob, ETH // 4, ETH // 100)
    lp_provider.offer(move, signature)
    for _ in range(2):
        lp_provider.step()
    entry = lp_provider.state.entries[message_of(move)]
    assert entry.state == lp.WAITING  # the batch failed re-execution: its exits are none
    assert len(lp_provider.watchers[0].accepted) < batch
    world.chain.time_travel(TERMS.wait_s + 1)
    lp_provider.step()
    entry = lp_provider.state.entries[message_of(move)]
    assert entry.state == lp.REFUSED
    assert "not in a checked batch" in entry.reason
    assert world.bridge.fronted_by(move) is None
    assert lp_provider.state.committed() == 0


def test_a_move_of_another_owners_exit_or_amount_is_refused(
    world: ShardWorld, tmp_path: Path
) -> None:
    alice, bob = funded(world)
    carol = world.users_on(0, 2)[1]
    world.deposit(carol, ETH)
    world.post(world.shards[0])
    lp_provider = provider(world, tmp_path)  # it has read the shards: no exit yet
    exit_index = 0
    # Carol signs a move of the exit Alice is about to make, naming herself its owner:
    # the exit is not on L1 yet, so it waits, and is refused once it is.
    theft, theft_sig = world.move(carol, exit_index, 1, bob, ETH // 4, ETH // 100)
    lp_provider.offer(theft, theft_sig)
    assert world.burn(alice, ETH // 4)[1] == exit_index
    lp_provider.step()
    entry = lp_provider.state.entries[message_of(theft)]
    assert entry.state == lp.REFUSED, entry
    assert f"exit {exit_index} of shard 0 pays {ETH // 4} wei to" in entry.reason
    # Alice asks for more than she burned, once the exit is known: refused at once,
    # leaving no entry.
    inflated, inflated_sig = world.move(alice, exit_index, 1, bob, ETH // 2, ETH // 100)
    with pytest.raises(LpRefused, match=f"pays {ETH // 4} wei to .*not this move"):
        lp_provider.offer(inflated, inflated_sig)
    assert message_of(inflated) not in lp_provider.state.entries
    for move in (theft, inflated):
        assert world.bridge.fronted_by(move) is None


def test_a_crash_around_the_front_neither_fronts_twice_nor_forgets(
    world: ShardWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = funded(world)
    _, first_exit, _ = world.burn(alice, ETH // 8)
    _, second_exit, _ = world.burn(alice, ETH // 8)
    first = world.move(alice, first_exit, 1, bob, ETH // 8, ETH // 400)
    second = world.move(alice, second_exit, 1, bob, ETH // 8, ETH // 400)
    crashing = provider(world, tmp_path)
    crashing.offer(*first)
    sent: list[Move] = []
    real_front = crashing.bridge.front

    def front_then_die(account: Any, move: Move, signature: bytes) -> Any:
        real_front(account, move, signature)
        sent.append(move)
        raise Crash  # the transaction is on L1; its journal line never written

    monkeypatch.setattr(crashing.bridge, "front", front_then_die)
    with pytest.raises(Crash):
        crashing.step()
    assert sent == [first[0]]
    # Started again on the same folder: the journal says "fronting"; L1 says fronted.
    monkeypatch.undo()
    again = provider(world, tmp_path, ready=False)
    assert again.state.entries[message_of(first[0])].state == lp.FRONTING
    lp_before = world.chain.balance(world.address(LP))
    again.step()
    assert again.state.entries[message_of(first[0])].state == lp.FRONTED
    assert world.chain.balance(world.address(LP)) == lp_before  # no second front, no gas

    # A crash before the front is sent: the restart sends it, once.
    again.offer(*second)

    def die_first(account: Any, move: Move, signature: bytes) -> Any:
        raise Crash

    monkeypatch.setattr(again.bridge, "front", die_first)
    with pytest.raises(Crash):
        again.step()
    monkeypatch.undo()
    third = provider(world, tmp_path, ready=False)
    assert third.state.entries[message_of(second[0])].state == lp.FRONTING
    third.step()
    assert third.state.entries[message_of(second[0])].state == lp.FRONTED
    assert world.bridge.fronted_by(second[0]) == world.address(LP)
    # Both are repaid once final; the journal was compacted to the book at each start.
    world.chain.time_travel(WINDOW + 1)
    third.step()
    assert {e.state for e in third.state.entries.values()} == {lp.REPAID}
    lines = (tmp_path / "lp-journal.jsonl").read_text().splitlines()
    assert len(lines) < 12


def test_hostile_bodies_get_clear_refusals_and_change_nothing(
    world: ShardWorld, tmp_path: Path
) -> None:
    alice, bob = funded(world)
    _, exit_index, _ = world.burn(alice, ETH // 4)
    lp_provider = provider(world, tmp_path)
    api = TestClient(create_app(lp_provider))
    move, signature = world.move(alice, exit_index, 1, bob, ETH // 4, ETH // 100)
    good = document(world, move, signature)
    cases: list[tuple[dict[str, Any] | bytes, int, str]] = [
        ({**good, "fee": str(ETH // 100 - 1)}, 400, "not signed by its exit's owner"),
        ({**good, "to": "0x" + "11" * 20}, 400, "not signed by its exit's owner"),
        ({**good, "bridge": "0x" + "22" * 20}, 400, "not this provider's"),
        ({**good, "amount": "1e18"}, 400, "whole number of wei"),
        ({**good, "amount": "-5"}, 400, "whole number of wei"),
        ({**good, "extra": 1}, 422, "extra"),
        ({**good, "signature": "zz"}, 422, "signature"),
        ({**good, "from_shard": 99}, 422, "from_shard"),
        ({**good, "signature": good["signature"][:-1]}, 422, "signature"),  # odd length
        ({**good, "amount": "\u00b2"}, 400, "whole number of wei"),  # a digit to isdigit()
        ({**good, "amount": "\u0661\u0662"}, 400, "whole number of wei"),  # Arabic-Indic
        (b"{" * 10, 422, "must be a JSON object"),
        (b"x" * 10_000, 413, ""),
    ]
    for body, status, said in cases:
        answer = (api.post("/lp/moves", content=body) if isinstance(body, bytes)
                  else api.post("/lp/moves", json=body))  # fmt: skip
        assert answer.status_code == status, (body, answer.text)
        assert said in answer.text
        assert "Traceback" not in answer.text
    # An exit far beyond what the shard has posted (a free way to fill the book).
    lp_provider.step()  # the provider has read the shards: 2 exits on shard 0
    far, far_sig = world.move(alice, exit_index + TERMS.max_open + 1, 1, bob, ETH // 4, ETH // 100)
    refused = api.post("/lp/moves", json=document(world, far, far_sig))
    assert refused.status_code == 400
    assert "far beyond the" in refused.json()["error"]
    assert lp_provider.state.entries == {}
    assert not (tmp_path / "lp-journal.jsonl").read_text()  # nothing journaled
    assert api.post("/lp/moves", json=good).status_code == 200
    replay = api.post("/lp/moves", json=good)
    assert replay.status_code == 409
    assert "offered already" in replay.json()["error"]
    assert api.get("/lp/moves/0x" + "00" * 32).status_code == 404
    assert api.get("/lp/moves/nothex").status_code == 422
    # Beyond the budget (0.5 ETH, 0.25 fronted): refused, with what to do.
    lp_provider.step()
    assert lp_provider.state.committed() == ETH // 4 - ETH // 100
    _, big_exit, _ = world.burn(alice, ETH // 2)
    big, big_sig = world.move(alice, big_exit, 1, bob, ETH // 2, ETH // 100)
    refused = api.post("/lp/moves", json=document(world, big, big_sig))
    assert refused.status_code == 400
    assert "budget does not cover" in refused.json()["error"]


def test_an_owner_offering_over_http_hears_the_providers_refusal_or_silence(
    world: ShardWorld, tmp_path: Path
) -> None:
    alice, bob = funded(world)
    _, exit_index, _ = world.burn(alice, ETH // 4)
    server, url = serve_on_loopback(create_app(provider(world, tmp_path)), "lp API")
    try:
        move, signature = world.move(alice, exit_index, 1, bob, ETH // 4, 1)  # 4 ppm: too low
        with pytest.raises(L2gpuError, match="refused the move: the fee is below"):
            offer_to_lp(url, document(world, move, signature))
        move, signature = world.move(alice, exit_index, 1, bob, ETH // 4, ETH // 100)
        assert offer_to_lp(url + "/", document(world, move, signature))["state"] == lp.WAITING
    finally:
        server.should_exit = True
    with pytest.raises(L2gpuError, match="did not answer") as silent:
        offer_to_lp(f"http://127.0.0.1:{free_loopback_port()}", document(world, move, signature))
    assert "relay the move yourself" in silent.value.fix


def test_a_damaged_journal_stops_the_provider_with_what_to_do(
    world: ShardWorld, tmp_path: Path
) -> None:
    journal = tmp_path / "lp-journal.jsonl"
    alice, bob = world.users_on(0, 1)[0], world.users_on(1, 1)[0]
    move, signature = world.move(alice, 0, 1, bob, ETH // 4, ETH // 100)
    entry = entry_to_json(message_of(move), lp.Entry(move, signature, lp.FRONTED, 5))
    line = json.dumps(entry)
    damages = [
        (b'{"kind": "front"}\n', "a line of kind 'front'"),
        (b"not json\n{}\n", "damaged at line 1"),
        (line.replace('"received_at": 5', '"received_at": 1e400').encode() + b"\n",
         "not a whole number"),
        (line.replace('"received_at": 5', '"received_at": "5"').encode() + b"\n",
         "not a whole number"),
        (json.dumps({**entry, "state": "bogus"}).encode() + b"\n", "no entry state"),
        (json.dumps({**entry, "message": "00" * 32}).encode() + b"\n", "not its move's"),
        (json.dumps({**entry, "move": {**entry["move"], "to": "0x" + "33" * 20}}).encode()
         + b"\n", "not signed by its owner"),  # the recipient changed: the message is not
        (line.encode() + b"\n"  # a later line whose move was altered
         + json.dumps({**entry, "move": {**entry["move"], "amount": 1}}).encode() + b"\n",
         "at line 2: .*not its move's"),
    ]  # fmt: skip
    for damage, said in damages:
        journal.write_bytes(damage)
        with pytest.raises(L2gpuError, match=said) as refused:
            provider(world, tmp_path, ready=False)
        assert "restore it from a copy" in refused.value.fix
    # A torn last line (a crash mid-write) is dropped: the provider never acted on it.
    journal.write_bytes(line.encode() + b"\n" + line.encode()[:40])
    assert provider(world, tmp_path, ready=False).state.entries == {message_of(move): lp.Entry(
        move, signature, lp.FRONTED, 5)}  # fmt: skip
    assert journal.read_text() == json.dumps(entry, separators=(",", ":")) + "\n"  # compacted


def test_a_restart_with_other_terms_keeps_every_move_it_took(
    world: ShardWorld, tmp_path: Path
) -> None:
    alice, bob = funded(world)
    _, exit_index, _ = world.burn(alice, ETH // 4)
    move, signature = world.move(alice, exit_index, 1, bob, ETH // 4, ETH // 100)
    first = provider(world, tmp_path)
    first.offer(move, signature)
    first.step()
    assert first.state.entries[message_of(move)].state == lp.FRONTED
    # Started again (no clean stop) with terms the move would not pass today.
    stricter = lp.LpTerms(min_fee_ppm=900_000, max_move=1, budget=1, max_open=1, wait_s=1)
    again = LiquidityProvider(world.chain, world.bridge, world.account(LP), stricter, tmp_path)
    assert again.state.entries[message_of(move)].state == lp.FRONTED
    assert again.info()["committed"] == str(ETH // 4 - ETH // 100)
    world.chain.time_travel(WINDOW + 1)
    again.step()
    assert again.state.entries[message_of(move)].state == lp.REPAID


def test_the_loop_outlives_a_failing_l1_and_says_so(world: ShardWorld, tmp_path: Path) -> None:
    lp_provider = provider(world, tmp_path, ready=False)
    real = world.chain.timestamp
    failures = iter([requests.exceptions.ConnectionError("refused")] * 2)

    def flaky() -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real()

    world.chain.timestamp = flaky
    try:
        # No round has run yet: an offer cannot date itself, and says L1 is away.
        alice, bob = world.users_on(0, 1)[0], world.users_on(1, 1)[0]
        move, signature = world.move(alice, 0, 1, bob, ETH // 4, ETH // 100)
        with pytest.raises(LpRefused, match="still reading the shards") as away:
            lp_provider.offer(move, signature)
        assert away.value.status == 503
        running = start_lp(lp_provider, serve=False, every=0.01)
        try:
            for _ in range(3000):  # the second failure, then a good round (100 ms pauses)
                if lp_provider.l1_time is not None and lp_provider.last_error is None:
                    break
                running.stop.wait(0.01)
            assert running.thread is not None
            assert running.thread.is_alive()
            assert any("round failed: ConnectionError" in line for line in running.done)
            assert lp_provider.info()["last_error"] is None  # it recovered
        finally:
            running.close()
    finally:
        world.chain.timestamp = real


def test_idle_rounds_do_not_grow_the_journal(world: ShardWorld, tmp_path: Path) -> None:
    alice, bob = funded(world)
    lp_provider = provider(world, tmp_path)
    move, signature = world.move(alice, 5, 1, bob, ETH // 4, ETH // 100)  # an exit to come
    lp_provider.offer(move, signature)
    size = (tmp_path / "lp-journal.jsonl").stat().st_size
    for _ in range(20):
        lp_provider.step()
    assert (tmp_path / "lp-journal.jsonl").stat().st_size == size


def test_two_providers_offered_one_move_front_it_once(world: ShardWorld, tmp_path: Path) -> None:
    alice, bob = funded(world)
    _, exit_index, _ = world.burn(alice, ETH // 4)
    move, signature = world.move(alice, exit_index, 1, bob, ETH // 4, ETH // 100)
    first = provider(world, tmp_path / "first")
    second = LiquidityProvider(world.chain, world.bridge, world.account(LP - 1), TERMS,
                               tmp_path / "second")  # fmt: skip
    for each in (first, second):
        each.step()
        each.offer(move, signature)
    first.step()
    second.step()
    message = message_of(move)
    assert first.state.entries[message].state == lp.FRONTED
    refused = second.state.entries[message]
    assert refused.state == lp.REFUSED
    assert "another provider fronted it" in refused.reason
    assert second.state.committed() == 0
    world.post(world.shards[1])
    assert world.balance(world.shards[1], bob) == ETH + ETH // 4 - ETH // 100  # once


def test_the_journal_is_compacted_while_the_provider_runs(
    world: ShardWorld, tmp_path: Path
) -> None:
    alice, bob = funded(world)
    lp_provider = provider(world, tmp_path)
    lp_provider._journal_lines = 10_000  # as if offers refused after waiting had piled up
    lp_provider.offer(*world.move(alice, 0, 1, bob, ETH // 4, ETH // 100))
    assert len((tmp_path / "lp-journal.jsonl").read_text().splitlines()) == 1  # the book
