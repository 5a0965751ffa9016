"""``l2gpu web --demo``: the whole stack behind the console, in one command.

anvil as L1 (from ``make tools``), a ChannelManager on it, ``market serve``, a
provider agent (two declared RTX 4090s, jobs sandboxed) and a rollup node (``l2gpu
up``, its own key) as processes of their own, and the console served here with
anvil's first dev key as its development wallet. The wallet deposits into the
rollup and starts a small withdrawal, so the rollup page has a batch and a
withdrawal counting down to its claim. Open the printed address, sign in with the
development wallet, rent, watch the spend, stop. The L1's address is printed too,
for a browser wallet to send its claim to (docs/console.md). Ctrl-C (or SIGTERM)
stops every process; their logs and data are in a temporary folder that is printed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from l2gpu.cli.shards_cmd import ANVIL_DEV_KEY, _free_port, _start_anvil
from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.l1 import Chain

# anvil's second dev key: the demo's provider
PROVIDER_DEV_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
# anvil's third dev key: the rollup node's operator (its own account: its batches'
# nonces never race the wallet's L1 transactions)
NODE_DEV_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
START_WAIT_S = 120
DEPOSIT_WEI = 5 * 10**16
WITHDRAW_WEI = 10**16
log = logging.getLogger(__name__)


def run_demo(port: int, host: str) -> None:
    """Bring the stack up, serve the console, and take it all down on exit."""
    import httpx
    import uvicorn

    from l2gpu.client import MarketClient
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.l1.jsonrpc import connect_jsonrpc
    from l2gpu.l1.keys import account_from_private_key
    from l2gpu.node.client import NodeReader
    from l2gpu.payments.rails import L1ChannelRail
    from l2gpu.serving.connections import uvicorn_options
    from l2gpu.web.app import create_console
    from l2gpu.web.assets import htmx_path
    from l2gpu.web.claiming import RollupClaimer
    from l2gpu.web.renting import DevWallet

    folder = Path(tempfile.mkdtemp(prefix="l2gpu-web-demo-"))
    anvil, l1 = _start_anvil()
    children: list[subprocess.Popen[bytes]] = [anvil]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        account = account_from_private_key(ANVIL_DEV_KEY)
        chain = connect_jsonrpc(l1, [account])
        manager = ChannelManagerClient.deploy(chain, account)
        api_port, node_port = _free_port(), _free_port()
        api, node = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{node_port}"

        def spawn(name: str, key: str, *args: str, port: int | None = None) -> None:
            env = {**os.environ, "L2GPU_L1_RPC": l1, "L2GPU_PRIVATE_KEY": key,
                   "L2GPU_DATA_DIR": str(folder / name)}  # fmt: skip
            if port is not None:  # where 'l2gpu up' serves its API
                env["L2GPU_API_PORT"] = str(port)
            log = (folder / f"{name}.log").open("wb")
            children.append(subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                [sys.executable, "-m", "l2gpu.cli.main", *args], env=env, stdout=log,
                stderr=subprocess.STDOUT))  # fmt: skip

        spawn("market", ANVIL_DEV_KEY, "market", "serve", "--port", str(api_port),
              "--manager", str(manager.address))  # fmt: skip
        # the rollup node starts while the market does
        spawn("node", NODE_DEV_KEY, "up", "--interval", "1", port=node_port)
        _wait(lambda: httpx.get(api + "/health", timeout=2).status_code == 200, "the market API",
              folder / "market.log")  # fmt: skip
        spawn("provider", PROVIDER_DEV_KEY, "provider", "up", "--price", "1 gwei", "--gpus",
              "RTX_4090:2", "--location", "EU", "--api-url", api, "--manager",
              str(manager.address))  # fmt: skip
        _wait(lambda: httpx.get(api + "/offers", timeout=2).json()["count"] > 0,
              "the provider's offer", folder / "provider.log")  # fmt: skip
        key = PrivateKey(bytes(account.key))
        wallet = DevWallet(MarketClient(api, key), L1ChannelRail(manager, account))
        _wait(lambda: httpx.get(node + "/l2/status", timeout=2).status_code == 200,
              "the rollup node", folder / "node.log")  # fmt: skip
        _deposit_then_withdraw(chain, account, key, node, folder / "node.log")
        typer.echo(f"the console: http://{host}:{port}/  (L1: {l1}; logs and data: {folder})",
                   err=True)  # fmt: skip
        console = create_console(api, dev_wallet=wallet, htmx=htmx_path(),
                                 node=NodeReader(node, timeout=3.0),
                                 claimer=RollupClaimer(chain, account))  # fmt: skip
        uvicorn.run(console, host=host, port=port, log_level="warning", **uvicorn_options())
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _deposit_then_withdraw(
    chain: Chain, account: LocalAccount, key: PrivateKey, node: str, node_log: Path
) -> None:
    """The wallet's deposit into the rollup (its L1 transaction sent now, before the
    console can open channels from the same account), then, from a thread once the node
    has credited it, a withdrawal (an L2 transaction) that counts down to its claim."""
    from l2gpu.core.l2.transactions import Withdraw
    from l2gpu.core.types import Address, Wei
    from l2gpu.l1.build import compile_contract
    from l2gpu.l1.contracts.rollup import RollupClient
    from l2gpu.node.client import L2Client

    user = L2Client(node, key)
    rollup = Address.from_hex(user.status()["rollup"])
    contract = chain.attach(compile_contract("rollup/Rollup.vy"), rollup)
    RollupClient(chain, contract).deposit(account, user.bls, DEPOSIT_WEI)

    def withdraw() -> None:
        try:
            _wait(lambda: int(user.account()["balance"]) >= DEPOSIT_WEI, "the deposit", node_log)
            user.send(lambda me: Withdraw(me, Wei(WITHDRAW_WEI), Wei(0)))
        except L2gpuError as exc:  # the demo goes on without it; the page shows none
            log.warning("the demo's withdrawal failed: %s (%s)", exc.what, exc.fix)

    threading.Thread(target=withdraw, daemon=True, name="demo-withdrawal").start()


def _wait(ready: object, what: str, log: Path) -> None:
    """Until ``ready()`` holds (a process starting), or a clear error with its log."""
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        try:
            if ready():  # type: ignore[operator]
                return
        except Exception:  # noqa: S110 - not listening yet
            pass
        time.sleep(0.2)  # waiting for a process to start
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise L2gpuError(f"{what} did not start within {START_WAIT_S} s", f"its log says: {tail}")
