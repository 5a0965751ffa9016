"""The hub: carries leases between shards (``l2gpu hub``), one route per lease.

A route joins the renter's channel to the hub on the renter's shard (*inbound*)
with a channel the hub opens to the provider on the provider's shard (*outbound*).
The rules are pure (:mod:`l2gpu.core.shards.route` for taking a route,
:mod:`l2gpu.core.shards.hop` for forwarding a voucher); this shell reads the
channels from the shards' nodes, journals what it takes before it signs
(:mod:`l2gpu.hub.journal`), co-signs the closes it agreed to, and claims the
renter's best voucher once the provider has closed or the renter starts to.

The hub holds nobody's money but its own: its outbound deposits. Whatever it signs
to a provider is covered by a renter voucher already on disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.state import VirtualTerms
from l2gpu.core.channel.vouchers import Voucher, channel_domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.amounts import round_up
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.transactions import OpenChannel, UserTx
from l2gpu.core.market.channel_description import ChannelDescription, RoutedFor, voucher_domain
from l2gpu.core.market.settlement import describe_channel
from l2gpu.core.shards.hop import (
    Forward,
    HopState,
    HopTerms,
    Refused,
    RenterVoucher,
    sign_forward,
)
from l2gpu.core.shards.hop import renter_owes as owes_for
from l2gpu.core.shards.hop import state_transition as hop
from l2gpu.core.shards.hub_messages import voucher_to_json
from l2gpu.core.shards.route import (
    InboundSeen,
    RouteRequest,
    hub_domain,
    route_problem,
    sign_routed_for,
)
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.shards.virtual import CLAIM_MARGIN_S, outbound_terms, virtual_route_problem
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Hash32, Timestamp, Wei
from l2gpu.hub.journal import Journal, RouteRecord
from l2gpu.hub.journal_replay import compact_if_large, replay_journal
from l2gpu.hub.route_state import VOUCHERS_PER_S, Route
from l2gpu.hub.serial_client import serial_client
from l2gpu.hub.virtual_routes import tend_virtual
from l2gpu.payments.rails import CHALLENGE_PERIOD

log = logging.getLogger(__name__)
DEFAULT_FEE_PPM = 1_000  # 0.1 % of what the provider is paid
MAX_ROUTES = 10_000  # open routes at once: each holds a lock and a little state
CLOSERS = 8  # closes of inbound channels run at once


class HubRefused(L2gpuError):
    """The hub does not take a request; ``what`` says why."""

    def __init__(self, what: str, fix: str = "", status: int = 400) -> None:
        super().__init__(what, fix)
        self.status = status


class Hub:
    """A hub over the shards whose nodes serve at ``shard_urls`` (in shard order)."""

    def __init__(self, key: PrivateKey, shard_urls: list[str], data_dir: Path, *,
                 fee_ppm: int = DEFAULT_FEE_PPM, wait: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 vouchers_per_s: float | None = VOUCHERS_PER_S) -> None:  # fmt: skip
        from l2gpu.payments.rollup_rail import RollupChannelRail

        if not 0 <= fee_ppm <= 100_000:
            raise L2gpuError(f"a fee of {fee_ppm} ppm is outside 0..100000 (10 %)",
                             "set --fee-ppm between 0 and 100000")  # fmt: skip
        self.key, self.address, self.fee_ppm = key, key.address, fee_ppm
        # the vouchers' rate per route (None: unbounded, for benchmarks whose leases'
        # seconds pass faster than the wall clock's)
        self.clock, self.vouchers_per_s = clock, vouchers_per_s
        self.clients = [serial_client(url, key) for url in shard_urls]
        self.rails = [RollupChannelRail(c, wait=wait) for c in self.clients]
        # closes without the other party's co-signature (a renter that is gone)
        self.solo_rails = [RollupChannelRail(c, wait=wait, cooperative=False)
                           for c in self.clients]  # fmt: skip
        chains = {rail.chain_id for rail in self.rails}
        if len(chains) != 1:
            raise L2gpuError("the shards' nodes run on different chains",
                             "give the nodes of one shard set (l2gpu up --shards N)")  # fmt: skip
        self.chain_id = chains.pop()
        self.by_rollup = {rail.rollup: i for i, rail in enumerate(self.rails)}
        self.domain = hub_domain(self.chain_id, self.address)
        self.routes: dict[Hash32, Route] = {}
        # (signer, virtual id) of every virtual route taken (journaled with its route):
        # a voucher binds both, so another signer's route on the same id takes nothing
        self.virtual_ids: set[tuple[Address, Hash32]] = set()
        self._opening = threading.Lock()
        self._by_outbound: dict[tuple[int, int], Route] = {}  # (shard, channel index) -> route
        # inbound channels whose renter closes them unrouted (hub.cosigning): never routed
        self.closing_unrouted: set[Hash32] = set()
        self._closers = ThreadPoolExecutor(CLOSERS, thread_name_prefix="hub-close")
        self.journal = Journal(data_dir / "hub-journal.jsonl")
        replay_journal(self)

    # -- what the API calls ----------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The hub's address, chain, fee and shards: what a renter's rail needs."""
        return {"hub": self.address.checksum, "chain_id": self.chain_id, "fee_ppm": self.fee_ppm,
                "virtual": True,
                "shards": [rail.rollup.checksum for rail in self.rails],
                "routes_open": sum(not r.finished for r in self.routes.values())}  # fmt: skip

    def open_route(self, inbound: ChannelDescription, request: RouteRequest,
                   signature: bytes) -> Route:  # fmt: skip
        """Take ``request`` (signed by the inbound channel's renter) and open the outbound
        channel; the same request again returns the same route."""
        with self._opening:
            signer = request.signer(self.domain, signature)
            existing = self.routes.get(request.inbound)
            if existing is not None and existing.reclaimed and existing.state.received == 0:
                existing = None  # its open never landed (a crash, a drop): route it again
            if existing is not None:
                same = (existing.record.outbound.params.provider == request.provider
                        and signer == existing.terms.renter)  # fmt: skip
                if signer != existing.terms.renter:
                    raise HubRefused("the request is not signed by the renter of the inbound "
                                     "channel")  # fmt: skip
                if not same:
                    raise HubRefused("that inbound channel is routed already", status=409)
                return existing
            if request.inbound in self.closing_unrouted:
                raise HubRefused(
                    "that inbound channel is being closed: the hub agreed to its renter's close",
                    "open a new channel to the hub",
                    409,
                )
            if sum(not r.finished for r in self.routes.values()) >= MAX_ROUTES:
                raise HubRefused("the hub carries as many routes as it can", "retry later", 503)
            a, b = self._shards_of(inbound, request)
            seen = self._inbound_seen(inbound, a)
            if seen.deposit != int(inbound.deposit):
                raise HubRefused(f"the description's deposit is not the channel's ({seen.deposit})",
                                 "send the description the l2gpu client wrote")  # fmt: skip
            deposit = round_up(request.deposit) if request.deposit > 0 else 0
            problem = route_problem(request, signer, seen, hub=self.address, provider_shard=b,
                                    needed=owes_for(deposit, self.fee_ppm),
                                    now=self.rails[a].now(),
                                    min_challenge=CHALLENGE_PERIOD)  # fmt: skip
            virtual = inbound.params.virtual
            if virtual is not None:
                problem = problem or virtual_route_problem(
                    virtual, renter=seen.renter, fee_ppm=self.fee_ppm,
                    inbound_period=seen.challenge_period, outbound_period=CHALLENGE_PERIOD,
                    margin=CLAIM_MARGIN_S,
                    used=(virtual.signer, virtual.virtual_id) in self.virtual_ids,
                )  # fmt: skip
            if problem:
                raise HubRefused(problem, "open the inbound channel as the hub's terms say")
            expires = self.rails[b].now() + request.lifetime
            taken: list[Route] = []

            def journal_first(outbound: ChannelDescription, body: bytes) -> None:
                # On disk before the open is sent: a hub killed between the two still
                # tracks the channel after a restart, co-signs its open and takes its
                # deposit back when the lease is over (docs/shards.md).
                outbound = replace(outbound, routed=RoutedFor(
                    seen.renter,
                    sign_routed_for(self.key, self.chain_id, outbound.channel_id, seen.renter),
                ))  # fmt: skip
                record = RouteRecord(inbound, outbound, self.fee_ppm, a, b, expires)
                self.journal.append({"route": record.to_json(), "open_tx": body.hex()})
                route = self._track(record)
                route.opening, route.open_tx = True, body  # tend() waits for the send
                taken.append(route)

            try:
                open_bytes = self._open_outbound(
                    b, request.provider, Wei(deposit), expires, journal_first,
                    None if virtual is None else outbound_terms(virtual),
                )  # fmt: skip
            except L2gpuError as exc:
                if taken:
                    self._after_failed_open(taken[0], exc)
                raise
            route = taken[0]
            route.open_bytes, route.opening = open_bytes, False
            return route

    def pay(self, inbound_id: Hash32, voucher: Voucher) -> Voucher | None:
        """Take a renter voucher; return the hub's best voucher to the provider (None:
        nothing paid onward yet). Journaled before the onward voucher is signed."""
        route = self.routes.get(inbound_id)
        if route is None:
            raise HubRefused(f"no route for channel {inbound_id}", "open a route first", 404)
        if route.virtual:
            raise HubRefused("this route is a virtual channel: the hub takes no vouchers on it",
                             "hand each voucher to the provider", 409)  # fmt: skip
        with route.lock:
            if route.claimed or route.finished:
                raise HubRefused("this route is closed: the hub has claimed the renter's channel",
                                 "open a new route for a new lease", 409)  # fmt: skip
            rate = self.vouchers_per_s
            if rate is not None and not route.take_allowance(self.clock(), rate):
                raise HubRefused(
                    f"too many vouchers on this route: at most {rate:g} a second",
                    "send one cumulative voucher a second (each pays for all before it)",
                    429,
                )
            state, events = hop(route.state, RenterVoucher(voucher))
            for event in events:
                if isinstance(event, Refused):
                    raise HubRefused(event.reason, "send a voucher for this route's channel")
            if any(isinstance(event, Forward) for event in events):
                # on disk before the hub signs onward (a voucher that forwards nothing
                # more is kept in memory only: the journal grows with what was forwarded)
                self.journal.append({"paid": voucher_to_json(voucher)})
                compact_if_large(self)
            route.state = state
            if state.forwarded > (route.onward.amount if route.onward else 0):
                route.onward = sign_forward(self.key, route.terms,
                                            Forward(state.forwarded))  # fmt: skip
            return route.onward

    # -- keeping routes -----------------------------------------------------------------

    def tend(self) -> None:
        """Claim what renters owe: once a route's provider has closed, its lease is
        over (the hub's channel expired) or its renter starts to close, close the
        renter's channel with its best voucher; then take back the rest of the hub's
        channel to the provider."""
        clocks: dict[int, int] = {}  # one read of each shard's clock per round
        for route in list(self.routes.values()):
            if route.closing or route.reclaimed or route.opening:
                continue
            if route.virtual:
                tend_virtual(self, route, clocks)
                continue
            b = route.record.outbound_shard
            try:
                outbound = self.rails[b].status(route.record.outbound)
                inbound = (
                    "settled"
                    if route.finished
                    else (self.rails[route.record.inbound_shard].status(route.record.inbound))
                )
                now = clocks[b] if b in clocks else clocks.setdefault(b, self.rails[b].now())
            except L2gpuError as exc:
                log.warning("a shard did not answer: %s", exc.what)
                continue
            over = (
                bool(route.record.outbound_expires_at) and now >= route.record.outbound_expires_at
            )
            if inbound in ("settled", "missing"):
                route.finished = True
                if outbound in ("settled", "missing"):
                    route.reclaimed = True
                else:
                    route.closing = True
                    self._closers.submit(self._reclaim, route, outbound)
            elif inbound == "closing" or outbound in ("settled", "closing", "missing") or over:
                route.closing = True
                self._closers.submit(self._claim, route)

    def _claim(self, route: Route) -> None:
        """Close the renter's channel with its best voucher: with its co-signature first,
        alone once it failed to give one."""
        from l2gpu.payments.rails import ChannelAlreadyClosed

        with route.lock:
            if not route.claimed:  # on disk first: a restart forwards nothing more either
                self.journal.append({"claimed": str(route.record.inbound.channel_id)})
            route.claimed = True  # from now on pay() forwards nothing
            best = route.state.best_inbound
        shard = route.record.inbound_shard
        rail = self.solo_rails[shard] if route.solo else self.rails[shard]
        try:
            if best is not None:
                closed = rail.close(route.record.inbound, best)
                route.claim_bytes = closed.tx_bytes
            route.finished = True  # nothing received: the renter's own close returns it all
        except ChannelAlreadyClosed:
            route.finished = True
        except L2gpuError as exc:
            log.warning("closing inbound %s: %s", route.record.inbound.channel_id, exc.what)
            route.solo = True
            self.clients[shard].forget_nonce()  # a dropped one leaves a gap
        finally:
            route.closing = False

    def _reclaim(self, route: Route, status: str) -> None:
        """Take back the rest of the hub's channel to the provider once the renter's is
        closed: close it conceding what was forwarded, settle it after its challenge
        period (a provider that holds the hub's best voucher is paid it either way)."""
        from l2gpu.core.l2.transactions import SettleChannel

        shard, outbound = route.record.outbound_shard, route.record.outbound
        try:
            if status == "open":
                self.solo_rails[shard].abandon(outbound, Wei(route.state.forwarded))
            elif status == "closing":
                found = self.clients[shard].channel(str(outbound.channel_id))
                if self.rails[shard].now() >= int(found["close_deadline"]):
                    index = int(found["index"])
                    self.clients[shard].send_tx(lambda me: SettleChannel(me, index), wait=60)
        except L2gpuError as exc:
            log.warning("reclaiming outbound %s: %s", outbound.channel_id, exc.what)
            self.clients[shard].forget_nonce()
        finally:
            route.closing = False

    def agrees(self, shard: int) -> Any:
        """What the hub co-signs on ``shard`` (:mod:`l2gpu.hub.cosigning`)."""
        from l2gpu.hub.cosigning import agreed_on

        return agreed_on(self, shard)

    def stop(self) -> None:
        """Stop the closers (the journal is on disk already)."""
        self._closers.shutdown(wait=False, cancel_futures=True)

    # -- inside ---------------------------------------------------------------------------

    def _shards_of(self, inbound: ChannelDescription, request: RouteRequest) -> tuple[int, int]:
        a = self.by_rollup.get(inbound.manager)
        if a is None or inbound.settlement != "hybrid" or inbound.chain_id != self.chain_id:
            raise HubRefused(
                "the inbound channel is not a hybrid channel on a shard of this hub",
                "open it in your shard's rollup (GET /hub lists the shards)",
            )
        if inbound.channel_id != request.inbound:
            raise HubRefused("the request names another channel than the description sent")
        return a, shard_of(request.provider, len(self.rails))

    def _inbound_seen(self, inbound: ChannelDescription, shard: int) -> InboundSeen:
        from l2gpu.node.client import NodeError

        try:
            found = self.clients[shard].channel(str(inbound.channel_id))
        except NodeError as exc:
            if exc.status == 404:
                raise HubRefused("the inbound channel is not in its rollup", status=404) from exc
            raise HubRefused(f"shard {shard} did not answer", "retry in a minute", 503) from exc
        return InboundSeen(Address.from_hex(found["renter"]), Address.from_hex(found["provider"]),
                           str(found["status"]), int(found["deposit"]),
                           int(found["expires_at"]), int(found["challenge_period"]),
                           shard)  # fmt: skip

    def _open_outbound(
        self,
        shard: int,
        provider: Address,
        deposit: Wei,
        expires_at: int,
        before_send: Callable[[ChannelDescription, bytes], None],
        virtual: VirtualTerms | None = None,
    ) -> int:
        """Send the hub's OpenChannel to ``provider``, soft-confirmed (the co-signing
        loop signs it into a batch: see :meth:`agrees`), after ``before_send`` took the
        channel's description and the transaction's body; return its batch bytes."""
        from l2gpu.node.client import NodeError

        client, rail = self.clients[shard], self.rails[shard]
        try:
            provider_index = int(client.account(provider)["index"])
        except NodeError as exc:
            raise HubRefused(
                f"the provider has no account on shard {shard}",
                "the provider deposits first ('l2gpu l2 deposit')",
            ) from exc
        if int(client.account()["balance"]) < deposit:
            raise HubRefused(f"the hub has too little on shard {shard} for this deposit",
                             "ask for a smaller deposit or retry later", 503)  # fmt: skip
        expires = Timestamp(expires_at)

        def described(tx: UserTx, nonce: int) -> None:
            params = ChannelParams(self.address, provider, ZERO_ADDRESS, CHALLENGE_PERIOD,
                                   nonce.to_bytes(32, "big"), virtual)  # fmt: skip
            channel = describe_channel(params, deposit, self.chain_id, rail.rollup, "hybrid")
            before_send(channel, bytes([kind_of(tx)]) + encode_tx(kind_of(tx), tx))

        tx, _, _ = client.send_soft(
            lambda me: OpenChannel(me, provider_index, deposit, expires, CHALLENGE_PERIOD, virtual),
            before=described,
        )
        return len(encode_tx(kind_of(tx), tx))

    def _after_failed_open(self, route: Route, exc: L2gpuError) -> None:
        """A journaled route whose open failed. Refused by the node: forget the route
        (journaled, so that a restart does too) and never co-sign its open. No answer:
        the open may have landed, so keep tracking it; :meth:`tend` takes its deposit
        back (or finds it missing) and the renter may route again."""
        from l2gpu.node.client import NodeError

        route.opening = False
        if isinstance(exc, NodeError) and exc.transient:
            return
        self.clients[route.record.outbound_shard].forget(route.open_tx)
        self.journal.append({"dropped": str(route.record.inbound.channel_id)})
        self.routes.pop(route.record.inbound.channel_id, None)

    def _outbound_index(self, route: Route) -> int | None:
        if route.outbound_index is None:
            try:
                found = self.clients[route.record.outbound_shard].channel(
                    str(route.record.outbound.channel_id)
                )
                route.outbound_index = found.get("index")
            except L2gpuError:
                return None
        return route.outbound_index

    def _track(self, record: RouteRecord) -> Route:
        chain = ChainId(self.chain_id)
        virtual = record.inbound.params.virtual
        if virtual is not None:
            self.virtual_ids.add((virtual.signer, virtual.virtual_id))
        terms = HopTerms(record.inbound.channel_id,
                         voucher_domain(record.inbound), int(record.inbound.deposit),
                         record.inbound.params.renter, record.outbound.channel_id,
                         channel_domain(chain, record.outbound.manager),
                         int(record.outbound.deposit), record.fee_ppm)  # fmt: skip
        route = Route(record, terms, HopState(terms))
        route.solo = virtual is not None  # its claim credits the fee only alone (see tend)
        self.routes[record.inbound.channel_id] = route
        return route
