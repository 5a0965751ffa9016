"""Co-signing against a hostile world: forged and garbage answers, silent signers,
and seals that fail halfway (issue #12)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.l2.transactions import Transfer
from l2gpu.core.types import Wei
from l2gpu.node.api import create_app
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.node.cosigning import refusal_message
from l2gpu.node.node import RollupNode

from .node_world import Deployed, wire

FEE = Wei(10**12)


@pytest.fixture(scope="module")
def deployed() -> Deployed:
    return Deployed()


@pytest.fixture
def world(deployed: Deployed) -> Deployed:
    deployed.reset()
    return deployed


def started(world: Deployed, tmp_path: Path, desk: CoSignDesk) -> tuple[RollupNode, TestClient]:
    """A node with the four users' deposits credited, and its API."""
    node = world.node(tmp_path / "node.db", desk)
    node.follow_l1()
    node.seal_and_post()
    assert len(node.state.accounts) == 4
    return node, TestClient(create_app(node, desk))


def wait_for_request(desk: CoSignDesk, account: int) -> dict:
    """The open request for ``account`` (the sealing thread posts it shortly)."""
    deadline = time.monotonic() + 300
    while not (found := desk.requests_for(account)):
        assert time.monotonic() < deadline, "the sealer never asked"
        time.sleep(0.01)  # waiting for the sealing thread, not for simulated time
    return found[0].to_json()


def answer(api: TestClient, request: dict, key: BlsSecretKey, *, refuse: bool = False):
    message = bytes.fromhex(request["message"][2:])
    signed = refusal_message(message) if refuse else message
    body = {"signature": "0x" + key.sign(signed).hex(), "refuse": refuse}
    return api.post(f"/l2/cosign/{request['account']}/{request['request']}", json=body)


def test_only_the_signer_can_answer_its_request(world: Deployed, tmp_path: Path) -> None:
    desk = CoSignDesk(timeout=30)
    node, api = started(world, tmp_path, desk)
    before = node.state.root()
    first = world.envelope(node, 1, Transfer(1, 2, Wei(10**15), FEE), 0)
    assert api.post("/l2/transactions", json=wire(first)).status_code == 200
    sealing = threading.Thread(target=node.seal_and_post)
    sealing.start()
    request = wait_for_request(desk, 1)
    assert len(request["request"]) == 32  # 128 random bits: nobody guesses an id
    # Well-formed wrong answers (another account's valid BLS signature of the message)
    # are held as candidates, never counted: they cannot crowd out the owner either.
    forged = [answer(api, request, world.bls[(0, 2, 3)[k % 3]]) for k in range(9)]
    assert [f.status_code for f in forged] == [200] * 9
    # Garbage: bytes that are no curve point, a wrong length, a refusal by another key.
    for garbage in ("0x" + "ff" * 48, "0x" + "00" * 48, "0x1234", "0x"):
        url = f"/l2/cosign/{request['account']}/{request['request']}"
        bad = api.post(url, json={"signature": garbage})
        assert bad.status_code == 400, garbage
    assert answer(api, request, world.bls[2], refuse=True).status_code == 400
    assert node.state.root() == before  # nothing applied while the round is open
    # The signer answers: its transaction is sealed, nobody was blamed.
    assert answer(api, request, world.bls[1]).status_code == 200
    sealing.join(timeout=30)
    assert node.state.accounts[1].nonce == 1
    assert node.sequencer.silences.benched == {}
    assert node.posted
    assert node.state.root() != before
    assert answer(api, request, world.bls[1]).status_code == 404  # answered: gone


