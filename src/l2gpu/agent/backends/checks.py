"""What a job spec may hold: each refusal a :class:`JobStartError` that names the problem.

A spec comes from a renter through the market: anything in it may be hostile or
broken. :func:`check_spec` refuses what could not run or could harm the backend
before anything is made on disk, so a bad spec fails its lease once and costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from l2gpu.agent.backends.base import JobSpec, JobStartError
from l2gpu.agent.sandbox import NETWORKS
from l2gpu.archive import unpack
from l2gpu.core.market.workdir import (
    MAX_ARCHIVE_BYTES,
    MAX_UNPACKED_BYTES,
    ArchiveError,
    size_text,
)

MAX_COMMAND_BYTES = 64 * 1024
MAX_VARIABLES = 1024
MAX_VARIABLE_BYTES = 128 * 1024 - 1  # the kernel's limit on one "NAME=value" string
MAX_ENVIRONMENT_BYTES = 1024 * 1024
MAX_FILES = 1000
MAX_FILES_BYTES = 64 * 1024 * 1024
MAX_NAME_BYTES = 1024
MAX_GPU_INDEX = 1023
MIN_MEMORY = 32 * 2**20
MIN_PROCESSES = 8
MIN_OPEN_FILES = 16
MIN_DISK = 2**20
LOG_NAME = "output.log"
RESERVED_NAMES = frozenset({LOG_NAME})
"""Names in the job's folder that are the backend's: a job's files may not use them."""
__all__ = ["LOG_NAME", "MIN_DISK", "check_spec", "size_text", "unpack_folder"]


def refuse_image(spec: JobSpec, backend: str) -> None:
    """Refuse, with JobStartError, a job asking for a container image of a backend
    that runs none (the market refuses such a lease first; this is the agent's check)."""
    if spec.image is not None:
        raise JobStartError(
            f"this provider runs jobs with its {backend} backend, not in containers: it "
            f"cannot run the image {spec.image}",
            "rent an offer whose backend is container, or rent without --image",
        )


def check_spec(spec: JobSpec) -> None:
    """Refuse, with JobStartError, anything in ``spec`` that could not run or could
    harm the backend: each problem named, so the renter can fix it."""
    _check_int("lease id", spec.lease_id, 0, 2**63 - 1)
    command = _check_text("the command", spec.command, MAX_COMMAND_BYTES)
    if not command.strip():
        raise JobStartError("the job's command is empty", "give a command to run")
    for kind, variables in (("variable", spec.env), ("secret", spec.secrets)):
        if not isinstance(variables, Mapping):
            raise JobStartError(f"the job's {kind}s are not a mapping", "send name: value pairs")
    if len(spec.env) + len(spec.secrets) > MAX_VARIABLES:
        raise JobStartError(
            f"the job has more than {MAX_VARIABLES} variables", "send fewer variables"
        )
    total = 0
    for kind, variables in (("variable", spec.env), ("secret", spec.secrets)):
        for name, value in variables.items():
            _check_variable_name(kind, name)
            _check_text(f"{kind} {name}", value, MAX_VARIABLE_BYTES - len(name) - 1)
            total += len(name.encode()) + len(value.encode()) + 2
    if total > MAX_ENVIRONMENT_BYTES:
        raise JobStartError(
            f"the job's variables take more than {size_text(MAX_ENVIRONMENT_BYTES)}",
            "pass large data as a file",
        )
    _check_files(spec.files)
    if not isinstance(spec.gpu_indices, tuple | list):
        raise JobStartError("the job's GPU indices are not a list", "send a list of numbers")
    for index in spec.gpu_indices:
        _check_int("a GPU index", index, 0, MAX_GPU_INDEX)
    if len(set(spec.gpu_indices)) != len(spec.gpu_indices):
        raise JobStartError("the job's GPU indices repeat", "name each GPU once")
    limits: tuple[tuple[str, int | None, int], ...] = (
        ("memory limit", spec.memory_bytes, MIN_MEMORY),
        ("CPU cores", spec.cpu_cores, 1),
        ("process limit", spec.processes, MIN_PROCESSES),
        ("open-file limit", spec.open_files, MIN_OPEN_FILES),
        ("disk limit", spec.disk_bytes, MIN_DISK),
    )
    for what, limit, least in limits:
        if limit is not None:
            _check_int(f"the job's {what}", limit, least, 2**62)
    if spec.archive is not None and (
        not isinstance(spec.archive, bytes) or len(spec.archive) > MAX_ARCHIVE_BYTES
    ):
        raise JobStartError(
            f"the job's folder is not an archive of at most {size_text(MAX_ARCHIVE_BYTES)}",
            "pack a smaller folder",
        )
    if spec.network is not None and spec.network not in NETWORKS:
        raise JobStartError(
            f"the job's network {spec.network!r} is unknown", f"use one of {', '.join(NETWORKS)}"
        )


