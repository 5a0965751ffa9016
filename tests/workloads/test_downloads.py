"""``jobs download``: files a job wrote, asked by the lease's renter (signed), sent by
the provider's agent from the lease's folder (never through a link), kept after the
lease within the retention bounds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from l2gpu.agent.outputs import Retention
from l2gpu.archive import Layer, pack
from l2gpu.client import ApiRequestError, MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.workdir import KeptFolder, folders_to_remove, sign_download
from l2gpu.renter.outputs import fetch_files
from l2gpu.wire import AgentDownload
from tests.agent.test_agent import World, wait_for
from tests.market.helpers import STRANGER

JOB = (
    "mkdir -p checkpoints out; echo 1 > checkpoints/step-1; echo done > out/result.txt; "
    "ln -s /etc/passwd leak; ln -s /etc etcdir; echo written; sleep 60"
)


def _world(tmp_path: Path, **bounds: int) -> World:
    world = World(tmp_path)
    world.agent.kept = Retention(tmp_path / "kept", **bounds)
    return world


def _fetch(world: World, lease_id: int, path: str, dest: Path, **options: object):
    def second(_: float) -> None:  # the renter waits; the simulated seconds pass
        world.clock.advance(1)
        world.agent.step()

    return fetch_files(world.renter, lease_id, path, dest, issued_at=world.clock(),
                       wait_s=5, sleep=second, **options)  # type: ignore[arg-type]  # fmt: skip


def _written(world: World, lease_id: int) -> bool:
    world.agent.step()
    return "written" in "".join(c.text for c in world.renter.logs(lease_id).chunks)


def test_a_renter_downloads_what_the_job_wrote_during_and_after_the_lease(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path)
    payer = world.rent(JOB)
    world.agent.step()
    lease_id = payer.step().id
    wait_for(lambda: _written(world, lease_id))
    done = _fetch(world, lease_id, "", tmp_path / "all")
    assert done.files == 2
    assert (tmp_path / "all" / "out" / "result.txt").read_text() == "done\n"
    # the job's links are left out, and so is the agent's output.log
    assert sorted(os.listdir(tmp_path / "all")) == ["checkpoints", "out"]
    # After the lease: the folder is kept, and a checkpoint swaps in whole.
    world.renter.stop(lease_id)
    world.agent.step()
    assert world.renter.lease(lease_id).status is LeaseStatus.ENDED
    (tmp_path / "saved" / "checkpoints").mkdir(parents=True)
    (tmp_path / "saved" / "checkpoints" / "stale").write_text("old")
    _fetch(world, lease_id, "checkpoints", tmp_path / "saved", swap=True)
    assert os.listdir(tmp_path / "saved" / "checkpoints") == ["step-1"]
    # What cannot be sent is said, by the agent, to the renter.
    with pytest.raises(L2gpuError, match="neither a file nor a folder"):
        _fetch(world, lease_id, "etcdir", tmp_path / "x")
    with pytest.raises(L2gpuError, match="not through a link"):
        _fetch(world, lease_id, "etcdir/passwd", tmp_path / "x")
    with pytest.raises(L2gpuError, match="there is no 'missing'"):
        _fetch(world, lease_id, "missing", tmp_path / "x")
    with pytest.raises(L2gpuError, match="jobs logs"):
        _fetch(world, lease_id, "output.log", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_only_the_leases_renter_may_ask_and_read(tmp_path: Path) -> None:
    world = _world(tmp_path)
    payer = world.rent("echo hi > f; sleep 60")
    world.agent.step()
    lease_id = payer.step().id
    stranger = MarketClient("", STRANGER, http=world.http)
    with pytest.raises(ApiRequestError, match="belongs to another account"):
        stranger.ask_download(lease_id, "f", issued_at=world.clock())
    with pytest.raises(ApiRequestError, match="only lease .* renter may download"):
        world.agent.client.ask_download(lease_id, "f", issued_at=world.clock())
    with pytest.raises(ApiRequestError, match="holds '..'"):
        world.renter.ask_download(lease_id, "../f", issued_at=world.clock())
    with pytest.raises(ApiRequestError, match="more than 600 s from now"):
        world.renter.ask_download(lease_id, "f", issued_at=world.clock() - 601)
    # The market relays; the agent checks the renter's signature itself, so a request
    # the market made up (or signed by anyone else) gets no file.
    answers: list[tuple[int, bytes | None, str]] = []
    world.agent.client.answer_download = lambda i, d, e="": answers.append((i, d, e))  # type: ignore[assignment,method-assign,misc]
    forged = sign_download(STRANGER, lease_id, "f", world.clock())
    world.agent._answer(AgentDownload(id=1, lease_id=lease_id, renter=STRANGER.address.checksum,
                                      path="f", issued_at=world.clock(),
                                      signature="0x" + forged.hex()), world.clock())  # fmt: skip
    assert answers[0][1] is None
    assert f"not by the lease's renter {world.renter.key.address}" in answers[0][2]


def test_kept_folders_go_after_the_retention_period(tmp_path: Path) -> None:
    world = _world(tmp_path, keep_s=100)
    payer = world.rent("echo hi > f; sleep 60")
    world.agent.step()
    lease_id = payer.step().id
    world.renter.stop(lease_id)
    world.agent.step()
    folder = tmp_path / "jobs" / f"lease-{lease_id}"
    assert (folder / "f").exists()
    world.clock.advance(99)
    world.agent.step()
    assert folder.exists()
    world.clock.advance(60)
    world.agent.step()
    assert not folder.exists()
    with pytest.raises(L2gpuError, match="keeps no folder of lease"):
        _fetch(world, lease_id, "f", tmp_path / "x")


def test_an_agent_that_keeps_no_folders_refuses_a_download_at_once(tmp_path: Path) -> None:
    world = World(tmp_path)  # no Retention: `provider up` always has one, a library user may not
    payer = world.rent("echo hi > f; sleep 60")
    world.agent.step()
    lease_id = payer.step().id
    started = world.clock()
    with pytest.raises(L2gpuError, match="runs without folder retention"):
        _fetch(world, lease_id, "f", tmp_path / "x")
    assert world.clock() - started <= 5  # answered at the agent's next poll, not timed out


def test_the_retention_plan() -> None:
    live, old, newer = KeptFolder(1, None, 50), KeptFolder(2, 1000, 30), KeptFolder(3, 1050, 40)
    kept = [live, old, newer]
    assert folders_to_remove(kept, now=1100, keep_s=3600, max_bytes=200) == []
    assert folders_to_remove(kept, now=4650, keep_s=3600, max_bytes=200) == [2, 3]
    assert folders_to_remove(kept, now=4600, keep_s=3600, max_bytes=200) == [2]
    # over the bound: the oldest ended first, never a live one
    assert folders_to_remove(kept, now=1100, keep_s=3600, max_bytes=90) == [2]
    assert folders_to_remove(kept, now=1100, keep_s=3600, max_bytes=60) == [2, 3]
    assert folders_to_remove(kept, now=1100, keep_s=3600, max_bytes=10) == [2, 3]


def test_what_the_market_keeps_for_a_while_expires(tmp_path: Path) -> None:
    world = World(tmp_path)  # an agent that keeps no folders: it never answers
    payer = world.rent("true")
    lease_id = payer.info.id
    asked = world.renter.ask_download(lease_id, "out", issued_at=world.clock())
    archive = world.renter.upload(pack([Layer(Path(__file__).parent)], limit=10**7))
    world.clock.advance(3601)
    world.service.expire()
    late = world.renter.download(lease_id, asked.id)
    assert late.status == "failed"
    assert "did not send the files within 600 s" in late.error
    # The upload is gone: declaring it again, every part is missing.
    again = world.renter._call("POST", "/uploads", json={"sha256": archive.sha256,
                                                        "size": archive.size})  # fmt: skip
    assert again["missing"] == list(range(again["parts"]))
    # A new request for the same path supersedes the old answer.
    world.renter.ask_download(lease_id, "out", issued_at=world.clock())
    with pytest.raises(ApiRequestError, match=f"no download {asked.id}"):
        world.renter.download(lease_id, asked.id)
