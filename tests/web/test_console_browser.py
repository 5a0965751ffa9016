"""The console in a real browser (Debian's Chromium, driven by Playwright), over the
real stack as separate processes: `l2gpu web --demo`
(anvil as L1, a ChannelManager, `market serve`, `provider up` and `l2gpu up` as
processes of their own, the console with its development wallet). A new user searches
with a bad filter (the error shows), signs in, rents, watches the seconds and the
spend rise, and stops; sees its withdrawal count down on the rollup page; then the
provider, signed in with its wallet's signature, sees what the lease earned; and the
analytics page draws its charts. Last, a separate stage: the demo wallet's account
signs in as a browser wallet (a test shim stands in for MetaMask, forwarding to
anvil), anvil's clock passes the withdrawal's window, and the Claim button has the
wallet send ``Rollup.withdraw``: a rejection in the wallet is said and loses nothing,
then the hash shows, the row turns to claimed and L1 pays the amount.
Screenshots of each page are written under the test's folder, and, with
L2GPU_SCREENSHOTS=DIR, to DIR (the README shows two of docs/screenshots)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from l2gpu.cli.shards_cmd import ANVIL_DEV_KEY
from l2gpu.cli.web_demo import PROVIDER_DEV_KEY, WITHDRAW_WEI
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.market.signin import parse_message, sign_message
from l2gpu.web.assets import htmx_path
from tests.cli.test_market_l1 import processes, spawn, wait_for  # noqa: F401 - the fixture
from tests.conftest import free_port
from tests.parts import missing_part

CHROMIUM = "/usr/bin/chromium"
# read at import: the tests' own fixture hides every L2GPU_ variable from the tests
SCREENSHOTS = os.environ.get("L2GPU_SCREENSHOTS")
# As the machine's own probe starts it: no sandbox (root), no GPU, no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip


# A TEST SHIM, not a wallet: it stands in for MetaMask (EIP-1193's window.ethereum)
# in the browser test. It answers the accounts itself and forwards every other call
# (eth_chainId, personal_sign, eth_sendTransaction: anvil's dev accounts are unlocked)
# to anvil through the test's __testWalletRpc; rejectNext makes the next send fail as
# a user's rejection does (code 4001), onChain pretends the wallet is on another chain
# (one it will not switch from).
TEST_WALLET_SHIM = """
window.ethereum = {
  isL2gpuTestShim: true,
  rejectNext: false,
  onChain: null,
  async request({ method, params }) {
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [ACCOUNT];
    if (method === "eth_chainId" && window.ethereum.onChain) return window.ethereum.onChain;
    if (method === "wallet_switchEthereumChain" && window.ethereum.onChain) {
      const err = new Error("Unrecognized chain ID."); err.code = 4902; throw err;
    }
    if (method === "eth_sendTransaction" && window.ethereum.rejectNext) {
      window.ethereum.rejectNext = false;
      const err = new Error("User rejected the request."); err.code = 4001; throw err;
    }
    const answer = JSON.parse(await window.__testWalletRpc(method, JSON.stringify(params || [])));
    if (answer.error) {
      const err = new Error(answer.error.message); err.code = answer.error.code; throw err;
    }
    return answer.result;
  },
};
"""


def anvil_rpc(l1: str, method: str, params: list[object]) -> dict[str, object]:
    """One JSON-RPC call to anvil: its whole answer (``result`` or ``error``)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer: dict[str, object] = httpx.post(l1, json=body, timeout=30).json()
    return answer


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium page (Playwright), or a failure naming what is missing."""
    if shutil.which(CHROMIUM) is None:
        missing_part("Debian's Chromium is missing: run 'make tools' (apt-get install chromium)")
    if htmx_path() is None:
        missing_part("htmx is missing: run 'make tools' (npm install htmx.org)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_part("playwright is missing: run 'make install'")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = launched.new_page(viewport={"width": 1280, "height": 800})
        # the console's Content-Security-Policy holds on every page the test visits:
        # a script, style or request it refuses is reported on the page's console
        refused: list[str] = []
        page.on(
            "console", lambda m: refused.append(m.text) if "Content Security" in m.text else None
        )
        yield page
        launched.close()
        assert not refused, f"pages broke the console's policy ({len(refused)}): {refused[:2]}"


def shoot(page: object, folder: Path, name: str) -> None:
    """A screenshot of the page, in the test's folder and in $L2GPU_SCREENSHOTS."""
    for where in filter(None, [folder, SCREENSHOTS]):
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(where) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_new_user_rents_watches_and_stops_a_job_in_a_real_browser(
    tmp_path: Path,
    processes,  # noqa: F811 - the fixture imported above
    browser,
) -> None:
    page = browser
    web_port = free_port()
    web = f"http://127.0.0.1:{web_port}"
    env = {"L2GPU_DATA_DIR": str(tmp_path / "web")}
    processes.append(spawn("web", "--demo", "--port", str(web_port), env=env,
                           log=tmp_path / "web.log"))  # fmt: skip
    wait_for(lambda: httpx.get(web + "/").status_code == 200, "the console", 180)
    shots = tmp_path / "screenshots"

    page.goto(web + "/")  # type: ignore[attr-defined]
    page.wait_for_selector("tr.offer")  # type: ignore[attr-defined]
    page.fill("#filter", "num_gpus>>2")  # type: ignore[attr-defined]
    page.wait_for_selector("#filter-error")  # type: ignore[attr-defined]  # htmx swapped it in
    assert "num_gpus" in page.inner_text("#filter-error")  # type: ignore[attr-defined]
    page.fill("#filter", "gpu_name=RTX_4090")  # type: ignore[attr-defined]
    page.wait_for_selector("tr.offer")  # type: ignore[attr-defined]
    shoot(page, shots, "offers")

    page.click("#signin-link")  # type: ignore[attr-defined]
    page.click("#dev-signin")  # type: ignore[attr-defined]
    page.wait_for_selector("text=development wallet: demo only")  # type: ignore[attr-defined]
    page.click("a.rent")  # type: ignore[attr-defined]
    page.fill("#command", "for i in $(seq 1 60); do echo step $i; sleep 1; done")  # type: ignore[attr-defined]
    page.fill("#hours", "0.02")  # type: ignore[attr-defined]
    page.click("#rent-submit")  # type: ignore[attr-defined]
    page.wait_for_selector("#seconds", timeout=60_000)  # type: ignore[attr-defined]
    # waits read the page from Python: a string evaluated in the page is what the
    # console's policy (script-src 'self', no eval) refuses
    wait_for(lambda: int(page.inner_text("#seconds") or 0) >= 4, "4 metered seconds")  # type: ignore[attr-defined]
    spent = page.inner_text("#spent")  # type: ignore[attr-defined]
    assert spent != "0 wei"
    assert "step" in page.inner_text("#output")  # type: ignore[attr-defined]
    shoot(page, shots, "lease")
    page.click("#stop")  # type: ignore[attr-defined]
    wait_for(lambda: page.inner_text("#status").startswith("ended"), "the lease's end")  # type: ignore[attr-defined]
    shoot(page, shots, "stopped")

    # the rollup page: the demo wallet's withdrawal counts down to its claim (htmx
    # swaps it in every 5 s once the node has it)
    page.click("#nav-rollup")  # type: ignore[attr-defined]
    page.wait_for_selector("tr.exit", timeout=60_000)  # type: ignore[attr-defined]
    # a week's window from the batch's post, counted in anvil's time (which moves
    # only with its blocks)
    waiting = page.inner_text("tr.exit")  # type: ignore[attr-defined]
    assert re.search(r"claimable in (7 d|6 d \d+ h)", waiting), waiting
    assert "in challenge window" in page.inner_text("#batches")  # type: ignore[attr-defined]
    shoot(page, shots, "rollup")

    # the provider, signed in as a browser wallet would (its key signs the message)
    provider = PrivateKey.from_hex(PROVIDER_DEV_KEY)
    issued = page.request.post(web + "/signin/nonce",  # type: ignore[attr-defined]
                               data={"address": provider.address.checksum}).json()  # fmt: skip
    signature = sign_message(provider, parse_message(issued["message"]))
    signed = page.request.post(web + "/signin", data={  # type: ignore[attr-defined]
        "message": issued["message"], "signature": "0x" + signature.hex()})  # fmt: skip
    assert signed.ok, signed.text()
    page.click("#nav-provider")  # type: ignore[attr-defined]
    page.wait_for_selector("tr.provider-lease")  # type: ignore[attr-defined]
    assert page.inner_text("#earned-today") != "0 ETH"  # type: ignore[attr-defined]
    shoot(page, shots, "provider")

    # the analytics: "computing…" at first, then the charts (the fits run once per console)
    page.click("#nav-analytics")  # type: ignore[attr-defined]
    page.wait_for_selector("section#adoption svg", timeout=240_000)  # type: ignore[attr-defined]
    assert page.query_selector("#analytics-failure") is None  # type: ignore[attr-defined]
    shoot(page, shots, "analytics")
    assert sorted(p.name for p in shots.iterdir()) == [
        "analytics.png", "lease.png", "offers.png", "provider.png", "rollup.png",
        "stopped.png"]  # fmt: skip

    # -- a separate stage: a browser wallet claims its final withdrawal ------------------
    l1 = re.search(r"\(L1: (http://[0-9.:]+);", (tmp_path / "web.log").read_text())
    assert l1, "the demo prints its L1's address"
    claim_with_a_browser_wallet(page, web, l1.group(1), shots)


