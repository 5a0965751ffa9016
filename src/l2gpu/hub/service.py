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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.vouchers import Voucher, channel_domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.amounts import round_up
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.transactions import CooperativeClose, OpenChannel, UserTx
from l2gpu.core.market.channel_description import ChannelDescription, RoutedFor
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
from l2gpu.core.shards.hub_messages import voucher_from_json, voucher_to_json
from l2gpu.core.shards.route import (
    InboundSeen,
    RouteRequest,
    hub_domain,
    route_problem,
    sign_routed_for,
)
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Hash32, Timestamp, Wei
from l2gpu.hub.journal import Journal, RouteRecord
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


@dataclass
class Route:
    """One lease's route: its record, the hop's terms and state, the last onward voucher."""

    record: RouteRecord
    terms: HopTerms
    state: HopState
    onward: Voucher | None = None
    outbound_index: int | None = None
    # batch bytes of the hub's own transactions for this route (for the benchmark)
    open_bytes: int = 0
    claim_bytes: int = 0
    finished: bool = False
    closing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to_json(self) -> dict[str, Any]:
        """As ``GET /hub/routes/{inbound}`` shows it."""
        return {"inbound": self.record.inbound.to_json(),
                "outbound": self.record.outbound.to_json(), "fee_ppm": self.record.fee_ppm,
                "received": str(self.state.received), "forwarded": str(self.state.forwarded),
                "onward": None if self.onward is None else voucher_to_json(self.onward),
                "finished": self.finished}  # fmt: skip


