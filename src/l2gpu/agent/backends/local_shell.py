"""A renter's shell (``l2gpu ssh``) inside a local job's sandbox.

The shell joins the job where it runs: the same namespaces (user, mount, network, IPC,
UTS, cgroup and PID: it sees the job's files as ``/job``, its ``/tmp``, its network or
none, its processes, as uid 1000 with no capability), the same cgroup (the job's
memory, process and CPU limits count the shell too), the same rlimits, CPU affinity,
working folder and environment as the job's own command. Nothing of the agent's
environment reaches it, and its environment is never logged.

A small launcher (the agent's Python, ``-I -S``) reads its configuration from a file
descriptor, like the job's launcher, so the job's variables and secrets are never on a
command line that every user of the host can read; then:

1. it enters the job's namespaces (``setns``), taken from the job's oldest process
   (its user namespace last: bubblewrap nests it in the sandbox's own, which owns the
   other namespaces);
2. it forks a child, which makes a PID namespace of its own inside the job's and forks
   its pid 1: the shell runs under that pid 1. When the shell exits, its pid 1 exits,
   and the kernel kills every process left in that namespace, detached and
   double-forked ones included; each level dies with its parent
   (``PR_SET_PDEATHSIG``), so :meth:`ShellProcess.kill` of the launcher ends them all.

Unsandboxed (the provider trusts every renter), the shell is a plain process of the
agent's user in the job's folder, under the same two levels; the lower one is a child
subreaper (the shell's orphans become its children) and kills every process left when
the shell exits; :meth:`ShellProcess.kill` kills the launcher's every descendant.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

from l2gpu.agent.backends.cgroups import join
from l2gpu.agent.backends.deadman import descendants, group
from l2gpu.core.market.shell import STDERR, STDOUT

KILL_WAIT_S = 2.0
NAMESPACES = ("mnt", "net", "ipc", "uts", "cgroup", "pid")

_LAUNCHER = r"""
import ctypes, json, os, resource, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
def fail(what):
    os.write(2, ("l2gpu ssh: " + what + "\r\n").encode())
    os._exit(125)
def die_with_parent():
    # the parent may be outside this process's PID namespace (its pid reads 0): what
    # matters is that it did not change, i.e. did not die before the death signal was set
    parent = os.getppid()
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(137)
def code_of(status):
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
data, fd = b"", int(sys.argv[1])
while True:
    chunk = os.read(fd, 1 << 20)
    if not chunk:
        break
    data += chunk
os.close(fd)
job = json.loads(data)
if job["target"] is not None:
    # every namespace is opened before any is entered: once in the sandbox's user
    # namespace, the host's /proc files of its other namespaces may not be entered
    opened, seen = [], set()
    for pid, name in job["namespaces"]:
        path = "/proc/%d/ns/%s" % (pid, name)
        try:
            which = os.readlink(path)
        except FileNotFoundError:
            continue
        if which not in seen:
            seen.add(which)
            opened.append((name, os.open(path, os.O_RDONLY)))
    # Who owns the other namespaces depends on how bubblewrap ran: as root, the host's
    # user namespace (enter them first, with the host's capabilities); else the
    # sandbox's (enter them once inside it). So: all but the user namespaces, then the
    # user namespaces, then again those that failed, as nsenter(1) does.
    todo = [(name, ns) for name, ns in opened if name != "user"]
    later = [(name, ns) for name, ns in opened if name == "user"]
    for _ in range(2):
        failed = []
        for name, ns in todo:
            if libc.setns(ns, 0) != 0:
                failed.append((name, ns, os.strerror(ctypes.get_errno())))
        for name, ns in later:
            if libc.setns(ns, 0) != 0:
                fail("cannot enter the job's user namespace: " + os.strerror(ctypes.get_errno()))
        todo, later = [(name, ns) for name, ns, _ in failed], []
    if failed:
        fail("cannot enter the job's %s namespace: %s" % (failed[0][0], failed[0][2]))
    for _, ns in opened:
        os.close(ns)
os.chdir(job["cwd"])
child = os.fork()
if child:
    signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGKILL))
    os._exit(code_of(os.waitpid(child, 0)[1]))
die_with_parent()
if job["target"] is not None and libc.unshare(0x20000000) != 0:  # CLONE_NEWPID
    fail("cannot make the shell's PID namespace: " + os.strerror(ctypes.get_errno()))
init = os.fork()
if init:
    os._exit(code_of(os.waitpid(init, 0)[1]))
die_with_parent()
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: the shell's orphans come here
def strays():
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                if f.read().rsplit(")", 1)[1].split()[1] == me:
                    found.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return found
shell = os.fork()
if shell:
    while True:  # reap orphans until the shell exits
        pid, status = os.wait()
        if pid == shell:
            break
    # In a PID namespace of its own (sandboxed), this process is its pid 1 and the
    # kernel kills the rest as it exits; unsandboxed, it kills them itself: each stray's
    # children come here in turn as it dies.
    for _ in range(1000 if job["target"] is None else 0):  # (its /proc is the job's)
        left = strays()
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
    os._exit(code_of(status))
os.setsid()
if job["tty"]:
    import fcntl, termios
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
for name, value in job["rlimits"]:
    which = getattr(resource, name)
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY and value > hard:
        value = hard
    resource.setrlimit(which, (value, value))
if job["cpus"]:
    os.sched_setaffinity(0, job["cpus"])
libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: no setuid binary gains anything
os.execve(job["argv"][0], job["argv"], job["env"])
"""


class ShellProcess:
    """A shell started by :func:`start_shell`: its input, its outputs, its end."""

    def __init__(
        self, proc: subprocess.Popen[bytes], stdin: int, outputs: dict[int, int], tty: bool
    ) -> None:
        self.proc = proc
        self.stdin = stdin
        self.outputs = outputs
        """Readable descriptors and the stream each carries."""
        self.tty = tty

    def write(self, data: bytes) -> None:
        """Input for the shell (blocking while its buffer is full)."""
        view = memoryview(data)
        while view:
            view = view[os.write(self.stdin, view) :]

    def close_input(self) -> None:
        """The renter's input ended: end-of-file (Ctrl-D under a terminal)."""
        if self.tty:
            self.write(b"\x04")
        elif self.stdin >= 0:
            # Forgotten as it is closed: kill() closed it again, by then perhaps another
            # thread's new descriptor of the same number (the agent's engine calls').
            fd, self.stdin = self.stdin, -1
            with contextlib.suppress(OSError):
                os.close(fd)

    def resize(self, rows: int, cols: int) -> None:
        """The renter's window changed: the shell's terminal follows (SIGWINCH)."""
        if self.tty:
            fcntl.ioctl(self.stdin, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def wait(self, timeout: float | None = None) -> int:
        """The shell's exit code (128 + the signal if a signal ended it)."""
        code = self.proc.wait(timeout)
        return 128 - code if code < 0 else code

    def kill(self) -> None:
        """Kill the shell and every process it started, and close its descriptors."""
        pids = descendants(self.proc.pid) | group(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(KILL_WAIT_S)
        for fd in {self.stdin, *self.outputs} - {-1}:
            with contextlib.suppress(OSError):
                os.close(fd)


def start_shell(
    *,
    target: tuple[int, int] | None,
    cwd: str,
    launch_from: Path,
    argv: list[str],
    env: dict[str, str],
    rlimits: list[tuple[str, int]],
    cpus: list[int],
    cgroup_procs: list[str],
    tty: tuple[int, int] | None,
) -> ShellProcess:
    """Start ``argv`` in the namespaces of ``target`` = (the sandbox's init, the job's
    oldest process), or unsandboxed when None, under a
    terminal of ``tty`` = (rows, columns), or over pipes when None."""
    # The sandbox's user namespace (its init's), and the job's where bubblewrap nests
    # one more (--disable-userns on some versions): the shell ends in the innermost.
    entries = [] if target is None else [(target[0], "user")]
    entries += [(target[1], name) for name in NAMESPACES] if target else []
    entries += [(target[1], "user")] if target else []
    config = {
        "target": target,
        "namespaces": entries,
        "cwd": cwd,
        "argv": argv,
        "env": env,
        "rlimits": rlimits,
        "cpus": cpus,
        "tty": tty is not None,
    }
    config_fd = memfd(json.dumps(config).encode())
    try:
        return spawn_shell(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(config_fd)],
            cwd=launch_from,
            env={},  # nothing of the agent's: the shell's own comes through the config
            tty=tty,
            pass_fds=(config_fd,),
            preexec_fn=(lambda: join(cgroup_procs)) if cgroup_procs else None,
        )
    finally:
        os.close(config_fd)


def spawn_shell(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    tty: tuple[int, int] | None,
    pass_fds: tuple[int, ...] = (),
    preexec_fn: Callable[[], None] | None = None,
    controlling: bool = False,
) -> ShellProcess:
    """Start ``command`` in a session of its own with ``env`` only, under a new terminal
    of ``tty`` = (rows, columns) (its size set before it starts), or over three pipes
    when None (its output and errors apart). ``controlling``: the terminal becomes the
    command's controlling one, for a client that forwards the window's size (``docker
    exec -t`` reads it there, and hears SIGWINCH when :meth:`ShellProcess.resize`
    changes it); the local launcher takes it itself, lower down."""
    if tty is not None:
        master, slave = os.openpty()
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", *tty, 0, 0))
        stdin, outputs, theirs = master, {master: STDOUT}, [slave, slave, slave]
    else:
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        stdin, outputs, theirs = in_w, {out_r: STDOUT, err_r: STDERR}, [in_r, out_w, err_w]
    steps = [_take_terminal] if controlling and tty is not None else []
    steps += [preexec_fn] if preexec_fn is not None else []

    def prepare() -> None:  # in the child, after its descriptors and its setsid
        for step in steps:
            step()

    try:
        proc = subprocess.Popen(  # noqa: S603 - the renter's shell is the point
            command,
            cwd=cwd,
            env=env,
            stdin=theirs[0],
            stdout=theirs[1],
            stderr=theirs[2],
            start_new_session=True,
            pass_fds=pass_fds,
            preexec_fn=prepare if steps else None,  # none unless needed: it forbids vfork
        )
    except BaseException:
        for fd in {stdin, *outputs}:
            os.close(fd)
        raise
    finally:
        for fd in set(theirs):
            os.close(fd)
    return ShellProcess(proc, stdin, outputs, tty is not None)


def _take_terminal() -> None:
    """In the child, after its setsid: its standard input's terminal becomes its
    controlling terminal (a session leader's, so SIGWINCH reaches it)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def memfd(data: bytes) -> int:
    """An anonymous file holding ``data``, read from its start by whoever inherits it
    (a job's or a shell's launcher reads its configuration so)."""
    fd = os.memfd_create("l2gpu-job", 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def oldest_process(init: int) -> int:
    """The job's first process under the sandbox's init (its command), else the init:
    the one whose namespaces the job's processes are in."""
    found = sorted(descendants(init), key=_start)
    return found[0] if found else init


def _start(pid: int) -> float:
    try:
        return float(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return time.monotonic() * 1e9
