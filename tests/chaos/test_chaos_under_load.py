"""Chaos under load (issue #13, point 4): many concurrent leases, every part a real
process, and kill -9 of the node, an agent, the market API and renters at seeded
moments, each started again; at the end every wei is accounted for, no acknowledged
transaction is lost, and no provider served more than its grace period unpaid.

The parts: anvil as L1 (never killed), ``l2gpu up`` (the rollup node), ``l2gpu market
serve``, two ``l2gpu provider up --node`` agents with a few declared GPUs each (one
offer per GPU model), renters running ``l2gpu rent`` one lease after another (a job
that records its own running time), a witness client that sends transfers through
the node and records each acknowledgement (the node's signed receipt), and an
observer reading the market's leases every second.

The kill schedule (what, in which order, after how long a calm, for how long down) is
drawn from ``L2GPU_TEST_CHAOS_SEED`` (default 13); each moment counts from the moment
the system is whole again after the previous kill, so a slow machine stretches the
run rather than changing what is tested. A killed renter rents again (a new ``rent``)
after its down time; its lease left behind is the provider's to end and close.

The end: no new leases; the rents end; the agents close their channels; everything
but the node stops; the L1 clock moves past every channel's deadline (anvil's time
travel) and ``l2gpu l2 settle-channel`` settles what is left. Then the books: the
node's state, and the same rebuilt from L1 alone (every batch replayed and checked),
which also says what each channel paid whom (a settled channel keeps no amounts).

``timeline.log`` in the test's folder says what was killed and started when; each
process logs to its own file there.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from l2gpu.client import MarketClient
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address
from l2gpu.l1.jsonrpc import connect_jsonrpc
from l2gpu.wire import LeasePublic

from ..l2.restart_world import ANVIL_KEYS_ALL
from .ledger import Ledger, replay
from .world import (
    HANG_GUARD_S,
    WITNESS_AMOUNT,
    Observer,
    Renters,
    Service,
    Timeline,
    Witness,
    cli,
    free_port,
    fund,
    key_of,
    kill_jobs,
    served_seconds,
    tick_span,
    wait_until,
)

# Proving, compiling and chaos take minutes: the module is scheduled first.
pytestmark = pytest.mark.slow  # scheduled first (tests/conftest.py)

SEED = int(os.environ.get("L2GPU_TEST_CHAOS_SEED", "13"))  # read before the env is cleared
OPERATOR, WATCHER = ANVIL_KEYS_ALL[0], ANVIL_KEYS_ALL[4]
DEPOSIT = 10**18  # each party's, on L2
GRACE = 5  # the agents' --grace
# (price per GPU-second in wei, declared GPUs): one offer per model
PROVIDERS = [(10**9, "RTX_4090:1,A100:1,L4:1"), (2 * 10**9, "H100:2,T4:1")]
RENTERS = 6  # one more than there are offers: they compete
LEASE_SECONDS = (12, 28)
KILLS = 7
COSIGN_TIMEOUT = 8  # the node's: a dead renter's cooperative close waits this long
# What a job may run beyond its metered seconds, by construction: its ticks are 0.2 s
# apart, the meter counts whole seconds sampled at each agent step, and a killed
# agent's jobs run until the dead-man switch freezes them (0.25 s). The metered
# seconds themselves are held to the grace exactly (the check above).
TICK_SLACK_S = 2.0
LIVE = ("requested", "starting", "running")


@dataclass(frozen=True)
class Kill:
    gap: float  # seconds of calm (everything up) before the kill
    kind: str  # node, agent, market, renter
    target: int  # which agent or renter
    down: float  # seconds before it is started again


def schedule(rng: random.Random) -> list[Kill]:
    """Every kind at least once, the rest weighted towards renters and the node."""
    kinds = ["node", "agent", "market", "renter"]
    kinds += rng.choices(kinds, weights=[2, 2, 1, 3], k=KILLS - len(kinds))
    rng.shuffle(kinds)
    return [
        Kill(
            round(rng.uniform(3, 7), 2),
            kind,
            rng.randrange(len(PROVIDERS)) if kind == "agent" else rng.randrange(RENTERS),
            round(rng.uniform(1, 5), 2),
        )
        for kind in kinds
    ]


def _sandboxed() -> bool:
    """Jobs run in the sandbox where the machine has one, else unsandboxed (the flag)."""
    if shutil.which("bwrap") is None:
        return False
    from l2gpu.agent.sandbox_check import sandbox_check

    return sandbox_check().ok


def _models(gpus: str) -> list[tuple[str, int]]:
    return [(part.split(":")[0], int(part.split(":")[1])) for part in gpus.split(",")]


@dataclass
class Run:
    """One chaos run: its processes, parties and what they saw."""

    anvil_url: str
    folder: Path
    timeline: Timeline
    providers: list[PrivateKey] = field(default_factory=list)
    renters: list[PrivateKey] = field(default_factory=list)
    witness_key: PrivateKey = field(default_factory=lambda: key_of(30))
    sink_key: PrivateKey = field(default_factory=lambda: key_of(31))
    services: list[Service] = field(default_factory=list)
    agents: list[Service] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    renting: Renters | None = None
    sandboxed: bool = False
    deposited: int = 0
    kills: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.providers = [key_of(1 + i) for i in range(len(PROVIDERS))]
        self.renters = [key_of(10 + i) for i in range(RENTERS)]
        self.chain = connect_jsonrpc(self.anvil_url, [])
        node_port, market_port = free_port(), free_port()
        self.node_url = f"http://127.0.0.1:{node_port}"
        self.market_url = f"http://127.0.0.1:{market_port}"
        self.node = Service(
            "node", ["up", "--interval", "0.5", "--cosign-timeout", str(COSIGN_TIMEOUT)],
            {"L2GPU_L1_RPC": self.anvil_url, "L2GPU_PRIVATE_KEY": OPERATOR,
             "L2GPU_DATA_DIR": str(self.folder / "node"), "L2GPU_API_PORT": str(node_port)},
            self.folder / "node.log",
            lambda _: httpx.get(self.node_url + "/l2/status", timeout=5).status_code == 200,
        )  # fmt: skip
        self.market = Service(
            "market", ["market", "serve", "--port", str(market_port), "--chain-id",
                       str(self.chain.chain_id), "--node", self.node_url],
            {"L2GPU_DATA_DIR": str(self.folder / "market")}, self.folder / "market.log",
            lambda _: httpx.get(self.market_url + "/health", timeout=5).status_code == 200,
        )  # fmt: skip
        self.services = [self.node, self.market]

    @property
    def everyone(self) -> list[PrivateKey]:
        return [*self.providers, *self.renters, self.witness_key, self.sink_key]

    def jobs(self, provider: int) -> Path:
        return self.folder / f"provider-{provider}" / "jobs"

    # -- the world -------------------------------------------------------------------------

    def build(self) -> None:
        self.node.start()
        self.node.wait_ready()
        self.deposited = fund(self.anvil_url, self.node_url, self.everyone, DEPOSIT)
        self.market.start()
        self.market.wait_ready()
        self.sandboxed = _sandboxed()
        for i, ((price, gpus), key) in enumerate(zip(PROVIDERS, self.providers, strict=True)):
            args = ["provider", "up", "--price", f"{price} wei", "--gpus", gpus, "--grace",
                    str(GRACE), "--max-duration", "1h", "--api-url", self.market_url,
                    "--node", self.node_url]  # fmt: skip
            if not self.sandboxed:
                args.append("--unsandboxed-i-trust-every-renter")
            offers = len(_models(gpus))
            agent = Service(
                f"agent-{i}", args,
                {"L2GPU_PRIVATE_KEY": "0x" + key.secret.hex(),
                 "L2GPU_DATA_DIR": str(self.folder / f"provider-{i}")},
                self.folder / f"agent-{i}.log",
                # ready once this start published its offers
                lambda s, n=offers: s.log_count(r"^offer \d+: ") >= n * s.starts,
            )  # fmt: skip
            self.agents.append(agent)
            self.services.append(agent)
            agent.start()
        for agent in self.agents:
            agent.wait_ready()

    # -- load and chaos --------------------------------------------------------------------

    def chaos(self, plan: list[Kill], observer: Observer, witness: Witness) -> None:
        for part in (observer, witness):
            threading.Thread(target=part.run, daemon=True, name=type(part).__name__).start()
        renting = Renters(self.folder, self.renters, self.market_url, self.node_url, SEED,
                          LEASE_SECONDS, self.timeline)  # fmt: skip
        self.renting = renting
        renting.start()
        wait_until(lambda: len(renting.live()) >= RENTERS, "every renter renting")
        for kill in plan:
            time.sleep(kill.gap)  # the seeded moment of the kill, not a wait for a result
            if kill.kind == "renter":
                live = renting.live()
                if live:  # the chosen renter, or the next one renting now
                    renting.kill(min(live, key=lambda i: (i - kill.target) % RENTERS), kill.down)
                    self.kills["renter"] += 1
                continue
            service = {"node": self.node, "market": self.market}.get(kill.kind)
            service = service or self.agents[kill.target]
            service.kill()
            self.timeline(f"kill -9 {service.name}")
            self.kills[kill.kind] += 1
            time.sleep(kill.down)  # the seeded outage
            service.start()
            self.timeline(f"start {service.name}")
            service.wait_ready()
            self.timeline(f"{service.name} ready")

    # -- the end ---------------------------------------------------------------------------

    def leases(self) -> list[LeasePublic]:
        return [lease for key in self.providers for lease in MarketClient(
            self.market_url, key).jobs()]  # fmt: skip

    def channel(self, cid: str) -> dict[str, Any] | None:
        got = httpx.get(f"{self.node_url}/l2/channels/{cid}", timeout=10)
        return None if got.status_code == 404 else dict(got.json())

    def status(self) -> dict[str, Any]:
        return dict(httpx.get(self.node_url + "/l2/status", timeout=10).json())

    def end(self, observer: Observer) -> list[LeasePublic]:
        """No new leases; every rent over; the agents close what they hold vouchers for;
        everything but the node stops. Return the leases as the market ended them."""
        assert self.renting is not None
        self.timeline("chaos over: no new leases")
        self.renting.finish(cap_after_lease_s=90)
        self.timeline("every rent over")
        self.stop.set()
        waiting: list[str] = []

        def closed_by_providers() -> bool:
            found = self.leases()
            observer.look(found)
            waiting[:] = [f"lease {x.id} {x.status.value}" for x in found
                          if x.status.value in LIVE]  # fmt: skip
            for lease in found:
                if observer.best_voucher.get(lease.id, 0) == 0:
                    continue  # no voucher: the renter's to take back, after its deadline
                shown = self.channel(lease.channel.channel_id)
                if shown is not None and shown["status"] in ("open", "pending"):
                    waiting.append(f"lease {lease.id}'s channel {shown['status']}")
            return not waiting

        try:  # what the agents leave open is seen in the checks
            wait_until(closed_by_providers, "every lease over and its channel closed", 120)
        except AssertionError as exc:
            self.timeline(f"{exc}: {waiting}")
        final = self.leases()
        self.timeline("the agents are done")
        for agent in self.agents:
            agent.stop(signal.SIGINT)  # provider up stops its jobs on SIGINT
        self.market.stop(signal.SIGINT)
        for i in range(len(self.agents)):
            kill_jobs(self.jobs(i))

        def quiet() -> bool:
            status = self.status()
            return status["mempool"] == 0 and status["pending_channels"] == 0

        wait_until(quiet, "the node's mempool to drain")
        return final

    def settle_the_rest(self) -> None:
        """Past every deadline on L1, then ``l2gpu l2 settle-channel`` (each renter its own
        channels, the renters side by side)."""

        def unsettled(key: PrivateKey) -> list[str]:
            url = f"{self.node_url}/l2/accounts/{key.address.checksum}/channels"
            return [c["channel_id"] for c in httpx.get(url, timeout=10).json()
                    if c["status"] in ("open", "closing")]  # fmt: skip

        left = {key: unsettled(key) for key in self.renters}
        shown = [self.channel(cid) for cids in left.values() for cid in cids]
        if not shown:
            return
        deadline = max(int(c["close_deadline"]) or int(c["expires_at"]) + int(
            c["challenge_period"]) for c in shown if c)  # fmt: skip
        self.chain.time_travel(max(0, deadline - int(self.status()["time"])) + 60)
        self.timeline(f"time travel past {deadline}; settling {sum(map(len, left.values()))}")

        def settle(i: int, key: PrivateKey) -> None:
            with (self.folder / f"settle-{i}.log").open("ab") as out:
                for cid in left[key]:
                    subprocess.run(
                        cli("l2", "settle-channel", cid, "--api", self.node_url),
                        env={**os.environ, "L2GPU_PRIVATE_KEY": "0x" + key.secret.hex()},
                        stdout=out, stderr=subprocess.STDOUT, timeout=HANG_GUARD_S, check=False,
                    )  # fmt: skip

        settlers = [threading.Thread(target=settle, args=(i, k)) for i, k in enumerate(left)]
        for t in settlers:
            t.start()
        for t in settlers:
            t.join(timeout=HANG_GUARD_S)

    def final_state(self) -> tuple[dict[str, Any], dict[Address, int]]:
        """Once every transaction is sealed and every batch on L1: the node's status and
        its balances."""

        def sealed_and_posted() -> bool:
            status = self.status()
            return status["mempool"] == 0 and status["batches_waiting_for_l1"] == 0

        wait_until(sealed_and_posted, "every transaction sealed and on L1")
        balances = {}
        for key in self.everyone:
            got = httpx.get(f"{self.node_url}/l2/accounts/{key.address.checksum}", timeout=10)
            balances[key.address] = int(got.json()["balance"])
        return self.status(), balances

    def teardown(self) -> None:
        self.stop.set()
        if self.renting is not None:
            self.renting.starting.clear()
            for rent in self.renting.runs:
                if rent.proc.poll() is None:
                    rent.proc.kill()
        for service in reversed(self.services):
            if service.proc is not None and service.proc.poll() is None:
                service.proc.kill()
                service.proc.wait(timeout=60)
        for i in range(len(PROVIDERS)):
            kill_jobs(self.jobs(i))


@dataclass
class Books:
    """The checks, each failure a line; notes are findings that are not checked."""

    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    worst_metered: float = 0.0
    worst_ran: float = 0.0


def every_wei(
    run: Run,
    ledger: Ledger,
    node_status: dict[str, Any],
    node_balances: dict[Address, int],
    books: Books,
) -> None:
    """Deposits = paid to providers + refunded + still in open channels, channel by
    channel and party by party, on L2 and on L1; and the node agrees with L1."""
    out = books.violations
    out += ledger.problems
    if str(ledger.state.root()) != node_status["state_root"]:
        out.append(f"the node's state root {node_status['state_root']} is not the one its L1 "
                   f"batches lead to ({ledger.state.root()})")  # fmt: skip
    for address, shown in node_balances.items():
        if shown != ledger.balance(address):
            out.append(f"{address.checksum}: the node shows balance {shown}, L1's batches "
                       f"{ledger.balance(address)}")  # fmt: skip
    channels = list(ledger.channels.values())
    locked = sum(c.deposit for c in channels)
    paid = sum(c.payout for c in channels)
    refunded = sum(c.refund for c in channels)
    live = sum(c.deposit for c in channels if not c.settled)
    if locked != paid + refunded + live:
        out.append(f"channel deposits {locked} != paid to providers {paid} + refunded "
                   f"{refunded} + in open channels {live}")  # fmt: skip
    for c in channels:
        if c.settled and c.payout + c.refund != c.deposit:
            out.append(f"channel {c.channel_id} ({c.closed_by}): deposit {c.deposit} paid out "
                       f"as {c.payout} + {c.refund}")  # fmt: skip
    for p in run.providers:
        earned = sum(c.payout for c in channels if c.provider == p.address)
        if ledger.balance(p.address) != DEPOSIT + earned:
            has = ledger.balance(p.address)
            out.append(f"provider {p.address.checksum}: L2 balance {has} != deposit "
                       f"{DEPOSIT} + payouts {earned}")  # fmt: skip
    for r in run.renters:
        mine = [c for c in channels if c.renter == r.address]
        spent = sum(c.payout for c in mine)
        held = sum(c.deposit for c in mine if not c.settled)
        if ledger.balance(r.address) != DEPOSIT - spent - held:
            has = ledger.balance(r.address)
            out.append(f"renter {r.address.checksum}: L2 balance {has} != deposit "
                       f"{DEPOSIT} - paid {spent} - in open channels {held}")  # fmt: skip
    state = ledger.state
    on_l2 = sum(int(a.balance) for a in state.accounts)
    on_l2 += sum(int(c.channel.deposit) for c in state.channels if c.live)
    if on_l2 != run.deposited:
        out.append(f"L2 holds {on_l2} wei (balances and open channels); {run.deposited} were "
                   "deposited")  # fmt: skip
    if len(state.accounts) != len(run.everyone):
        out.append(f"L2 has {len(state.accounts)} accounts; the test made {len(run.everyone)}")
    from l2gpu.l1 import compile_contract

    rollup = Address.from_hex(node_status["rollup"])
    contract = run.chain.attach(compile_contract("rollup/Rollup.vy"), rollup)
    bond = int(contract.call("bond", PrivateKey.from_hex(OPERATOR).address.checksum))
    on_l1 = run.chain.balance(rollup)
    if on_l1 != run.deposited + bond:
        out.append(f"the rollup holds {on_l1} wei on L1; deposits {run.deposited} + the "
                   f"proposer's bond {bond}")  # fmt: skip


def nothing_acknowledged_lost(
    run: Run, ledger: Ledger, witness: Witness, observer: Observer, books: Books
) -> None:
    """Every transfer the node acknowledged to the witness is on L1, once; every channel
    it acknowledged to a renter that lived to co-sign it is on L1; the market never
    showed a voucher or metered seconds and later less."""
    out = books.violations
    me = ledger.state.account_of(run.witness_key.address)
    nonce = me.nonce if me is not None else 0
    sink_gain = ledger.balance(run.sink_key.address) - DEPOSIT
    twice = [n for n, k in Counter(witness.acked).items() if k > 1]
    if twice:
        out.append(f"the node acknowledged witness nonces {twice} twice: the first "
                   "acknowledgement was lost")  # fmt: skip
    if witness.dropped:
        out.append(f"acknowledged witness transfers never included: {witness.dropped}")
    if nonce != len(witness.acked) or sink_gain != nonce * WITNESS_AMOUNT:
        out.append(f"witness: {len(witness.acked)} transfers acknowledged, nonce {nonce}, "
                   f"sink gained {sink_gain} wei ({WITNESS_AMOUNT} each)")  # fmt: skip
    assert run.renting is not None
    for rent in run.renting.runs:
        if rent.channel is None or rent.channel in ledger.channels:
            continue
        line = (f"renter {rent.renter}'s channel {rent.channel} (lease {rent.lease_id}) was "
                "acknowledged by the node and is not on L1")  # fmt: skip
        if rent.finished:  # the renter lived to co-sign it: nothing excuses the loss
            out.append(line + " (its renter lived to co-sign it)")
        else:
            books.notes.append(f"{line} (its renter was gone before co-signing)")
    out += observer.regressions


def grace_kept(
    run: Run, ledger: Ledger, leases: list[LeasePublic], observer: Observer, books: Books
) -> None:
    """Per lease: seconds metered (the market's record) and seconds the job really ran
    (its own ticks) minus seconds paid (the channel's payout on L1) within the grace."""
    observer.look(leases)
    for lease in sorted(leases, key=lambda x: x.id):
        lid = lease.id
        per_second = lease.price_per_gpu_second * lease.num_gpus
        book = ledger.channels.get(lease.channel.channel_id)
        paid_s = (book.payout if book else 0) / per_second
        metered = max(lease.metered_seconds, observer.metered.get(lid, 0))
        provider = next(i for i, p in enumerate(run.providers)
                        if p.address.checksum == lease.provider)  # fmt: skip
        ticks = run.jobs(provider) / f"lease-{lid}" / "ticks"
        ran, span = served_seconds(ticks), tick_span(ticks)
        books.worst_metered = max(books.worst_metered, metered - paid_s)
        books.worst_ran = max(books.worst_ran, ran - paid_s)
        how = "never opened" if book is None else (book.closed_by or "left open")
        best = observer.best_voucher.get(lid, 0)
        where = (f"lease {lid} of provider {provider} ({lease.status.value} "
                 f"{lease.started_at}..{lease.ended_at}: {lease.reason[:90]}; "
                 f"channel: {how}; best voucher {best})")  # fmt: skip
        if metered - paid_s > GRACE:
            books.violations.append(f"{where}: {metered} s metered, {paid_s:g} s paid")
        if ran - paid_s > GRACE + TICK_SLACK_S and span is not None:
            books.violations.append(f"{where}: the job ran {ran:.1f} s (from {span[0]:.0f} to "
                                    f"{span[1]:.0f}), {paid_s:g} s paid")  # fmt: skip
        if book is not None and book.settled and best > book.payout:
            books.notes.append(f"{where}: the renter signed {best} wei, the provider got "
                               f"{book.payout}")  # fmt: skip
    for i, most in enumerate(observer.max_leased_gpus):
        have = sum(n for _, n in _models(PROVIDERS[i][1]))
        if most > have:
            books.notes.append(f"provider {i} had {most} GPUs leased at once; it has {have}")


def test_chaos_under_load(anvil_url: str, tmp_path: Path) -> None:
    began = time.monotonic()
    plan = schedule(random.Random(SEED))
    timeline = Timeline(tmp_path / "timeline.log")
    timeline(f"seed {SEED}: {plan}")
    run = Run(anvil_url, tmp_path, timeline)
    try:
        run.build()
        setup_s = time.monotonic() - began
        gpus = [sum(n for _, n in _models(g)) for _, g in PROVIDERS]
        observer = Observer(run.market_url, run.providers, gpus, run.stop)
        witness = Witness(run.node_url, run.witness_key, run.sink_key.address, run.stop)
        run.chaos(plan, observer, witness)
        chaos_s = time.monotonic() - began - setup_s
        leases = run.end(observer)
        run.settle_the_rest()
        node_status, node_balances = run.final_state()
        run.node.stop(signal.SIGTERM)
        ledger = replay(anvil_url, node_status["rollup"], WATCHER)

        books = Books()
        every_wei(run, ledger, node_status, node_balances, books)
        nothing_acknowledged_lost(run, ledger, witness, observer, books)
        grace_kept(run, ledger, leases, observer, books)

        assert run.renting is not None
        channels = ledger.channels.values()
        locked = sum(c.deposit for c in channels)
        paid = sum(c.payout for c in channels)
        refunded = sum(c.refund for c in channels)
        live = sum(c.deposit for c in channels if not c.settled)
        took = time.monotonic() - began
        print(
            f"\nchaos seed {SEED}: {len(leases)} leases "
            f"{dict(Counter(x.status.value for x in leases))} from {len(run.renting.runs)} rents; "
            f"kills {dict(run.kills)}; {len(ledger.channels)} channels "
            f"{dict(Counter(c.closed_by or 'open' for c in channels))}: deposited {locked} wei "
            f"= paid {paid} + refunded {refunded} + open {live}; {ledger.batches} batches, "
            f"{ledger.transactions} L2 txs; witness {len(witness.acked)} acks; worst unpaid "
            f"{books.worst_metered:g} s metered, {books.worst_ran:.1f} s ran (grace {GRACE}); "
            f"{'sandboxed' if run.sandboxed else 'unsandboxed'}; {took:.0f} s (setup "
            f"{setup_s:.0f}, chaos {chaos_s:.0f}, end {took - setup_s - chaos_s:.0f})"
        )
        for note in books.notes:
            print(f"chaos note: {note}")
        assert not books.violations, "\n".join(books.violations)
    finally:
        run.teardown()
