"""The node's HTTP server under hostile input, over real HTTP on loopback (issue #12):
deeply nested JSON, bodies that stream past the limit, long-polls by the hundred,
integers out of range, and methods a route does not have."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator

import httpx
import pytest

from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.api import MAX_BODY_BYTES
from l2gpu.node.cosign_desk import MAX_WAITERS_PER_ACCOUNT
from l2gpu.scenarios.embedded_rollup import EmbeddedNode, embedded_rollup


@pytest.fixture(scope="module")
def node() -> Iterator[EmbeddedNode]:
    chain = start_embedded_chain()
    served = embedded_rollup(chain, chain.accounts[1:3])
    yield served
    served.stop()


def test_deeply_nested_json_is_refused_before_any_parser_runs(node: EmbeddedNode) -> None:
    import py_ecc  # noqa: F401 - the library that raises the recursion limit to 100,000

    nested = b"[" * 200_000  # crashed the process with a segmentation fault
    for path in ("/l2/transactions", "/l2/cosign/0/" + "ab" * 16):
        answer = httpx.post(node.url + path, content=nested[: MAX_BODY_BYTES - 1],
                            headers={"content-type": "application/json"})  # fmt: skip
        assert answer.status_code == 400
        assert "nests deeper than" in answer.json()["error"]
    assert sys.getrecursionlimit() <= 1000  # restored when the app was built
    assert httpx.get(node.url + "/l2/status").status_code == 200  # still alive


def test_a_chunked_body_past_the_limit_is_refused(node: EmbeddedNode) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(5 * 1024):  # 5 MB with no Content-Length
            yield b" " * 1024

    answer = httpx.post(node.url + "/l2/transactions", content=chunks(),
                        headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 413
    assert answer.json()["status"] == 413


def test_the_guard_stops_reading_at_the_limit() -> None:
    from l2gpu.serving.guard import RequestGuard

    pulled, reached = 0, []

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b" " * 1024, "more_body": True}  # endless

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            reached.append(message["status"])

    async def app(*_args: object) -> None:
        raise AssertionError("the app must not see the body")

    guard = RequestGuard(app, max_body=64 * 1024)
    asyncio.run(guard({"type": "http", "headers": []}, receive, send))
    assert reached == [413]
    assert pulled == 65  # 64 KiB, then the one chunk that went past it


def test_long_polls_by_the_hundred_hold_no_worker_and_are_bounded(node: EmbeddedNode) -> None:
    async def scenario() -> tuple[list[int], dict]:
        limits = httpx.Limits(max_connections=300)  # one connection per agent
        async with httpx.AsyncClient(base_url=node.url, timeout=60, limits=limits) as client:
            # 200 agents long-poll 200 accounts: the old node ran out of worker threads at 60.
            polls = [asyncio.create_task(client.get(f"/l2/cosign/{i}", params={"wait": 30}))
                     for i in range(200)]  # fmt: skip
            for _ in range(1000):  # until every poll is waiting on the desk
                status = (await client.get("/l2/status")).json()  # answered meanwhile
                if status["cosign_waiters"] == 200:
                    break
                await asyncio.sleep(0.02)  # polling the server's own count
            # One account holds no more than its share of the desk (7 has one poll): one
            # more than the share ends the oldest (answered at once), none is refused, so
            # a stranger polling an account cannot keep its owner from its requests. The
            # extra polls wait as long as the others: a short wait let the first of them
            # end before the last arrived on a loaded machine, and nothing was over the
            # share then.
            extra = [asyncio.create_task(client.get("/l2/cosign/7", params={"wait": 30}))
                     for _ in range(MAX_WAITERS_PER_ACCOUNT)]  # fmt: skip
            await asyncio.wait([polls[7]], timeout=20)  # the oldest ends long before 30 s
            oldest_ended = polls[7].done() and not polls[7].cancelled()
            codes = [polls[7].result().status_code] if oldest_ended else []
            others_wait = not any(p.done() for i, p in enumerate(polls) if i != 7)
            others_wait = others_wait and not any(e.done() for e in extra)
            for poll in polls + extra:  # the agents go away; the server's waits end on their own
                poll.cancel()
            return codes, status, oldest_ended, others_wait

    codes, status, oldest_ended, others_wait = asyncio.run(scenario())
    assert status["cosign_waiters"] == 200
    assert status["status"] == "ok"
    assert oldest_ended  # long before its 30 s
    assert codes == [200]  # answered with what is open (nothing), not refused
    assert others_wait


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/l2/exits/9223372036854775808/proof", 422),  # 2^63
        ("GET", "/l2/exits/-1/proof", 422),
        ("GET", "/l2/cosign/4294967296", 422),  # 2^32
        ("GET", "/l2/cosign/0?wait=1e309", 422),
        ("GET", "/l2/cosign/0?wait=nan", 422),
        ("GET", "/l2/batches?limit=0", 422),
        ("GET", "/l2/batches?before=99999999999999999999", 422),
        ("GET", "/l2/accounts/0x" + "zz" * 20, 422),
        ("GET", "/l2/channels/0x1234", 422),
        ("POST", "/l2/cosign/0/not-a-request-id", 422),
    ],
)
def test_out_of_range_input_is_a_clear_4xx(
    node: EmbeddedNode, method: str, path: str, expected: int
) -> None:
    answer = httpx.request(method, node.url + path, json={"signature": "0x00"})
    assert answer.status_code == expected, answer.text
    body = answer.json()
    assert set(body) == {"error", "fix", "status"}
    assert "Input should be" not in body["error"]  # words, not pydantic's text


def test_a_wrong_method_says_which_are_allowed(node: EmbeddedNode) -> None:
    answer = httpx.delete(node.url + "/l2/status")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert answer.json()["status"] == 405


def test_forced_transaction_fields_are_checked(node: EmbeddedNode) -> None:
    body = {"kind": 1, "body": "0x00", "nonce": 2**53 + 1, "signature": "0x00"}
    answer = httpx.post(node.url + "/l2/transactions", json=body)
    assert answer.status_code == 422
    assert "nonce" in answer.json()["error"]
    extra = {"kind": 1, "body": "0x00", "nonce": 0, "signature": "0x00", "admin": True}
    assert httpx.post(node.url + "/l2/transactions", json=extra).status_code == 422
