"""The market's commands against a real uvicorn on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from l2gpu.api.app import create_app
from l2gpu.api.service import MarketService
from l2gpu.cli.main import main
from l2gpu.client import MarketClient
from l2gpu.core.market.offers import sign_offer
from l2gpu.db import open_database
from tests.api.helpers import described
from tests.conftest import free_port
from tests.market.helpers import CHAIN, PROVIDER, RENTER, STRANGER, terms


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[str, MarketService]]:
    """The market API served by uvicorn on a free loopback port (wall clock)."""
    service = MarketService(open_database(f"sqlite:///{tmp_path / 'api.db'}"), chain_id=CHAIN)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for the server thread to listen
    assert server.started
    yield url, service
    server.should_exit = True
    thread.join(10)


def published(url: str) -> tuple[str, MarketClient]:
    provider = MarketClient(url, PROVIDER)
    offer = sign_offer(PROVIDER, terms(expires_at=int(time.time()) + 3600), CHAIN)
    return str(provider.publish(offer).id), provider


def test_offers_search_prints_a_table_and_json(api, capsys) -> None:
    url, _ = api
    offer_id, _ = published(url)
    assert main(["offers", "search", "gpu_name=RTX_4090 num_gpus>=2", "--api-url", url]) == 0
    out = capsys.readouterr().out
    assert offer_id in out
    assert "RTX_4090" in out
    assert main(["offers", "search", "num_gpus>=8", "--api-url", url, "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert httpx.get(url + "/docs").status_code == 200


def test_offers_withdraw_says_so_or_prints_one_json_object(api, capsys, monkeypatch) -> None:
    url, _ = api
    monkeypatch.setenv("L2GPU_PRIVATE_KEY", "0x" + PROVIDER.secret.hex())
    first, provider = published(url)
    later = sign_offer(PROVIDER, terms(expires_at=int(time.time()) + 7200), CHAIN)
    second = str(provider.publish(later).id)
    assert main(["offers", "withdraw", first, "--api-url", url]) == 0
    assert capsys.readouterr().out.strip() == f"offer {first} withdrawn"
    assert main(["offers", "withdraw", second, "--api-url", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"id": second, "status": "withdrawn"}


def test_a_malformed_filter_is_one_line_with_its_column(api, capsys) -> None:
    url, _ = api
    assert main(["offers", "search", "num_gpus>=2 gpu_nam=RTX", "--api-url", url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: filter: unknown field 'gpu_nam' at column 13; did you mean")
    assert "\n" not in err
    assert "Traceback" not in err


def test_jobs_list_logs_and_stop_respect_ownership(api, capsys, monkeypatch) -> None:
    url, _ = api
    offer_id, provider = published(url)
    renter = MarketClient(url, RENTER)
    lease = renter.rent(
        offer_id,
        command="echo hi",
        duration=60,
        channel=described(RENTER, PROVIDER.address, 10**18),
    )
    provider.send_logs(lease.id, ["hello from the job\n"])
    monkeypatch.setenv("L2GPU_PRIVATE_KEY", "0x" + RENTER.secret.hex())
    assert main(["jobs", "list", "--api-url", url]) == 0
    header, row = capsys.readouterr().out.splitlines()
    # A header, and the role, GPUs and start of each job (issue #23: none of them shown).
    assert header.split() == ["LEASE", "ROLE", "STATUS", "GPUS", "STARTED", "SECONDS", "DUE",
                              "COMMAND"]  # fmt: skip
    assert row.split()[:4] == [str(lease.id), "renter", "requested", "2"]
    assert "echo hi" in row
    assert main(["jobs", "logs", str(lease.id), "--api-url", url]) == 0
    assert capsys.readouterr().out == "hello from the job\n"
    monkeypatch.setenv("L2GPU_PRIVATE_KEY", "0x" + STRANGER.secret.hex())
    assert main(["jobs", "stop", str(lease.id), "--api-url", url]) == 2
    assert "belongs to another account" in capsys.readouterr().err
    monkeypatch.setenv("L2GPU_PRIVATE_KEY", "0x" + RENTER.secret.hex())
    assert main(["jobs", "stop", str(lease.id), "--api-url", url, "--json"]) == 0
    stopped = json.loads(capsys.readouterr().out)  # the market's lease, as its API answers
    assert (stopped["id"], stopped["status"]) == (lease.id, "ended")
    assert stopped["reason"] == "stopped by renter"
    # Following a lease that is over prints its output and its last live line, and ends.
    assert main(["jobs", "logs", str(lease.id), "-f", "--api-url", url]) == 0
    out, err = capsys.readouterr()
    assert out == "hello from the job\n"
    assert err.strip() == (
        f"lease {lease.id} ended 0 s, spent 0 wei, voucher lag 0 s, deposit left 1 ETH"
    )


def test_rent_refuses_an_offer_above_max_price_and_bad_input(api, capsys, monkeypatch) -> None:
    url, _ = api
    offer_id, _ = published(url)
    monkeypatch.setenv("L2GPU_PRIVATE_KEY", "0x" + RENTER.secret.hex())
    assert main(["rent", offer_id, "--cmd", "true", "--max-price", "1 wei", "--api-url", url]) == 2
    assert "above --max-price" in capsys.readouterr().err
    assert main(["rent", "12345", "--cmd", "true", "--api-url", url]) == 2
    assert "no offer 12345" in capsys.readouterr().err
    # Longer than the offer allows: refused by the market's quote, before any channel opens.
    assert main(["rent", offer_id, "--cmd", "true", "--hours", "48", "--api-url", url]) == 2
    assert "86400" in capsys.readouterr().err
    assert (
        main(["provider", "up", "--price", "1 gwei", "--gpus", "RTX_4090:x", "--api-url", url]) == 2
    )
    assert "invalid GPU declaration" in capsys.readouterr().err


def test_provider_up_refuses_to_serve_without_payment_checks(api, capsys, monkeypatch) -> None:
    url, _ = api
    monkeypatch.setenv("L2GPU_PRIVATE_KEY", "0x" + PROVIDER.secret.hex())
    up = ["provider", "up", "--price", "1 gwei", "--gpus", "RTX_4090:1", "--api-url", url]
    assert main(up) == 2
    err = capsys.readouterr().err
    assert "no payment rail" in err
    assert "--no-payment-checks-i-accept-unpaid-work" in err
    assert main([*up, "--node", "http://127.0.0.1:1", "--job-network", "wide"]) == 2
    assert "unknown --job-network 'wide'" in capsys.readouterr().err


def test_provider_check_says_what_the_sandbox_has(capsys) -> None:
    assert main(["provider", "check"]) == 0
    out = capsys.readouterr().out
    assert "ok      bubblewrap" in out
    assert "memory limit" in out
    assert main(["provider", "check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert "bubblewrap" in {c["name"] for c in report["checks"]}


def test_a_lost_answer_to_rent_finds_its_lease_and_never_closes_a_live_channel(
    api, monkeypatch
) -> None:
    """Issue #23: when the market took the rent but its answer was lost (a dropped
    connection), rent closed the channel of the live lease. It now finds the lease by
    its own channel; it closes the channel only when the market refused; and while
    the market cannot be asked it keeps the channel open and says what to do."""
    from l2gpu.renter import lease_taken_despite

    def _lease_despite(client, exc, opened):  # type: ignore[no-untyped-def]
        return lease_taken_despite(client, exc, opened.params.id, fix="as rent says")

    from l2gpu.client import ApiRequestError
    from l2gpu.core.designs import OpenedChannel
    from l2gpu.core.errors import L2gpuError

    url, _ = api
    offer_id, _ = published(url)
    renter = MarketClient(url, RENTER)
    deposit = 10**18

    def opened(salt: int) -> OpenedChannel:
        channel = described(RENTER, PROVIDER.address, deposit, salt)
        return OpenedChannel(channel.params, channel.deposit, channel, 0, 0)

    mine, unused = opened(1), opened(2)
    lease = renter.rent(offer_id, command="true", duration=60, channel=mine.description)
    lost = L2gpuError("cannot reach the market API: connection reset", "retry")
    found = _lease_despite(renter, lost, mine)
    assert found is not None
    assert found.id == lease.id
    assert _lease_despite(renter, lost, unused) is None  # taken nothing: close it
    assert _lease_despite(renter, ApiRequestError("refused", "no", 409), mine) is None
    monkeypatch.setattr("l2gpu.renter.time.sleep", lambda _: None)
    gone = MarketClient(f"http://127.0.0.1:{free_port()}", RENTER)
    with pytest.raises(L2gpuError) as kept:
        _lease_despite(gone, lost, mine)
    assert "stays open" in kept.value.fix
