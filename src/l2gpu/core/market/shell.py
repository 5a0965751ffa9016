"""``l2gpu ssh``: a shell inside a running lease's sandbox, relayed by the market between
the renter and the provider's agent. The rules both ends and the relay apply; pure.

The renter signs (EIP-191) :func:`shell_message`: the lease, the command (empty for an
interactive shell), a random nonce and the time. The market relays a session only for
the lease's renter, while the lease runs, signed by it, fresh and never seen before
(the nonce); the agent checks the signature again against the renter it recorded when
the lease began, so a market cannot open a shell in a renter's job on its own.

On the wire (websocket messages, see :mod:`l2gpu.api.shell_relay`):

- a binary message is one byte naming the stream (:data:`STDIN`, :data:`STDOUT`,
  :data:`STDERR`) and then the bytes, at most :data:`MAX_FRAME` in all;
- a text message is a JSON object of control: the renter's opening request, ``ready``,
  ``resize`` (rows, columns), ``eof`` (the renter's input ended), ``exit`` (the code)
  and ``error`` (what and fix).

Every refusal is a :class:`ShellError` with what was wrong and what to do.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from typing import Any

from l2gpu.core.crypto.secp256k1 import PrivateKey, recover_address
from l2gpu.core.errors import L2gpuError, SignatureError
from l2gpu.core.market.signin import personal_digest
from l2gpu.core.types import Address

STDIN, STDOUT, STDERR = 0, 1, 2
MAX_FRAME = 32 * 1024
"""Bytes in one websocket message, the stream's byte included."""
MAX_CONTROL = 16 * 1024
"""Characters in one control message (the opening request is the largest: its command
of :data:`MAX_COMMAND` characters, each escaped as ``\\uXXXX`` at worst, fits; at 4 KiB
a command of non-ASCII text that the CLI took was refused by the relay)."""
MAX_COMMAND = 2048
"""Characters of a command, quoted (it also travels in the market's listing)."""
MAX_SESSIONS_PER_LEASE = 2
"""Shells open (or waiting for the agent) at once per lease."""
SHELL_FRESH_S = 120
"""How long a signed opening request stays good, either way (clocks differ)."""
ANSWER_WITHIN_S = 20
"""How long the renter's session waits for the provider's agent to connect."""
IDLE_S = 900
"""A session in which no byte moved either way for this long is closed."""
MAX_ROWS = MAX_COLS = 1000
MAX_SEEN_PER_LEASE = 600
"""Opening requests remembered per lease (one every 0.4 s for their whole freshness)."""
MAX_SEEN = 200_000
"""Opening requests remembered in all (about 40 MB at most)."""


class ShellError(L2gpuError):
    """A shell request or message that the rules refuse."""


def shell_message(lease_id: int, command: str, nonce: str, issued_at: int) -> str:
    """What a renter signs to open a shell in its lease's sandbox (``command`` empty:
    an interactive shell)."""
    return (
        f"l2gpu shell\nlease: {lease_id}\ncommand: {json.dumps(command)}\n"
        f"nonce: {nonce}\nissued at: {issued_at}"
    )


def sign_shell(key: PrivateKey, lease_id: int, command: str, nonce: str, issued_at: int) -> bytes:
    """The renter's EIP-191 signature of :func:`shell_message`."""
    return key.sign_digest(personal_digest(shell_message(lease_id, command, nonce, issued_at)))


@dataclass(frozen=True, slots=True)
class ShellRequest:
    """A renter's signed request for a shell: what the market relays to the agent."""

    lease_id: int
    command: str
    nonce: str
    issued_at: int
    signature: bytes
    rows: int = 24
    cols: int = 80
    term: str = "xterm"

    @property
    def interactive(self) -> bool:
        """True for a shell under a terminal; False for one command over pipes."""
        return not self.command

    def to_json(self) -> dict[str, Any]:
        """The request as the opening control message carries it."""
        return {
            "kind": "open",
            "open": self.lease_id,
            "command": self.command,
            "nonce": self.nonce,
            "issued_at": self.issued_at,
            "signature": "0x" + self.signature.hex(),
            "rows": self.rows,
            "cols": self.cols,
            "term": self.term,
        }


def parse_request(data: dict[str, Any]) -> ShellRequest:
    """The opening request of a session; :class:`ShellError` names what is malformed."""
    fix = "open the shell with 'l2gpu ssh LEASE'"
    try:
        lease_id, command = data["open"], data["command"]
        nonce, issued_at = data["nonce"], data["issued_at"]
        signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
        rows, cols, term = data.get("rows", 24), data.get("cols", 80), data.get("term", "xterm")
    except (KeyError, ValueError, TypeError) as exc:
        raise ShellError(f"the shell request is malformed: {exc}", fix) from exc
    ints = (lease_id, issued_at, rows, cols)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
        raise ShellError("the shell request's numbers are not integers", fix)
    if not isinstance(command, str) or len(command) > MAX_COMMAND or "\0" in command:
        raise ShellError(f"the command is not text of at most {MAX_COMMAND} characters", fix)
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64 or not nonce.isalnum():
        raise ShellError("the shell request's nonce is not 16 to 64 letters or digits", fix)
    if not isinstance(term, str) or not term.replace("-", "").isalnum() or len(term) > 32:
        raise ShellError("the terminal's name is not a short word (TERM)", "set TERM=xterm")
    check_size(rows, cols)
    return ShellRequest(lease_id, command, nonce, issued_at, signature, rows, cols, term)