class Hub:
    """A hub over the shards whose nodes serve at ``shard_urls`` (in shard order)."""

    def __init__(self, key: PrivateKey, shard_urls: list[str], data_dir: Path, *,
                 fee_ppm: int = DEFAULT_FEE_PPM, wait: float = 60.0) -> None:  # fmt: skip
        from l2gpu.payments.rollup_rail import RollupChannelRail

        if not 0 <= fee_ppm <= 100_000:
            raise L2gpuError(f"a fee of {fee_ppm} ppm is outside 0..100000 (10 %)",
                             "set --fee-ppm between 0 and 100000")  # fmt: skip
        self.key, self.address, self.fee_ppm = key, key.address, fee_ppm
        self.clients = [_one_send_at_a_time(url, key) for url in shard_urls]
        self.rails = [RollupChannelRail(c, wait=wait) for c in self.clients]
        chains = {rail.chain_id for rail in self.rails}
        if len(chains) != 1:
            raise L2gpuError("the shards' nodes run on different chains",
                             "give the nodes of one shard set (l2gpu up --shards N)")  # fmt: skip
        self.chain_id = chains.pop()
        self.by_rollup = {rail.rollup: i for i, rail in enumerate(self.rails)}
        self.domain = hub_domain(self.chain_id, self.address)
        self.routes: dict[Hash32, Route] = {}
        self._opening = threading.Lock()
        self._by_outbound: dict[tuple[int, int], Route] = {}  # (shard, channel index) -> route
        self._last_open_bytes = 0
        self._closers = ThreadPoolExecutor(CLOSERS, thread_name_prefix="hub-close")
        self.journal = Journal(data_dir / "hub-journal.jsonl")
        self._replay()

    # -- what the API calls ----------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The hub's address, chain, fee and shards: what a renter's rail needs."""
        return {"hub": self.address.checksum, "chain_id": self.chain_id, "fee_ppm": self.fee_ppm,
                "shards": [rail.rollup.checksum for rail in self.rails],
                "routes_open": sum(not r.finished for r in self.routes.values())}  # fmt: skip

    def open_route(self, inbound: ChannelDescription, request: RouteRequest,
                   signature: bytes) -> Route:  # fmt: skip
        """Take ``request`` (signed by the inbound channel's renter) and open the outbound
        channel; the same request again returns the same route."""
        with self._opening:
            signer = request.signer(self.domain, signature)
            existing = self.routes.get(request.inbound)
            if existing is not None:
                same = (existing.record.outbound.params.provider == request.provider
                        and signer == existing.terms.renter)  # fmt: skip
                if not same:
                    raise HubRefused("that inbound channel is routed already", status=409)
                return existing
            if sum(not r.finished for r in self.routes.values()) >= MAX_ROUTES:
                raise HubRefused("the hub carries as many routes as it can", "retry later", 503)
            a, b = self._shards_of(inbound, request)
            seen = self._inbound_seen(inbound, a)
            deposit = round_up(request.deposit) if request.deposit > 0 else 0
            problem = route_problem(request, signer, seen, hub=self.address, provider_shard=b,
                                    needed=owes_for(deposit, self.fee_ppm),
                                    now=self.rails[a].now())  # fmt: skip
            if problem:
                raise HubRefused(problem, "open the inbound channel as the hub's terms say")
            outbound = self._open_outbound(b, request.provider, Wei(deposit), request.lifetime)
            # the hub's word that the channel carries this renter's lease (the market checks it)
            outbound = replace(
                outbound,
                routed=RoutedFor(
                    seen.renter,
                    sign_routed_for(self.key, self.chain_id, outbound.channel_id, seen.renter),
                ),
            )
            record = RouteRecord(inbound, outbound, self.fee_ppm, a, b)
            self.journal.append({"route": record.to_json()})
            route = self._track(record)
            route.open_bytes = self._last_open_bytes
            return route

    def pay(self, inbound_id: Hash32, voucher: Voucher) -> Voucher | None:
        """Take a renter voucher; return the hub's best voucher to the provider (None:
        nothing paid onward yet). Journaled before the onward voucher is signed."""
        route = self.routes.get(inbound_id)
        if route is None:
            raise HubRefused(f"no route for channel {inbound_id}", "open a route first", 404)
        with route.lock:
            state, events = hop(route.state, RenterVoucher(voucher))
            for event in events:
                if isinstance(event, Refused):
                    raise HubRefused(event.reason, "send a voucher for this route's channel")
            if state.received > route.state.received:
                self.journal.append({"paid": voucher_to_json(voucher)})
            route.state = state
            if state.forwarded > (route.onward.amount if route.onward else 0):
                route.onward = sign_forward(self.key, route.terms,
                                            Forward(state.forwarded))  # fmt: skip
            return route.onward

    # -- keeping routes -----------------------------------------------------------------

    def tend(self) -> None:
        """Claim what renters owe: once a route's provider has closed (or the renter
        starts to close), close the inbound channel with the renter's best voucher."""
        for route in list(self.routes.values()):
            if route.finished or route.closing:
                continue
            try:
                outbound = self.rails[route.record.outbound_shard].status(route.record.outbound)
                inbound = self.rails[route.record.inbound_shard].status(route.record.inbound)
            except L2gpuError as exc:
                log.warning("a shard did not answer: %s", exc.what)
                continue
            if inbound in ("settled", "missing"):
                route.finished = True
            elif inbound == "closing" or outbound in ("settled", "closing", "missing"):
                route.closing = True
                self._closers.submit(self._claim, route)

    def _claim(self, route: Route) -> None:
        from l2gpu.payments.rails import ChannelAlreadyClosed

        best = route.state.best_inbound
        try:
            if best is not None:
                closed = self.rails[route.record.inbound_shard].close(route.record.inbound, best)
                route.claim_bytes = closed.tx_bytes
            route.finished = True  # nothing received: the renter's own close returns it all
        except ChannelAlreadyClosed:
            route.finished = True
        except L2gpuError as exc:
            log.warning("closing inbound %s: %s", route.record.inbound.channel_id, exc.what)
            self.clients[route.record.inbound_shard].forget_nonce()  # a dropped one leaves a gap
        finally:
            route.closing = False

    def agrees(self, shard: int) -> Any:
        """What the hub co-signs on ``shard``: its own transactions, and a provider's
        cooperative close of an outbound channel for no more than was forwarded."""
        me = self.clients[shard].account()["index"]

        def agreed(tx: UserTx) -> bool:
            if tx.sender == me:  # the node checked the hub's own signature on it
                return True
            if not isinstance(tx, CooperativeClose):
                return False
            route = self._by_outbound.get((shard, tx.channel))
            if route is None:  # a channel opened since: learn the indices of open routes
                self._learn_outbound_indices(shard)
                route = self._by_outbound.get((shard, tx.channel))
            return route is not None and int(tx.amount) <= route.state.forwarded

        return agreed

    def _learn_outbound_indices(self, shard: int) -> None:
        """Read the index of every unfinished route's outbound channel on ``shard`` that
        is not known yet (one request each, once: a co-signature answers in time)."""
        for route in list(self.routes.values()):
            if route.record.outbound_shard != shard or route.finished:
                continue
            if route.outbound_index is None:
                index = self._outbound_index(route)
                if index is not None:
                    self._by_outbound[(shard, index)] = route

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

    def _open_outbound(self, shard: int, provider: Address, deposit: Wei,
                       lifetime: int) -> ChannelDescription:  # fmt: skip
        """The hub's OpenChannel to ``provider``, soft-confirmed (the co-signing loop
        signs it into a batch: see :meth:`agrees`)."""
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
        expires = Timestamp(rail.now() + lifetime)
        tx, envelope, _ = client.send_soft(
            lambda me: OpenChannel(me, provider_index, deposit, expires, CHALLENGE_PERIOD)
        )
        self._last_open_bytes = len(encode_tx(kind_of(tx), tx))
        params = ChannelParams(self.address, provider, ZERO_ADDRESS, CHALLENGE_PERIOD,
                               envelope.nonce.to_bytes(32, "big"))  # fmt: skip
        return describe_channel(params, deposit, self.chain_id, rail.rollup, "hybrid")

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
        terms = HopTerms(record.inbound.channel_id,
                         channel_domain(chain, record.inbound.manager), int(record.inbound.deposit),
                         record.inbound.params.renter, record.outbound.channel_id,
                         channel_domain(chain, record.outbound.manager),
                         int(record.outbound.deposit), record.fee_ppm)  # fmt: skip
        route = Route(record, terms, HopState(terms))
        self.routes[record.inbound.channel_id] = route
        return route

    def _replay(self) -> None:
        for entry in self.journal.replay():
            if "route" in entry:
                self._track(RouteRecord.from_json(entry["route"]))
            elif "paid" in entry:
                voucher = voucher_from_json(entry["paid"])
                route = self.routes.get(voucher.channel_id)
                if route is not None:
                    route.state, _ = hop(route.state, RenterVoucher(voucher))
                    if route.state.forwarded:
                        route.onward = sign_forward(self.key, route.terms,
                                                    Forward(route.state.forwarded))  # fmt: skip