def test_answers_sent_together_are_taken_one_by_one(world: Deployed, tmp_path: Path) -> None:
    desk = CoSignDesk(timeout=30)
    node, api = started(world, tmp_path, desk)
    first = world.envelope(node, 1, Transfer(1, 2, Wei(10**15), FEE), 0)
    assert api.post("/l2/transactions", json=wire(first)).status_code == 200
    sealing = threading.Thread(target=node.seal_and_post)
    sealing.start()
    request = wait_for_request(desk, 1)
    message = bytes.fromhex(request["message"][2:])
    good = "0x" + world.bls[1].sign(message).hex()
    rid = request["request"]
    url = f"/l2/cosign/{request['account']}"
    answers = [
        {"request": rid, "signature": "0x" + "ff" * 48},  # no curve point
        {"request": "0" * 32, "signature": good},  # no such request
    ]
    results = api.post(url, json={"answers": answers}).json()["results"]
    assert [r["status"] for r in results] == [400, 404]
    assert all(r["fix"] for r in results)
    # Another account cannot answer this account's request, together or not.
    other = api.post("/l2/cosign/2", json={"answers": [{"request": rid, "signature": good}]})
    assert other.json()["results"][0]["status"] == 404
    # One answer per request in a body: a second (here 63 false refusals, each a
    # pairing check if taken) is refused unread.
    refusals = [{"request": rid, "signature": good, "refuse": True}] * 64
    results = api.post(url, json={"answers": refusals}).json()["results"]
    assert results[0]["status"] == 400  # not a refusal that verifies
    assert all("earlier in this body" in r["error"] for r in results[1:])
    results = api.post(url, json={"answers": [{"request": rid, "signature": good}]}).json()
    assert results["results"] == [{"ok": True, "checked": "when the round closes"}]
    sealing.join(timeout=30)
    assert node.state.accounts[1].nonce == 1  # the good answer counted
    assert node.sequencer.silences.benched == {}
    # Bounded: at most 64 answers in one request, and at least one.
    many = {"answers": [{"request": rid, "signature": good}] * 65}
    assert api.post(f"/l2/cosign/{request['account']}", json=many).status_code in (400, 422)
    assert api.post(f"/l2/cosign/{request['account']}", json={"answers": []}).status_code in (
        400, 422)  # fmt: skip


def test_a_silent_signer_stalls_neither_the_api_nor_others(world: Deployed, tmp_path) -> None:
    desk = CoSignDesk(timeout=1.0)
    node, api = started(world, tmp_path, desk)
    silent = world.envelope(node, 1, Transfer(1, 2, Wei(10**15), FEE), 0)
    honest = world.envelope(node, 2, Transfer(2, 3, Wei(10**15), FEE), 0)
    assert api.post("/l2/transactions", json=wire(silent)).status_code == 200
    assert api.post("/l2/transactions", json=wire(honest)).status_code == 200

    done = threading.Event()

    def honest_agent() -> None:  # answers every request for account 2, as a client does
        while not done.is_set():
            for request in desk.requests_for(2):
                answer(api, request.to_json(), world.bls[2])
            time.sleep(0.01)  # polling the desk, as the agent's long-poll would

    sealing = threading.Thread(target=node.seal_and_post)
    sealing.start()
    threading.Thread(target=honest_agent, daemon=True).start()
    wait_for_request(desk, 1)
    # While the round waits for the silent signer, the API answers and accepts.
    status = api.get("/l2/status")
    assert status.status_code == 200
    late = world.envelope(node, 2, Transfer(2, 0, Wei(10**15), FEE), 1)
    assert api.post("/l2/transactions", json=wire(late)).status_code == 200
    sealing.join(timeout=60)
    assert not sealing.is_alive()
    # The silent account's transfer is dropped; the honest one waits for the next seal,
    # which asks nobody that is benched.
    sealing = threading.Thread(target=node.seal_and_post)
    sealing.start()
    sealing.join(timeout=60)
    done.set()
    assert node.state.accounts[1].nonce == 0
    assert node.state.accounts[2].nonce == 2  # both, the one sent during the wait too
    benched = node.sequencer.silences.benched[1]
    assert benched.misses == 1
    # Benched: its next transaction is refused at once, with when to retry.
    again = api.post("/l2/transactions", json=wire(
        world.envelope(node, 1, Transfer(1, 2, Wei(10**15), FEE), 0)))  # fmt: skip
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) > 0
    assert "did not answer a co-signature request in time" in again.json()["error"]


def test_a_refusal_drops_only_the_refused_transaction_at_once(world: Deployed, tmp_path) -> None:
    desk = CoSignDesk(timeout=30)  # a refusal must not wait for the deadline
    node, api = started(world, tmp_path, desk)
    api.post("/l2/transactions", json=wire(
        world.envelope(node, 1, Transfer(1, 2, Wei(10**15), FEE), 0)))  # fmt: skip
    sealing = threading.Thread(target=node.seal_and_post)
    sealing.start()
    request = wait_for_request(desk, 1)
    assert answer(api, request, world.bls[1], refuse=True).status_code == 200
    sealing.join(timeout=30)
    assert not sealing.is_alive()
    assert node.state.accounts[1].nonce == 0
    assert node.sequencer.silences.benched == {}  # it answered: not benched


