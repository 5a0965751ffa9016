"""The ``sharded`` rail of a renter whose provider lives on another shard.

The renter opens a channel to a hub on its own shard (*inbound*, final in a batch
before the hub takes it), and asks the hub, with a signed request, to open a
channel to the provider on the provider's shard (*outbound*). The lease's channel,
as the market and the provider see it, is the outbound one: an ordinary ``hybrid``
channel on the provider's shard, paid by the hub. Each second the renter signs a
voucher on the inbound channel for what the provider is owed plus the hub's fee,
and hands the provider the hub's voucher in exchange (:meth:`sign`): the provider's
agent checks and closes it as any hybrid voucher. Nothing reaches L1 per lease.

With ``virtual=True`` the two channels are the ends of one virtual channel
(:mod:`l2gpu.core.shards.virtual`): the renter's voucher for the virtual id is handed
to the provider alone, and the hub takes no part in paying: it claims on the inbound
channel what the provider proved on the outbound one.

What each party risks is stated in :mod:`l2gpu.core.shards.hop`. Given ``routes``
(the renter's data folder's :class:`~l2gpu.payments.route_records.RenterRoutes`), the
rail writes each route there before it acts on it, so that a renter whose process
stops mid-lease finishes it with ``l2gpu settle`` (:mod:`l2gpu.payments.routed_finish`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from l2gpu.core.channel.state import VirtualTerms
from l2gpu.core.channel.vouchers import (
    VirtualVoucherDomain,
    Voucher,
    channel_domain,
    sign_voucher,
)
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.amounts import round_up
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.shards.hop import renter_owes
from l2gpu.core.shards.route import RouteRequest, hub_domain
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.shards.virtual import CLAIM_MARGIN_S, new_virtual_id, outbound_terms
from l2gpu.core.types import Address, ChainId, Hash32, Seconds, Wei, format_wei
from l2gpu.payments.hub_client import HubClient
from l2gpu.payments.rails import CHALLENGE_PERIOD, ClosedChannel, OpenedChannel

if TYPE_CHECKING:
    from l2gpu.payments.rollup_rail import RollupChannelRail
    from l2gpu.payments.route_records import RenterRoutes

log = logging.getLogger(__name__)
SLACK_S = 600  # the inbound channel outlives what the hub requires by this much


@dataclass
class Routed:
    """A lease's two channels, the most this renter signed on the inbound one, and the
    most the hub acknowledged with a voucher onward."""

    inbound: ChannelDescription
    outbound: ChannelDescription
    signed: int = 0
    acknowledged: int = 0


class RoutedChannelRail:
    """A renter's rail for leases with providers on other shards, through a hub."""

    settlement = "sharded"
    pending_needs_renter = False  # the outbound channel's payer is the hub

    def __init__(self, key: PrivateKey, hub_url: str, shard_urls: list[str], *,
                 clock: Callable[[], int] | None = None, wait: float = 60.0,
                 routes: RenterRoutes | None = None, virtual: bool = False) -> None:  # fmt: skip
        from l2gpu.node.client import L2Client
        from l2gpu.payments.rollup_rail import RollupChannelRail

        self.key = key
        self.hub_url, self.shard_urls, self.routes = hub_url, tuple(shard_urls), routes
        self.hub = HubClient(hub_url)
        info = self.hub.info()
        self.hub_address = Address.from_hex(info["hub"])
        self.fee_ppm = int(info["fee_ppm"])
        self.virtual = virtual
        if virtual and not info.get("virtual"):
            raise L2gpuError("this hub carries no virtual channels",
                             "rent through a hub of this version")  # fmt: skip
        self.rails = [RollupChannelRail(L2Client(url, key), clock=clock, wait=wait, soft=False)
                      for url in shard_urls]  # fmt: skip
        if [r.rollup.checksum for r in self.rails] != list(info["shards"]):
            raise L2gpuError("the hub serves other shards than the nodes given",
                             "give the nodes of the hub's shards, in shard order")  # fmt: skip
        self.chain_id = self.rails[0].chain_id
        self.home = shard_of(key.address, len(self.rails))
        self.by_rollup = {rail.rollup: i for i, rail in enumerate(self.rails)}
        # Opens the inbound channel soft: it returns at the node's receipt, so that the
        # route is on disk before the renter waits for the batch and asks the hub.
        self.opener = RollupChannelRail(L2Client(shard_urls[self.home], key), clock=clock,
                                        wait=wait)  # fmt: skip
        self.routed: dict[Hash32, Routed] = {}

    @property
    def domain(self) -> Eip712Domain:
        """The domain of the renter's own vouchers (the home shard's Rollup)."""
        return self.rails[self.home].domain

    def now(self) -> int:
        """The home shard's clock (L1 time)."""
        return self.rails[self.home].now()

    def preflight(self, provider: Address, deposit: Wei) -> Wei:
        """Refuse, before any channel opens, a route that could not be paid for: the
        renter's balance on its shard must hold the inbound deposit (the outbound
        ``deposit``, rounded up as L2 amounts are, plus the hub's fee on it), the provider
        needs an account on its own shard, another than the renter's, and the hub a
        balance there for the outbound deposit. Returns the inbound deposit."""
        from l2gpu.node.client import NodeError

        outbound = round_up(deposit)
        inbound = round_up(renter_owes(outbound, self.fee_ppm))
        theirs = shard_of(provider, len(self.rails))
        if theirs == self.home:
            raise L2gpuError(f"the provider lives on your shard ({theirs}): no hub is needed",
                             "pay it over the hybrid rail of your shard")  # fmt: skip
        try:
            balance = int(self.rails[self.home].client.account()["balance"])
        except NodeError as exc:
            raise L2gpuError(
                f"you have no account on your shard ({self.home})",
                f"deposit first: l2gpu l2 deposit '0.01 ether' --node {self.shard_urls[self.home]}",
            ) from exc
        if balance < inbound:
            raise L2gpuError(
                f"your L2 balance of {format_wei(balance)} on shard {self.home} is below the "
                f"{format_wei(inbound)} a lease through the hub locks (the deposit of "
                f"{format_wei(outbound)} and the hub's fee of {format_wei(inbound - outbound)})",
                f"deposit at least {format_wei(inbound - balance)} more with 'l2gpu l2 deposit "
                f"--node {self.shard_urls[self.home]}', or rent for fewer hours",
            )
        there = self.rails[theirs].client
        try:
            there.account(provider)
        except NodeError as exc:
            raise L2gpuError(
                f"the provider {provider.checksum} has no account on its shard ({theirs})",
                "ask the provider to deposit ('l2gpu l2 deposit'), or rent another offer",
            ) from exc
        try:
            held = int(there.account(self.hub_address)["balance"])
        except NodeError:
            held = 0
        if held < outbound:
            raise L2gpuError(
                f"the hub holds {format_wei(held)} on shard {theirs}, less than the lease's "
                f"deposit of {format_wei(outbound)}",
                "rent through another hub (--hub), or for fewer hours",
            )
        return Wei(inbound)

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """Open the inbound channel to the hub and have the hub open the outbound one;
        return the outbound channel, which is the lease's."""
        outbound_deposit = round_up(deposit)
        home = self.rails[self.home]
        virtual, period = None, CHALLENGE_PERIOD
        if self.virtual:  # a fresh virtual id; a challenge period that outlives the hub's
            virtual_id = new_virtual_id(self.key.address, secrets.token_bytes(32))
            virtual = VirtualTerms(self.key.address, virtual_id, self.fee_ppm)
            period = Seconds(CHALLENGE_PERIOD + CLAIM_MARGIN_S)
        inbound = self.opener.open(
            self.hub_address,
            Wei(renter_owes(outbound_deposit, self.fee_ppm)),
            lifetime=lifetime + period + SLACK_S,
            virtual=virtual,
            challenge_period=period,
        )
        if self.routes is not None:
            from l2gpu.payments.route_records import RenterRoute

            self.routes.add(RenterRoute(inbound.description, self.hub_url, self.shard_urls,
                                        self.home, started_at=self.now()))  # fmt: skip
        if self.opener.confirmed(inbound.params.id) != "open":
            raise L2gpuError(
                "your channel to the hub was not included in a batch",
                "rent again (the node may be busy: see 'l2gpu l2 status')",
            )
        request = RouteRequest(inbound.params.id, provider, int(deposit), lifetime)
        signature = request.sign(self.key, hub_domain(self.chain_id, self.hub_address))
        try:
            answer = self.hub.open_route(inbound.description, request, signature)
        except L2gpuError as exc:  # refused, or the hub is away: the deposit comes back
            closed = self._close_unrouted(inbound)
            raise L2gpuError(exc.what, "; ".join(filter(None, (exc.fix, closed)))) from exc
        outbound = ChannelDescription.from_json(answer["outbound"])
        wrong = (outbound.params.provider != provider, outbound.params.renter != self.hub_address,
                 outbound.deposit < deposit, outbound.manager not in self.by_rollup,
                 outbound.params.virtual != (virtual and outbound_terms(virtual)))  # fmt: skip
        if any(wrong):
            raise L2gpuError("the hub opened a channel on other terms than asked",
                             "do not use this hub; close the inbound channel")  # fmt: skip
        self.routed[outbound.channel_id] = Routed(inbound.description, outbound)
        if self.routes is not None:
            self.routes.routed(inbound.params.id, outbound)
        # Pay through the hub only once its channel to the provider is final: a pending
        # one the hub never co-signs is dropped, and vouchers bought for it with it.
        if self.confirmed(outbound.channel_id) != "open":
            self._mark(inbound.params.id, "closing")
            how = home.abandon(inbound.description, Wei(0))
            raise L2gpuError(
                "the hub's channel to the provider did not open",
                f"rent again, through another hub if this one is down; {how}",
            )
        return OpenedChannel(outbound.params, outbound.deposit, outbound, 0, inbound.tx_bytes)

    def _close_unrouted(self, inbound: OpenedChannel) -> str:
        """Close the channel to the hub that no route uses: with the hub's co-signature
        at once (it was paid nothing, so it agrees to any close), else alone, conceding
        nothing ('l2gpu settle' returns the deposit after the challenge period)."""
        from l2gpu.core.l2.transactions import CooperativeClose
        from l2gpu.node.client import TransactionDropped

        home, cid = self.rails[self.home], inbound.params.id
        try:
            index = int(home.client.channel(str(cid))["index"])
            try:
                home.client.send_tx(lambda me: CooperativeClose(me, index, Wei(0)), wait=home.wait)
            except TransactionDropped:  # the hub did not co-sign: alone
                self._mark(cid, "closing")
                return home.abandon(inbound.description, Wei(0))
        except L2gpuError as exc:
            return (f"your channel to the hub {cid} is still open ({exc.what}): 'l2gpu settle' "
                    "closes it")  # fmt: skip
        self._mark(cid, "done")
        return f"your channel to the hub {cid} is closed and its deposit back on your L2 balance"

    def sign(self, channel_id: Hash32, amount: Wei) -> Voucher:
        """Pay the provider ``amount`` in all: the renter's voucher to the hub, traded for
        the hub's voucher to the provider (checked: the hub's, on the lease's channel,
        for at least ``amount``)."""
        routed = self._routed(channel_id)
        inbound = routed.inbound
        if inbound.params.virtual is not None:
            return self._sign_virtual(routed, amount)
        mine = sign_voucher(self.key, channel_domain(ChainId(self.chain_id), inbound.manager),
                            inbound.channel_id, Wei(renter_owes(amount, self.fee_ppm)))  # fmt: skip
        routed.signed = max(routed.signed, int(mine.amount))
        if self.routes is not None:  # on disk before the hub has it
            self.routes.signed(inbound.channel_id, mine)
        onward = self.hub.pay(inbound.channel_id, mine)
        outbound_domain = channel_domain(ChainId(self.chain_id), self._outbound_rollup(channel_id))
        if (onward is None or onward.channel_id != channel_id or onward.amount < amount
                or onward.signer(outbound_domain) != self.hub_address):  # fmt: skip
            raise L2gpuError("the hub did not answer with a voucher that pays the provider",
                             "stop paying through this hub; close the inbound channel")  # fmt: skip
        routed.acknowledged = max(routed.acknowledged, int(mine.amount))
        if self.routes is not None:
            self.routes.acknowledged(inbound.channel_id, int(mine.amount))
        return onward

    def _sign_virtual(self, routed: Routed, amount: Wei) -> Voucher:
        """The renter's voucher for ``amount`` on the virtual channel, for the provider
        alone: it pays ``amount`` on the outbound channel and, with the hub's fee, on the
        inbound one (recorded as that before it leaves this process)."""
        virtual = routed.inbound.params.virtual
        assert virtual is not None
        domain = VirtualVoucherDomain(self.chain_id, virtual.virtual_id)
        voucher = domain.sign(self.key, routed.outbound.channel_id, amount)
        owed = virtual.credited(int(amount))
        if owed > routed.signed:
            routed.signed = routed.acknowledged = owed
            if self.routes is not None:  # the voucher as it counts on the inbound channel
                self.routes.signed(
                    routed.inbound.channel_id,
                    Voucher(routed.inbound.channel_id, amount, voucher.signature),
                )
                self.routes.acknowledged(routed.inbound.channel_id, owed)
        return voucher

    def check(self, channel: ChannelDescription, *, max_cost: int, ends_by: int) -> str | None:
        """The outbound channel as its shard shows it."""
        return self._rail_of(channel).check(channel, max_cost=max_cost, ends_by=ends_by)

    def status(self, channel: ChannelDescription) -> str:
        """The outbound channel's status on its shard."""
        return self._rail_of(channel).status(channel)

    def confirmed(self, channel_id: Hash32) -> str:
        """Wait until the outbound channel leaves ``pending`` (the hub co-signs it)."""
        rail = self.rails[self.by_rollup[self._outbound_rollup(channel_id)]]
        return rail._settled_status(str(channel_id))

    def close(self, channel: ChannelDescription, best: Voucher) -> ClosedChannel:
        """A renter does not close the lease's channel: its provider does."""
        raise L2gpuError("the lease's channel is the hub's to the provider: the provider closes it",
                         "use the provider's rail")  # fmt: skip

    def cosign_close(self, channel: ChannelDescription, paid: Wei) -> str:
        """Co-sign the hub's cooperative close of the inbound channel for no more than
        this renter signed; the inbound channel's status then."""
        routed = self._routed(channel.channel_id)
        status = self.rails[self.home].cosign_close(routed.inbound, Wei(routed.signed))
        if status in ("settled", "missing"):
            self._mark(routed.inbound.channel_id, "done")
        return status

    def abandon(self, channel: ChannelDescription, conceded: Wei = Wei(0)) -> str:
        """Close the inbound channel conceding what the hub acknowledged with vouchers to
        the provider (at least ``conceded`` to the provider, and its fee). A hub that
        holds a later voucher claims it itself within the challenge period; a hub that
        is gone gets nothing for a voucher it never forwarded."""
        routed = self._routed(channel.channel_id)
        owed = max(routed.acknowledged, renter_owes(int(conceded), self.fee_ppm))
        self._mark(routed.inbound.channel_id, "closing")  # 'l2gpu settle' finishes it
        return self.rails[self.home].abandon(routed.inbound, Wei(owed))

    def _mark(self, inbound_id: Hash32, state: str) -> None:
        if self.routes is not None:
            self.routes.mark(inbound_id, state)

    def _routed(self, channel_id: Hash32) -> Routed:
        found = self.routed.get(channel_id)
        if found is None:
            raise L2gpuError(f"channel {channel_id} was not opened through this rail",
                             "pay a routed lease from the rail that opened it")  # fmt: skip
        return found

    def _outbound_rollup(self, channel_id: Hash32) -> Address:
        return self._routed(channel_id).outbound.manager  # one of ours: checked at open

    def _rail_of(self, channel: ChannelDescription) -> RollupChannelRail:
        shard = self.by_rollup.get(channel.manager)
        if shard is None:
            raise L2gpuError("the channel is on no shard of this rail",
                             "give the nodes of every shard")  # fmt: skip
        return self.rails[shard]