def check_size(rows: object, cols: object) -> tuple[int, int]:
    """A window size (rows, columns) within bounds; :class:`ShellError` if not."""
    for value in (rows, cols):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ROWS:
            raise ShellError(
                f"the window size {rows}x{cols} is out of bounds (1 to {MAX_ROWS})",
                "resize the terminal",
            )
    return rows, cols  # type: ignore[return-value]  # checked just above


def request_problem(request: ShellRequest, *, renter: Address, now: int) -> str | None:
    """Why a shell request must not be served (not signed by the lease's ``renter``,
    or not fresh); None when it may be."""
    message = shell_message(request.lease_id, request.command, request.nonce, request.issued_at)
    try:
        signer = recover_address(personal_digest(message), request.signature)
    except SignatureError as exc:
        return f"the shell request's signature is malformed: {exc.what}"
    if signer != renter:
        return f"the shell request is signed by {signer}, not by the lease's renter {renter}"
    if abs(now - request.issued_at) > SHELL_FRESH_S:
        return (
            f"the shell request was signed at {request.issued_at}, more than "
            f"{SHELL_FRESH_S} s from now ({now})"
        )
    return None


def data_frame(stream: int, data: bytes) -> bytes:
    """A binary message: the stream's byte, then ``data``."""
    return bytes([stream]) + data


def parse_frame(message: bytes) -> tuple[int, bytes]:
    """The stream and the bytes of a binary message; :class:`ShellError` if it is not one."""
    if not message or message[0] not in (STDIN, STDOUT, STDERR):
        raise ShellError("a shell message names no stream", "send frames made by data_frame")
    if len(message) > MAX_FRAME:
        raise ShellError(
            f"a shell message of {len(message)} bytes is over {MAX_FRAME}",
            "send input in smaller pieces",
        )
    return message[0], message[1:]


def control(kind: str, **fields: Any) -> str:
    """A text (control) message."""
    return json.dumps({"kind": kind, **fields})


def parse_control(text: str) -> dict[str, Any]:
    """A control message as a dict with a ``kind``; :class:`ShellError` if malformed."""
    if len(text) > MAX_CONTROL:
        raise ShellError(f"a control message is over {MAX_CONTROL} characters", "send less")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ShellError(f"a control message is not JSON: {exc}", "send JSON objects") from exc
    if not isinstance(data, dict) or not isinstance(data.get("kind", "open"), str):
        raise ShellError("a control message is not an object with a kind", "send JSON objects")
    return data


class SeenRequests:
    """The opening requests served already, so that none is served twice (a replay),
    each remembered until it would be refused as stale anyway.

    Attacked: the relay and the agent first forgot a request 2 x :data:`SHELL_FRESH_S`
    after they had *seen* it, while it stays fresh until :data:`SHELL_FRESH_S` after it
    was *signed*: one signed that far ahead and seen at once was forgotten on the very
    second it was still fresh, and served again. It is now forgotten by its signing
    time. They also kept every request in a dict swept whole at each opening: now a
    heap by expiry, bounded per lease and in all (a renter cannot grow it without end).
    """

    def __init__(self, *, per_lease: int = MAX_SEEN_PER_LEASE, most: int = MAX_SEEN) -> None:
        self.per_lease = per_lease
        self.most = most
        self._expiry: list[tuple[int, tuple[int, str, int]]] = []
        self._seen: set[tuple[int, str, int]] = set()
        self._leases: dict[int, int] = {}

    def use(self, request: ShellRequest, now: int) -> str | None:
        """Remember ``request`` (a fresh one) as served; why it must not be served (a
        replay, or too many lately) instead, None when it may."""
        while self._expiry and self._expiry[0][0] < now:
            self._drop(heapq.heappop(self._expiry)[1])
        key = (request.lease_id, request.nonce, request.issued_at)
        if key in self._seen:
            return "this shell request was used already (a replay)"
        if self._leases.get(request.lease_id, 0) >= self.per_lease or len(self._seen) >= self.most:
            return "too many shell requests lately; try again in a few minutes"
        self._seen.add(key)
        self._leases[request.lease_id] = self._leases.get(request.lease_id, 0) + 1
        heapq.heappush(self._expiry, (request.issued_at + SHELL_FRESH_S, key))
        return None

    def forget(self, request: ShellRequest) -> None:
        """Let ``request`` be served after all (it never reached a shell)."""
        self._drop((request.lease_id, request.nonce, request.issued_at))

    def __len__(self) -> int:
        return len(self._seen)

    def _drop(self, key: tuple[int, str, int]) -> None:
        if key in self._seen:
            self._seen.remove(key)
            left = self._leases.pop(key[0]) - 1
            if left:
                self._leases[key[0]] = left
