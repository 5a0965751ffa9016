"""The market's relay for ``l2gpu ssh``: it pairs a renter's websocket with the one the
provider's agent opens for that session, and passes messages between them.

Websockets rather than HTTP long-polls: a shell is interactive (a key press should
echo in one round trip, not one poll period), the relay then holds no buffer of its
own (each message is sent on before the next is read, so a slow side slows the other
through TCP), and both ends are outbound connections from the renter and the agent.
uvicorn serves websockets with the ``websockets`` package, which the clients use too.

1. The renter connects to ``/jobs/{lease}/shell`` with its bearer token and sends the
   signed opening request (:mod:`l2gpu.core.market.shell`). The relay takes it only
   from the lease's renter, while the lease runs, signed by the renter, fresh and with
   a nonce it has not seen; at most :data:`MAX_SESSIONS_PER_LEASE` per lease,
   :data:`MAX_CONNECTIONS_PER_ACCOUNT` websockets per account (opening ones included)
   and :data:`MAX_CONNECTIONS` in all.
2. The agent lists the sessions waiting for it (``GET /agent/shells``), checks the
   signature itself and connects to ``/agent/shells/{session}``: only the provider of
   the session's lease may, once.
3. Messages pass until either side closes, the lease ends (checked every
   :data:`LEASE_CHECK_S`), or nothing moved for :data:`IDLE_S`; each message is at most
   :data:`MAX_FRAME` bytes and of the kinds its direction may carry, else the session
   ends with an error naming it. An agent that does not connect within
   :data:`ANSWER_WITHIN_S` ends the session with an error.

The sessions live in this process's memory: the market API is one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from asyncio import FIRST_COMPLETED
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from l2gpu.api.leases import lease_of_party
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.shell import (
    ANSWER_WITHIN_S,
    IDLE_S,
    MAX_FRAME,
    MAX_SESSIONS_PER_LEASE,
    STDERR,
    STDIN,
    STDOUT,
    SeenRequests,
    ShellError,
    ShellRequest,
    check_size,
    control,
    parse_control,
    parse_frame,
    parse_request,
    request_problem,
)
from l2gpu.core.types import Address
from l2gpu.db.market_models import LeaseRow
from l2gpu.serving.errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unavailable,
)

LEASE_CHECK_S = 2.0
OPEN_WITHIN_S = 10.0
"""How long a renter's connection may take to send its opening request."""
MAX_CONNECTIONS = 1024
"""Renter websockets the relay holds at once, all accounts together (each pairs with at
most one agent's): the market process's bound on the shells it relays."""
MAX_CONNECTIONS_PER_ACCOUNT = 8
"""Renter websockets one account holds at once, across all its leases."""
RENTER_SENDS = {"resize", "eof"}
AGENT_SENDS = {"ready", "exit", "error"}


