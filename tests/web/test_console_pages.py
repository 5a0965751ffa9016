"""The console's provider and rollup pages, in process.

The provider page over the agent tests' World (a real market API and agent, real
job processes, simulated seconds): earnings appear once a lease is paid and grow
while it runs; offer and inventory text is escaped; the market's read endpoints
behind it show the caller's own data only. The rollup page over a node on the
embedded L1 (chain time travel, never sleep): a withdrawal counts down to its
claim and shows its Claim button only once claimable; a claim without the CSRF
token, or of another account's withdrawal, is refused; a browser wallet is handed
the L1 call that claims its own final withdrawal (decoded with the Rollup's ABI, it
is the node's proof) and refused it for another's, a non-final or a claimed one, or
without the CSRF token or from another origin; a node that is not
configured or goes away is named, and the page recovers when it is back.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from l2gpu.client import MarketClient
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.transactions import OpenChannel, Withdraw
from l2gpu.core.market.offers import sign_offer
from l2gpu.core.market.signin import parse_message, sign_message
from l2gpu.core.types import Seconds, Timestamp, Wei
from l2gpu.node.api import create_app as node_app
from l2gpu.node.client import NodeReader
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.node.cosigners import LocalCoSigner
from l2gpu.web.app import create_console
from l2gpu.web.claiming import RollupClaimer
from l2gpu.web.display import eth
from l2gpu.web.renting import DevWallet
from tests.agent.test_agent import World
from tests.api.helpers import market
from tests.conftest import free_port
from tests.l2.node_world import Deployed
from tests.market.helpers import CHAIN, PROVIDER, RENTER, terms
from tests.web.test_console import ORIGIN, UncheckedRail, sign_in_dev

FEE = Wei(10**12)
WEEK = 7 * 24 * 3600


def sign_in_as(web: TestClient, key: PrivateKey) -> str:
    """Sign in with a browser wallet's personal_sign; return the session's CSRF token."""
    issued = web.post("/signin/nonce", json={"address": key.address.checksum},
                      headers={"origin": ORIGIN}).json()  # fmt: skip
    signature = sign_message(key, parse_message(issued["message"]))
    done = web.post("/signin", json={"message": issued["message"],
                                     "signature": "0x" + signature.hex()},
                    headers={"origin": ORIGIN})  # fmt: skip
    assert done.status_code == 200, done.text
    return web.get("/").text.split('name="csrf" value="')[1].split('"')[0]


def figure(page: str, name: str) -> str:
    """The text of the element with id ``name`` (up to its first tag)."""
    return page.split(f'id="{name}">')[1].split("<")[0]


# -- the provider page ---------------------------------------------------------------


def provider_console(tmp_path: Path) -> tuple[World, TestClient]:
    world = World(tmp_path)
    app = create_console("", http=world.http, clock=world.clock, tz=UTC)
    return world, TestClient(app, base_url=ORIGIN)


def test_a_providers_earnings_appear_once_a_lease_is_paid_and_grow_while_it_runs(
    tmp_path: Path,
) -> None:
    world, web = provider_console(tmp_path)
    assert web.get("/provider", follow_redirects=False).headers["location"].startswith("/signin")
    sign_in_as(web, PROVIDER)
    world.agent.step()  # a heartbeat with the machine's inventory
    before = web.get("/provider").text
    assert figure(before, "earned-today") == "0 ETH"
    assert 'id="no-leases"' in before
    assert "RTX_4090" in before.split('id="machine"')[1]  # the agent's inventory
    assert f"<td>{world.offer.id}</td>" in before.split('id="my-offers"')[1]

    payer = world.rent("sleep 60")
    world.agent.step()
    seen = []
    for _ in range(3):
        world.second(payer)
        live = web.get("/provider/live").text
        paid = world.renter.lease(payer.lease_id).voucher.amount
        assert paid > 0
        assert figure(live, "earned-today") == eth(paid)  # the voucher, to the wei
        seen.append(paid)
    assert seen == sorted(seen)
    assert seen[-1] > seen[0]  # it grew while the lease ran
    assert figure(live, "live-leases") == "1"
    row = live.split('class="provider-lease"')[1]
    assert RENTER.address.checksum[:10] in row
    assert eth(seen[-1]) in row
    assert int(figure(live, "gpu-seconds-today")) >= 2 * 2  # two GPUs, two seconds or more
    offers = web.get("/provider").text.split('id="my-offers"')[1]
    assert "<td>leased</td>" in offers  # its offer, leased (a search no longer lists it)
    world.renter.stop(payer.lease_id)
    world.agent.step()


def test_offer_and_inventory_text_is_escaped_and_each_account_sees_its_own(
    tmp_path: Path,
) -> None:
    world, web = provider_console(tmp_path)
    agent = MarketClient("", PROVIDER, http=world.http)
    # GPU names come from a catalog; a location and an agent's inventory are free text
    agent.heartbeat({"gpus": 2, "source": "<script>alert(1)</script>",
                     "models": ["<img src=x onerror=alert(2)>"]})  # fmt: skip
    nasty = terms(location="<svg onload=f()>", num_gpus=1, nonce=9)
    agent.publish(sign_offer(PROVIDER, nasty, CHAIN))
    sign_in_as(web, PROVIDER)
    page = web.get("/provider").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;svg onload=f()&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<script>alert(1)" not in page
    assert "<svg" not in page
    assert "<img src=x" not in page
    # the market's reads behind the page: the caller's own offers only, signed in
    assert world.http.get("/accounts/me/offers").status_code == 401
    assert world.renter.my_offers() == []
    mine = agent.my_offers()
    assert {o.status for o in mine} == {"active"}
    assert len(mine) == 2
    sign_in_as(web, RENTER)
    assert 'id="no-offers"' in web.get("/provider").text


# -- the rollup page -------------------------------------------------------------------


@pytest.fixture(scope="module")
def rollup() -> Deployed:
    """A rollup on the embedded L1, its users' deposits made (set up once)."""
    return Deployed()


