"""The web console's pages and actions over a real market API and a real agent (the
World of tests/agent: API in process, real job processes, simulated seconds).

What a user does: search with a bad filter (the market's error shows), sign in
(the development wallet; a browser wallet's personal_sign), rent, watch the
seconds and the spend rise, stop. And what an attacker tries: a script in a job's
output (escaped), a state change without the session's CSRF token or from another
origin (refused), an expired session (asked to sign in again, the lease runs on),
a market that goes away (named on the page)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from l2gpu.client import MarketClient
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import OpenedChannel
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.market.lease_state import LeaseStatus
from l2gpu.core.market.signin import parse_message, sign_message
from l2gpu.core.types import Address, Wei
from l2gpu.web.app import create_console
from l2gpu.web.renting import DevWallet
from l2gpu.web.sessions import SessionStore
from tests.agent.test_agent import World
from tests.api.helpers import described
from tests.conftest import free_port
from tests.market.helpers import RENTER

ORIGIN = "http://127.0.0.1:8700"


class UncheckedRail:
    """The renter's rail where nothing checks the chain: the market and the agent of
    these tests (tests/agent's World) verify no channel, so the channel is only
    described, as the API and agent tests describe theirs."""

    settlement = "channel-l1"

    def __init__(self) -> None:
        self.abandoned: list[ChannelDescription] = []

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        channel = described(RENTER, provider, deposit)
        return OpenedChannel(channel.params, channel.deposit, channel, 0, 0)

    def abandon(self, channel: ChannelDescription, conceded: Wei = Wei(0)) -> str:
        self.abandoned.append(channel)
        return "its close has started"


def console(tmp_path: Path, **options: object) -> tuple[World, TestClient, DevWallet]:
    world = World(tmp_path)
    wallet = DevWallet(MarketClient("", RENTER, http=world.http), UncheckedRail(),  # type: ignore[arg-type]
                       clock=world.clock, threads=False)  # fmt: skip
    app = create_console("", dev_wallet=wallet, http=world.http, **options)  # type: ignore[arg-type]
    return world, TestClient(app, base_url=ORIGIN), wallet


def sign_in_dev(web: TestClient) -> str:
    """Sign in with the development wallet; return the session's CSRF token."""
    reply = web.post("/signin/dev", headers={"origin": ORIGIN}, follow_redirects=False)
    assert reply.status_code == 303
    page = web.get("/").text
    assert "development wallet: demo only" in page
    return page.split('name="csrf" value="')[1].split('"')[0]


def test_offers_show_and_a_bad_filter_says_what_the_cli_says(tmp_path: Path) -> None:
    world, web, _ = console(tmp_path)
    page = web.get("/")
    assert page.status_code == 200
    assert f'href="/rent/{world.offer.id}"' in page.text
    assert "RTX_4090" in page.text
    bad = web.get("/offers/table", params={"q": "num_gpus>>2"})
    assert bad.status_code == 200
    assert 'id="filter-error"' in bad.text
    from l2gpu.core.errors import L2gpuError

    try:
        world.renter.search("num_gpus>>2")
    except L2gpuError as exc:
        cli_says = str(exc)
    assert cli_says.split(":")[0] in bad.text  # the same words as the CLI's error
    none = web.get("/", params={"q": "gpu_name=H100"})
    assert "No offer meets this filter." in none.text


def test_a_new_user_rents_watches_the_spend_rise_and_stops(tmp_path: Path) -> None:
    world, web, wallet = console(tmp_path)
    csrf = sign_in_dev(web)
    form = web.get(f"/rent/{world.offer.id}").text
    assert 'id="rent-form"' in form
    rented = web.post(f"/rent/{world.offer.id}", headers={"origin": ORIGIN},
                      data={"command": "echo '<script>alert(1)</script>'; sleep 60",
                            "hours": "0.05", "csrf": csrf}, follow_redirects=False)  # fmt: skip
    assert rented.status_code == 303, rented.text
    lease_id = int(rented.headers["location"].rsplit("/", 1)[1])
    payer = wallet.payers[lease_id]
    world.agent.step()
    spent = []
    for _ in range(3):
        world.second(payer)
        live = web.get(f"/leases/{lease_id}/live").text
        spent.append(int(live.split('id="seconds">')[1].split("<")[0]))
    assert spent == sorted(spent)
    assert spent[-1] > spent[0] >= 1
    live = web.get(f"/leases/{lease_id}/live").text
    assert 'id="signed"' in live
    # the job's output is shown escaped: a script in it is text, not code
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in live
    assert "<script>alert(1)</script>" not in live
    stopped = web.post(f"/leases/{lease_id}/stop", headers={"origin": ORIGIN},
                       data={"csrf": csrf}, follow_redirects=False)  # fmt: skip
    assert stopped.status_code == 303
    world.agent.step()
    payer.step()
    assert payer.info.status is not LeaseStatus.RUNNING
    assert web.get(f"/leases/{lease_id}").status_code == 200


def test_state_changes_need_the_csrf_token_and_the_consoles_origin(tmp_path: Path) -> None:
    world, web, _ = console(tmp_path)
    csrf = sign_in_dev(web)
    data = {"command": "true", "hours": "0.05"}
    assert web.post(f"/rent/{world.offer.id}", data=data,
                    headers={"origin": ORIGIN}).status_code == 403  # fmt: skip
    assert web.post(f"/rent/{world.offer.id}", data={**data, "csrf": "guess"},
                    headers={"origin": ORIGIN}).status_code == 403  # fmt: skip
    elsewhere = web.post(f"/rent/{world.offer.id}", data={**data, "csrf": csrf},
                         headers={"origin": "https://evil.example"})  # fmt: skip
    assert elsewhere.status_code == 403
    assert "was refused" in elsewhere.text
    assert web.post("/signin/dev", headers={"origin": "https://evil.example"}).status_code == 403
    assert world.renter.jobs() == []  # nothing was rented by any of these


def test_a_browser_wallet_signs_in_and_is_told_why_it_cannot_rent(tmp_path: Path) -> None:
    world, web, _ = console(tmp_path)
    wallet_key = PrivateKey((0xBEEF).to_bytes(32, "big"))
    issued = web.post("/signin/nonce", json={"address": wallet_key.address.checksum},
                      headers={"origin": ORIGIN}).json()  # fmt: skip
    signature = sign_message(wallet_key, parse_message(issued["message"]))  # personal_sign
    done = web.post("/signin", json={"message": issued["message"],
                                     "signature": "0x" + signature.hex()},
                    headers={"origin": ORIGIN})  # fmt: skip
    assert done.status_code == 200
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    page = web.get(f"/rent/{world.offer.id}").text
    assert wallet_key.address.checksum in page
    assert "cannot sign a voucher every second" in page
    forged = web.post("/signin", json={"message": issued["message"], "signature": "0x" + "11" * 65},
                      headers={"origin": ORIGIN})  # fmt: skip
    assert forged.status_code == 401
    assert web.post("/signin/nonce", json={"address": "0x1234"},
                    headers={"origin": ORIGIN}).status_code == 400  # fmt: skip


def test_an_expired_session_signs_in_again_and_the_lease_runs_on(tmp_path: Path) -> None:
    now = [0.0]
    world, web, wallet = console(tmp_path, sessions=SessionStore(ttl=60, clock=lambda: now[0]))
    csrf = sign_in_dev(web)
    rented = web.post(f"/rent/{world.offer.id}", headers={"origin": ORIGIN},
                      data={"command": "sleep 60", "hours": "0.05", "csrf": csrf},
                      follow_redirects=False)  # fmt: skip
    lease_id = int(rented.headers["location"].rsplit("/", 1)[1])
    world.agent.step()
    now[0] = 61  # the session expires
    live = web.get(f"/leases/{lease_id}/live")
    assert live.status_code == 401
    assert "sign in again" in live.text
    world.second(wallet.payers[lease_id])  # paid all the same
    assert wallet.payers[lease_id].paid > 0
    sign_in_dev(web)
    assert 'id="seconds"' in web.get(f"/leases/{lease_id}/live").text
    world.renter.stop(lease_id)
    world.agent.step()


def test_a_market_that_goes_away_is_named_on_the_page() -> None:
    web = TestClient(create_console(f"http://127.0.0.1:{free_port()}"), base_url=ORIGIN)
    page = web.get("/")
    assert page.status_code == 200
    assert "cannot reach the market API" in page.text


def test_htmx_is_served_by_the_console_itself_never_from_a_cdn(tmp_path: Path) -> None:
    script = tmp_path / "htmx.min.js"
    script.write_text("/* htmx */")
    world, web, _ = console(tmp_path, htmx=script)
    page = web.get("/").text
    assert '<script src="/static/htmx.min.js"' in page
    assert "http" not in page.split("<script")[1].split(">")[0]  # a path of ours, no host
    assert web.get("/static/htmx.min.js").text == "/* htmx */"
    bare = TestClient(create_console("", http=world.http), base_url=ORIGIN)
    assert "htmx.min.js" not in bare.get("/").text  # plain forms and links
    assert bare.get("/static/htmx.min.js").status_code == 404
