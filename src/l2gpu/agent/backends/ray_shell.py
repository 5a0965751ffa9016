"""A renter's shell (``l2gpu ssh``) in a Ray backend's job, on the node that runs it.

The lease's job actor runs its job with the local backend on its node, so it opens the
shell there too, with the local backend's :meth:`open_shell`: in the job's sandbox,
cgroup and limits, with its variables (:mod:`.local_shell`). The actor holds the
shell's process and descriptors (:class:`ActorShells`); the agent drives it by actor
calls through a :class:`RayShell`, which has the interface of a local
:class:`~l2gpu.agent.backends.local_shell.ShellProcess`: the shell's output arrives
on pipes of the agent's own, filled by a thread that asks the actor for what the
shell wrote.

The job actor runs one call at a time (it is not a threaded actor), and the agent's
beats reach it between calls, so no shell call waits there: a read returns what is
there (the agent's thread waits between empty reads), and a write takes what the
shell's input has room for (the agent offers the rest again). A renter who pastes
more than the shell reads therefore holds only the agent's session thread, never the
job's actor and its dead-man beats.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

from l2gpu.agent.backends.base import JobSpec, JobStartError
from l2gpu.agent.backends.local_shell import ShellProcess
from l2gpu.core.market.shell import STDERR, STDOUT

if TYPE_CHECKING:
    from l2gpu.agent.backends.local import LocalBackend

READ_BYTES = 64 * 1024  # at most this much output per actor call
IDLE_WAIT_S = 0.05  # between the agent's empty reads: a key echoes within about this
CALL_TIMEOUT_S = 30.0


class ActorShells:
    """The shells of a job actor's lease (mixed into the actor, which has ``backend``,
    a local backend running the job, ``spec``, the job's, and ``lock``, held while
    either changes; the actor's __init__ sets ``shell_sessions`` empty)."""

    backend: LocalBackend
    spec: JobSpec | None
    lock: threading.Lock
    shell_sessions: dict[str, tuple[ShellProcess, dict[int, int]]]
    """Each session's shell and its outputs not yet at their end."""

    def open_shell(
        self, session: str, argv: list[str], env: dict[str, str], tty: tuple[int, int] | None
    ) -> tuple[str, str] | None:
        """Start the shell ``session`` in the job's sandbox; (what, fix) if it cannot."""
        with self.lock:
            if self.spec is None:
                return "the lease's job has not started", "rent again"
            try:
                shell = self.backend.open_shell(self.spec, argv, env, tty)
            except JobStartError as exc:
                return exc.what, exc.fix
            os.set_blocking(shell.stdin, False)  # a full input must not hold the actor
            self.shell_sessions[session] = (shell, dict(shell.outputs))
        return None

    def shell_read(self, session: str) -> list[tuple[int, bytes]] | None:
        """What the shell wrote since the last call, by stream, without waiting; None
        once every output ended (or the session is unknown)."""
        shell, live = self.shell_sessions.get(session, (None, {}))
        if shell is None or not live:
            return None
        found: list[tuple[int, bytes]] = []
        ready, _, _ = select.select(list(live), [], [], 0)
        for fd in ready:
            try:
                data = os.read(fd, READ_BYTES)
            except BlockingIOError:
                continue
            except OSError:  # a terminal whose every process is gone: EIO
                data = b""
            if data:
                found.append((live[fd], data))
            else:
                del live[fd]  # its descriptor stays open until the shell is killed
        return found if found or live else None

    def shell_write(self, session: str, data: bytes) -> int:
        """Give the shell as much of ``data`` as its input has room for; how much."""
        shell, _ = self.shell_sessions.get(session, (None, {}))
        if shell is None:
            raise JobStartError(f"shell session {session} is gone", "open another")
        try:
            return os.write(shell.stdin, data)
        except BlockingIOError:
            return 0

    def shell_close_input(self, session: str) -> None:
        """End the shell's input (see ShellProcess.close_input)."""
        shell, _ = self.shell_sessions.get(session, (None, {}))
        if shell is not None and shell.tty:
            with contextlib.suppress(BlockingIOError):
                os.write(shell.stdin, b"\x04")
        elif shell is not None:
            shell.close_input()

    def shell_resize(self, session: str, rows: int, cols: int) -> None:
        """The renter's window changed (see ShellProcess.resize)."""
        shell, _ = self.shell_sessions.get(session, (None, {}))
        if shell is not None:
            shell.resize(rows, cols)

    def shell_exit_code(self, session: str) -> int | None:
        """The shell's exit code; None while it runs."""
        shell, _ = self.shell_sessions.get(session, (None, {}))
        if shell is None:
            return 137  # killed, as a local shell killed reads
        code = shell.proc.poll()
        return None if code is None else (128 - code if code < 0 else code)

    def shell_kill(self, session: str | None = None) -> None:
        """Kill the shell ``session`` (every shell: None) and what it started."""
        with self.lock:
            ended = self._take_shells(session)
        for shell in ended:
            shell.kill()

    def _take_shells(self, session: str | None = None) -> list[ShellProcess]:
        """Forget the shell ``session`` (every shell: None) and return it to be killed
        (the caller holds ``lock``)."""
        names = list(self.shell_sessions) if session is None else [session]
        return [self.shell_sessions.pop(name)[0] for name in names if name in self.shell_sessions]


