"""A route the hub carries, as it keeps it in memory: its journaled record, the hop's
terms and state, the last onward voucher, where its claim stands, and the rate of
its renter's vouchers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.shards.hop import HopState, HopTerms
from l2gpu.core.shards.hub_messages import voucher_to_json
from l2gpu.hub.journal import RouteRecord

# Each voucher that pays more costs the hub an fsync: a route takes this many a second
# (a renter pays once a second; the burst absorbs a client catching up after a stall).
VOUCHERS_PER_S = 4.0
VOUCHER_BURST = 20.0


@dataclass
class Route:
    """One lease's route: its record, the hop's terms and state, the last onward voucher."""

    record: RouteRecord
    terms: HopTerms
    state: HopState
    onward: Voucher | None = None
    outbound_index: int | None = None
    inbound_index: int | None = None  # read once a renter asks the hub to co-sign its close
    # batch bytes of the hub's own transactions for this route (for the benchmark)
    open_bytes: int = 0
    claim_bytes: int = 0
    finished: bool = False  # the renter's channel is closed: the hub claimed what it owed
    closing: bool = False  # a claim or reclaim is under way on the closers' pool
    claimed: bool = False  # the hub started claiming: it forwards nothing more
    solo: bool = False  # the renter did not co-sign a close: the hub closes alone
    reclaimed: bool = False  # the hub's channel to the provider is settled
    opening: bool = False  # journaled, its open not yet answered by the node
    open_tx: bytes = b""  # the open's body, to co-sign it (journaled with the route)
    allowance: float = VOUCHER_BURST  # vouchers it may still send at once
    allowance_at: float | None = None  # when the allowance was last counted (the hub's clock)
    lock: threading.Lock = field(default_factory=threading.Lock)
    outbound_final: bool = False  # virtual: the channel to the provider is settled (or gone)

    @property
    def virtual(self) -> bool:
        """The route is a virtual channel (``core/shards/virtual.py``): the renter pays
        the provider directly, and the hub claims on the inbound channel what the
        provider proved on the outbound one."""
        return self.record.inbound.params.virtual is not None

    def take_allowance(self, now: float, per_s: float) -> bool:
        """Count one voucher against the route's rate of ``per_s`` (a token bucket of
        :data:`VOUCHER_BURST`); False: too many."""
        if self.allowance_at is not None:
            elapsed = max(0.0, now - self.allowance_at)
            self.allowance = min(VOUCHER_BURST, self.allowance + elapsed * per_s)
        self.allowance_at = now
        if self.allowance < 1.0:
            return False
        self.allowance -= 1.0
        return True

    def to_json(self) -> dict[str, Any]:
        """As ``GET /hub/routes/{inbound}`` shows it."""
        return {"inbound": self.record.inbound.to_json(),
                "outbound": self.record.outbound.to_json(), "fee_ppm": self.record.fee_ppm,
                "received": str(self.state.received), "forwarded": str(self.state.forwarded),
                "onward": None if self.onward is None else voucher_to_json(self.onward),
                "finished": self.finished}  # fmt: skip
