"""``l2gpu web --demo``: the whole stack behind the console, in one command.

anvil as L1 (from ``make tools``), a ChannelManager on it, ``market serve`` and a
provider agent (two declared RTX 4090s, jobs sandboxed) as processes of their own,
and the console served here with anvil's first dev key as its development wallet.
Open the printed address, sign in with the development wallet, rent, watch the
spend, stop. Ctrl-C (or SIGTERM) stops every process; their logs and data are in
a temporary folder that is printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer

from l2gpu.cli.shards_cmd import ANVIL_DEV_KEY, _free_port, _start_anvil
from l2gpu.core.errors import L2gpuError

# anvil's second dev key: the demo's provider
PROVIDER_DEV_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
START_WAIT_S = 120


def run_demo(port: int, host: str) -> None:
    """Bring the stack up, serve the console, and take it all down on exit."""
    import httpx
    import uvicorn

    from l2gpu.client import MarketClient
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.l1.jsonrpc import connect_jsonrpc
    from l2gpu.l1.keys import account_from_private_key
    from l2gpu.payments.rails import L1ChannelRail
    from l2gpu.serving.connections import uvicorn_options
    from l2gpu.web.app import create_console
    from l2gpu.web.assets import htmx_path
    from l2gpu.web.renting import DevWallet

    folder = Path(tempfile.mkdtemp(prefix="l2gpu-web-demo-"))
    anvil, l1 = _start_anvil()
    children: list[subprocess.Popen[bytes]] = [anvil]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        account = account_from_private_key(ANVIL_DEV_KEY)
        chain = connect_jsonrpc(l1, [account])
        manager = ChannelManagerClient.deploy(chain, account)
        api_port = _free_port()
        api = f"http://127.0.0.1:{api_port}"

        def spawn(name: str, key: str, *args: str) -> None:
            env = {**os.environ, "L2GPU_L1_RPC": l1, "L2GPU_PRIVATE_KEY": key,
                   "L2GPU_DATA_DIR": str(folder / name)}  # fmt: skip
            log = (folder / f"{name}.log").open("wb")
            children.append(subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                [sys.executable, "-m", "l2gpu.cli.main", *args], env=env, stdout=log,
                stderr=subprocess.STDOUT))  # fmt: skip

        spawn("market", ANVIL_DEV_KEY, "market", "serve", "--port", str(api_port),
              "--manager", str(manager.address))  # fmt: skip
        _wait(lambda: httpx.get(api + "/health", timeout=2).status_code == 200, "the market API",
              folder / "market.log")  # fmt: skip
        spawn("provider", PROVIDER_DEV_KEY, "provider", "up", "--price", "1 gwei", "--gpus",
              "RTX_4090:2", "--location", "EU", "--api-url", api, "--manager",
              str(manager.address))  # fmt: skip
        _wait(lambda: httpx.get(api + "/offers", timeout=2).json()["count"] > 0,
              "the provider's offer", folder / "provider.log")  # fmt: skip
        key = PrivateKey(bytes(account.key))
        wallet = DevWallet(MarketClient(api, key), L1ChannelRail(manager, account))
        typer.echo(f"the console: http://{host}:{port}/  (logs and data: {folder})", err=True)
        uvicorn.run(create_console(api, dev_wallet=wallet, htmx=htmx_path()), host=host,
                    port=port, log_level="warning", **uvicorn_options())  # fmt: skip
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