def claim_with_a_browser_wallet(page: object, web: str, l1: str, shots: Path) -> None:
    """The demo wallet's account, signed in as a browser wallet (the test shim), claims
    its withdrawal once anvil's clock has passed its window."""
    account = PrivateKey.from_hex(ANVIL_DEV_KEY).address.checksum  # the demo's withdrawer
    page.expose_function(  # type: ignore[attr-defined]
        "__testWalletRpc",
        lambda method, params: json.dumps(anvil_rpc(l1, method, json.loads(params))),
    )
    page.add_init_script(TEST_WALLET_SHIM.replace("ACCOUNT", json.dumps(account)))  # type: ignore[attr-defined]
    page.goto(web + "/signin")  # type: ignore[attr-defined]
    page.click("#wallet-signin")  # type: ignore[attr-defined]  # personal_sign, by anvil
    page.wait_for_url(web + "/")  # type: ignore[attr-defined]  # signed in: to the offers
    assert page.inner_text("#signed-in-as") == account  # type: ignore[attr-defined]
    assert page.query_selector(".devwallet") is None  # type: ignore[attr-defined]  # a browser wallet
    week = 7 * 24 * 3600
    assert "error" not in anvil_rpc(l1, "evm_increaseTime", [week + 60])
    assert "error" not in anvil_rpc(l1, "evm_mine", [])
    page.click("#nav-rollup")  # type: ignore[attr-defined]
    # the node reads L1's new time, and the page's refresh shows the Claim button
    button = "form.wallet-claim button.claim"
    page.wait_for_selector(button, timeout=60_000)  # type: ignore[attr-defined]
    row = page.query_selector(f"tr.exit:has({button})")  # type: ignore[attr-defined]
    exit_id = row.get_attribute("id")
    assert row.inner_text().count("claimable") == 1

    page.evaluate("window.ethereum.onChain = '0x1'")  # type: ignore[attr-defined]
    page.click(f"#{exit_id} {button}")  # type: ignore[attr-defined]
    page.wait_for_selector("#claim-error:has-text('chain 31337')")  # type: ignore[attr-defined]
    assert "on chain 1, not the rollup's L1" in page.inner_text("#claim-error")  # type: ignore[attr-defined]
    page.evaluate("window.ethereum.onChain = null")  # type: ignore[attr-defined]

    page.evaluate("window.ethereum.rejectNext = true")  # type: ignore[attr-defined]
    page.click(f"#{exit_id} {button}")  # type: ignore[attr-defined]
    page.wait_for_selector("#claim-error:has-text('rejected')")  # type: ignore[attr-defined]
    assert "nothing was sent" in page.inner_text("#claim-error")  # type: ignore[attr-defined]
    assert page.inner_text(f"#{exit_id} .exit-state") == "claimable"  # type: ignore[attr-defined]

    page.click(f"#{exit_id} {button}")  # type: ignore[attr-defined]  # the wallet sends it
    page.wait_for_selector("#claim-status:has-text('transaction 0x')")  # type: ignore[attr-defined]
    said = page.inner_text("#claim-status")  # type: ignore[attr-defined]
    tx_hash = re.search(r"transaction (0x[0-9a-f]{64})", said)
    assert tx_hash, said
    page.wait_for_selector(f"#{exit_id} .exit-state:text-is('claimed')", timeout=60_000)  # type: ignore[attr-defined]
    assert page.query_selector(f"#{exit_id} {button}") is None  # type: ignore[attr-defined]
    shoot(page, shots, "claimed")
    receipt: dict[str, str] = anvil_rpc(l1, "eth_getTransactionReceipt", [tx_hash.group(1)])[
        "result"
    ]  # type: ignore[assignment]
    assert receipt["status"] == "0x1"
    # the recipient (who also sent it) gained the amount, less the gas it paid, in that block
    block = int(receipt["blockNumber"], 16)
    before, after = (int(str(anvil_rpc(l1, "eth_getBalance", [account, hex(n)])["result"]), 16)
                     for n in (block - 1, block))  # fmt: skip
    gas_paid = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert after - before + gas_paid == WITHDRAW_WEI