def _check_int(what: str, value: object, least: int, most: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobStartError(f"{what} must be a whole number, not {type(value).__name__}", "")
    if not least <= value <= most:
        raise JobStartError(f"{what} must be between {least} and {most}, not {value}", "")


def _check_text(what: str, value: object, most_bytes: int) -> str:
    if not isinstance(value, str):
        raise JobStartError(f"{what} must be text, not {type(value).__name__}", "send a string")
    if "\x00" in value:
        raise JobStartError(f"{what} holds a NUL byte", "remove the NUL byte")
    try:
        encoded = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise JobStartError(f"{what} is not valid UTF-8 text ({exc.reason})", "") from exc
    if encoded > most_bytes:
        raise JobStartError(f"{what} is longer than {size_text(most_bytes)}", "shorten it")
    return value


def _check_variable_name(kind: str, name: object) -> None:
    text = _check_text(f"a {kind} name", name, 256)
    if not text:
        raise JobStartError(f"a {kind} name is empty", "name every variable")
    if "=" in text:
        raise JobStartError(
            f"{kind} name {text!r} holds '='", "a variable name cannot hold '='; rename it"
        )


def _check_files(files: object) -> None:
    if not isinstance(files, Mapping):
        raise JobStartError("the job's files are not a mapping", "send name: content pairs")
    if len(files) > MAX_FILES:
        raise JobStartError(f"the job has more than {MAX_FILES} files", "pack them into one")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for name, text in files.items():
        shown = repr(name)[:80]
        _check_text(f"job file name {shown}", name, MAX_NAME_BYTES)
        relative = PurePosixPath(name)
        parts = relative.parts
        if relative.is_absolute() or not parts or ".." in parts or parts == (".",):
            raise JobStartError(
                f"job file name {shown} leaves the working folder",
                "use a relative path without '..'",
            )
        if parts[0] in RESERVED_NAMES:
            raise JobStartError(
                f"job file name {shown} is the backend's own ({parts[0]}: the job's output)",
                "rename the file",
            )
        if any(len(p.encode()) > 255 for p in parts):
            raise JobStartError(f"job file name {shown} has a part over 255 bytes", "shorten it")
        if parts in seen:
            raise JobStartError(f"job file {shown} is given twice", "give each file once")
        seen.add(parts)
        content = _check_text(f"job file {shown}", text, MAX_FILES_BYTES)
        total += len(content.encode())
    for parts in seen:
        if any(parts[:i] in seen for i in range(1, len(parts))):
            raise JobStartError(
                f"job file {'/'.join(parts)!r} lies in a folder that is also given as a file",
                "rename one of them",
            )
    if total > MAX_FILES_BYTES:
        raise JobStartError(f"the job's files exceed {size_text(MAX_FILES_BYTES)}", "send less")


def unpack_folder(spec: JobSpec, work: Path, disk_bytes: int | None) -> None:
    """Unpack the spec's archive into the job's folder ``work``, within the archive's
    limits and the job's disk limit; a refusal is a :class:`JobStartError` that says
    what in the folder was wrong."""
    if spec.archive is None:
        return
    try:
        unpack(
            spec.archive, work, max_bytes=min(MAX_UNPACKED_BYTES, disk_bytes or MAX_UNPACKED_BYTES)
        )
    except ArchiveError as exc:
        raise JobStartError(f"the job's folder was refused: {exc.what}", exc.fix) from exc
