"""A job's folder as it travels: what an archive of it may hold, how large, in what parts.

``rent --dir`` packs a folder into a gzip-compressed tar archive; the market stores it
in parts; the provider's agent unpacks it as the job's working folder. ``jobs download``
packs files the job wrote the same way, in the other direction. Both ends apply the
rules here, so a hostile archive (from a renter, or from a provider) is refused the
same way wherever it lands:

- an entry is a regular file or a folder; a symbolic link, a hard link, a device or a
  FIFO is refused (a link could point the unpacking at a file outside the folder);
- a name is relative, holds no ``..``, no NUL and no part over 255 bytes, and is not
  the backend's own ``output.log``;
- the archive is at most :data:`MAX_ARCHIVE_BYTES`, its files at most
  :data:`MAX_UNPACKED_BYTES` once unpacked, in at most :data:`MAX_ENTRIES` entries.

Every refusal is an :class:`ArchiveError` naming the entry, or the limit and the size.
Pure: no file is read here (:mod:`l2gpu.archive` does the packing and unpacking).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from l2gpu.core.crypto.secp256k1 import PrivateKey, recover_address
from l2gpu.core.errors import L2gpuError, SignatureError
from l2gpu.core.market.signin import personal_digest
from l2gpu.core.types import Address

MAX_ARCHIVE_BYTES = 64 * 2**20
"""A packed folder, compressed: what travels through the market and is stored there."""
MAX_UNPACKED_BYTES = 2**30
"""The files of an archive once unpacked (a small archive may unpack to much more)."""
MAX_ENTRIES = 20_000
"""Files and folders in one archive."""
MAX_NAME_BYTES = 1024
PART_BYTES = 128 * 2**10
"""An archive crosses HTTP in parts of this many bytes (base64 in JSON: under the
market's 256 KiB limit on a request body)."""
RESERVED_NAMES = frozenset({"output.log"})
"""Names in the job's folder that are the backend's: the job's output."""
CHECKPOINTS = "checkpoints"
"""The folder, in the job's folder, where a job that can resume writes its checkpoints."""


class ArchiveError(L2gpuError):
    """An archive, an entry of it, or a path in a job's folder is refused."""


def size_text(n: int) -> str:
    """``n`` bytes for a person: 8 MiB, 1.5 GiB, 300 bytes."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def too_large(what: str, size: int, limit: int, fix: str) -> ArchiveError:
    """The refusal of ``what`` for holding ``size`` bytes, above ``limit``."""
    return ArchiveError(
        f"{what} is {size_text(size)} ({size:,} bytes), above the limit of "
        f"{size_text(limit)} ({limit:,} bytes)",
        fix,
    )


def path_parts(name: str, *, what: str = "the path") -> tuple[str, ...]:
    """The parts of ``name``, a path inside a job's folder; ``()`` for the folder itself
    (``""`` or ``"."``). Refuses a name that could leave the folder or that no file
    system takes: absolute, with ``..``, NUL, a part over 255 bytes, or too long."""
    shown = repr(name)[:80]
    if "\x00" in name:
        raise ArchiveError(f"{what} {shown} holds a NUL byte", "rename it")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise ArchiveError(f"{what} {shown}... is longer than {MAX_NAME_BYTES} bytes", "shorten it")
    path = PurePosixPath(name)
    if path.is_absolute():
        raise ArchiveError(
            f"{what} {shown} is absolute: it would leave the job's folder",
            "give a path relative to the job's folder",
        )
    parts = tuple(p for p in path.parts if p != ".")
    if ".." in parts:
        raise ArchiveError(
            f"{what} {shown} holds '..': it would leave the job's folder",
            "give a path inside the job's folder, without '..'",
        )
    if any(len(p.encode("utf-8", "surrogateescape")) > 255 for p in parts):
        raise ArchiveError(f"{what} {shown} has a part over 255 bytes", "shorten it")
    return parts


def check_entry(name: str, kind: str, size: int) -> tuple[str, ...]:
    """The parts of an archive entry's name, once the entry is one a job's folder may
    hold: ``kind`` is ``file`` or ``folder`` (anything else, a link or a device, is
    refused), its name stays inside the folder and is not the backend's own."""
    parts = path_parts(name, what="the archive's entry")
    shown = repr(name)[:80]
    if kind not in ("file", "folder"):
        raise ArchiveError(
            f"the archive's entry {shown} is a {kind}: a job's folder travels as files "
            "and folders only (a link could reach outside it)",
            "replace the link by a copy of what it points to, or leave it out",
        )
    if not parts:
        if kind == "folder":
            return parts
        raise ArchiveError(f"the archive's entry {shown} has no name", "name every file")
    if parts[0] in RESERVED_NAMES:
        raise ArchiveError(
            f"the archive's entry {shown} is the backend's own ({parts[0]}: the job's output)",
            "rename it",
        )
    if size < 0:
        raise ArchiveError(f"the archive's entry {shown} has a negative size", "pack it again")
    return parts


def parts_count(size: int) -> int:
    """How many parts of :data:`PART_BYTES` carry ``size`` bytes."""
    return -(-size // PART_BYTES)


def download_message(lease_id: int, path: str, issued_at: int) -> str:
    """What a renter signs (EIP-191) to ask a provider's agent for files of its lease's
    folder: the agent sends them only to the lease's renter, whose signature this is."""
    return f"l2gpu download\nlease: {lease_id}\npath: {path}\nissued at: {issued_at}"


DOWNLOAD_FRESH_S = 600
"""How long a renter's signed request for files stays good (either way, for clocks)."""


def sign_download(key: PrivateKey, lease_id: int, path: str, issued_at: int) -> bytes:
    """The renter's EIP-191 signature of :func:`download_message`."""
    return key.sign_digest(personal_digest(download_message(lease_id, path, issued_at)))


def download_problem(
    lease_id: int, path: str, issued_at: int, signature: bytes, *, renter: Address, now: int
) -> str | None:
    """Why a request for files of lease ``lease_id``'s folder must not be served (not
    signed by the lease's ``renter``, or not fresh); None when it may be."""
    try:
        signer = recover_address(
            personal_digest(download_message(lease_id, path, issued_at)), signature
        )
    except SignatureError as exc:
        return f"the download request's signature is malformed: {exc.what}"
    if signer != renter:
        return f"the download request is signed by {signer}, not by the lease's renter {renter}"
    if abs(now - issued_at) > DOWNLOAD_FRESH_S:
        return (
            f"the download request was signed at {issued_at}, more than "
            f"{DOWNLOAD_FRESH_S} s from now ({now})"
        )
    return None


@dataclass(frozen=True, slots=True)
class KeptFolder:
    """A lease's folder an agent keeps: its lease, when the lease ended (None: live) and
    its size on disk."""

    lease_id: int
    ended_at: int | None
    size: int


def folders_to_remove(
    kept: Sequence[KeptFolder], *, now: int, keep_s: int, max_bytes: int
) -> list[int]:
    """The leases whose folders go now: every folder kept ``keep_s`` past its lease's
    end, then, while all of them together hold more than ``max_bytes``, the folders of
    the leases that ended first. A live lease's folder is never removed (the job uses
    it), even when the live ones alone pass the bound."""
    ended = sorted(
        (f for f in kept if f.ended_at is not None), key=lambda f: (f.ended_at, f.lease_id)
    )
    gone = [f.lease_id for f in ended if now - (f.ended_at or now) >= keep_s]
    total = sum(f.size for f in kept if f.lease_id not in gone)
    for folder in ended:
        if total <= max_bytes:
            break
        if folder.lease_id not in gone:
            gone.append(folder.lease_id)
            total -= folder.size
    return gone