def rollup_console(rollup: Deployed, tmp_path: Path) -> dict[str, Any]:
    """A node whose batch holds a withdrawal of user 0, one of user 1 and a channel
    from user 0 to user 2; a console over it whose development wallet is user 0."""
    rollup.reset()
    cosigners = {i: LocalCoSigner(i, rollup.bls[i]) for i in range(4)}
    node = rollup.node(tmp_path / "node.db", cosigners)
    node.follow_l1()
    node.seal_and_post()  # the deposits
    expires = Timestamp(rollup.chain.timestamp() + 2 * WEEK)
    sent = [
        (0, OpenChannel(0, 2, Wei(10**16), expires, Seconds(3600)), 0),
        (0, Withdraw(0, Wei(10**17), FEE), 1),
        (1, Withdraw(1, Wei(2 * 10**17), FEE), 0),
    ]
    for user, tx, nonce in sent:
        cosigners[user].expect(tx)
        cosigners[2].expect(tx)  # the channel's provider co-signs its opening
        node.submit(rollup.envelope(node, user, tx, nonce))
    node.seal_and_post()
    assert len(node.state.exits) == 2
    http, _, _ = market((f"sqlite:///{tmp_path / 'm.db'}", None))
    wallet = DevWallet(MarketClient("", rollup.keys[0], http=http), UncheckedRail(),  # type: ignore[arg-type]
                       threads=False)  # fmt: skip
    reader = NodeReader("http://node", http=TestClient(node_app(node, CoSignDesk())))
    claimer = RollupClaimer(rollup.chain, rollup.chain.accounts[1])  # user 0's L1 account
    app = create_console("", dev_wallet=wallet, http=http, node=reader, claimer=claimer, tz=UTC)
    return {"web": TestClient(app, base_url=ORIGIN), "node": node, "reader": reader}


def claim(web: TestClient, exit_index: int, csrf: str | None) -> httpx.Response:
    data = {} if csrf is None else {"csrf": csrf}
    return web.post(f"/rollup/exits/{exit_index}/claim", data=data, headers={"origin": ORIGIN},
                    follow_redirects=False)  # fmt: skip