def _one_send_at_a_time(url: str, key: PrivateKey) -> Any:
    """A node client that sends the hub's transactions one at a time, at nonces it
    counts itself: the hub sends from many threads (opens, and closes of many
    routes), and its co-signing loop signs all of its own, so a send need not wait
    for the one before to be included (as a lone user's client does). After a
    refused send it reads the account's next nonce again."""
    from l2gpu.core.l2.envelope import Envelope
    from l2gpu.node.client import L2Client, NodeError

    class SerialClient(L2Client):
        _sending: ClassVar[threading.Lock] = threading.Lock()
        _next: ClassVar[list[int]] = []  # [index, next nonce] once read from the node

        def send_soft(self, make: Any) -> Any:
            with self._sending:
                if not self._next:
                    me = self.account()
                    self._next[:] = [int(me["index"]), int(me["next_nonce"])]
                index, nonce = self._next
                tx = make(index)
                try:
                    receipt = self.send_at(tx, nonce)
                except L2gpuError:
                    self._next.clear()
                    raise
                self._next[1] = nonce + 1
                return tx, Envelope(tx, nonce, b""), receipt

        def cosign_until(self, done: Any, *, allowed: Any, wait: float,
                         also: Any = None) -> None:  # fmt: skip
            """The hub's one co-signing loop per shard (``also``: :meth:`Hub.agrees`)
            answers for every transaction of the hub; a send only waits for ``done``:
            a second loop would refuse the hub's other transactions in flight."""
            if also is not None:
                super().cosign_until(done, allowed=allowed, wait=wait, also=also)
                return
            deadline = time.monotonic() + wait
            while not done():
                if time.monotonic() > deadline:
                    raise NodeError("the transaction was not included in time",
                                    "check 'l2gpu l2 status' on the shard's node")  # fmt: skip
                time.sleep(0.1)  # the node's next seal; the hub's loop co-signs it

        def forget_nonce(self) -> None:
            """Read the next nonce from the node at the next send."""
            with self._sending:
                self._next.clear()

    return SerialClient(url, key)
