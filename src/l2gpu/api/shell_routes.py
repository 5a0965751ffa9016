"""The routes of ``l2gpu ssh``, added to the market's app by :func:`add_shell_routes`:
two websockets (the renter's and the agent's side of a session) and the agent's list
of sessions waiting for it. The relay itself is :mod:`l2gpu.api.shell_relay`."""

# No "from __future__ import annotations": FastAPI reads the route annotations.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, WebSocket

from l2gpu import wire as w
from l2gpu.api.inputs import ID_LIMIT
from l2gpu.api.problems import error_responses as errors
from l2gpu.api.service import MarketService
from l2gpu.api.shell_relay import ShellRelay
from l2gpu.core.types import Address

LeaseId = Annotated[int, Path(ge=0, lt=ID_LIMIT, description="A lease's (and its job's) id")]
SessionId = Annotated[int, Path(ge=0, lt=ID_LIMIT, description="A shell session's id")]


def add_shell_routes(
    app: FastAPI, service: MarketService, caller: Callable[..., Address]
) -> ShellRelay:
    """Add the shell routes; ``caller`` is the app's dependency that answers the
    signed-in caller's address. Returns the relay (its sessions, for tests)."""
    Caller = Annotated[Address, Depends(caller)]  # noqa: N806 - a type alias, FastAPI style
    relay = ShellRelay(service.engine, clock=service.clock, caller=service.accounts.address_of)

    @app.websocket("/jobs/{lease_id}/shell")
    async def renter_shell(ws: WebSocket, lease_id: LeaseId) -> None:
        """A shell in the lease's sandbox, for its renter (see docs/workloads.md)."""
        await relay.serve_renter(ws, lease_id)

    @app.websocket("/agent/shells/{session_id}")
    async def agent_shell(ws: WebSocket, session_id: SessionId) -> None:
        """The provider's agent's side of a shell session."""
        await relay.serve_agent(ws, session_id)

    @app.get(
        "/agent/shells",
        tags=["agent"],
        response_model=list[w.AgentShell],
        responses=errors(401),
    )
    async def agent_shells(who: Caller) -> list[dict[str, Any]]:
        """The shell sessions waiting for the caller's agent to connect (on the event
        loop, which alone changes the relay's sessions)."""
        return relay.pending(who)

    return relay
