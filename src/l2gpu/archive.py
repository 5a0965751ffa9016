"""Packing and unpacking a job's folder (a gzip-compressed tar archive), safely.

Used by the renter (``rent --dir`` packs a folder, ``jobs download`` unpacks what the
provider sent) and by the provider's agent (it unpacks a lease's folder before the job
starts and packs the files a renter asks for). Either side may be hostile, so both
directions go through the rules of :mod:`l2gpu.core.market.workdir` and touch the
disk only through folder descriptors opened without following links:

- packing never follows a symbolic link, at any depth (a job could swap a folder for
  a link to ``/etc`` to make the agent send the provider's files): links are refused
  (the renter's own folder: it is told which) or left out (a job's folder);
- unpacking creates files and folders only, each below the destination, never
  through a link that is there already, and stops at the archive's limits while it
  decompresses (so a small archive cannot fill a disk or the memory).

The archive is deterministic for the same files (sorted names, no owner, the gzip
header's time zero), so packing an unchanged folder again gives the same digest and
the market keeps one copy.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from l2gpu.core.market.workdir import (
    MAX_ARCHIVE_BYTES,
    MAX_ENTRIES,
    MAX_UNPACKED_BYTES,
    ArchiveError,
    check_entry,
    size_text,
    too_large,
)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_COPY = 1 << 20
# Headers, long names and padding beyond the files' own bytes, per entry: a stream
# that decompresses to more than this is no honest archive.
_OVERHEAD_PER_ENTRY = 4096


@dataclass(frozen=True, slots=True)
class Layer:
    """A folder to pack: ``root`` and, under it, the folder ``start`` (its parts), whose
    entries are named from ``root``. ``links``: ``refuse`` (say which entry is a link)
    or ``skip`` (leave links and special files out)."""

    root: Path
    start: tuple[str, ...] = ()
    links: str = "refuse"
    missing_ok: bool = False
    leave_out: frozenset[str] = frozenset()
    """Names in ``root`` itself left out (the backend's ``output.log``)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    layer: Layer
    parts: tuple[str, ...]
    folder: bool
    size: int
    mode: int
    mtime: int


def pack(
    layers: Sequence[Layer],
    *,
    limit: int = MAX_ARCHIVE_BYTES,
    max_unpacked: int = MAX_UNPACKED_BYTES,
    what: str = "the folder",
) -> bytes:
    """A gzip-compressed tar archive of ``layers``; where two layers hold the same name,
    the later one's file is packed. Raises :class:`ArchiveError` for a link (with
    ``refuse``), a name the rules refuse, or past a limit, naming it and the size."""
    entries: dict[tuple[str, ...], _Entry] = {}
    for layer in layers:
        for entry in _walk(layer):
            if entry.parts in entries and entries[entry.parts].folder != entry.folder:
                raise ArchiveError(
                    f"{'/'.join(entry.parts)!r} is a file in one folder packed and a folder "
                    "in another",
                    "rename one of them",
                )
            entries[entry.parts] = entry
            if len(entries) > MAX_ENTRIES:
                raise ArchiveError(
                    f"{what} holds more than {MAX_ENTRIES:,} files and folders",
                    "pack fewer files (an archive of them counts as one)",
                )
    raw = sum(e.size for e in entries.values())
    if raw > max_unpacked:
        raise too_large(
            f"{what}'s files",
            raw,
            max_unpacked,
            "leave large files out (fetch data sets from the job itself)",
        )
    out = io.BytesIO()
    gz = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0)
    with gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for parts in sorted(entries):
            _add(tar, entries[parts])
            if out.tell() > limit:
                raise too_large(
                    f"{what}, packed,",
                    out.tell(),
                    limit,
                    "leave large files out, or compress them first",
                )
    data = out.getvalue()
    if len(data) > limit:
        raise too_large(
            f"{what}, packed,", len(data), limit, "leave large files out, or compress them first"
        )
    return data


