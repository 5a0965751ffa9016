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
SENT_KEPT = 4096  # the hub's own sends it remembers, to co-sign only those
JOURNAL_COMPACT_BYTES = 64 * 2**20  # past this the journal is rewritten, one line a route


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
    finished: bool = False  # the renter's channel is closed: the hub claimed what it owed
    closing: bool = False  # a claim or reclaim is under way on the closers' pool
    claimed: bool = False  # the hub started claiming: it forwards nothing more
    solo: bool = False  # the renter did not co-sign a close: the hub closes alone
    reclaimed: bool = False  # the hub's channel to the provider is settled
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
        self._opening = threading.Lock()
        self._by_outbound: dict[tuple[int, int], Route] = {}  # (shard, channel index) -> route
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
            if seen.deposit != int(inbound.deposit):
                raise HubRefused(f"the description's deposit is not the channel's ({seen.deposit})",
                                 "send the description the l2gpu client wrote")  # fmt: skip
            deposit = round_up(request.deposit) if request.deposit > 0 else 0
            problem = route_problem(request, signer, seen, hub=self.address, provider_shard=b,
                                    needed=owes_for(deposit, self.fee_ppm),
                                    now=self.rails[a].now(),
                                    min_challenge=CHALLENGE_PERIOD)  # fmt: skip
            if problem:
                raise HubRefused(problem, "open the inbound channel as the hub's terms say")
            expires = self.rails[b].now() + request.lifetime
            outbound, open_bytes = self._open_outbound(b, request.provider, Wei(deposit), expires)
            # the hub's word that the channel carries this renter's lease (the market checks it)
            outbound = replace(
                outbound,
                routed=RoutedFor(
                    seen.renter,
                    sign_routed_for(self.key, self.chain_id, outbound.channel_id, seen.renter),
                ),
            )
            record = RouteRecord(inbound, outbound, self.fee_ppm, a, b, expires)
            self.journal.append({"route": record.to_json()})
            route = self._track(record)
            route.open_bytes = open_bytes
            return route

    def pay(self, inbound_id: Hash32, voucher: Voucher) -> Voucher | None:
        """Take a renter voucher; return the hub's best voucher to the provider (None:
        nothing paid onward yet). Journaled before the onward voucher is signed."""
        route = self.routes.get(inbound_id)
        if route is None:
            raise HubRefused(f"no route for channel {inbound_id}", "open a route first", 404)
        with route.lock:
            if route.claimed or route.finished:
                raise HubRefused("this route is closed: the hub has claimed the renter's channel",
                                 "open a new route for a new lease", 409)  # fmt: skip
            state, events = hop(route.state, RenterVoucher(voucher))
            for event in events:
                if isinstance(event, Refused):
                    raise HubRefused(event.reason, "send a voucher for this route's channel")
            if any(isinstance(event, Forward) for event in events):
                # on disk before the hub signs onward (a voucher that forwards nothing
                # more is kept in memory only: the journal grows with what was forwarded)
                self.journal.append({"paid": voucher_to_json(voucher)})
                self._compact_if_large()
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
            if route.closing or route.reclaimed:
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
        """What the hub co-signs on ``shard``: its own transactions, and a provider's
        cooperative close of an outbound channel for no more than was forwarded."""
        me = self.clients[shard].account()["index"]

        def agreed(tx: UserTx) -> bool:
            if tx.sender == me:  # only what the hub itself sent: a sequencer could put in more
                return bool(self.clients[shard].sent(tx))
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

    def _compact_if_large(self) -> None:
        """Rewrite the journal as one route line and one best-voucher line per route
        once it is large (a renter sending many tiny vouchers grows it)."""
        if self.journal.size() < JOURNAL_COMPACT_BYTES:
            return
        records: list[dict[str, Any]] = []
        for route in list(self.routes.values()):
            records.append({"route": route.record.to_json()})
            if route.state.best_inbound is not None:
                records.append({"paid": voucher_to_json(route.state.best_inbound)})
        self.journal.rewrite(records)

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
                       expires_at: int) -> tuple[ChannelDescription, int]:  # fmt: skip
        """The hub's OpenChannel to ``provider``, soft-confirmed (the co-signing loop
        signs it into a batch: see :meth:`agrees`): its description and its batch bytes."""
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
        tx, envelope, _ = client.send_soft(
            lambda me: OpenChannel(me, provider_index, deposit, expires, CHALLENGE_PERIOD)
        )
        params = ChannelParams(self.address, provider, ZERO_ADDRESS, CHALLENGE_PERIOD,
                               envelope.nonce.to_bytes(32, "big"))  # fmt: skip
        described = describe_channel(params, deposit, self.chain_id, rail.rollup, "hybrid")
        return described, len(encode_tx(kind_of(tx), tx))

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
    from l2gpu.node.client import L2Client, NodeError, TransactionDropped

    class SerialClient(L2Client):
        _sending: ClassVar[threading.Lock] = threading.Lock()
        _next: ClassVar[list[int]] = []  # [index, next nonce] once read from the node
        _sent: ClassVar[dict[bytes, None]] = {}  # bodies the hub sent, oldest first

        def sent(self, tx: UserTx) -> bool:
            """Whether the hub itself sent ``tx`` (one of its last SENT_KEPT sends)."""
            return bytes([kind_of(tx)]) + encode_tx(kind_of(tx), tx) in self._sent

        def send_tx(self, make: Any, *, wait: float = 60.0) -> Any:
            try:
                return super().send_tx(make, wait=wait)
            except TransactionDropped:
                self.forget_nonce()  # the nonces after the dropped one are free again
                raise

        def send_soft(self, make: Any) -> Any:
            with self._sending:
                if not self._next:
                    me = self.account()
                    self._next[:] = [int(me["index"]), int(me["next_nonce"])]
                index, nonce = self._next
                tx = make(index)
                self._sent[bytes([kind_of(tx)]) + encode_tx(kind_of(tx), tx)] = None
                while len(self._sent) > SENT_KEPT:
                    del self._sent[next(iter(self._sent))]
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