@dataclass
class _Session:
    id: int
    lease_id: int
    provider: bytes
    renter: Address
    request: ShellRequest
    agent: asyncio.Future[WebSocket]
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ShellRelay:
    """The shells being relayed, in this process's memory."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], int],
        caller: Callable[[str | None], Address],
        idle_s: float = IDLE_S,
        answer_within_s: float = ANSWER_WITHIN_S,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.caller = caller
        self.idle_s = idle_s
        self.answer_within_s = answer_within_s
        self.max_connections = MAX_CONNECTIONS
        self.max_per_account = MAX_CONNECTIONS_PER_ACCOUNT
        self.sessions: dict[int, _Session] = {}
        self._seen = SeenRequests()
        self.connections: dict[Address, int] = {}
        """The renter websockets open now, per account (waiting for their opening
        request, for the agent, or relaying)."""
        self._ids = itertools.count(1)

    # -- the renter ----------------------------------------------------------------------

    async def serve_renter(self, ws: WebSocket, lease_id: int) -> None:
        """A renter's session, from its opening request to its end."""
        await ws.accept()
        session = counted = None
        try:
            renter = await run_in_threadpool(self._who, ws)
            self._count_in(renter)
            counted = renter
            try:
                first = await asyncio.wait_for(ws.receive(), OPEN_WITHIN_S)
            except TimeoutError:
                first = {}
            text = first.get("text")
            if not isinstance(text, str):
                raise ShellError("no opening request arrived", "open with 'l2gpu ssh LEASE'")
            request = parse_request(parse_control(text))
            if request.lease_id != lease_id:
                raise ShellError(
                    f"the request names lease {request.lease_id}, not {lease_id}",
                    "sign the request for the lease you connect to",
                )
            session = await self._open(renter, request)
            agent = await self._await_agent(session, ws)
            if agent is not None:
                await self._relay(session, ws, agent)
        except L2gpuError as exc:
            await _refuse(ws, exc)
        finally:
            if session is not None:
                self._close(session)
            if counted is not None:
                self.connections[counted] -= 1
                if not self.connections[counted]:
                    del self.connections[counted]
            with contextlib.suppress(Exception):
                await ws.close()

    async def _await_agent(self, session: _Session, ws: WebSocket) -> WebSocket | None:
        """The agent's websocket once it connects; None when the renter left first.

        Attacked: a renter that left while its session waited for the agent held the
        session (one of its lease's few) until :data:`ANSWER_WITHIN_S`, and an agent
        that came meanwhile started a shell for no one. The renter's side is now read
        while it waits: its leaving ends the session at once, and anything it sends
        before the shell is ready (the CLI sends nothing) ends it with an error.
        """
        answered = asyncio.ensure_future(asyncio.shield(session.agent))
        early = asyncio.ensure_future(ws.receive())
        both: set[asyncio.Future[Any]] = {answered, early}
        try:
            done, _ = await asyncio.wait(
                both, timeout=self.answer_within_s, return_when=FIRST_COMPLETED
            )
        finally:
            for task in (answered, early):
                task.cancel()
        if early in done:  # first: a message read here would be lost to the relay
            if early.result()["type"] == "websocket.disconnect":
                return None
            raise ShellError(
                "a message arrived before the shell was ready", "wait for 'ready' before input"
            )
        if answered in done:
            return answered.result()
        raise Conflict(
            f"the provider's agent did not open the shell within "
            f"{self.answer_within_s:g} s: it may be offline or too old",
            "try again; if it persists, download files with 'l2gpu jobs download'",
        )

    def _count_in(self, renter: Address) -> None:
        """Count one more websocket of ``renter``'s, or refuse it over the bounds.

        Attacked: the relay bounded the shells of one lease only; any account (a
        stranger's too) could hold websockets without end, each waiting its
        :data:`OPEN_WITHIN_S` for an opening request, and a renter of many leases two
        shells in each. Now bounded per account and in all, before anything is read.
        """
        if sum(self.connections.values()) >= self.max_connections:
            raise Unavailable(
                f"the market relays {self.max_connections} shells already",
                "try again in a few minutes",
            )
        if self.connections.get(renter, 0) >= self.max_per_account:
            raise RateLimited(
                f"this account has {self.max_per_account} shells open or opening already",
                "close some of them first",
            )
        self.connections[renter] = self.connections.get(renter, 0) + 1

    async def _open(self, renter: Address, request: ShellRequest) -> _Session:
        lease = await run_in_threadpool(self._lease, renter, request.lease_id)
        if lease.renter != bytes(renter):
            raise Forbidden(
                f"only lease {request.lease_id}'s renter may open a shell in it",
                "open shells in your own leases",
            )
        if lease.status != LeaseStatus.RUNNING.value:
            raise Conflict(
                f"lease {request.lease_id} is {lease.status}, not running",
                "open a shell while the lease runs ('l2gpu jobs list')",
            )
        now = self.clock()
        problem = request_problem(request, renter=renter, now=now)
        if problem is not None:
            raise ApiError(problem, "sign the request with the lease's renter key, now")
        used = self._seen.use(request, now)
        if used is not None:
            raise Conflict(used, "open a new shell with 'l2gpu ssh'")
        mine = [s for s in self.sessions.values() if s.lease_id == request.lease_id]
        if len(mine) >= MAX_SESSIONS_PER_LEASE:
            raise Conflict(
                f"lease {request.lease_id} has {len(mine)} shells open already",
                "close one of them first",
            )
        loop = asyncio.get_running_loop()
        session = _Session(
            next(self._ids), request.lease_id, lease.provider, renter, request, loop.create_future()
        )
        self.sessions[session.id] = session
        return session

    # -- the provider's agent ------------------------------------------------------------

    def pending(self, provider: Address) -> list[dict[str, Any]]:
        """The sessions waiting for the caller's agent to connect, oldest first."""
        return [
            {"id": s.id, "renter": s.renter.checksum, **s.request.to_json()}
            for s in self.sessions.values()
            if s.provider == bytes(provider) and not s.agent.done()
        ]

    async def serve_agent(self, ws: WebSocket, session_id: int) -> None:
        """The agent's side of a session: paired with the renter's, held until it ends."""
        await ws.accept()
        try:
            provider = await run_in_threadpool(self._who, ws)
            session = self.sessions.get(session_id)
            if session is None:
                raise NotFound(
                    f"no shell session {session_id}", "connect to the ones GET /agent/shells lists"
                )
            if session.provider != bytes(provider):
                raise Forbidden(
                    f"shell session {session_id} is asked of another provider",
                    "answer only your own leases' shells",
                )
            if session.agent.done():
                raise Conflict(
                    f"shell session {session_id} has its agent already", "connect once per session"
                )
            session.agent.set_result(ws)
            await session.done.wait()  # the renter's side relays and ends the session
        except L2gpuError as exc:
            await _refuse(ws, exc)
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    # -- relaying --------------------------------------------------------------------------

    async def _relay(self, session: _Session, renter: WebSocket, agent: WebSocket) -> None:
        loop = asyncio.get_running_loop()
        moved = [loop.time()]
        tasks = [
            asyncio.create_task(_pump(renter, agent, {STDIN}, RENTER_SENDS, moved, loop)),
            asyncio.create_task(_pump(agent, renter, {STDOUT, STDERR}, AGENT_SENDS, moved, loop)),
            asyncio.create_task(self._watch(session, moved, loop)),
        ]
        try:
            finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                problem = task.result()
                if problem is not None:
                    for side in (renter, agent):
                        await _refuse(side, problem)
        finally:
            for task in tasks:
                task.cancel()

    async def _watch(self, session: _Session, moved: list[float], loop: Any) -> L2gpuError:
        """End the session when its lease ends or when it is idle too long."""
        while True:
            await asyncio.sleep(LEASE_CHECK_S)
            if loop.time() - moved[0] > self.idle_s:
                return ShellError(
                    f"the shell was idle for {self.idle_s:g} s and is closed",
                    "open a new one with 'l2gpu ssh'",
                )
            status = await run_in_threadpool(self._status, session.lease_id)
            if status != LeaseStatus.RUNNING.value:
                return ShellError(
                    f"lease {session.lease_id} is {status}: its shell is closed",
                    "rent again to run more",
                )

    def _close(self, session: _Session) -> None:
        self.sessions.pop(session.id, None)
        session.done.set()
        if not session.agent.done():
            session.agent.cancel()

    # -- helpers ---------------------------------------------------------------------------

    def _who(self, ws: WebSocket) -> Address:
        """The caller's address; run in a worker thread (attacked: a token this process
        has not seen is a database query, which held the event loop, and every shell it
        relays, for each made-up token)."""
        header = ws.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return self.caller(token.strip() if scheme.lower() == "bearer" else None)

    def _lease(self, caller: Address, lease_id: int) -> LeaseRow:
        with Session(self.engine) as session:
            row = lease_of_party(session, caller, lease_id)
            session.expunge(row)
            return row

    def _status(self, lease_id: int) -> str:
        with Session(self.engine) as session:
            row = session.get(LeaseRow, lease_id)
            return row.status if row is not None else "gone"


