"""The sandbox a renter's job runs in (bubblewrap), and what this machine offers for it.

A job is someone else's code on the provider's machine. The local backend runs it
under ``bwrap`` (bubblewrap, the sandbox Flatpak uses), so that it sees:

- its own user namespace, as uid/gid 1000 with no capability and no way to make
  another user namespace (``--disable-userns``, bubblewrap >= 0.8);
- its own PID namespace: ``/proc`` is a fresh one that lists the job's processes
  only, and killing the namespace's init (the sandbox's pid 1) kills every process
  of the job, detached ones included;
- its own IPC, UTS and cgroup namespaces, and no network at all unless the
  provider allows the host's (``job_network = "host"``);
- the host's system read-only (``/usr``, ``/bin``, ``/lib*``, a few files of
  ``/etc``, the agent's Python so that ``python`` works), its own folder read-write
  as ``/job`` (its working folder and ``HOME``), a private ``/tmp``, a minimal
  ``/dev`` with the leased GPUs' device files only;
- nothing else: not the provider's data folder or keystore, not the agent's home,
  not other leases' folders, not the agent's environment.

:func:`sandbox_check` says what works here and what is missing, with the fix.
"""

from __future__ import annotations

import enum
import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from l2gpu.core.errors import L2gpuError

JOB_UID = 1000
JOB_GID = 1000
JOB_HOME = "/job"
JOB_TMP = "/tmp"  # noqa: S108 - the job's own /tmp, a private folder of its lease
JOB_SHM = "/dev/shm"  # noqa: S108 - a private tmpfs of the job's sandbox
HOSTNAME = "l2gpu-job"
NETWORKS = ("none", "host")
DEFAULT_NETWORK = "none"
"""No network unless the provider says so: a job on the host's network reaches the
provider's LAN, services on loopback (the agent's node, databases) and a cloud's
metadata endpoint (credentials), none of which a renter should touch."""
INSTALL_FIX = (
    "install bubblewrap: apt-get install bubblewrap (Debian, Ubuntu), "
    "dnf install bubblewrap (Fedora, RHEL), pacman -S bubblewrap (Arch); "
    "or, only if you trust every renter with this machine, run unsandboxed "
    "(--unsandboxed-i-trust-every-renter)"
)
USERNS_FIX = (
    "allow unprivileged user namespaces: sysctl -w user.max_user_namespaces=10000 "
    "(and kernel.unprivileged_userns_clone=1 on older Debian); on Ubuntu 24.04 also "
    "kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor profile for bwrap"
)
CGROUP_FIX = (
    "run the agent as root, or give it a delegated cgroup v2 folder (systemd: "
    "Delegate=yes) with no process in it and pass it as the cgroup parent"
)
MIN_VERSION = (0, 4, 0)
"""``--json-status-fd`` (how the agent learns the sandbox's init and exit code)."""

SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC_FILES = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "gai.conf",
    "host.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "pki/ca-trust",
    "pki/tls/certs",
    "pki/tls/openssl.cnf",
    "protocols",
    "services",
    "ssl/certs",
    "ssl/openssl.cnf",
    "timezone",
)
"""What a job sees of ``/etc``: what programs need to link, resolve names and check
certificates; never ``shadow``, ``ssl/private`` or the provider's own settings."""
GPU_SHARED_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")


class SandboxPolicy(enum.Enum):
    """How the local backend isolates jobs."""

    BWRAP = "bwrap"
    """Each job in a bubblewrap sandbox (the default)."""
    NONE_I_TRUST_EVERY_RENTER = "none-i-trust-every-renter"
    """No sandbox: a job runs as the agent's user and can read its keys. Only for a
    machine whose every renter the provider trusts with it."""


class SandboxUnavailable(L2gpuError):
    """The sandbox cannot run on this machine."""


@dataclass(frozen=True)
class Bwrap:
    """A bubblewrap binary and what its version can do."""

    path: str
    version: tuple[int, ...]

    @property
    def disable_userns(self) -> bool:
        """``--disable-userns``: a job cannot make a user namespace of its own."""
        return self.version >= (0, 8, 0)

    @property
    def tmpfs_size(self) -> bool:
        """``--size`` for a tmpfs (a bounded ``/dev/shm``)."""
        return self.version >= (0, 6, 0)


def find_bwrap(path: str | None = None) -> Bwrap | None:
    """bubblewrap at ``path`` or on PATH (or in /usr/bin); None when missing or too old."""
    found = path or shutil.which("bwrap") or _existing("/usr/bin/bwrap")
    if found is None:
        return None
    version = _version(found)
    if version is None or version < MIN_VERSION:
        return None
    return Bwrap(found, version)


def require_bwrap(path: str | None = None) -> Bwrap:
    """bubblewrap, or :class:`SandboxUnavailable` saying how to install it."""
    found = find_bwrap(path)
    if found is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap, at least 0.4) is not installed: renters' jobs cannot be "
            "sandboxed, and the local backend refuses to run them unsandboxed",
            INSTALL_FIX,
        )
    return found


