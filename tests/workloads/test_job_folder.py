"""``rent --dir``: a folder uploaded in parts, checked by digest at the market and by the
agent, unpacked as the job's working folder; and everything that is refused on the way."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from l2gpu.archive import Layer, pack
from l2gpu.client import ApiRequestError, MarketClient
from l2gpu.core.channel.vouchers import channel_domain
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.workdir import PART_BYTES
from l2gpu.renter import LeasePayer
from l2gpu.wire import ArchivePublic
from tests.agent.test_agent import World, wait_for
from tests.api.helpers import MANAGER, described
from tests.market.helpers import CHAIN, PROVIDER, RENTER, STRANGER


def _rent(world: World, command: str, archive: ArchivePublic | None) -> LeasePayer:
    lease = world.renter.rent(world.offer.id, command=command, duration=600, archive=archive,
                              channel=described(RENTER, PROVIDER.address, 10**18))  # fmt: skip
    return LeasePayer(
        world.renter, RENTER, lease, channel_domain(CHAIN, MANAGER), clock=world.clock
    )


def _output(world: World, lease_id: int) -> str:
    return "".join(c.text for c in world.renter.logs(lease_id).chunks)


def test_a_folder_is_uploaded_in_parts_and_the_job_starts_in_it(tmp_path: Path) -> None:
    world = World(tmp_path)
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "hello.txt").write_text("hello from the folder\n")
    (folder / "noise.bin").write_bytes(os.urandom(300_000))  # three parts, packed
    data = pack([Layer(folder)], limit=10**7)
    sent: list[str] = []
    request = world.renter.http.request

    def counted(method: str, url: str, **kwargs: object) -> object:
        sent.append(method)
        return request(method, url, **kwargs)  # type: ignore[arg-type]

    world.renter.http.request = counted  # type: ignore[method-assign]
    archive = world.renter.upload(data)
    assert archive.sha256 == hashlib.sha256(data).hexdigest()
    assert sent.count("PUT") == 3
    # The same folder again: the market has every part, nothing is sent.
    assert world.renter.upload(data) == archive
    assert sent.count("PUT") == 3
    payer = _rent(world, "cat data/hello.txt; wc -c < noise.bin; sleep 60", archive)
    assert payer.info.job.archive == archive
    world.agent.step()
    assert payer.step().status is LeaseStatus.RUNNING
    wait_for(lambda: world.agent.step() is None and "300000" in _output(world, payer.info.id))
    assert _output(world, payer.info.id).startswith("hello from the folder\n")
    world.renter.stop(payer.info.id)
    world.agent.step()


def test_a_hostile_folder_fails_the_start_and_costs_nothing(tmp_path: Path) -> None:
    world = World(tmp_path)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        link = tarfile.TarInfo("keys")
        link.type, link.linkname = tarfile.SYMTYPE, "/"
        tar.addfile(link)
    payer = _rent(world, "ls keys/", world.renter.upload(out.getvalue()))
    world.agent.step()
    lease = payer.step()
    assert lease.status is LeaseStatus.FAILED
    assert "the job's folder was refused: the archive's entry 'keys' is a symbolic link" in (
        lease.reason
    )
    assert lease.amount_due == 0
    assert not (tmp_path / "jobs" / f"lease-{lease.id}" / "keys").exists()


def test_the_market_keeps_uploads_apart_and_checks_them(tmp_path: Path) -> None:
    world = World(tmp_path)
    data = pack([Layer(Path(__file__).parent)], limit=10**7)
    digest = hashlib.sha256(data).hexdigest()
    renter = world.renter
    # Parts that do not hash to the digest declared are dropped, and the upload says so.
    renter._call("POST", "/uploads", json={"sha256": "0" * 64, "size": len(data)})
    parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]
    for index, part in enumerate(parts[:-1]):
        renter._call("PUT", f"/uploads/{'0' * 64}/parts/{index}",
                     json={"data": base64.b64encode(part).decode()})  # fmt: skip
    with pytest.raises(ApiRequestError, match="parts hash to .*: they were dropped"):
        renter._call("PUT", f"/uploads/{'0' * 64}/parts/{len(parts) - 1}",
                     json={"data": base64.b64encode(parts[-1]).decode()})  # fmt: skip
    state = renter._call("POST", "/uploads", json={"sha256": "0" * 64, "size": len(data)})
    assert state["missing"] == list(range(len(parts)))
    # A part of the wrong size, or out of range, is refused by name.
    with pytest.raises(ApiRequestError, match="part 0 holds 3 bytes"):
        renter._call("PUT", f"/uploads/{'0' * 64}/parts/0", json={"data": "YWJj"})
    # A lease can start only in a complete folder of the renter's own.
    stranger = MarketClient("", STRANGER, http=world.http)
    archive = renter.upload(data)
    assert archive.sha256 == digest
    with pytest.raises(ApiRequestError, match="is missing at the market"):
        stranger.rent(world.offer.id, command="true", duration=600, archive=archive,
                      channel=described(STRANGER, PROVIDER.address, 10**18))  # fmt: skip
    half = ArchivePublic(sha256="0" * 64, size=len(data))
    with pytest.raises(ApiRequestError, match="is incomplete at the market"):
        renter.rent(world.offer.id, command="true", duration=600, archive=half,
                    channel=described(RENTER, PROVIDER.address, 10**18))  # fmt: skip
    # Only the lease's provider reads its folder.
    payer = _rent(world, "true", archive)
    with pytest.raises(ApiRequestError, match="not served by you"):
        renter.archive(payer.info.id, archive)
    assert world.agent.client.archive(payer.info.id, archive) == data


def test_a_binary_file_given_with_file_travels_in_the_jobs_folder(tmp_path: Path) -> None:
    from l2gpu.cli.market_cmd import _files, pack_job_folder
    from l2gpu.core.errors import L2gpuError

    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\xff\xfe" + os.urandom(5000))  # not UTF-8
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    text, binary = _files([script, weights])
    assert text == {"train.py": "print('hi')\n"}
    assert binary == [weights]
    data = pack_job_folder(None, text, binary)
    assert data is not None
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile("weights.bin")
        assert member is not None
        assert member.read() == weights.read_bytes()
        assert "train.py" not in tar.getnames()  # it travels as text, in the request
    # With a folder: laid over it; a name in both is refused, as two --file of one name.
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"old")
    with pytest.raises(L2gpuError, match="given with --file too"):
        pack_job_folder(folder, text, binary)
    other = tmp_path / "other"
    other.mkdir()
    (other / "weights.bin").write_bytes(b"\xff")
    with pytest.raises(L2gpuError, match="two --file files are named weights.bin"):
        _files([weights, other / "weights.bin"])
    # And the job reads it from its folder.
    world = World(tmp_path)
    payer = _rent(world, "wc -c < weights.bin; sleep 60", world.renter.upload(data))
    world.agent.step()
    assert payer.step().status is LeaseStatus.RUNNING
    size = str(weights.stat().st_size)
    wait_for(lambda: world.agent.step() is None and size in _output(world, payer.info.id))
    world.renter.stop(payer.info.id)
    world.agent.step()
