"""Closing a lease's channel: when the lease ends, again after a failure, and after a
restart for leases that ended while the agent was away.

:class:`ChannelClosing` is a part of :class:`~l2gpu.agent.agent.ProviderAgent`, kept
apart because it is the one place where the provider's money is at stake: a channel
left open past its deadline pays the provider only what was proven on the rail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from l2gpu.client import MarketClient
from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import ChannelAlreadyClosed, ChannelRail
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.market.metering import Meter, start_meter
from l2gpu.core.types import Timestamp, Wei
from l2gpu.payments.payee import Payee
from l2gpu.wire import LeasePublic, VoucherPublic

log = logging.getLogger(__name__)
RECOVERY_WINDOW = 7 * 86_400  # ended leases older than this are not looked at again
MAX_CLOSE_TRIES = 70  # backing off 2, 4, ... 60 s: over an hour, the least challenge period


@dataclass
class Served:
    """A lease this agent runs."""

    lease_id: int
    params: ChannelParams
    payee: Payee
    meter: Meter
    last_tick: int
    channel: ChannelDescription
    paused: bool = False
    channel_checked: int = 0
    max_unpaid_seconds: int = 0
    confirmed: bool = False
    """The rail has shown the channel open (not only soft-confirmed by the node)."""
    held: bool = False
    """Paused because the channel is still only soft-confirmed after the grace."""
    since: int = -1
    """When this agent began serving the lease (default: ``last_tick``)."""
    stopping: str | None = None
    """Why its payee stopped the job: the meter stopped it at once, with the backend
    alone; the loop tells the market and finishes the lease (network calls)."""

    def __post_init__(self) -> None:
        if self.since < 0:
            self.since = self.last_tick


def receive_voucher(s: Served, voucher: VoucherPublic, now: int) -> None:
    """Hand the market's copy of the renter's newest voucher to the lease's payee."""
    if voucher.amount > s.payee.state.best_amount and voucher.signature:
        sig = bytes.fromhex(voucher.signature.removeprefix("0x"))
        s.payee.receive(Voucher(s.params.id, Wei(voucher.amount), sig), Timestamp(now))


@dataclass
class Settlement:
    """How a lease's channel was closed (gas is 0 inside the rollup)."""

    lease_id: int
    amount: Wei
    gas_used: int
    tx_bytes: int
    provider_payout: int = 0
    renter_payout: int = 0
    how: str = "provider"  # or "cooperative": the renter co-signed the close


class ChannelClosing:
    """The agent's closing of channels (mixed into ProviderAgent, whose fields these are)."""

    client: MarketClient
    key: PrivateKey
    clock: Callable[[], int]
    rail: ChannelRail | None
    settlements: list[Settlement]
    _to_settle: dict[int, tuple[Served, int]]
    _close_tries: dict[int, int]
    _recovered: bool
    background_closes: bool
    _closing: dict[int, tuple[Served, Future[Settlement | None]]]
    _pool: ThreadPoolExecutor | None

    def _payee(self, info: LeasePublic) -> tuple[ChannelParams, Payee]:
        raise NotImplementedError  # the agent's

    def _recover_closes(self, now: int) -> None:
        """After a restart: close the channels of leases that ended while the agent
        was down (or before its last close went through), with the stored vouchers."""
        if self.rail is None:
            self._recovered = True
            return
        me = self.key.address.checksum
        for info in self.client.jobs():
            ended = info.ended_at
            channel = info.channel.to_core()
            if (info.provider != me or not info.status.is_final
                    or (ended is not None and now - ended > RECOVERY_WINDOW)
                    or channel.settlement != self.rail.settlement):  # fmt: skip
                continue
            params, payee = self._payee(info)
            # pending: soft-confirmed, not yet in a (proven) batch; both rails' closes
            # wait for it, and skipping it here would leave it unclosed for good.
            if payee.state.best is None or self.rail.status(channel) not in (
                "pending",
                "open",
                "closing",
            ):
                continue
            meter = start_meter(Timestamp(now), Timestamp(now), info.num_gpus)
            served = Served(info.id, params, payee, meter, now, channel)
            self._to_settle[served.lease_id] = (served, now)
            log.info("lease %s ended while the agent was away: closing its channel", info.id)
        self._recovered = True

    def _settle_due(self, now: int) -> None:
        self._collect_closes(now)
        for lease_id, (s, due) in list(self._to_settle.items()):
            if lease_id not in self._close_tries:
                # the renter's last voucher may still be on its way until the first
                # close; a retry, up to a minute later, need not ask the market each step
                self._take_last_voucher(s, now)
            if now >= due:
                del self._to_settle[lease_id]
                if self.background_closes:
                    # A close waits for a batch or an L1 receipt: off the loop that meters
                    # and heartbeats, or the market would take the agent for gone.
                    self._closing[lease_id] = (s, self._close_pool().submit(self._close, s))
                else:
                    self._close_done(s, now, partial(self._close, s))

    def _take_last_voucher(self, s: Served, now: int) -> None:
        lease = self.client.lease(s.lease_id)
        receive_voucher(s, lease.voucher, now)

    def _close_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closer")
        return self._pool

    def _collect_closes(self, now: int) -> None:
        for lease_id, (s, future) in list(self._closing.items()):
            if future.done():
                del self._closing[lease_id]
                self._close_done(s, now, future.result)

    def _close_done(self, s: Served, now: int, outcome: Callable[[], Settlement | None]) -> None:
        try:
            settled = outcome()
        except ChannelAlreadyClosed as exc:
            log.info("lease %s: %s", s.lease_id, exc.what)
            return
        except L2gpuError as exc:
            self._retry_settle(s, now, exc)
            return
        except Exception as exc:  # an L1 client's own error: the close is retried all the same
            log.exception("lease %s: closing its channel raised", s.lease_id)
            self._retry_settle(s, now, L2gpuError(f"{type(exc).__name__}: {exc}"))
            return
        if settled is not None:
            self.settlements.append(settled)
            log.info("lease %s: channel closed; the provider got %s wei, the renter %s wei back",
                     s.lease_id, settled.provider_payout, settled.renter_payout)  # fmt: skip

    def _retry_settle(self, s: Served, now: int, exc: L2gpuError) -> None:
        """The rail failed (node or L1 unreachable, a dropped transaction): try again
        later, backing off; the best voucher stays in the store meanwhile."""
        tries = self._close_tries.get(s.lease_id, 0) + 1
        self._close_tries[s.lease_id] = tries
        if tries > MAX_CLOSE_TRIES:
            log.error(
                "lease %s: giving up closing its channel after %d tries (%s); the best "
                "voucher is kept in the agent's database",
                s.lease_id, tries - 1, exc.what,
            )  # fmt: skip
            return
        delay = min(2**tries, 60)
        log.warning("lease %s: closing its channel failed (%s); retrying in %d s",
                    s.lease_id, exc.what, delay)  # fmt: skip
        self._to_settle[s.lease_id] = (s, now + delay)

    def _close(self, s: Served) -> Settlement | None:
        """Close the channel through the rail with the best voucher (paid at once). With
        no voucher at all, close for 0: the whole deposit returns to the renter now."""
        if self.rail is None:
            return None
        best = s.payee.state.best or Voucher(s.params.id, Wei(0), bytes(65))
        closed = self.rail.close(s.channel, best)
        return Settlement(s.lease_id, closed.amount, closed.gas_used, closed.tx_bytes,
                          closed.provider_payout, closed.renter_payout, closed.how)  # fmt: skip
