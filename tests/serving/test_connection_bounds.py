"""What one client can hold open on an l2gpu server: a request must arrive whole
within its deadline, and connections per address are capped (a slowloris attack on
running processes held the node's every file descriptor before these bounds)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from l2gpu.serving import connections
from l2gpu.serving.loopback import serve_on_loopback


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    monkeypatch.setattr(connections, "REQUEST_S", 0.3)
    monkeypatch.setattr(connections, "PER_CLIENT", 3)
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(1.0)  # the app takes longer than a request may take to arrive
        return {"ok": True}

    @app.post("/echo")
    async def echo(body: dict[str, int]) -> dict[str, int]:
        return body

    served, url = serve_on_loopback(app, "bounds test")
    yield url, int(url.rsplit(":", 1)[1])
    served.should_exit = True


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(30)  # a guard against a hang, not a wait the test relies on
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_a_request_that_never_arrives_whole_is_refused_with_408(server) -> None:
    _, port = server
    half_line = socket.create_connection(("127.0.0.1", port))
    half_line.sendall(b"GET /sl")
    body_missing = socket.create_connection(("127.0.0.1", port))
    body_missing.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{")
    silent = socket.create_connection(("127.0.0.1", port))  # connects, sends nothing
    for sock in (half_line, body_missing, silent):
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"did not arrive within" in answer


def test_the_deadline_covers_arrival_not_the_answer(server) -> None:
    url, _ = server
    # the app answers after 1 s, longer than the 0.3 s a request has to arrive
    assert httpx.get(f"{url}/slow", timeout=30).json() == {"ok": True}
    assert httpx.post(f"{url}/echo", json={"a": 1}, timeout=30).json() == {"a": 1}


def test_connections_per_address_are_capped(server) -> None:
    url, port = server
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    extra = socket.create_connection(("127.0.0.1", port))
    answer = _answer(extra)
    assert answer.startswith(b"HTTP/1.1 429"), answer
    for sock in held:
        sock.close()
    # once they are gone (each closed by its deadline or by us), the address is served
    assert httpx.get(f"{url}/slow", timeout=30).status_code == 200