class RayShell:
    """The agent's handle on a shell its job actor runs: a ShellProcess's interface
    over actor calls (see the module)."""

    def __init__(self, ray: Any, actor: Any, session: str, tty: bool) -> None:
        self.ray, self.actor, self.session, self.tty = ray, actor, session, tty
        self.proc = None  # the shell's process is the actor's, on the job's node
        streams = (STDOUT,) if tty else (STDOUT, STDERR)
        pipes = {stream: os.pipe() for stream in streams}
        self.outputs = {read: stream for stream, (read, _) in pipes.items()}
        """Readable descriptors and the stream each carries."""
        self._writers = {stream: write for stream, (_, write) in pipes.items()}
        self._ended = threading.Event()
        self._pump = threading.Thread(target=self._pump_output, name="ray-shell", daemon=True)
        self._pump.start()

    def write(self, data: bytes) -> None:
        """Input for the shell (blocking while its input is full)."""
        view = memoryview(data)
        while view and not self._ended.is_set():
            taken = self._call("shell_write", bytes(view))
            view = view[taken:]
            if not taken:
                time.sleep(IDLE_WAIT_S)  # the shell reads its input at its own pace

    def close_input(self) -> None:
        """The renter's input ended: end-of-file (Ctrl-D under a terminal)."""
        self._call("shell_close_input")

    def resize(self, rows: int, cols: int) -> None:
        """The renter's window changed: the shell's terminal follows (SIGWINCH)."""
        if self.tty:
            self._call("shell_resize", rows, cols)

    def wait(self, timeout: float | None = None) -> int:
        """The shell's exit code (128 + the signal if a signal ended it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self._call("shell_exit_code")) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["ssh", self.session], timeout or 0)
            time.sleep(IDLE_WAIT_S)  # a process on another node exiting
        return int(code)

    def kill(self) -> None:
        """Kill the shell and every process it started, and close the descriptors."""
        self._ended.set()
        for fd in self.outputs:  # first: a pump blocked on a full pipe fails and ends
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(Exception):  # the actor may be gone with its node
            self._call("shell_kill")
        self._pump.join(CALL_TIMEOUT_S)

    def _pump_output(self) -> None:
        """Copy what the shell writes to the agent's pipes, until it ends."""
        try:
            while not self._ended.is_set():
                found = self._call("shell_read")
                if found is None:
                    return
                for stream, data in found:
                    view = memoryview(data)
                    while view:  # blocks while the session's reader is behind
                        view = view[os.write(self._writers[stream], view) :]
                if not found:
                    time.sleep(IDLE_WAIT_S)  # nothing yet: the actor does not wait
        except Exception:  # noqa: S110 - the actor is gone: the outputs end
            pass
        finally:
            for fd in self._writers.values():  # end of file for the session's reader
                os.close(fd)

    def _call(self, method: str, *args: Any) -> Any:
        try:
            ref = getattr(self.actor, method).remote(self.session, *args)
            return self.ray.get(ref, timeout=CALL_TIMEOUT_S)
        except Exception as exc:  # Ray raises many kinds: the session ends as on a pipe's
            raise OSError(f"the job's actor did not answer {method}: {exc}") from exc