async def _pump(
    source: WebSocket,
    sink: WebSocket,
    streams: set[int],
    kinds: set[str],
    moved: list[float],
    loop: Any,
) -> L2gpuError | None:
    """Pass messages from ``source`` to ``sink`` until ``source`` closes (None) or sends
    what its direction may not carry (the error). One message at a time: the relay
    buffers nothing of its own."""
    while True:
        message = await source.receive()
        if message["type"] == "websocket.disconnect":
            return None
        data, text = message.get("bytes"), message.get("text")
        try:
            if data is not None:
                if len(data) > MAX_FRAME or parse_frame(data)[0] not in streams:
                    raise ShellError(
                        f"a message of {len(data)} bytes on a stream this side may not use, "
                        f"or over {MAX_FRAME} bytes",
                        "send input in smaller pieces",
                    )
                await sink.send_bytes(data)
            elif text is not None:
                fields = parse_control(text)
                kind = fields.get("kind")
                if kind not in kinds:
                    raise ShellError(
                        f"a {kind!r} message may not come from this side",
                        "send only data, resize and eof",
                    )
                if kind == "resize":
                    check_size(fields.get("rows"), fields.get("cols"))
                await sink.send_text(text)
        except ShellError as exc:
            return exc
        except (RuntimeError, OSError):  # the sink went away: the session ends
            return None
        moved[0] = loop.time()


async def _refuse(ws: WebSocket, error: L2gpuError) -> None:
    """Tell one side why the session ends, then close it (it may be gone already)."""
    status = getattr(error, "status", 400)
    with contextlib.suppress(Exception):
        await ws.send_text(control("error", error=error.what, fix=error.fix, status=status))
        await ws.close(code=4000 + status)
