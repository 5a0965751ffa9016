"""Packing and unpacking a job's folder: what a hostile archive or a hostile folder can
not do (leave the folder, follow a link, pass a limit), and the messages that say why."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from l2gpu.archive import Layer, pack, unpack
from l2gpu.core.market.workdir import ArchiveError, check_entry, path_parts, size_text


def _archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_a_folder_round_trips_with_its_modes_and_the_same_digest(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub" / "empty").mkdir(parents=True)
    (src / "train.py").write_text("print('hi')\n")
    (src / "sub" / "run.sh").write_text("#!/bin/sh\n")
    (src / "sub" / "run.sh").chmod(0o755)
    data = pack([Layer(src)])
    assert data == pack([Layer(src)])  # deterministic: the market keeps one copy
    done = unpack(data, tmp_path / "out")
    assert (done.files, done.size) == (2, len("print('hi')\n") + len("#!/bin/sh\n"))
    assert (tmp_path / "out" / "train.py").read_text() == "print('hi')\n"
    assert os.stat(tmp_path / "out" / "sub" / "run.sh").st_mode & 0o777 == 0o755
    assert os.stat(tmp_path / "out" / "train.py").st_mode & 0o777 == 0o644
    assert (tmp_path / "out" / "sub" / "empty").is_dir()


def test_a_later_layer_overrides_the_same_names(tmp_path: Path) -> None:
    (tmp_path / "work" / "checkpoints").mkdir(parents=True)
    (tmp_path / "work" / "checkpoints" / "step-1").write_text("old")
    (tmp_path / "work" / "train.py").write_text("code")
    (tmp_path / "saved" / "checkpoints").mkdir(parents=True)
    (tmp_path / "saved" / "checkpoints" / "step-1").write_text("new")
    data = pack([Layer(tmp_path / "work"), Layer(tmp_path / "saved")])
    unpack(data, tmp_path / "out")
    assert (tmp_path / "out" / "checkpoints" / "step-1").read_text() == "new"
    assert (tmp_path / "out" / "train.py").read_text() == "code"


def test_packing_refuses_a_link_in_the_renters_folder_and_skips_one_in_a_jobs(
    tmp_path: Path,
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_text("a")
    os.symlink("/etc", tmp_path / "src" / "etc")
    with pytest.raises(ArchiveError, match="etc is a symbolic link"):
        pack([Layer(tmp_path / "src")])
    unpack(pack([Layer(tmp_path / "src", links="skip")]), tmp_path / "out")
    assert os.listdir(tmp_path / "out") == ["a"]
    # A job that swaps its folder for a link does not make the agent read through it.
    with pytest.raises(ArchiveError, match="not through a link"):
        pack([Layer(tmp_path / "src", ("etc", "passwd"), links="skip")])
    with pytest.raises(ArchiveError, match="neither a file nor a folder"):
        pack([Layer(tmp_path / "src", ("etc",), links="skip")])
    with pytest.raises(ArchiveError, match="there is no 'nothing'"):
        pack([Layer(tmp_path / "src", ("nothing",), links="skip")])
    assert (
        unpack(
            pack([Layer(tmp_path / "src", ("nothing",), missing_ok=True)]), tmp_path / "none"
        ).files
        == 0
    )


def test_packing_names_the_limit_and_the_size(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big").write_bytes(os.urandom(300_000))
    with pytest.raises(ArchiveError) as raised:
        pack([Layer(tmp_path / "src")], limit=100_000)
    assert "above the limit of 97.7 KiB (100,000 bytes)" in raised.value.what
    assert "packed" in raised.value.what
    with pytest.raises(ArchiveError, match="the folder's files is 293.0 KiB"):
        pack([Layer(tmp_path / "src")], max_unpacked=200_000)


@pytest.mark.parametrize(
    ("member", "words"),
    [
        (_file("../escape"), "holds '..'"),
        (_file("a/../../escape"), "holds '..'"),
        (_file("/etc/cron.d/x"), "is absolute"),
        (_file("output.log"), "the backend's own"),
        (_link("ln", "/etc/passwd"), "is a symbolic link"),
        (_link("hard", "/etc/passwd", tarfile.LNKTYPE), "is a hard link"),
        (_link("fifo", "", tarfile.FIFOTYPE), "is a device or FIFO"),
    ],
)
def test_unpacking_refuses_what_could_leave_the_folder(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None], words: str
) -> None:
    with pytest.raises(ArchiveError, match=words):
        unpack(_archive(_file("ok"), member), tmp_path / "job")
    assert not (tmp_path / "escape").exists()


def test_unpacking_never_writes_through_a_link_already_there(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "job").mkdir()
    os.symlink(outside, tmp_path / "job" / "data")
    os.symlink(outside / "f", tmp_path / "job" / "f")
    with pytest.raises(ArchiveError, match="passes through 'data'"):
        unpack(_archive(_file("data/x")), tmp_path / "job")
    with pytest.raises(ArchiveError, match="cannot write"):
        unpack(_archive(_file("f")), tmp_path / "job", replace=True)
    assert os.listdir(outside) == []


def test_unpacking_stops_at_its_limits(tmp_path: Path) -> None:
    many = _archive(*(_file(f"f{i}") for i in range(11)))
    with pytest.raises(ArchiveError, match="more than 10 entries"):
        unpack(many, tmp_path / "a", max_entries=10)
    big = _archive(_file("a", b"x" * 600), _file("b", b"y" * 600))
    with pytest.raises(ArchiveError, match="the archive's files is 1.2 KiB"):
        unpack(big, tmp_path / "b", max_bytes=1000)
    # A bomb: a long name header of zeros decompresses far past what its entries hold.
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode="wb") as gz:
        header = tarfile.TarInfo("././@LongLink")
        header.type, header.size = tarfile.GNUTYPE_LONGNAME, 50 * 2**20
        gz.write(header.tobuf(format=tarfile.GNU_FORMAT))
        gz.write(b"\0" * header.size)
    with pytest.raises(ArchiveError, match="decompresses to more than"):
        unpack(bomb.getvalue(), tmp_path / "c", max_bytes=1000, max_entries=10)
    with pytest.raises(ArchiveError, match="could not be unpacked"):
        unpack(b"not an archive", tmp_path / "d")
    with pytest.raises(ArchiveError, match="is there already"):
        unpack(_archive(_file("x"), _file("x")), tmp_path / "e")


def test_names_and_sizes_in_words() -> None:
    assert path_parts("") == path_parts(".") == ()
    assert path_parts("./checkpoints/") == ("checkpoints",)
    assert check_entry("./", "folder", 0) == ()
    with pytest.raises(ArchiveError, match="NUL"):
        path_parts("a\x00b")
    with pytest.raises(ArchiveError, match="over 255 bytes"):
        path_parts("a/" + "b" * 256)
    with pytest.raises(ArchiveError, match="no name"):
        check_entry(".", "file", 1)
    assert [size_text(n) for n in (300, 2048, 1536 * 2**10, 2**30)] == [
        "300 bytes",
        "2 KiB",
        "1.5 MiB",
        "1 GiB",
    ]
