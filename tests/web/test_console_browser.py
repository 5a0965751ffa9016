"""The console in a real browser (Debian's Chromium, driven by Playwright), over the
real stack as separate processes: `l2gpu web --demo`
(anvil as L1, a ChannelManager, `market serve`, `provider up` and `l2gpu up` as
processes of their own, the console with its development wallet). A new user searches
with a bad filter (the error shows), signs in, rents, watches the seconds and the
spend rise, and stops; sees its withdrawal count down on the rollup page; then the
provider, signed in with its wallet's signature, sees what the lease earned; and the
analytics page draws its charts.
Screenshots of each page are written under the test's folder, and, with
L2GPU_SCREENSHOTS=DIR, to DIR (the README shows two of docs/screenshots)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from l2gpu.cli.web_demo import PROVIDER_DEV_KEY
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
        yield page
        launched.close()


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
    page.wait_for_function(  # type: ignore[attr-defined]
        "Number(document.querySelector('#seconds').textContent) >= 4", timeout=60_000
    )
    spent = page.inner_text("#spent")  # type: ignore[attr-defined]
    assert spent != "0 wei"
    assert "step" in page.inner_text("#output")  # type: ignore[attr-defined]
    shoot(page, shots, "lease")
    page.click("#stop")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "document.querySelector('#status').textContent.startsWith('ended')", timeout=60_000
    )
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
