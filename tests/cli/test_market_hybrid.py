"""The market over channels inside the rollup, every part a real process: anvil as L1,
`l2gpu up`, `l2 deposit`, `market serve`, `provider up --node` and `rent --node`,
ending with the provider's earnings on its L2 balance."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.l1.jsonrpc import connect_jsonrpc

from ..conftest import free_port
from ..l2.restart_world import ANVIL_KEYS_ALL
from .test_cli import run
from .test_l2_cli import node, user  # noqa: F401 - the node fixture
from .test_market_l1 import processes, spawn, wait_for  # noqa: F401 - the processes fixture

RENTER_KEY, PROVIDER_KEY = ANVIL_KEYS_ALL[1], ANVIL_KEYS_ALL[2]
ONE_ETHER = 10**18


def test_rent_pays_inside_the_rollup_and_the_provider_is_paid_on_l2(
    node,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    processes,  # noqa: F811 - the fixture imported above
) -> None:
    rollup_api, anvil_url = node
    for key in (RENTER_KEY, PROVIDER_KEY):
        user(key, rollup_api, anvil_url, "deposit", "1 ether")

    def env(key: str, name: str) -> dict[str, str]:
        return {"L2GPU_L1_RPC": anvil_url, "L2GPU_PRIVATE_KEY": key,
                "L2GPU_DATA_DIR": str(tmp_path / name)}  # fmt: skip

    port = free_port()
    market = f"http://127.0.0.1:{port}"
    processes.append(spawn("market", "serve", "--port", str(port), "--node", rollup_api,
                           env=env(RENTER_KEY, "api"),
                           log=tmp_path / "api.log"))  # fmt: skip
    wait_for(lambda: httpx.get(market + "/health").status_code == 200, "the API start")
    agent_log = tmp_path / "agent.log"
    processes.append(spawn("provider", "up", "--price", "1 gwei", "--gpus", "RTX_4090:1",
                           "--api-url", market, "--node", rollup_api,
                           env=env(PROVIDER_KEY, "provider"), log=agent_log))  # fmt: skip
    wait_for(lambda: httpx.get(market + "/offers").json()["count"] == 1, "the offer")
    offer = httpx.get(market + "/offers").json()["offers"][0]

    bare = {"L2GPU_PRIVATE_KEY": RENTER_KEY, "L2GPU_DATA_DIR": str(tmp_path / "r")}  # no L1
    no_rail = run("rent", offer["id"], "--cmd", "true", "--api-url", market, env=bare)
    assert no_rail.returncode == 2
    assert "pass --node URL of a rollup node" in no_rail.stderr
    both = run("rent", offer["id"], "--cmd", "true", "--node", rollup_api, "--manager",
               "0x" + "11" * 20, "--api-url", market, env=env(RENTER_KEY, "renter"))  # fmt: skip
    assert both.returncode == 2
    assert "--node and --manager name two different rails" in both.stderr
    assert "Traceback" not in no_rail.stderr + both.stderr

    rented = run("rent", offer["id"], "--cmd", "echo hello-from-the-job; sleep 2",
                 "--hours", "0.01", "--api-url", market, "--node", rollup_api,
                 env=env(RENTER_KEY, "renter"))  # fmt: skip
    assert rented.returncode == 0, rented.stderr + agent_log.read_text()
    assert "hello-from-the-job" in rented.stdout
    assert "(hybrid)" in rented.stderr
    assert "ended (job exited with code 0)" in rented.stderr
    seconds = int(re.search(r"\): (\d+) s billed", rented.stderr).group(1))
    assert 1 <= seconds <= 6
    assert f"paid {seconds} gwei" in rented.stderr
    # the live line, plain off a terminal: its last state before the summary
    assert re.search(r"lease \d+ ended \d+ s, spent \d+ gwei, voucher lag \d+ s, "
                     r"deposit left [\d.]+ \w+", rented.stderr), rented.stderr  # fmt: skip
    channel = re.search(r"in channel (0x[0-9a-f]{64})", rented.stderr).group(1)

    provider = str(PrivateKey.from_hex(PROVIDER_KEY).address)

    def settled() -> bool:
        shown = httpx.get(f"{rollup_api}/l2/channels/{channel}").json()
        return shown["status"] == "settled"

    wait_for(settled, "the provider's close inside the rollup", 300)
    earned = user(PROVIDER_KEY, rollup_api, anvil_url, "balance", provider)["balance"]
    assert earned == ONE_ETHER + seconds * 10**9
    # The L2 balance is withdrawable: the CLI makes the exit (final after the window).
    user(PROVIDER_KEY, rollup_api, anvil_url, "withdraw", "0.5 ether")

    # Terms the offer does not take are refused by the quote, before any channel opens.
    renter = str(PrivateKey.from_hex(RENTER_KEY).address)
    before = user(RENTER_KEY, rollup_api, anvil_url, "balance", renter)["balance"]
    too_long = run("rent", offer["id"], "--cmd", "true", "--hours", "48", "--api-url", market,
                   "--node", rollup_api, env=env(RENTER_KEY, "renter"))  # fmt: skip
    assert too_long.returncode == 2, too_long.stderr
    assert "not 172800 s" in too_long.stderr
    assert "channel" not in too_long.stderr
    assert user(RENTER_KEY, rollup_api, anvil_url, "balance", renter)["balance"] == before
    # A lease the market refuses after the channel opened (here a job with more variables
    # than a lease takes; in life, an offer rented by someone else a moment earlier): the
    # channel's close starts at once, and after its challenge period the deposit comes
    # back in full.
    many = [arg for i in range(65) for arg in ("--env", f"V{i}=1")]
    refused = run("rent", offer["id"], "--cmd", "true", *many, "--api-url", market,
                  "--node", rollup_api, env=env(RENTER_KEY, "renter"))  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    unused = re.search(r"the close of channel (0x[0-9a-f]{64}) has started", refused.stderr)
    assert unused is not None, refused.stderr
    assert "l2gpu l2 settle-channel" in refused.stderr
    shown = user(RENTER_KEY, rollup_api, anvil_url, "channel", unused.group(1))
    assert shown["status"] == "closing"
    early = run("l2", "settle-channel", unused.group(1), "--api", rollup_api,
                env={"L2GPU_PRIVATE_KEY": RENTER_KEY})  # fmt: skip
    assert early.returncode == 2
    assert "not yet" in early.stderr
    connect_jsonrpc(anvil_url, []).time_travel(3601)
    settled_now = user(RENTER_KEY, rollup_api, anvil_url, "settle-channel", unused.group(1))
    assert settled_now["status"] == "settled"
    # its outcome, not the zeros of its settled leaf (issue #23): nothing was vouched
    assert settled_now["paid_to_provider"] == "0"
    assert int(settled_now["refunded_to_renter"]) == int(shown["deposit"]) > 0
    assert user(RENTER_KEY, rollup_api, anvil_url, "balance", renter)["balance"] == before
    # A lease that fails to start (a command the sandbox cannot run): rent says so with
    # exit code 1, not 0, and starts the unused channel's close (issue #23).
    failed = run("rent", offer["id"], "--cmd", "no-such-command-l2gpu", "--api-url", market,
                 "--node", rollup_api, env=env(RENTER_KEY, "renter"))  # fmt: skip
    assert failed.returncode == 1, failed.stderr
    assert "failed" in failed.stderr
    assert "the close of channel" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr
    # The provider's log records its leases and what each close paid (issue #23).
    record = agent_log.read_text()
    assert re.search(r"lease \d+ started: 1 GPU\(s\) for 0x[0-9a-fA-F]{40}", record), record
    assert re.search(r"lease \d+: channel closed; the provider got \d+ wei", record), record
    # SIGTERM withdraws the agent's offers (issue #23: they stayed listed and rentable),
    # and a restart lists the GPU once, not beside the earlier run's offer.
    agent = processes[-1]
    agent.terminate()
    agent.wait(timeout=60)
    assert httpx.get(market + "/offers").json()["count"] == 0
    assert "withdrew 1 offer(s)" in agent_log.read_text()
    processes.append(spawn("provider", "up", "--price", "1 gwei", "--gpus", "RTX_4090:1",
                           "--api-url", market, "--node", rollup_api,
                           env=env(PROVIDER_KEY, "provider"), log=agent_log))  # fmt: skip
    wait_for(lambda: httpx.get(market + "/offers").json()["count"] == 1, "the new offer")
    assert httpx.get(market + "/offers").json()["offers"][0]["id"] != offer["id"]
