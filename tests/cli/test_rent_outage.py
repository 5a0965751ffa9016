"""``l2gpu rent`` rides out a market that restarts: it pays once the market is back,
re-sends a voucher that did not arrive, and gives up only after a long outage or on
a refusal."""

from __future__ import annotations

import pytest

from l2gpu.cli.lease_rails import Outage
from l2gpu.client import ApiRequestError
from l2gpu.core.errors import L2gpuError


class _Client:
    def __init__(self) -> None:
        self.forgot = 0

    def forget_session(self) -> None:
        self.forgot += 1


def test_an_outage_is_waited_out_until_its_limit(monkeypatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("l2gpu.cli.lease_rails.time.monotonic", lambda: now[0])
    outage, client = Outage(300), _Client()
    down = L2gpuError("cannot reach the market API: connection refused")
    outage.failed(down, client)  # type: ignore[arg-type]
    now[0] += 299
    outage.failed(ApiRequestError("bad gateway", "", 502), client)  # type: ignore[arg-type]
    outage.over()  # back: the clock starts again at the next failure
    now[0] += 100
    outage.failed(down, client)  # type: ignore[arg-type]
    now[0] += 301
    with pytest.raises(L2gpuError, match="has not answered for 300 s"):
        outage.failed(down, client)  # type: ignore[arg-type]


def test_a_refusal_ends_at_once_and_a_forgotten_session_signs_in_again() -> None:
    outage, client = Outage(300), _Client()
    outage.failed(ApiRequestError("session expired", "", 401), client)  # type: ignore[arg-type]
    assert client.forgot == 1
    with pytest.raises(ApiRequestError, match="not yours"):
        outage.failed(ApiRequestError("not yours", "", 403), client)  # type: ignore[arg-type]


def test_a_voucher_that_did_not_arrive_is_sent_again(tmp_path) -> None:
    from tests.agent.test_agent import PRICE, World

    world = World(tmp_path)
    payer = world.rent("sleep 60")
    world.agent.step()
    world.clock.advance(1)
    world.agent.step()
    world.clock.advance(1)
    world.agent.step()
    lease_id = payer.info.id
    sent = payer.client.pay
    calls: list[int] = []

    def lost(lease: int, voucher):  # the market restarts while the voucher is on its way
        calls.append(int(voucher.amount))
        raise L2gpuError("cannot reach the market API: connection reset")

    payer.client.pay = lost  # type: ignore[method-assign]
    with pytest.raises(L2gpuError):
        payer.step()
    assert payer.paid > 0
    assert payer.delivered == 0
    payer.client.pay = sent  # type: ignore[method-assign]
    payer.step()  # nothing new is due, but the signed voucher goes out again
    assert payer.delivered == payer.paid == calls[0]
    assert world.renter.lease(lease_id).voucher.amount == payer.paid
    assert payer.paid % PRICE == 0
