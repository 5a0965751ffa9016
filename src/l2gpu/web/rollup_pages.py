"""The rollup's page: batches, the signed-in account's withdrawals and channels.

Read from the rollup node's HTTP API (``l2gpu up``; the console's ``--node``):
``GET /l2/status`` (batches sealed but not yet posted, and L1's time, which every
countdown counts in), ``GET /l2/batches`` (posted batches, each in its challenge
window or final), ``GET /l2/exits?address=`` (the account's withdrawals and
whether each can be claimed) and ``GET /l2/accounts/{address}/channels?role=any``
(its channels, as renter or provider, with their deadlines).

A node that is not configured, or does not answer, is said so on the page, whose
live part is fetched again every five seconds: it recovers when the node is back.

Claiming a final withdrawal is a POST that passes the checks every state change
passes (origin, session, CSRF token), then: the withdrawal must be the signed-in
account's (the node's list of its withdrawals holds it), claimable and not
claimed, and the node's proof must pay that account. The development wallet's
claim the console sends itself (``/claim``); a browser wallet's page asks for the
transaction (``/claim-tx``, JSON) and hands it to the wallet to send
(:mod:`l2gpu.web.claiming`, ``static/console.js``).
"""

# No "from __future__ import annotations": FastAPI reads the route annotations.

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address
from l2gpu.node.client import NodeError, NodeReader
from l2gpu.web.claiming import claim_transaction
from l2gpu.web.context import Console, ConsoleError
from l2gpu.web.display import countdown
from l2gpu.web.sessions import WebSession

BATCHES = 20
EXITS = 50
MAX_EXITS = 1000  # the node's own bound on one listing
NOT_CONFIGURED = "no rollup node is configured"
NOT_CONFIGURED_FIX = "start the console with --node URL (or set node_url), or run 'l2gpu up'"
CLAIM_COMMAND = "l2gpu l2 withdraw --claim --l1-rpc URL"


