"""The agent's side of ``l2gpu ssh``: shells inside the sandboxes of the leases it runs.

The agent opens no port: it asks the market which shell sessions wait for it (``GET
/agent/shells``, once a second, off the metering loop when it runs as a daemon), checks
each request itself (signed by the renter the market named when the lease began, fresh,
its nonce unseen, for a lease this agent runs now), then connects out to the market's
relay for that session and starts the shell through the backend, inside the job's
sandbox (:mod:`l2gpu.agent.backends.local_shell`; through the job's actor on its Ray
node, :mod:`l2gpu.agent.backends.ray_shell`) or its container
(:mod:`l2gpu.agent.backends.container_shell`). A backend without shells answers the
renter why.

Each session runs in two threads of its own: one passes the shell's output to the
relay, the other the renter's input, window size and end-of-input to the shell. The
shell and every process it started are killed when either side closes, when the shell
exits, and when its lease ends (:meth:`LeaseShells._tend_shells`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from l2gpu.agent.backends import Backend, JobSpec
from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.shell import (
    STDIN,
    SeenRequests,
    ShellError,
    ShellRequest,
    check_size,
    parse_request,
    request_problem,
)
from l2gpu.core.types import Address
from l2gpu.shell_link import ShellLink, open_link
from l2gpu.wire import AgentLease, AgentShell

log = logging.getLogger(__name__)
SHELL_POLL_S = 1.0
READ_BYTES = 16 * 1024
EXIT_WAIT_S = 5.0
MAX_SHELLS = 64
"""Shell sessions this agent serves (or tells why not) at once, all leases together
(the market allows 2 per lease)."""


def shell_argv(request: ShellRequest, *, agent_bin: bool = True) -> list[str]:
    """What runs: the renter's command under ``/bin/sh -c``, else an interactive shell:
    bash where the agent's host has it, when the shell sees the agent's ``/bin``
    (``agent_bin``: the local sandbox shows the host's), else bash where the shell's own
    ``/bin`` has it (a container's image, a Ray node), else sh."""
    if request.command:
        return ["/bin/sh", "-c", request.command]
    if not agent_bin:  # that /bin is out of the agent's sight: the shell looks
        return ["/bin/sh", "-c", "command -v bash >/dev/null 2>&1 && exec bash -i; exec sh -i"]
    if Path("/bin/bash").exists():
        return ["/bin/bash", "-i"]
    return ["/bin/sh", "-i"]


class ShellSession:
    """One renter's shell: the relay's websocket and the shell's process."""

    def __init__(self, lease_id: int) -> None:
        self.link: ShellLink | None = None
        self.shell: Any = None
        self.lease_id = lease_id
        self.ended = threading.Event()
        self._lock = threading.Lock()

    def attach(self, link: ShellLink | None = None, shell: Any = None) -> bool:
        """Give the session its websocket, then its shell, as the session's thread gets
        them; False (and both closed) when the session ended meanwhile (its lease)."""
        with self._lock:
            self.link = link or self.link
            self.shell = shell or self.shell
            if not self.ended.is_set():
                return True
        self.ended.clear()
        self.end()
        return False

    def run(self) -> None:
        """Relay until the shell exits or the renter leaves; then kill what is left
        (the link and the shell are attached)."""
        output = threading.Thread(target=self._output, name="shell-out", daemon=True)
        output.start()
        try:
            self._input()
        except (L2gpuError, OSError) as exc:
            log.info("lease %s: shell session ended: %s", self.lease_id, exc)
        finally:
            self.end()
            output.join(EXIT_WAIT_S)

    def end(self, why: str = "") -> None:
        """Kill the shell and every process it started; tell the renter ``why`` (when
        it is not the shell's own end); close the websocket."""
        with self._lock:
            if self.ended.is_set():
                return
            self.ended.set()
            shell, link = self.shell, self.link
        if shell is not None:
            shell.kill()
        if link is not None:
            with contextlib.suppress(Exception):
                if why:
                    link.send_control("error", error=why, fix="rent again to run more", status=409)
                link.close()

    def _input(self) -> None:
        assert self.link is not None  # attached before run
        assert self.shell is not None
        while not self.ended.is_set():
            message = self.link.receive()
            if message is None:  # the renter left, or the relay ended the session
                return
            if isinstance(message, tuple):
                if message[0] == STDIN:
                    self.shell.write(message[1])
            elif message.get("kind") == "resize":
                self.shell.resize(*check_size(message.get("rows"), message.get("cols")))
            elif message.get("kind") == "eof":
                self.shell.close_input()

    def _output(self) -> None:
        assert self.link is not None  # attached before run
        assert self.shell is not None
        fds = dict(self.shell.outputs)
        try:
            while fds and not self.ended.is_set():
                ready, _, _ = select.select(list(fds), [], [], 0.5)
                for fd in ready:
                    try:
                        data = os.read(fd, READ_BYTES)
                    except OSError:  # a terminal whose every process is gone: EIO
                        data = b""
                    if data:
                        self.link.send_data(fds[fd], data)
                    else:
                        del fds[fd]
            if not self.ended.is_set():
                self.link.send_control("exit", code=self.shell.wait(EXIT_WAIT_S))
        except Exception as exc:  # the relay went away, or the shell would not exit
            log.info("lease %s: shell output ended: %s", self.lease_id, exc)
        finally:
            self.end()


class LeaseShells:
    """Shell sessions (mixed into ProviderAgent, whose fields these are)."""

    client: MarketClient
    backend: Backend
    clock: Callable[[], int]
    served: dict[int, Any]
    _last_info: dict[int, AgentLease]
    background_closes: bool
    _shells: dict[int, ShellSession]
    _shell_nonces: SeenRequests
    _shells_polled: float
    _shell_poll: Future[list[AgentShell]] | None
    _shell_pool: ThreadPoolExecutor | None

    def _spec(self, info: AgentLease) -> JobSpec:
        """The lease's job spec (ProviderAgent's own)."""
        raise NotImplementedError

    def _tend_shells(self) -> None:
        """End the shells of leases that ended; start those asked of this agent."""
        for session_id, session in list(self._shells.items()):
            if session.lease_id not in self.served:
                session.end(f"lease {session.lease_id} ended: its shell is closed")
            if session.ended.is_set():
                del self._shells[session_id]
        poll = self._shell_poll
        if poll is not None and poll.done():
            self._shell_poll = None
            for asked in poll.result():
                self._answer_shell(asked)
        if poll is None and time.monotonic() - self._shells_polled >= SHELL_POLL_S:
            self._shells_polled = time.monotonic()
            if self.background_closes:  # a slow market must not hold the metering loop
                self._shell_poll = self._shell_workers().submit(self._read_shells)
            else:
                for asked in self._read_shells():
                    self._answer_shell(asked)

    def end_shells(self, lease_id: int | None = None) -> None:
        """Kill the shells of ``lease_id`` (of every lease: the agent shuts down), before
        its job stops, so that the renter reads why rather than a killed shell's code."""
        if lease_id is None and self._shell_pool is not None:
            self._shell_pool.shutdown(wait=False, cancel_futures=True)
            self._shell_pool = None
        for session in list(self._shells.values()):
            if lease_id is None:
                session.end("the provider's agent shut down: the shell is closed")
            elif session.lease_id == lease_id:
                session.end(f"lease {lease_id} ended: its shell is closed")

    def _read_shells(self) -> list[AgentShell]:
        try:
            return self.client.agent_shells()
        except L2gpuError as exc:
            log.warning("shell requests not read: %s", exc.what)
            return []

    def _answer_shell(self, asked: AgentShell) -> None:
        if asked.id in self._shells:
            return
        if len(self._shells) >= MAX_SHELLS:
            # Attacked: each session the market listed got a thread and a websocket of
            # its own, a refused one too (to tell the renter why), so a market listing
            # made-up sessions had the agent start threads without end. Bounded now,
            # well above the 2 per lease an honest market lets renters open.
            log.warning("shell session %s not answered: %s at once already", asked.id, MAX_SHELLS)
            return
        now = self.clock()
        try:
            request = parse_request(asked.model_dump())
        except ShellError as exc:
            log.warning("shell session %s refused: %s", asked.id, exc.what)
            return
        problem = self._shell_problem(request, now)
        spec = None if problem else self._spec(self._last_info[request.lease_id])
        # The session's threads do the connecting: a relay that is slow to answer must
        # not hold the metering loop either.
        thread = threading.Thread(
            target=self._serve_shell, args=(asked.id, request, spec, problem), daemon=True
        )
        self._shells[asked.id] = ShellSession(request.lease_id)
        thread.start()

    def _shell_problem(self, request: ShellRequest, now: int) -> str | None:
        """Why this agent must not open the shell; None when it may."""
        info = self._last_info.get(request.lease_id)
        if info is None or request.lease_id not in self.served:
            return f"this provider runs no job of lease {request.lease_id} now"
        problem = request_problem(request, renter=Address.from_hex(info.renter), now=now)
        if problem is not None:
            return problem
        used = self._shell_nonces.use(request, now)
        if used is not None:
            return used
        if getattr(self.backend, "open_shell", None) is None:
            return (
                f"this provider's {self.backend.name} backend has no shells: its leases "
                "cannot be entered with 'l2gpu ssh' (local, container and Ray leases can)"
            )
        return None

    def _serve_shell(
        self, session_id: int, request: ShellRequest, spec: JobSpec | None, problem: str | None
    ) -> None:
        session = self._shells.get(session_id)
        if session is None or session.ended.is_set():  # its lease ended meanwhile
            return
        try:
            link = open_link(self.client, f"/agent/shells/{session_id}")
        except L2gpuError as exc:
            log.warning("shell session %s: the relay is unreachable: %s", session_id, exc.what)
            self._shell_nonces.forget(request)  # the next poll may try it again
            session.end()
            return
        if problem is None and spec is not None:
            try:
                tty = None if request.command else (request.rows, request.cols)
                env = {} if request.command else {"TERM": request.term}
                opener = self.backend.open_shell  # type: ignore[attr-defined]
                argv = shell_argv(request, agent_bin=self.backend.name == "local")
                shell = opener(spec, argv, env, tty)
            except (L2gpuError, OSError) as exc:
                problem = f"the shell could not start: {exc}"
        if problem is not None:
            log.info(
                "shell session %s of lease %s refused: %s", session_id, request.lease_id, problem
            )
            with contextlib.suppress(Exception):
                link.send_control("error", error=problem, fix="see 'l2gpu ssh --help'", status=403)
            session.attach(link)
            session.end()
            return
        if not session.attach(link, shell):
            return
        log.info(
            "lease %s: shell session %s open (%s)",
            request.lease_id,
            session_id,
            "a command" if request.command else "interactive",
        )
        link.send_control("ready")
        session.run()

    def _shell_workers(self) -> ThreadPoolExecutor:
        if self._shell_pool is None:
            self._shell_pool = ThreadPoolExecutor(1, thread_name_prefix="shells")
        return self._shell_pool
