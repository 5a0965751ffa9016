"""The ``hybrid`` rail: a lease's channel inside the rollup, through a node's API.

Opening is soft-confirmed: the renter sends its OpenChannel, the node answers with
the proposer's signed receipt (:mod:`l2gpu.core.l2.receipts`) as soon as the
transaction is in its write-ahead log, and the channel id is known at once (the
state transition salts it with the renter's nonce). The provider's agent sees the
channel as ``pending`` and may start the lease; the renter's rail co-signs the
OpenChannel in the background when the node seals it, and the node then shows the
channel ``open``. A lease therefore starts without waiting for a batch. If the
OpenChannel is dropped (the renter never co-signs), the channel goes ``missing``
and the agent stops the job: the provider's exposure is the time to the next seal.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from l2gpu.clock import format_timestamp
from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.state import VirtualTerms
from l2gpu.core.channel.vouchers import Voucher, channel_domain
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.amounts import round_up
from l2gpu.core.l2.codec import encode_tx, kind_of
from l2gpu.core.l2.transactions import CloseByProvider, CloseByRenter, CooperativeClose, OpenChannel
from l2gpu.core.market.settlement import (
    ChannelDescription,
    describe_channel,
    funding_problem,
    rail_problem,
    terms_problem,
)
from l2gpu.core.types import (
    ZERO_ADDRESS,
    Address,
    ChainId,
    Hash32,
    Seconds,
    Timestamp,
    Wei,
    format_wei,
)
from l2gpu.payments.rails import (
    CHALLENGE_PERIOD,
    STATUS_TIMEOUT,
    ChannelAlreadyClosed,
    ClosedChannel,
    OpenedChannel,
)

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2  # how often a party looks whether a pending channel was sealed


class RollupChannelRail:
    """Channels inside the rollup (``hybrid``), through a rollup node's API.

    ``client`` is an :class:`~l2gpu.node.client.L2Client` for this party's key;
    ``clock`` gives the time that channel expiries count from (default: the node's,
    which is the L1 clock its transactions run at). ``soft=False`` makes :meth:`open`
    wait until a batch includes the channel.
    """

    settlement = "hybrid"
    pending_needs_renter = True
    """An open is pending until its renter co-signs the batch that holds it."""

    def __init__(
        self,
        client: Any,
        *,
        clock: Callable[[], int] | None = None,
        wait: float = 60.0,
        soft: bool = True,
        cooperative: bool = True,
    ) -> None:
        self.client = client
        self.clock = clock or (lambda: int(client.status().get("time") or time.time()))
        # The agent reads its channels from its main loop: a node busy posting to L1
        # must not hold that loop (and its heartbeats) for long.
        self.reader = type(client)(client.api_url, client.key, timeout=STATUS_TIMEOUT)
        self.wait = wait
        self.soft = soft
        # Close with the renter's co-signature first (10 bytes in a batch, not 88); a
        # renter that is gone costs one co-signing deadline before the close alone.
        self.cooperative = cooperative
        status = client.status()
        self.chain_id = int(status["chain_id"])
        self.rollup = Address.from_hex(status["rollup"])
        self._confirming: dict[Hash32, threading.Thread] = {}

    @property
    def domain(self) -> Eip712Domain:
        """The Rollup's voucher domain (the STF checks vouchers under it)."""
        return channel_domain(ChainId(self.chain_id), self.rollup)

    def open(self, provider: Address, deposit: Wei, *, lifetime: int,
             virtual: VirtualTerms | None = None,
             challenge_period: int = CHALLENGE_PERIOD) -> OpenedChannel:  # fmt: skip
        """Send an OpenChannel; return once the node's signed receipt holds (the channel
        is ``pending``), co-signing it in the background until a batch includes it.
        ``virtual``: the channel is one end of a virtual channel with those terms.

        L2 amounts are 3-byte decimal floats, so the deposit is rounded *up* to the
        next one the batch format holds; the excess returns when the channel closes.
        """
        from l2gpu.node.client import NodeError

        deposit = Wei(round_up(deposit))
        try:
            provider_index = int(self.client.account(provider)["index"])
        except NodeError as exc:
            raise L2gpuError(
                f"the provider {provider.checksum} has no account in the rollup",
                "ask the provider to deposit on L1 ('l2gpu l2 deposit'), or rent another offer",
            ) from exc
        balance = int(self.client.account()["balance"])
        if balance < deposit:
            raise L2gpuError(
                f"your L2 balance of {format_wei(balance)} is below the lease's deposit of "
                f"{format_wei(deposit)}",
                f"deposit at least {format_wei(deposit - balance)} more with 'l2gpu l2 "
                "deposit', or rent for fewer hours",
            )
        expires = Timestamp(self.clock() + lifetime)
        period = Seconds(challenge_period)
        tx, envelope, receipt = self.client.send_soft(
            lambda me: OpenChannel(me, provider_index, deposit, expires, period, virtual)
        )
        # The state transition salts the id with the nonce the renter's account has
        # when the transaction runs, which is the envelope's.
        params = ChannelParams(self.client.key.address, provider, ZERO_ADDRESS,
                               period, envelope.nonce.to_bytes(32, "big"), virtual)  # fmt: skip
        signer = threading.Thread(
            target=self._cosign_open, args=(tx, receipt.position), daemon=True,
            name=f"cosign-open-{str(params.id)[:10]}",
        )  # fmt: skip
        self._confirming[params.id] = signer
        signer.start()
        if not self.soft:
            self.confirmed(params.id)
        description = describe_channel(params, deposit, self.chain_id, self.rollup, self.settlement)
        return OpenedChannel(params, deposit, description, 0, len(encode_tx(kind_of(tx), tx)))

    def _cosign_open(self, tx: OpenChannel, position: int) -> None:
        # Its own HTTP client: the caller's may be in use on another thread.
        client = type(self.client)(self.client.api_url, self.client.key)

        def settled() -> bool:  # included or dropped, by the receipt's position
            return bool(client.transaction(position).get("status") != "pending")

        try:
            client.cosign_until(settled, allowed=[tx], wait=self.wait)
        except L2gpuError as exc:
            log.warning("the OpenChannel was not included: %s", exc.what)

    def confirmed(self, channel_id: Hash32) -> str:
        """Wait until a channel this rail opened leaves ``pending``; return its status
        (``open`` when a batch included it, ``missing`` when the node dropped it)."""
        signer = self._confirming.pop(channel_id, None)
        if signer is not None:
            signer.join(self.wait)
        return self._settled_status(str(channel_id))

    def _settled_status(self, cid: str) -> str:
        deadline = time.monotonic() + self.wait
        while True:
            state = self._status_of(cid)
            if state != "pending" or time.monotonic() > deadline:
                return state
            time.sleep(POLL_SECONDS)  # waiting on the node's next seal, not on a clock

    def now(self) -> int:
        """The node's clock: the L1 time its transactions run at."""
        return int(self.clock())

    def check(self, channel: ChannelDescription, *, max_cost: int, ends_by: int) -> str | None:
        """Read the channel from the node (a pending channel counts: its receipt is the
        sequencer's promise, and the agent stops the job if it never opens)."""
        wrong = rail_problem(channel, self.settlement, self.chain_id, self.rollup, "in the rollup")
        wrong = wrong or terms_problem(channel)
        if wrong:
            return wrong
        if self.status(channel) == "missing":
            return "the lease's channel is not in the rollup"
        found = self.client.channel(str(channel.params.id))
        if found["status"] not in ("open", "pending"):
            return f"the lease's channel is {found['status']} in the rollup, not open"
        return funding_problem(int(found["deposit"]), int(found["expires_at"]), max_cost, ends_by)

    def close(self, channel: ChannelDescription, best: Voucher) -> ClosedChannel:
        """Close cooperatively (CooperativeClose, co-signed by the renter: 10 bytes in a
        batch); if the renter refuses or is gone, close alone with the best voucher
        (CloseByProvider, 88 bytes). The payout is on the L2 balances."""
        from l2gpu.node.client import TransactionDropped

        cid = str(channel.params.id)
        if self._settled_status(cid) == "missing":
            raise L2gpuError(f"channel {cid} was never opened in the rollup",
                             "the renter's OpenChannel was dropped: nothing to close")  # fmt: skip
        found = self.client.channel(cid)
        if found["status"] == "settled":
            raise ChannelAlreadyClosed(f"channel {found['channel_id']} is settled already")
        if found["status"] == "pending":
            raise L2gpuError(f"channel {cid} is still waiting for a batch to include its open",
                             "the close is tried again later")  # fmt: skip
        index = int(found["index"])
        how, sent = "cooperative", None
        # Cooperative only from an open channel and for no less than a voucher proven
        # already (a renter's CloseByRenter leaves the close to the provider's voucher).
        if (
            self.cooperative
            and found["status"] == "open"
            and (int(best.amount) >= int(found["best_amount"]))
        ):
            with contextlib.suppress(TransactionDropped):  # refused or silent: close alone
                sent = self.client.send_tx(
                    lambda me: CooperativeClose(me, index, best.amount), wait=self.wait
                )
        if sent is None:
            how = "provider"
            sent = self.client.send_tx(
                lambda me: CloseByProvider(me, index, best.amount, best.signature), wait=self.wait
            )
        after = self.client.channel(cid)
        if after["status"] != "settled":
            raise L2gpuError(
                f"the rollup shows channel {after['channel_id']} as {after['status']} "
                "after the close",
                "check 'l2gpu l2 status'; the close may have been dropped",
            )
        # The channel rules pay the best voucher proven (this one or an earlier), capped
        # at the deposit; the rest is refunded.
        deposit = int(found["deposit"])
        payout = min(max(int(best.amount), int(found["best_amount"])), deposit)
        if how == "cooperative":  # the amount both signed, nothing else
            payout = min(int(best.amount), deposit)
        return ClosedChannel(best.amount, payout, deposit - payout, 0, sent.tx_bytes, how)

    def cosign_close(self, channel: ChannelDescription, paid: Wei) -> str:
        """The renter's side of a lease's end: co-sign the provider's cooperative close
        for at most ``paid`` (what this renter's vouchers gave) until the channel is
        settled; return its status then (``settled``, or what it is after the wait)."""
        cid = str(channel.params.id)
        if self.confirmed(channel.params.id) == "missing":
            return "missing"
        index = int(self.client.channel(cid)["index"])

        def agreed(tx: Any) -> bool:
            return isinstance(tx, CooperativeClose) and tx.channel == index and tx.amount <= paid

        def closed() -> bool:
            return self._status_of(cid) not in ("open", "pending")

        try:
            self.client.cosign_until(closed, allowed=[], also=agreed, wait=self.wait)
        except L2gpuError as exc:  # the provider never closed: the channel stays open
            log.warning("channel %s: %s", cid, exc.what)
        return self._status_of(cid)

    def abandon(self, channel: ChannelDescription, conceded: Wei = Wei(0)) -> str:
        """CloseByRenter conceding ``conceded``; SettleChannel after the challenge period.
        A pending channel is first seen included (or dropped: then nothing was locked)."""
        params = channel.params
        cid = str(params.id)
        if self.confirmed(params.id) == "missing":
            return f"channel {cid} was never opened in the rollup: nothing was locked"
        index = int(self.client.channel(cid)["index"])
        self.client.send_tx(lambda me: CloseByRenter(me, index, conceded), wait=self.wait)
        deadline = int(self.client.channel(cid)["close_deadline"])
        return (
            f"the close of channel {cid} has started; from {format_timestamp(deadline)} "
            f"(L1 time) 'l2gpu l2 settle-channel {cid}' returns the deposit"
        )

    def settle(self, channel: ChannelDescription) -> str:
        """SettleChannel once the channel's deadline (the node's L1 clock) has passed:
        what each side got. Raises :class:`ChannelNotDue` before it,
        :class:`ChannelAlreadyClosed` after a settlement."""
        from l2gpu.core.designs import ChannelAlreadyClosed, ChannelNotDue
        from l2gpu.core.l2.transactions import SettleChannel

        cid = str(channel.params.id)
        if self._status_of(cid) in ("settled", "missing"):
            raise ChannelAlreadyClosed(f"channel {cid} is settled (or was never opened)",
                                       "nothing is left to pay out")  # fmt: skip
        found = self.client.channel(cid)
        deadline = int(found["close_deadline"] or 0) or (
            int(found["expires_at"]) + int(found["challenge_period"])
        )
        if int(self.client.status()["time"]) < deadline:
            raise ChannelNotDue(f"channel {cid} can be settled from "
                                f"{format_timestamp(deadline)} (L1 time)",
                                "wait for its deadline", deadline)  # fmt: skip
        index = int(found["index"])
        self.client.send_tx(lambda me: SettleChannel(me, index), wait=self.wait)
        return f"channel {cid} settled: the rest of its deposit is back on your L2 balance"

    def status(self, channel: ChannelDescription) -> str:
        """The channel's status in the node: ``pending`` (soft-confirmed), ``open``,
        ``closing``, ``settled``, or ``missing``."""
        return self._status_of(str(channel.params.id))

    def _status_of(self, cid: str) -> str:
        from l2gpu.node.client import NodeError

        try:
            return str(self.reader.channel(cid)["status"])
        except NodeError as exc:
            if exc.status == 404:
                return "missing"
            raise  # the node is down or failing: not a verdict on the channel
