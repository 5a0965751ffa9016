"""The renter's payer: signs a cumulative voucher every interval, up to a cap.

Time comes from an injected clock, so tests drive it without sleeping; the CLI
passes the wall clock. The amount signed is a pure function of time
(:func:`l2gpu.core.channel.stream.amount_due`), so a restarted payer signs
exactly what it signed before, never more.
"""

from __future__ import annotations

from collections.abc import Callable

from l2gpu.core.channel.stream import amount_due
from l2gpu.core.channel.vouchers import Voucher, sign_voucher
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Hash32, Seconds, Timestamp, Wei

Clock = Callable[[], Timestamp]


class Payer:
    """Signs vouchers for one channel as time passes."""

    def __init__(
        self,
        key: PrivateKey,
        domain: Eip712Domain,
        channel_id: Hash32,
        *,
        price_per_second: Wei,
        cap: Wei,
        started_at: Timestamp,
        interval: Seconds = Seconds(1),
        clock: Clock,
    ) -> None:
        if interval < 1:
            raise L2gpuError(f"payment interval {interval} s is too short", "use 1 s or more")
        self.key = key
        self.domain = domain
        self.channel_id = channel_id
        self.price_per_second = price_per_second
        self.cap = cap
        self.started_at = started_at
        self.interval = interval
        self.clock = clock
        self.last: Voucher | None = None
        self._last_at: Timestamp | None = None

    def poll(self) -> Voucher | None:
        """A new voucher if one is due now (interval elapsed and more is owed), else None."""
        now = self.clock()
        if self._last_at is not None and now - self._last_at < self.interval:
            return None
        due = amount_due(self.price_per_second, self.started_at, now, self.cap)
        if due == 0 or (self.last is not None and due <= self.last.amount):
            return None
        self.last = sign_voucher(self.key, self.domain, self.channel_id, due)
        self._last_at = now
        return self.last

    @property
    def finished(self) -> bool:
        """True once a voucher for the whole cap has been signed."""
        return self.last is not None and self.last.amount >= self.cap
