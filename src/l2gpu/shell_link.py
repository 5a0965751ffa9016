"""One websocket to the market's shell relay (``l2gpu ssh``), as the renter's CLI and
the provider's agent both use it: messages of :mod:`l2gpu.core.market.shell`, over the
``websockets`` package's blocking client, signed in with a :class:`MarketClient`'s token.

Every failure to connect, and every error the relay sends, becomes an
:class:`~l2gpu.core.errors.L2gpuError` with what was wrong and what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.shell import MAX_FRAME, control, data_frame, parse_control, parse_frame

if TYPE_CHECKING:  # the client is a sibling of this module: only its type is needed
    from l2gpu.client import MarketClient

OPEN_TIMEOUT_S = 10.0


class ShellRefused(L2gpuError):
    """The relay (or the agent through it) ended the session with an error; ``status``
    is the HTTP status it would have answered."""

    def __init__(self, what: str, fix: str, status: int) -> None:
        self.status = status
        super().__init__(what, fix)


class ShellLink:
    """A websocket to the relay: data and control messages in, data and control out."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    def send_data(self, stream: int, data: bytes) -> None:
        """Send bytes of ``stream``, in messages of at most the relay's frame size."""
        step = MAX_FRAME - 1
        for start in range(0, len(data), step):
            self.connection.send(data_frame(stream, data[start : start + step]))

    def send_control(self, kind: str, **fields: Any) -> None:
        """Send a control message."""
        self.connection.send(control(kind, **fields))

    def receive(self, timeout: float | None = None) -> tuple[int, bytes] | dict[str, Any] | None:
        """The next message: ``(stream, bytes)``, a control dict, or None once the relay
        closed the session; an ``error`` control raises :class:`ShellRefused`.
        ``TimeoutError`` when nothing came within ``timeout`` seconds."""
        try:
            message = self.connection.recv(timeout)
        except ConnectionClosed:
            return None
        if isinstance(message, bytes):
            return parse_frame(message)
        fields = parse_control(message)
        if fields.get("kind") == "error":
            raise ShellRefused(
                str(fields.get("error", "the shell session failed")),
                str(fields.get("fix", "")),
                int(fields.get("status", 400)),
            )
        return fields

    def close(self) -> None:
        """Close the websocket (the relay ends the session)."""
        self.connection.close()


def open_link(client: MarketClient, path: str, *, timeout: float = OPEN_TIMEOUT_S) -> ShellLink:
    """A websocket to ``path`` of the market API that ``client`` talks to, signed in."""
    base = str(client.http.base_url).rstrip("/")
    url = "ws" + base.removeprefix("http") + path
    headers = client.bearer()
    try:
        connection = connect(
            url,
            additional_headers=headers,
            open_timeout=timeout,
            max_size=MAX_FRAME * 2,
            compression=None,  # a shell's messages are small; no zip-bomb surface either
        )
    except InvalidURI as exc:
        raise L2gpuError(
            f"the market API URL {base} is not one a websocket can reach",
            "check --api-url (http:// or https://)",
        ) from exc
    except InvalidStatus as exc:
        if exc.response.status_code != 429:
            raise _refused(base, exc) from exc
        raise L2gpuError(
            f"the market at {base} refused the shell's websocket: too many requests from "
            "this client",
            "wait a few seconds and try again",
        ) from exc
    except InvalidHandshake as exc:
        raise _refused(base, exc) from exc
    except (OSError, TimeoutError) as exc:
        raise L2gpuError(
            f"cannot reach the market API's shell relay: {exc}",
            "check --api-url and that the API runs",
        ) from exc
    return ShellLink(connection)


def _refused(base: str, exc: InvalidHandshake) -> L2gpuError:
    """A handshake the market refused, as the error to raise."""
    return L2gpuError(
        f"the market at {base} refused the shell's websocket: {exc}",
        "check that the market API is recent enough for 'l2gpu ssh'",
    )