def test_a_withdrawal_counts_down_and_is_claimed_once_final(
    rollup: Deployed, tmp_path: Path
) -> None:
    world = rollup_console(rollup, tmp_path)
    web, node = world["web"], world["node"]
    mine, theirs = (e.index for e in node.state.exits)
    rollup.chain.time_travel(3600)  # an hour of the window has passed
    anonymous = web.get("/rollup").text
    assert "in challenge window: 6 d 23 h left" in anonymous  # the batch, for anyone
    assert 'id="exits"' not in anonymous
    csrf = sign_in_dev(web)
    page = web.get("/rollup").text
    row = page.split(f'id="exit-{mine}"')[1].split("</tr>")[0]
    assert "0.1 ETH" in row
    assert "claimable in 6 d 23 h" in row
    assert 'class="claim"' not in page  # not before it is final
    assert f'id="exit-{theirs}"' not in page  # another account's withdrawal is not shown
    channel = page.split('class="channel"')[1].split("</tr>")[0]
    assert "renter" in channel
    assert "0.01 ETH" in channel
    assert "(13 d 22 h)" in channel  # it expires two weeks after it opened, an hour ago
    early = claim(web, mine, csrf)
    assert early.status_code == 409
    assert "not final yet" in early.text

    rollup.chain.time_travel(WEEK - 3600 + 1)  # the window is over
    page = web.get("/rollup/live").text
    assert page.split(f'id="exit-{mine}"')[1].split("</tr>")[0].count('class="claim"') == 1
    assert figure(page, f"claim-{mine}") == "Claim"
    assert claim(web, mine, None).status_code == 403  # no CSRF token
    assert claim(web, mine, "guess").status_code == 403
    foreign = claim(web, theirs, csrf)  # final too, but user 1's
    assert foreign.status_code == 403
    assert "is not yours" in foreign.text
    contract = node.rollup.contract
    assert not contract.call("exit_claimed", mine)
    assert not contract.call("exit_claimed", theirs)
    assert claim(web, mine, csrf).status_code == 303
    assert contract.call("exit_claimed", mine)
    assert not contract.call("exit_claimed", theirs)
    after = web.get("/rollup").text.split(f'id="exit-{mine}"')[1].split("</tr>")[0]
    assert '<td class="exit-state">claimed</td>' in after
    assert 'class="claim"' not in after
    assert claim(web, mine, csrf).status_code == 409  # once only
    # a browser wallet's user: its own withdrawal, final; its wallet sends the claim
    # (the page's script, below), the console does not
    theirs_csrf = sign_in_as(web, rollup.keys[1])
    row = web.get("/rollup").text.split(f'id="exit-{theirs}"')[1].split("</tr>")[0]
    assert "l2gpu l2 withdraw --claim" in row
    assert 'class="inline wallet-claim"' in row
    told = claim(web, theirs, theirs_csrf)
    assert told.status_code == 403
    assert "your own key signs" in told.text
    assert not contract.call("exit_claimed", theirs)


def claim_tx(web: TestClient, exit_index: int, csrf: str | None,
             origin: str = ORIGIN) -> httpx.Response:  # fmt: skip
    """Ask for the L1 transaction that claims ``exit_index``, as the page's script does
    (the CSRF token in ``X-CSRF-Token``)."""
    headers = {"origin": origin} | ({} if csrf is None else {"x-csrf-token": csrf})
    return web.post(f"/rollup/exits/{exit_index}/claim-tx", headers=headers)