def test_a_seal_that_fails_halfway_changes_nothing(
    world: Deployed, tmp_path: Path, monkeypatch
) -> None:
    node, cosigners = _node_with_two_transfers(world, tmp_path)
    root, mempool = node.state.root(), [p.sequence for p in node.sequencer.mempool]

    def broken_log(_records) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(node.wal, "append_many", broken_log)
    with pytest.raises(OSError, match="disk full"):
        node.seal_and_post()
    assert node.state.root() == root  # rolled back: no transfer outside a batch
    assert [p.sequence for p in node.sequencer.mempool] == mempool
    assert node.sequencer.pending_per_sender == {1: 1, 2: 1}
    monkeypatch.undo()
    node.seal_and_post()
    assert node.state.accounts[1].nonce == node.state.accounts[2].nonce == 1
    # A restart rebuilds exactly this state from the log.
    again = world.node(tmp_path / "node.db", cosigners)
    assert again.state.root() == node.state.root()
    assert list(again.sequencer.mempool) == []


def _node_with_two_transfers(world: Deployed, tmp_path: Path):  # type: ignore[no-untyped-def]
    node, cosigners = _started_node(world, tmp_path)
    for tx in [Transfer(1, 2, Wei(10**15), FEE), Transfer(2, 3, Wei(10**15), FEE)]:
        cosigners[tx.sender].expect(tx)
        node.submit(world.envelope(node, tx.sender, tx, 0))
    return node, cosigners


