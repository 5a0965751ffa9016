"""What this machine offers the sandbox: bubblewrap and its version, user namespaces
(a test job run in a real sandbox), and the cgroup limits the jobs get, each a
:class:`Check` with its fix (``l2gpu provider check``; a provider starts only where
every required one holds)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from l2gpu.agent.backends.cgroups import find_cgroups
from l2gpu.agent.sandbox import (
    CGROUP_FIX,
    INSTALL_FIX,
    JOB_UID,
    USERNS_FIX,
    Bwrap,
    SandboxMounts,
    bwrap_args,
    find_bwrap,
    write_identity,
)


@dataclass(frozen=True)
class Check:
    """One thing the sandbox needs or uses: whether it works here, and the fix if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


@dataclass(frozen=True)
class SandboxReport:
    """What :func:`sandbox_check` found."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when jobs can run sandboxed here (every required check passed)."""
        return all(c.ok for c in self.checks if c.required)

    def missing(self) -> list[Check]:
        """The checks that failed, required or not."""
        return [c for c in self.checks if not c.ok]

    def lines(self) -> list[str]:
        """One line per check, for a terminal: ``ok``/``MISSING``/``weaker``, then the fix."""
        out = []
        for c in self.checks:
            mark = "ok     " if c.ok else ("MISSING" if c.required else "weaker ")
            out.append(f"{mark} {c.name}: {c.detail}" + (f" -> {c.fix}" if c.fix else ""))
        return out


def sandbox_check(
    bwrap_path: str | None = None, *, cgroup_parent: Path | None = None, dev: Path = Path("/dev")
) -> SandboxReport:
    """Whether this machine can sandbox jobs, and how well: bubblewrap and its version,
    user, PID and network namespaces (by running a real sandbox), the cgroups that
    back the memory, process and CPU limits, and the GPUs' device files."""
    checks: list[Check] = []
    bwrap = find_bwrap(bwrap_path)
    if bwrap is None:
        missing = "bwrap not found (or older than 0.4)"
        checks.append(Check("bubblewrap", False, missing, INSTALL_FIX))
    else:
        version = ".".join(map(str, bwrap.version))
        checks.append(Check("bubblewrap", True, f"{bwrap.path} {version}"))
        checks.append(
            Check(
                "no nested user namespaces",
                bwrap.disable_userns,
                "--disable-userns" if bwrap.disable_userns else f"bubblewrap {version} < 0.8",
                "" if bwrap.disable_userns else "upgrade bubblewrap to 0.8 or later",
                required=False,
            )
        )
        checks.append(_run_check(bwrap))
    checks.extend(_limit_checks(cgroup_parent))
    nodes = sorted(p.name for p in dev.glob("nvidia*") if p.name[6:].isdigit())
    checks.append(
        Check(
            "GPU device files",
            True,
            ", ".join(f"/dev/{n}" for n in nodes) if nodes else "none (no NVIDIA GPU: CPU leases)",
            required=False,
        )
    )
    return SandboxReport(tuple(checks))


def _run_check(bwrap: Bwrap) -> Check:
    name = "user, PID, IPC, UTS and network namespaces"
    with tempfile.TemporaryDirectory(prefix="l2gpu-sandbox-check-") as folder:
        mounts = SandboxMounts(Path(folder) / "work", Path(folder) / "tmp", Path(folder) / "etc")
        mounts.work.mkdir()
        mounts.tmp.mkdir()
        write_identity(mounts.identity)
        status = os.open(Path(folder) / "status", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            args = bwrap_args(bwrap, mounts, network="none", status_fd=status)
            probe = "import os; print(os.getuid(), sum(p.isdigit() for p in os.listdir('/proc')))"
            done = subprocess.run(  # noqa: S603 - our own probe
                [*args, sys.executable, "-I", "-S", "-c", probe],
                capture_output=True,
                text=True,
                timeout=30,
                env={},
                pass_fds=(status,),
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return Check(name, False, f"bwrap did not run: {exc}", USERNS_FIX)
        finally:
            os.close(status)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return Check(name, False, f"a test sandbox failed: {said}", USERNS_FIX)
    uid, _, count = done.stdout.strip().partition(" ")
    if uid != str(JOB_UID):
        return Check(name, False, f"the job ran as uid {uid}, not {JOB_UID}", USERNS_FIX)
    return Check(name, True, f"a test job ran as uid {uid} and saw {count} process(es) in /proc")


def _limit_checks(cgroup_parent: Path | None) -> list[Check]:
    probe = find_cgroups(cgroup_parent)
    cg = probe.cgroups
    have = set(cg.controllers) if cg else set()
    where = f"cgroup v{cg.version}" if cg else ""
    root = os.geteuid() == 0
    checks = [
        Check(
            "cgroups",
            cg is not None,
            f"{where}: {', '.join(sorted(have))}" if cg else probe.problem,
            "" if cg else CGROUP_FIX,
            required=False,
        )
    ]
    if "memory" in have:
        checks.append(Check("memory limit", True, f"{where} memory limit; OOM kills reported"))
    else:
        checks.append(
            Check(
                "memory limit",
                False,
                "RLIMIT_AS only: it bounds address space, not memory in use, and CUDA jobs "
                "(which reserve large address ranges) may fail to start under it",
                CGROUP_FIX,
                required=False,
            )
        )
    if "pids" in have:
        checks.append(Check("process limit", True, f"{where} pids.max"))
    elif not root:
        checks.append(Check("process limit", True, "RLIMIT_NPROC in the job's user namespace"))
    else:
        checks.append(
            Check(
                "process limit",
                False,
                "not enforced: the kernel exempts root (the agent's user) from RLIMIT_NPROC "
                "and there is no pids cgroup",
                CGROUP_FIX,
                required=False,
            )
        )
    if "cpu" in have:
        checks.append(Check("CPU limit", True, f"{where} CPU quota (cores x 100 ms per 100 ms)"))
    else:
        checks.append(
            Check(
                "CPU limit",
                False,
                "CPU affinity only: a job may widen it",
                CGROUP_FIX,
                required=False,
            )
        )
    checks.append(
        Check(
            "open files and disk",
            True,
            "RLIMIT_NOFILE; RLIMIT_FSIZE per file and the agent measuring the job's "
            "folders (a job past its disk limit is stopped)",
            required=False,
        )
    )
    return checks