def test_a_browser_wallet_is_handed_the_l1_call_that_claims_its_own_final_withdrawal(
    rollup: Deployed, tmp_path: Path
) -> None:
    from l2gpu.l1.contracts.rollup import WITHDRAW_GAS

    world = rollup_console(rollup, tmp_path)
    web, node, reader = world["web"], world["node"], world["reader"]
    user0s, mine = (e.index for e in node.state.exits)  # user 1 signs in: "mine" is theirs
    chain, contract = rollup.chain, node.rollup.contract
    assert claim_tx(web, mine, None).status_code == 401  # not signed in
    csrf = sign_in_as(web, rollup.keys[1])  # a browser wallet (personal_sign)
    early = claim_tx(web, mine, csrf)
    assert early.status_code == 409
    assert "not final yet" in early.json()["error"]
    assert "claimable in 7 d" in early.json()["fix"]

    chain.time_travel(WEEK + 1)
    row = web.get("/rollup/live").text.split(f'id="exit-{mine}"')[1].split("</tr>")[0]
    assert f'data-exit="{mine}"' in row
    assert figure(row, f"claim-{mine}") == "Claim"
    assert claim_tx(web, mine, None).status_code == 403  # no CSRF token
    assert claim_tx(web, mine, "guess").status_code == 403
    assert claim_tx(web, mine, csrf, origin="https://evil.example").status_code == 403
    foreign = claim_tx(web, user0s, csrf)  # final too, but user 0's
    assert foreign.status_code == 403
    assert "is not yours" in foreign.json()["error"]
    assert claim_tx(web, 99, csrf).status_code == 403  # no such withdrawal: not its

    given = claim_tx(web, mine, csrf)
    assert given.status_code == 200, given.text
    tx = given.json()["tx"]
    assert given.json()["amount"] == str(2 * 10**17)
    assert tx["to"] == contract.address.checksum
    assert tx["from"] == rollup.keys[1].address.checksum
    assert int(tx["chainId"], 16) == chain.chain_id
    assert int(tx["gas"], 16) == WITHDRAW_GAS
    assert tx["value"] == "0x0"
    function, args = contract.decode_input(tx["data"])  # with the Rollup's own ABI
    proof = reader.exit_proof(mine)
    assert function == "withdraw"
    assert args == {
        "_batch": proof["batch"], "_exit_index": mine, "_recipient": proof["recipient"],
        "_amount": proof["amount"], "_proof": [bytes.fromhex(h[2:]) for h in proof["proof"]],
        "_accounts_root": bytes.fromhex(proof["accounts_root"][2:]),
        "_channels_root": bytes.fromhex(proof["channels_root"][2:]),
        "_deposits_processed": proof["deposits_processed"], "_exit_count": proof["exit_count"],
    }  # fmt: skip

    # what the wallet does with it: send it from the account, as it is
    sender = chain.accounts[2]  # user 1's L1 account
    assert sender.address == tx["from"]
    before = chain.balance(sender.address)
    fields = {"to": tx["to"], "data": tx["data"], "value": 0, "gas": int(tx["gas"], 16),
              "chainId": int(tx["chainId"], 16)}  # fmt: skip
    sent = chain.tx_params(sender, fields)
    receipt = chain.send_signed(sent, sender)
    assert receipt["status"] == 1
    assert receipt["gasUsed"] < WITHDRAW_GAS // 2
    paid_gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert chain.balance(sender.address) - before + paid_gas == 2 * 10**17
    assert contract.call("exit_claimed", mine)
    after = web.get("/rollup/live").text.split(f'id="exit-{mine}"')[1].split("</tr>")[0]
    assert '<td class="exit-state">claimed</td>' in after
    assert "wallet-claim" not in after
    again = claim_tx(web, mine, csrf)
    assert again.status_code == 409
    assert "claimed already" in again.json()["error"]
    assert not contract.call("exit_claimed", user0s)


def test_a_node_that_is_away_is_named_and_the_page_recovers(
    rollup: Deployed, tmp_path: Path
) -> None:
    bare = TestClient(create_console(f"http://127.0.0.1:{free_port()}"), base_url=ORIGIN)
    assert "no rollup node is configured" in bare.get("/rollup").text
    world = rollup_console(rollup, tmp_path)
    web, reader = world["web"], world["reader"]
    working = reader.http
    reader.http = httpx.Client(base_url=f"http://127.0.0.1:{free_port()}")  # nothing there
    down = web.get("/rollup")
    assert down.status_code == 200
    assert "the node is unreachable; retrying" in down.text
    assert 'hx-get="/rollup/live"' in down.text  # the page asks again by itself
    reader.http = working  # the node is back
    live = web.get("/rollup/live").text
    assert "unreachable" not in live
    assert 'class="batch-state"' in live


def test_amounts_show_in_ether_and_waits_as_countdowns() -> None:
    from l2gpu.web.display import countdown, day_boundaries, local_time

    assert [eth(0), eth(10**18), eth(36 * 10**11), eth(15 * 10**17)] == [
        "0 ETH", "1 ETH", "0.0000036 ETH", "1.5 ETH"]  # fmt: skip
    assert countdown(WEEK - 3600) == "6 d 23 h"
    assert [countdown(250), countdown(3600), countdown(59), countdown(-5)] == [
        "4 min 10 s", "1 h", "59 s", "now"]  # fmt: skip
    t0 = 1_800_000_000  # 2027-01-15 08:00:00 UTC
    assert local_time(t0, UTC) == "2027-01-15 08:00:00 UTC"
    days = day_boundaries(t0, 2, UTC)
    assert days == [t0 - 8 * 3600 - 86_400, t0 - 8 * 3600, t0 - 8 * 3600 + 86_400]
