"""The local backend's dealings with files and its sandbox's launcher: a job's
files written without following links, its log read only from a regular file, its
folders measured and wiped even where the job made them unreadable, and the
launcher's readiness read from its pipe and bubblewrap's status file.

Hand-written on ``os``: each call must refuse what a running job may have swapped
for a symlink between two calls, which ``shutil`` and ``pathlib`` do not promise.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import stat
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
READY_TIMEOUT_S = 15.0
"""How long the sandbox may take to come up before the start counts as failed."""


def write_files(work: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = work.joinpath(*PurePosixPath(name).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))


# -- processes ---------------------------------------------------------------------------


def await_ready(proc: subprocess.Popen[bytes], ready: int) -> str | None:
    """None once the launcher in the sandbox says it is ready, else what went wrong."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    said = b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([ready], [], [], 0.05)
        if readable:
            chunk = os.read(ready, 4096)
            said += chunk
            if said.startswith(b"ok"):
                return None
            if not chunk or said.startswith(b"error"):
                break
        elif proc.poll() is not None:
            break
    if said.startswith(b"error"):
        return said.decode(errors="replace")
    if proc.poll() is not None:
        return f"it exited with code {proc.returncode} before the job ran"
    return f"it was not ready within {READY_TIMEOUT_S:.0f} s"


def sandbox_init(status: Path, proc: subprocess.Popen[bytes]) -> int | None:
    """The host pid of the sandbox's init, from bubblewrap's status file."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        pid = json_field(status, "child-pid")
        if pid is not None:
            return pid
        if proc.poll() is not None:
            return None
        time.sleep(0.01)  # bounded: bubblewrap writes it as the sandbox starts
    return None


def json_field(path: Path, name: str) -> int | None:
    """``name`` from the JSON documents bubblewrap writes to ``path``, one per line."""
    try:
        text = path.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            value = json.loads(line).get(name)
            if isinstance(value, int):
                return value
    return None


def read_log(path: Path, offset: int, most: int) -> bytes:
    """Up to ``most`` bytes of a job's log from ``offset``; never through a link, nor
    from anything but a regular file (a job must not make the agent read the host's)."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return os.pread(fd, most, offset)
    finally:
        os.close(fd)


# -- folders -----------------------------------------------------------------------------


def disk_usage(paths: list[Path], most_entries: int) -> tuple[int, int]:
    """Bytes on disk and entries under ``paths`` (symlinks not followed); stops
    counting past ``most_entries``."""
    used = entries = 0
    todo = [str(p) for p in paths]
    while todo and entries <= most_entries:
        path = todo.pop()
        try:
            info = os.lstat(path)
        except OSError:
            continue
        used += info.st_blocks * 512
        entries += 1
        if stat.S_ISDIR(info.st_mode):
            try:
                names = os.listdir(path)
            except PermissionError:  # a job may chmod its folders; the agent owns them
                open_folder(path)
                names = listdir(path)
            except OSError:  # removed (or swapped) by the job since the lstat
                continue
            todo.extend(os.path.join(path, n) for n in names)
    return used, entries


def listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def open_folder(path: str) -> None:
    """chmod 700 the folder at ``path``, never what a symlink put there points to (a
    running job may swap a folder for a link to /etc between two calls)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        os.chmod(f"/proc/self/fd/{fd}", 0o700)
    except OSError:
        pass
    finally:
        os.close(fd)


def wipe(folder: Path) -> None:
    """Remove a folder a job may have left unreadable."""

    def writable(func: Any, path: str, _exc: Any) -> None:
        open_folder(os.path.dirname(path))
        open_folder(path)
        with contextlib.suppress(OSError):
            func(path)

    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder, onerror=writable)