def rollup_router(console: Console) -> APIRouter:
    """The rollup page's routes over ``console``."""
    router = APIRouter()

    @router.get("/rollup", response_class=HTMLResponse)
    def rollup_page(request: Request) -> Response:
        """Batches, and the signed-in account's withdrawals and channels."""
        session = console.session(request)
        return console.page(request, "rollup.html", **rollup_context(console, session))

    @router.get("/rollup/live", response_class=HTMLResponse)
    def rollup_live(request: Request) -> Response:
        """The rollup page's live part (htmx fetches it every five seconds)."""
        session = console.session(request)
        return console.page(request, "rollup_live.html", **rollup_context(console, session))

    @router.post("/rollup/exits/{exit_index}/claim")
    def claim(
        request: Request,
        exit_index: Annotated[int, Path(ge=0, lt=2**63)],
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        """Claim one of the signed-in account's final withdrawals on L1 (the
        development wallet: the console sends it)."""
        session = console.signed_in(request, csrf)
        node = _node_or_refuse(console)
        _own_claimable_exit(node, session, exit_index)
        if not session.dev or console.claimer is None:
            raise ConsoleError("claiming is an L1 transaction that your own key signs",
                               f"use the Claim button with your browser wallet, or run "
                               f"'{CLAIM_COMMAND}' with your key", 403)  # fmt: skip
        try:
            proof = _own_proof(node, session, exit_index)
            console.claimer.claim(Address.from_hex(node.status()["rollup"]), proof)
        except ConsoleError:
            raise
        except L2gpuError as exc:
            raise ConsoleError(exc.what, exc.fix, 502) from exc
        return RedirectResponse("/rollup", status_code=303)

    @router.post("/rollup/exits/{exit_index}/claim-tx")
    def claim_tx(
        request: Request,
        exit_index: Annotated[int, Path(ge=0, lt=2**63)],
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        """The L1 transaction that claims one of the signed-in account's final
        withdrawals, for its browser wallet to send (``eth_sendTransaction``): JSON
        ``{"tx": {...}, "amount": wei}``, or ``{"error", "fix"}`` with why not."""
        try:
            session = console.signed_in(request, csrf)
            node = _node_or_refuse(console)
            found = _own_claimable_exit(node, session, exit_index)
            try:
                proof = _own_proof(node, session, exit_index)
                tx = claim_transaction(node.status(), proof, session.address)
            except ConsoleError:
                raise
            except L2gpuError as exc:
                raise ConsoleError(exc.what, exc.fix, 502) from exc
        except ConsoleError as exc:
            return JSONResponse({"error": exc.what, "fix": exc.fix}, status_code=exc.status)
        return JSONResponse({"tx": tx, "exit_index": exit_index, "amount": str(found["amount"])})

    return router


def rollup_context(console: Console, session: WebSession | None) -> dict[str, Any]:
    """What the rollup page shows, or why the node cannot tell."""
    if console.node is None:
        return {"node_problem": NOT_CONFIGURED, "node_fix": NOT_CONFIGURED_FIX}
    node = console.node
    try:
        status = node.status()
        batches = node.batches(BATCHES)[::-1]  # newest first
        exits = channels = None
        if session is not None:
            exits = node.exits_of(session.address, EXITS)[::-1]
            channels = _channels(node, session.address)
    except NodeError as exc:
        if exc.transient:
            return {"node_problem": "the node is unreachable; retrying",
                    "node_fix": exc.what}  # fmt: skip
        return {"node_problem": f"the node refused: {exc.what}", "node_fix": exc.fix}
    now = int(status["time"])
    rows = None if channels is None else [_channel_row(c, session, now) for c in channels]
    return {
        "node_problem": None,
        "node_status": status,
        "now": now,
        "batches": [{**b, "state": _batch_state(b)} for b in batches],
        "exits": None if exits is None else [{**e, "state": _exit_state(e)} for e in exits],
        "channels": rows,
        "can_claim": session is not None and session.dev and console.claimer is not None,
        "wallet_claim": session is not None and not session.dev,
        "claim_command": CLAIM_COMMAND,
    }


def _own_claimable_exit(node: NodeReader, session: WebSession, exit_index: int) -> dict[str, Any]:
    """The signed-in account's withdrawal ``exit_index`` (the node's list of its
    withdrawals holds it), claimable and not claimed; refused with why otherwise."""
    try:
        mine = {e["exit_index"]: e for e in node.exits_of(session.address, MAX_EXITS)}
    except NodeError as exc:
        raise ConsoleError(f"the rollup node does not answer: {exc.what}",
                           "try again when it is back", 503) from exc  # fmt: skip
    found = mine.get(exit_index)
    if found is None:
        raise ConsoleError(f"withdrawal {exit_index} is not yours",
                           "claim only your own withdrawals", 403)  # fmt: skip
    if found["claimed"]:
        raise ConsoleError(f"withdrawal {exit_index} is claimed already",
                           "nothing is left to claim", 409)  # fmt: skip
    if not found["claimable"]:
        raise ConsoleError(f"withdrawal {exit_index} is not final yet",
                           f"claim it once it is: {_exit_state(found)}", 409)  # fmt: skip
    return found


def _own_proof(node: NodeReader, session: WebSession, exit_index: int) -> dict[str, Any]:
    """The node's proof of ``exit_index``, which must pay the signed-in account."""
    proof = node.exit_proof(exit_index)
    if Address.from_hex(proof["recipient"]) != session.address:
        raise ConsoleError(f"withdrawal {exit_index} pays {proof['recipient']}",
                           "claim only your own withdrawals", 403)  # fmt: skip
    return proof


def _node_or_refuse(console: Console) -> NodeReader:
    if console.node is None:
        raise ConsoleError(NOT_CONFIGURED, NOT_CONFIGURED_FIX, 503)
    return console.node


def _channels(node: NodeReader, address: Address) -> list[dict[str, Any]]:
    """The account's channels; none for an address without an L2 account (a 404)."""
    try:
        return node.channels_of(address, role="any")
    except NodeError as exc:
        if exc.status == 404:
            return []
        raise


def _batch_state(batch: dict[str, Any]) -> str:
    if batch["final"]:
        return "final"
    if batch["challenged"]:
        return "held by a challenge"
    return f"in challenge window: {countdown(batch['seconds_left'])} left"


def _exit_state(found: dict[str, Any]) -> str:
    """Where a withdrawal stands, with the time until it can be claimed."""
    if found["claimed"]:
        return "claimed"
    if found["claimable"]:
        return "claimable"
    if found["batch"] is None:
        return "waiting for its batch to be posted"
    if found["held_by_challenge"]:
        return "held by a challenge of its batch"
    return f"claimable in {countdown(found['seconds_until_final'] or 0)}"


def _channel_row(channel: dict[str, Any], session: WebSession | None, now: int) -> dict[str, Any]:
    """A channel with the account's side in it and its deadlines counted from ``now``."""
    mine = session.address.checksum if session else ""
    role = "renter" if channel["renter"] == mine else "provider"
    expires = int(channel.get("expires_at") or 0)
    deadline = int(channel.get("close_deadline") or 0)
    deadline_in = None  # not closing: no challenge deadline runs
    if deadline:
        deadline_in = countdown(deadline - now) if deadline > now else "passed"
    return {
        **channel,
        "role": role,
        "other": channel["provider"] if role == "renter" else channel["renter"],
        "expires_in": countdown(expires - now) if expires > now else "expired",
        "deadline_in": deadline_in,
    }