def _walk(layer: Layer) -> Iterator[_Entry]:
    """The layer's start (a file, or a folder and everything under it), never through a
    link."""
    shown = "/".join(layer.start) or str(layer.root)
    try:
        parent = _open_folder(layer.root, layer.start[:-1], create=False)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and layer.missing_ok:
            return
        raise ArchiveError(
            f"cannot read {shown!r}: {exc.strerror}",
            "give a path inside the job's folder, not through a link",
        ) from exc
    try:
        if not layer.start:
            top = os.dup(parent)
        else:
            try:
                info = os.stat(layer.start[-1], dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                if layer.missing_ok:
                    return
                raise ArchiveError(
                    f"there is no {shown!r} in the folder", "give a path that the job wrote"
                ) from None
            if stat.S_ISREG(info.st_mode):
                yield _Entry(
                    layer, layer.start, False, info.st_size, info.st_mode, int(info.st_mtime)
                )
                return
            if not stat.S_ISDIR(info.st_mode):
                raise ArchiveError(
                    f"{shown!r} is neither a file nor a folder (a link?)",
                    "give a file or a folder, not a link",
                )
            top = os.open(layer.start[-1], _DIR_FLAGS, dir_fd=parent)
            yield _Entry(layer, layer.start, True, 0, info.st_mode, int(info.st_mtime))
    finally:
        os.close(parent)
    todo = [(top, layer.start)]
    try:
        while todo:
            fd, parts = todo.pop()
            try:
                yield from _children(layer, fd, parts, todo)
            finally:
                os.close(fd)
    finally:
        for fd, _ in todo:
            with contextlib.suppress(OSError):
                os.close(fd)


def _children(
    layer: Layer, fd: int, parts: tuple[str, ...], todo: list[tuple[int, tuple[str, ...]]]
) -> Iterator[_Entry]:
    try:
        names = sorted(os.listdir(fd))
    except OSError:
        names = []
    for name in names:
        if not parts and name in layer.leave_out:
            continue
        child = (*parts, name)
        try:
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError:
            continue  # gone meanwhile (a running job's folder)
        if stat.S_ISDIR(info.st_mode):
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue  # swapped for a link meanwhile: not followed
            todo.append((sub, child))
            yield _Entry(layer, child, True, 0, info.st_mode, int(info.st_mtime))
        elif stat.S_ISREG(info.st_mode):
            yield _Entry(layer, child, False, info.st_size, info.st_mode, int(info.st_mtime))
        elif layer.links == "refuse":
            kind = "symbolic link" if stat.S_ISLNK(info.st_mode) else "special file"
            raise ArchiveError(
                f"{layer.root / Path(*child)} is a {kind}: a job's folder travels as "
                "files and folders only",
                "replace it by a copy of what it points to, or move it out of the folder",
            )


def _add(tar: tarfile.TarFile, entry: _Entry) -> None:
    info = tarfile.TarInfo("/".join(entry.parts))
    info.mtime = entry.mtime
    executable = entry.mode & 0o111
    if entry.folder:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.mode = 0o755 if executable else 0o644
    try:
        folder = _open_folder(entry.layer.root, entry.parts[:-1], create=False)
        try:
            fd = os.open(entry.parts[-1], _READ_FLAGS, dir_fd=folder)
        finally:
            os.close(folder)
    except OSError:
        return  # gone, or swapped for a link, since the walk: left out
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return  # swapped for something else since the walk: left out
        info.size = entry.size
        # A file a running job is writing may change size meanwhile: exactly the size
        # seen is packed (cut, or padded with zeros), as tar's header already says it.
        tar.addfile(info, _Exactly(handle, entry.size))


class _Exactly(io.RawIOBase):
    """Exactly ``size`` bytes of ``source``: cut, or padded with zeros if it shrank."""

    def __init__(self, source: BinaryIO, size: int) -> None:
        self.source, self.left = source, size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.source.read(n) or b""
        data += b"\0" * (n - len(data))
        self.left -= len(data)
        return data


def _open_folder(root: Path, parts: Sequence[str], *, create: bool) -> int:
    """A descriptor of the folder ``root/parts``, reached without following a link
    below ``root`` (made on the way with ``create``)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            sub = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


# -- unpacking ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unpacked:
    """What an archive held: ``files`` and the bytes in them."""

    files: int
    size: int


class _Bounded(io.RawIOBase):
    """The decompressed stream, refused once it passes ``most`` bytes."""

    def __init__(self, source: io.BufferedIOBase, most: int) -> None:
        self.source, self.most, self.seen = source, most, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.source.read(len(buffer))
        self.seen += len(data)
        if self.seen > self.most:
            raise ArchiveError(
                f"the archive decompresses to more than {size_text(self.most)}",
                "pack fewer or smaller files",
            )
        buffer[: len(data)] = data
        return len(data)


def unpack(
    data: bytes,
    dest: Path,
    *,
    max_bytes: int = MAX_UNPACKED_BYTES,
    max_entries: int = MAX_ENTRIES,
    replace: bool = False,
) -> Unpacked:
    """Unpack the archive ``data`` into the folder ``dest`` (made if missing). Files an
    entry names already are replaced with ``replace``, else refused. Raises
    :class:`ArchiveError` for an archive that is not one, an entry the rules refuse, a
    name that passes through a link, or past ``max_bytes`` or ``max_entries``."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise too_large("the archive", len(data), MAX_ARCHIVE_BYTES, "pack fewer files")
    dest.mkdir(parents=True, exist_ok=True)
    stream = _Bounded(
        gzip.GzipFile(fileobj=io.BytesIO(data)), max_bytes + _OVERHEAD_PER_ENTRY * max_entries
    )
    root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    files = total = entries = 0
    try:
        with tarfile.open(fileobj=io.BufferedReader(stream), mode="r|") as tar:
            for member in tar:
                entries += 1
                if entries > max_entries:
                    raise ArchiveError(
                        f"the archive holds more than {max_entries:,} entries", "pack fewer files"
                    )
                parts = check_entry(member.name, _kind(member), member.size)
                if member.isdir():
                    if parts:
                        os.close(_open_folder_at(root, parts))
                    continue
                total += member.size
                if total > max_bytes:
                    raise too_large(
                        "the archive's files", total, max_bytes, "pack fewer or smaller files"
                    )
                source = tar.extractfile(member)
                assert source is not None  # a regular file's
                _write(root, parts, source, member, replace=replace)
                files += 1
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        if isinstance(exc, ArchiveError):
            raise
        raise ArchiveError(
            f"the archive could not be unpacked: {exc}",
            "pack the folder again ('l2gpu rent --dir' makes a gzip-compressed tar archive)",
        ) from exc
    finally:
        os.close(root)
    return Unpacked(files, total)


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    if member.isdir():
        return "folder"
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    return "device or FIFO"


def _open_folder_at(root: int, parts: Sequence[str]) -> int:
    """The folder ``parts`` below the descriptor ``root``, made on the way; a part that
    is a link (or a file) is refused."""
    fd = os.dup(root)
    try:
        for part in parts:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                sub = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise ArchiveError(
                    f"the archive's entry {'/'.join(parts)!r} passes through {part!r}, which "
                    "is not a folder (a link or a file) where it is unpacked",
                    "unpack into an empty folder",
                ) from exc
            os.close(fd)
            fd = sub
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write(
    root: int, parts: tuple[str, ...], source: IO[bytes], member: tarfile.TarInfo, *, replace: bool
) -> None:
    folder = _open_folder_at(root, parts[:-1])
    mode = 0o755 if member.mode & 0o111 else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_TRUNC if replace else os.O_EXCL
    try:
        fd = os.open(parts[-1], flags, mode, dir_fd=folder)
    except FileExistsError as exc:
        raise ArchiveError(
            f"the archive's entry {'/'.join(parts)!r} is there already",
            "give each file once (in the folder or with --file)",
        ) from exc
    except OSError as exc:
        raise ArchiveError(
            f"cannot write the archive's entry {'/'.join(parts)!r}: {exc.strerror}",
            "unpack into an empty folder",
        ) from exc
    finally:
        os.close(folder)
    with os.fdopen(fd, "wb") as out:
        if not stat.S_ISREG(os.fstat(out.fileno()).st_mode):
            raise ArchiveError(
                f"{'/'.join(parts)!r} is not a regular file where it is unpacked",
                "unpack into an empty folder",
            )
        while chunk := source.read(_COPY):
            out.write(chunk)


__all__ = ["Layer", "Unpacked", "pack", "unpack"]