@functools.lru_cache(maxsize=8)
def _version(path: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run(  # noqa: S603 - the provider's own bwrap
            [path, "--version"], capture_output=True, text=True, timeout=10, env={}, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if match is None:
        return None
    return tuple(int(x or 0) for x in match.groups())


def _existing(path: str) -> str | None:
    return path if os.access(path, os.X_OK) else None


@dataclass(frozen=True)
class SandboxMounts:
    """The host folders of one job's sandbox."""

    work: Path
    """Bound read-write as ``/job``: the job's files, its working folder and HOME."""
    tmp: Path
    """Bound read-write as ``/tmp``."""
    identity: Path
    """Generated ``passwd``, ``group``, ``hosts``, ``hostname`` (bound read-only in /etc)."""
    empty: Path | None = None
    """An empty file that covers, read-only, each ``masked`` name of ``/job``."""
    masked: tuple[str, ...] = ()
    """Files of ``work`` that are the backend's (the job's log): hidden from the job."""


def write_identity(folder: Path) -> None:
    """The job's view of who it is: user ``job`` (1000), host ``l2gpu-job``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "passwd": f"job:x:{JOB_UID}:{JOB_GID}:l2gpu job:{JOB_HOME}:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "group": f"job:x:{JOB_GID}:\nnogroup:x:65534:\n",
        "hosts": f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost ip6-localhost ip6-loopback\n",
        "hostname": f"{HOSTNAME}\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text)


def python_paths() -> list[Path]:
    """The agent's Python (its venv and the interpreter it was made from), read-only,
    so that ``python`` works in a job: only their bin and lib folders."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    prefixes.add(str(Path(sys.executable).parent.parent))
    found: list[Path] = []
    for prefix in sorted(prefixes):
        for root in dict.fromkeys([Path(prefix), Path(prefix).resolve()]):
            if _under_system(root):
                continue
            for sub in ("bin", "lib", "lib64", "pyvenv.cfg"):
                path = root / sub
                if path.exists() and path not in found:
                    found.append(path)
    return found


def _under_system(path: Path) -> bool:
    parts = path.parts
    return len(parts) > 1 and parts[1] in SYSTEM_DIRS


def gpu_device_nodes(
    indices: Iterable[int],
    dev: Path = Path("/dev"),
    driver: Path = Path("/proc/driver/nvidia/gpus"),
) -> list[tuple[Path, str]]:
    """(host device file, name in the sandbox's /dev) for the leased GPUs.

    NVML numbers GPUs in PCI bus order; the driver's device file of each is
    ``/dev/nvidia<minor>``, read from ``/proc/driver/nvidia/gpus/<bus>/information``
    (the index itself where the driver says nothing). The shared control files
    (``nvidiactl``, ``nvidia-uvm``) come along when at least one GPU is leased."""
    wanted = sorted(set(indices))
    if not wanted:
        return []
    minors = _minors_by_index(driver)
    nodes: list[tuple[Path, str]] = []
    for index in wanted:
        name = f"nvidia{minors.get(index, index)}"
        if (dev / name).exists():
            nodes.append((dev / name, name))
    for name in GPU_SHARED_NODES:
        if (dev / name).exists():
            nodes.append((dev / name, name))
    return nodes


def _minors_by_index(driver: Path) -> dict[int, int]:
    minors: dict[int, int] = {}
    try:
        buses = sorted(p for p in driver.iterdir() if p.is_dir())
    except OSError:
        return minors
    for index, bus in enumerate(buses):
        try:
            text = (bus / "information").read_text()
        except OSError:
            continue
        match = re.search(r"Device Minor:\s*(\d+)", text)
        if match:
            minors[index] = int(match.group(1))
    return minors


def bwrap_args(
    bwrap: Bwrap,
    mounts: SandboxMounts,
    *,
    network: str,
    status_fd: int,
    gpu_nodes: Sequence[tuple[Path, str]] = (),
    hidden: Sequence[Path] = (),
    extra_read_only: Sequence[Path] = (),
    shm_bytes: int | None = None,
) -> list[str]:
    """bwrap's command line up to (not including) the command; see the module's doc.

    ``hidden`` folders (the backend's root, the provider's data folder) are covered
    with an empty tmpfs wherever a read-only bind would have shown them."""
    if network not in NETWORKS:
        raise ValueError(f"job network must be one of {', '.join(NETWORKS)}, not {network!r}")
    args = [bwrap.path, "--unshare-user", "--uid", str(JOB_UID), "--gid", str(JOB_GID)]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    args += ["--hostname", HOSTNAME, "--new-session"]
    if bwrap.disable_userns:
        args.append("--disable-userns")
    if network == "none":
        args.append("--unshare-net")
    args += ["--json-status-fd", str(status_fd)]
    shown: list[Path] = []
    for name in SYSTEM_DIRS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
            shown.append(path)
    etc = list(ETC_FILES) + (["resolv.conf"] if network == "host" else [])
    for name in etc:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    for name in ("passwd", "group", "hosts", "hostname"):
        args += ["--ro-bind", str(mounts.identity / name), f"/etc/{name}"]
    for path in [*python_paths(), *extra_read_only]:
        args += ["--ro-bind-try", str(path), str(path)]
        shown.append(path)
    for path in hidden:
        if any(_inside(path, s) or _inside(path.resolve(), s) for s in shown):
            args += ["--tmpfs", str(path)]
    args += ["--bind", str(mounts.work), JOB_HOME, "--bind", str(mounts.tmp), JOB_TMP]
    if mounts.empty is not None:
        for name in mounts.masked:
            args += ["--ro-bind", str(mounts.empty), f"{JOB_HOME}/{name}"]
    args += ["--chdir", JOB_HOME, "--proc", "/proc", "--dev", "/dev"]
    if shm_bytes and bwrap.tmpfs_size:
        args += ["--size", str(shm_bytes), "--tmpfs", JOB_SHM]
    for host, name in gpu_nodes:
        args += ["--dev-bind", str(host), f"/dev/{name}"]
    args += ["--remount-ro", "/"]
    return args


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True