def _started_node(world: Deployed, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A node with local co-signers, after its first seal (L1's deposits)."""
    from l2gpu.node.cosigners import LocalCoSigner

    cosigners = {i: LocalCoSigner(i, world.bls[i]) for i in range(4)}
    node = world.node(tmp_path / "node.db", cosigners)
    node.follow_l1()
    node.seal_and_post()
    return node, cosigners


def _sealed_records(node) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for _, kind, _ in node.wal.records() if kind == "sealed")


def test_a_seal_whose_log_write_landed_but_raised_stands(
    world: Deployed, tmp_path: Path, monkeypatch
) -> None:
    # A connection lost during COMMIT: the seal's records are in the log although the
    # write raised. The node reads the log back and keeps the seal (undoing it and
    # sealing the same transactions again would log them twice: no restart could
    # replay that).
    node, cosigners = _node_with_two_transfers(world, tmp_path)
    sealed_before, write = _sealed_records(node), node.wal.append_many

    def lands_then_fails(records):  # type: ignore[no-untyped-def]
        write(records)
        raise OSError("server closed the connection unexpectedly (during COMMIT)")

    monkeypatch.setattr(node.wal, "append_many", lands_then_fails)
    node.seal_and_post()  # no error: the seal stands
    monkeypatch.undo()
    assert node.state.accounts[1].nonce == node.state.accounts[2].nonce == 1
    assert _sealed_records(node) == sealed_before + 1
    again = world.node(tmp_path / "node.db", cosigners)
    assert again.state.root() == node.state.root()


def test_a_seal_undone_while_its_log_write_is_in_doubt_stops_the_next_seal(
    world: Deployed, tmp_path: Path, monkeypatch
) -> None:
    # The write raised and the log could not be read: the seal is undone, but its
    # records may land after all. Sealing again could log the same transactions twice,
    # so the node refuses to seal until it can read the log: then, if the records are
    # there, it asks for a restart (which replays them); if not, it seals again.
    from l2gpu.core.errors import L2gpuError

    for landed in (False, True):
        node, cosigners = _node_with_two_transfers(world, tmp_path / str(landed))
        root, write = node.state.root(), node.wal.append_many
        sealed_before = _sealed_records(node)

        def fails(records, landed: bool = landed, write=write):  # type: ignore[no-untyped-def]
            if landed:
                write(records)
            raise OSError("connection lost during COMMIT")

        def unreadable(*_args):  # type: ignore[no-untyped-def]
            raise OSError("the database is unreachable")

        monkeypatch.setattr(node.wal, "append_many", fails)
        monkeypatch.setattr(node.wal, "records_after", unreadable)
        with pytest.raises(OSError, match="during COMMIT"):
            node.seal_and_post()
        assert node.state.root() == root  # undone
        with pytest.raises(L2gpuError, match="cannot be read"):
            node.seal_and_post()
        monkeypatch.undo()
        if landed:
            with pytest.raises(L2gpuError, match="restart the node"):
                node.seal_and_post()
            assert _sealed_records(node) == sealed_before + 1  # never twice
            again = world.node(tmp_path / str(landed) / "node.db", cosigners)
            assert again.state.accounts[1].nonce == again.state.accounts[2].nonce == 1
        else:
            node.seal_and_post()
            assert node.state.accounts[1].nonce == node.state.accounts[2].nonce == 1
            assert _sealed_records(node) == sealed_before + 1


def test_an_envelope_whose_log_write_landed_but_raised_is_accepted(
    world: Deployed, tmp_path: Path, monkeypatch
) -> None:
    # The group commit's write raised after landing: the submitter is answered with
    # its position (it used to be told "not logged", though a restart would run it).
    node, cosigners = _started_node(world, tmp_path)
    write = node.wal._append_sqlite  # below append_envelopes: the database's own write

    def lands_then_fails(payloads, now):  # type: ignore[no-untyped-def]
        write(payloads, now)
        raise OSError("server closed the connection unexpectedly (during COMMIT)")

    tx = Transfer(1, 2, Wei(10**15), FEE)
    cosigners[1].expect(tx)
    monkeypatch.setattr(node.wal, "_append_sqlite", lands_then_fails)
    position = node.submit(world.envelope(node, 1, tx, 0))
    monkeypatch.undo()
    logged = [seq for seq, kind, _ in node.wal.records() if kind == "envelope"]
    assert logged == [position]
    node.seal_and_post()
    assert node.state.accounts[1].nonce == 1
    again = world.node(tmp_path / "node.db", cosigners)
    assert again.state.root() == node.state.root()


def test_a_group_is_found_in_the_log_only_whole_and_in_order() -> None:
    from l2gpu.node.node import _numbers_of

    latest = [(7, "envelope", b"a"), (8, "sealed", b"x"), (9, "envelope", b"b"),
              (10, "envelope", b"c"), (11, "posted", b"p")]  # fmt: skip
    assert _numbers_of([b"b", b"c"], latest) == [9, 10]
    assert _numbers_of([b"a", b"b"], latest) == [7, 9]  # another writer's record between
    assert _numbers_of([b"c", b"b"], latest) is None
    assert _numbers_of([b"c", b"d"], latest) is None


def test_a_dropped_transaction_resent_with_its_nonce_survives_a_restart(
    world: Deployed, tmp_path: Path
) -> None:
    from l2gpu.node.cosigners import LocalCoSigner

    cosigners = {i: LocalCoSigner(i, world.bls[i]) for i in range(4)}
    node = world.node(tmp_path / "node.db", cosigners)
    node.follow_l1()
    node.seal_and_post()
    unwanted = Transfer(1, 2, Wei(10**15), FEE)  # account 1's agent never agreed to it
    node.submit(world.envelope(node, 1, unwanted, 0))
    assert node.seal_and_post().dropped[0][1] == "a required signer did not co-sign"
    wanted = Transfer(1, 3, Wei(10**15), FEE)
    cosigners[1].expect(wanted)
    node.submit(world.envelope(node, 1, wanted, 0))  # the same nonce, sent again
    node.seal_and_post()
    assert node.state.accounts[1].nonce == 1
    restarted = world.node(tmp_path / "node.db", cosigners)  # refused to start before
    assert restarted.state.root() == node.state.root()
    assert list(restarted.sequencer.mempool) == []
    assert restarted.posted == node.posted


def test_an_l1_outage_degrades_the_node_and_it_catches_up(
    world: Deployed, tmp_path: Path, monkeypatch
) -> None:
    from l2gpu.node.cosigners import LocalCoSigner
    from l2gpu.node.service import Sealer

    cosigners = {i: LocalCoSigner(i, world.bls[i]) for i in range(4)}
    node = world.node(tmp_path / "node.db", cosigners)
    sealer = Sealer(node, interval=0.0)
    sealer.step()  # the deposits
    assert node.posted == [1]
    api = TestClient(create_app(node, CoSignDesk()))
    rollup = node.rollup

    def down(*_args, **_kwargs):
        raise ConnectionError("L1 at http://127.0.0.1:8545 refused the connection")

    monkeypatch.setattr(rollup, "submit", down)
    monkeypatch.setattr(rollup, "new_operations", down)
    transfer = Transfer(1, 2, Wei(10**15), FEE)
    cosigners[1].expect(transfer)
    assert api.post("/l2/transactions", json=wire(world.envelope(node, 1, transfer, 0))).is_success
    sealer.step()  # L1 is down: the node keeps sequencing and says why it cannot post
    status = api.get("/l2/status").json()
    assert status["status"] == "degraded"
    assert "refused the connection" in status["degraded_reason"]
    assert status["batches_waiting_for_l1"] == 1
    assert node.state.accounts[1].nonce == 1  # sealed: its place is fixed
    monkeypatch.undo()
    sealer._retry_at = 0.0  # the backoff has passed
    sealer.step()
    status = api.get("/l2/status").json()
    assert (status["status"], status["batches_waiting_for_l1"]) == ("ok", 0)
    assert node.posted == [1, 2]
    assert bytes(world.contract.call("batch_root", 2)) == node.state.root()


def test_refusing_someone_elses_transaction_keeps_ones_own(world: Deployed, tmp_path) -> None:
    """A renter that refuses the provider's cooperative close (it agreed to no such
    amount) while its own new channel is in the same commitment (channel operations
    share commitments) loses only the close: it is asked again for its own
    transaction alone, which goes in."""
    from l2gpu.core.l2.transactions import CooperativeClose, OpenChannel
    from l2gpu.core.types import Seconds, Timestamp

    desk = CoSignDesk(timeout=30)
    node, api = started(world, tmp_path, desk)
    expires = Timestamp(world.chain.timestamp() + 7200)
    opened = OpenChannel(1, 2, Wei(10**16), expires, Seconds(3600))
    api.post("/l2/transactions", json=wire(world.envelope(node, 1, opened, 0)))
    sealing = threading.Thread(target=node.seal_and_post)
    sealing.start()
    answer(api, wait_for_request(desk, 1), world.bls[1])
    sealing.join(timeout=60)
    assert node.state.channel_at(0) is not None

    own = OpenChannel(1, 3, Wei(10**16), expires, Seconds(3600))  # its next lease's
    close = CooperativeClose(2, 0, Wei(10**16))  # the whole deposit: the renter refuses
    api.post("/l2/transactions", json=wire(world.envelope(node, 1, own, 1)))
    api.post("/l2/transactions", json=wire(world.envelope(node, 2, close, 0)))
    sealing = threading.Thread(target=node.seal_and_post)
    sealing.start()
    first = wait_for_request(desk, 1)
    assert len(first["mine"]) == 2  # its open and the close it must co-sign
    provider = wait_for_request(desk, 2)
    answer(api, provider, world.bls[2])
    answer(api, first, world.bls[1], refuse=True)
    sealing.join(timeout=60)
    assert node.state.accounts[2].nonce == 0  # the close was dropped
    sealing = threading.Thread(target=node.seal_and_post)  # the next seal
    sealing.start()
    again = wait_for_request(desk, 1)  # asked again, for its own open alone
    assert len(again["mine"]) == 1
    answer(api, again, world.bls[1])
    sealing.join(timeout=60)
    assert not sealing.is_alive()
    assert node.state.accounts[1].nonce == 2  # both its opens
    assert node.state.accounts[2].nonce == 0  # the close was dropped
    assert node.state.channel_at(0).live


def test_a_transactions_fate_is_told_by_its_position_not_by_the_nonce(
    world: Deployed, tmp_path: Path
) -> None:
    """Two programs on one account (issue #23): one's withdrawal is dropped (the
    other refused to co-sign it), the other's transfer is then included at the same
    nonce. The nonce rose, but the withdrawal's position says it was dropped, and why;
    a restarted node tells the same from its log."""
    from l2gpu.core.l2.transactions import Withdraw
    from l2gpu.node.cosigners import LocalCoSigner

    cosigners = {i: LocalCoSigner(i, world.bls[i]) for i in range(4)}
    node = world.node(tmp_path / "node.db", cosigners)
    node.follow_l1()
    node.seal_and_post()
    api = TestClient(create_app(node, CoSignDesk()))
    withdrawal = node.submit(world.envelope(node, 1, Withdraw(1, Wei(10**15), FEE), 0))
    assert api.get(f"/l2/transactions/{withdrawal}").json()["status"] == "pending"
    node.seal_and_post()  # account 1's co-signer expected nothing: dropped
    transfer = Transfer(1, 3, Wei(10**15), FEE)
    cosigners[1].expect(transfer)
    included = node.submit(world.envelope(node, 1, transfer, 0))  # the same nonce
    node.seal_and_post()
    assert node.state.accounts[1].nonce == 1  # the nonce rose past the withdrawal's
    dropped = api.get(f"/l2/transactions/{withdrawal}").json()
    assert dropped == {"position": withdrawal, "status": "dropped",
                       "reason": "a required signer did not co-sign"}  # fmt: skip
    assert api.get(f"/l2/transactions/{included}").json() == {
        "position": included, "status": "included", "batch": 1}  # fmt: skip
    assert api.get(f"/l2/transactions/{included + 100}").status_code == 404
    again = TestClient(create_app(world.node(tmp_path / "node.db", cosigners), CoSignDesk()))
    assert again.get(f"/l2/transactions/{withdrawal}").json()["status"] == "dropped"
    assert again.get(f"/l2/transactions/{included}").json()["batch"] == 1
