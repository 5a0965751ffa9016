"""``sharded``: N rollup shards sharing one bridge, leases between them through a hub.

Every party deposits through the bridge, which credits it on its own shard (the
routing rule, :mod:`l2gpu.core.shards.routing`). A lease whose two parties live on
one shard is a ``hybrid`` lease there. A lease between shards runs over a virtual
channel (:mod:`l2gpu.core.shards.virtual`): the renter's channel to the hub on its
shard and the hub's channel to the provider on the provider's shard are its two
ends, and each second the renter's one voucher goes to the provider alone; the hub
(:mod:`l2gpu.hub`) signs the two opens and, after the lease, claims on the renter's
shard what the provider proved on its own. Either way, a lease sends nothing to L1
of its own: its L2 transactions ride the shards' batches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import Clocks, OperatorPower, OperatorPowers, Step
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription, voucher_domain
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.shards.virtual import CLAIM_MARGIN_S
from l2gpu.core.types import Address, Wei
from l2gpu.designs.lease_rails import checked_voucher
from l2gpu.designs.rollup_common import withdraw_everything
from l2gpu.designs.world import DesignWorld
from l2gpu.payments.rails import CHALLENGE_PERIOD


@dataclass
class ShardedLease:
    """A lease on the shards: its channel (the provider's view), both parties' rails,
    whether it is routed through the hub, and the best voucher the provider holds."""

    renter: Address
    provider: Address
    deposit: Wei
    description: ChannelDescription
    renter_rail: Any  # RollupChannelRail (one shard) or RoutedChannelRail (routed)
    provider_rail: Any
    renter_key: PrivateKey
    routed: bool
    best: Voucher | None = None
    agreed: list[str] = field(default_factory=list)


class ShardedDesign:
    """Shards, a bridge and a hub (see the module's docstring)."""

    name = "sharded"

    def __init__(self, world: DesignWorld) -> None:
        if not world.shard_urls or world.bridge is None or world.hub_url is None:
            raise L2gpuError("the sharded design needs shards, their bridge and a hub",
                             "start 'l2gpu up --shards N' and 'l2gpu hub'")  # fmt: skip
        self.world = world
        self.urls: list[str] = list(world.shard_urls)
        first = world.shard_rollups[0]
        self.challenge_window = int(first.contract.call("CHALLENGE_WINDOW"))
        self.force_delay = int(first.contract.call("FORCE_DELAY"))
        self.routed_leases = 0
        self._clients: dict[tuple[bytes, int], Any] = {}
        self._lock = threading.Lock()

    def shard(self, party: Any) -> int:
        """The shard ``party`` lives on."""
        return shard_of(Address.from_hex(party.address), len(self.urls))

    def client(self, party: Any, shard: int | None = None) -> Any:
        """The party's node client on ``shard`` (its own by default), reused."""
        from l2gpu.node.client import L2Client

        where = self.shard(party) if shard is None else shard
        key = (bytes(party.key), where)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = L2Client(self.urls[where], PrivateKey(bytes(party.key)))
            return self._clients[key]

    def fund(self, party: Any, amount: Wei) -> Step:
        """A deposit through the bridge: credited on the party's own shard."""
        receipt = self.world.bridge.deposit(party, BlsSecretKey.from_seed(bytes(party.key)),
                                            amount)  # fmt: skip
        return Step(l1_txs=(bytes(receipt.tx_hash),))

    def open_lease(self, renter: Any, provider: Any, deposit: Wei, *, lifetime: int
                   ) -> tuple[ShardedLease, Step]:  # fmt: skip
        """A hybrid channel when both live on one shard, else a route through the hub."""
        from l2gpu.payments.rollup_rail import RollupChannelRail
        from l2gpu.payments.routed_rail import RoutedChannelRail

        to = Address.from_hex(provider.address)
        provider_rail = RollupChannelRail(self.client(provider))
        key = PrivateKey(bytes(renter.key))
        routed = self.shard(renter) != self.shard(provider)
        if routed:
            assert self.world.hub_url is not None
            rail: Any = RoutedChannelRail(key, self.world.hub_url, self.urls, virtual=True)
            # the hub co-signs no close above what it can claim: the provider closes alone
            provider_rail = RollupChannelRail(self.client(provider), cooperative=False)
            with self._lock:
                self.routed_leases += 1
        else:
            rail = RollupChannelRail(self.client(renter))
        opened = rail.open(to, deposit, lifetime=lifetime)
        lease = ShardedLease(Address.from_hex(renter.address), to, opened.deposit,
                             opened.description, rail, provider_rail, key, routed)  # fmt: skip
        # A routed lease opens two channels: the renter's, and the hub's with the same fields.
        return lease, Step(l2_bytes=opened.tx_bytes * (2 if routed else 1))

    def pay(self, lease: ShardedLease, cumulative: Wei) -> Step:
        """The renter's voucher: on its own shard's channel, or on the virtual channel
        (routed), checked as the provider checks it on arrival. One message either way:
        the hub takes no part in paying."""
        if not lease.routed:
            lease.best = checked_voucher(lease.renter_key, lease.description, cumulative,
                                         lease.renter)  # fmt: skip
            return Step(messages=1)
        voucher = lease.renter_rail.sign(lease.description.channel_id, cumulative)
        if voucher.signer(voucher_domain(lease.description)) != lease.description.voucher_signer:
            raise L2gpuError("a virtual voucher did not verify", "this is a bug in l2gpu")
        lease.best = voucher
        return Step(messages=1)

    def close(self, lease: ShardedLease, paid: Wei) -> Step:
        """The provider's cooperative close, co-signed by the renter (one shard); a
        routed lease's provider closes alone with the renter's best voucher, and the hub
        then claims the same voucher on the renter's channel (the same fields)."""
        if lease.best is None:
            self.pay(lease, Wei(0))
        assert lease.best is not None
        if lease.routed:
            closed = lease.provider_rail.close(lease.description, lease.best)
            return Step(l2_bytes=closed.tx_bytes * 2)
        renter_side = threading.Thread(
            target=lambda: lease.agreed.append(
                lease.renter_rail.cosign_close(lease.description, paid)),
            daemon=True,
        )  # fmt: skip
        renter_side.start()
        closed = lease.provider_rail.close(lease.description, lease.best)
        renter_side.join(timeout=lease.provider_rail.wait)
        return Step(l2_bytes=closed.tx_bytes)

    def withdraw(self, party: Any) -> Step:
        """An L2 Withdraw of the party's whole balance on its shard."""
        return withdraw_everything(self.client(party))

    def clocks(self) -> Clocks:
        """As one rollup: soft at the receipt, final after the shard's challenge window."""
        window = float(self.challenge_window)
        return Clocks(soft_s=0.0, final_s=window, withdrawable_s=window)

    def powers(self) -> OperatorPowers:
        """Each shard's sequencer can leave transactions out until forced through L1;
        a hub can stop forwarding, after which both ends close on their shards."""
        return OperatorPowers((
            OperatorPower(
                "freeze", "L2 balances and channels on one shard, by leaving transactions out",
                self.force_delay + self.challenge_window,
                "force_withdraw on that shard's Rollup; after FORCE_DELAY it freezes and "
                "every account exits from its last final state",
            ),
            OperatorPower(
                "freeze", "a routed lease's unspent deposit, by a hub that goes silent",
                int(CHALLENGE_PERIOD + CLAIM_MARGIN_S),
                "the provider closes with the renter's vouchers as ever; the renter closes its "
                "channel to the hub conceding what its vouchers pay there, and the rest "
                "returns after that channel's challenge period",
            ),
        ))  # fmt: skip
