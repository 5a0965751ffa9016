"""Where a lease's channel lives: on L1 (``channel-l1``) or inside the rollup (``hybrid``).

A *rail* is what the market's two parties use to move a lease's money:

* the renter opens the channel through its rail and gives the market the rail's
  description of it (the lease records that JSON);
* the provider's agent checks the described channel through its own rail before
  it starts the job, and closes it through that rail with the best voucher.

Vouchers are the same EIP-712 signature on both rails; only the domain's verifying
contract differs (the ChannelManager on L1, the Rollup for hybrid), and the
description's ``manager`` field names it. On the hybrid rail the channel is an L2
account-to-account channel: opening and closing are two rollup transactions (18
and 88 bytes in batches on L1, no L1 gas of their own), and the provider's earnings
land on its L2 balance, withdrawable to L1 after the challenge window.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount

from l2gpu.core.channel import ChannelParams, ChannelStatus
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.vouchers import Voucher, channel_domain
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.amounts import round_up
from l2gpu.core.l2.transactions import CloseByProvider, OpenChannel, StartClose
from l2gpu.core.market.settlement import describe_channel, params_of, terms_problem
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.payments.manager import ChannelManagerClient

CHALLENGE_PERIOD = Seconds(3600)
STATUS_TIMEOUT = 2.0  # seconds an agent waits for a channel's status


class ChannelAlreadyClosed(L2gpuError):
    """The channel was closed already (an earlier close went through)."""


@dataclass(frozen=True)
class OpenedChannel:
    """A channel the renter opened for one lease, and what opening it cost on L1."""

    params: ChannelParams
    deposit: Wei
    description: dict[str, Any]
    gas_used: int
    tx_bytes: int


@dataclass(frozen=True)
class ClosedChannel:
    """How the provider closed a lease's channel."""

    amount: Wei
    provider_payout: int
    renter_payout: int
    gas_used: int
    tx_bytes: int


class ChannelRail(Protocol):
    """Open, check and close a lease's channel on one settlement design."""

    settlement: str

    @property
    def domain(self) -> Eip712Domain:
        """The EIP-712 domain the renter's vouchers are signed under."""
        ...

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """Open a channel from this rail's account to ``provider`` holding ``deposit``."""
        ...

    def now(self) -> int:
        """The time that channel expiries and deadlines count in (the rail's clock)."""
        ...

    def check(self, channel: dict[str, Any], *, max_cost: int, ends_by: int) -> str | None:
        """Why the described channel cannot pay for the lease, or None when it can."""
        ...

    def close(self, channel: dict[str, Any], best: Voucher) -> ClosedChannel:
        """Close the described channel at once with the renter's best voucher."""
        ...

    def abandon(self, channel: dict[str, Any]) -> str:
        """The renter starts closing a channel no lease uses (conceding nothing); says
        how the deposit comes back."""
        ...

    def status(self, channel: dict[str, Any]) -> str:
        """``open``, ``closing``, ``settled`` or ``missing``; raises L2gpuError when the
        rail cannot be read (which is not the same as a missing channel)."""
        ...


def _mismatch(channel: dict[str, Any], chain_id: int, contract: Address, where: str) -> str | None:
    if int(channel["chain_id"]) != chain_id or Address.from_hex(channel["manager"]) != contract:
        return (
            f"the lease's channel is in {channel['manager']} on chain {channel['chain_id']}; "
            f"this provider settles in {contract.checksum} on chain {chain_id} ({where})"
        )
    return None


@dataclass
class L1ChannelRail:
    """Channels in the ChannelManager contract on L1 (``channel-l1``)."""

    manager: ChannelManagerClient
    account: LocalAccount
    salt: Callable[[], bytes] = lambda: secrets.token_bytes(32)
    settlement: str = "channel-l1"

    @property
    def domain(self) -> Eip712Domain:
        """The ChannelManager's voucher domain."""
        return self.manager.domain

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """Open the channel with one L1 transaction."""
        renter = Address(bytes.fromhex(self.account.address[2:]))
        params = ChannelParams(
            renter, provider, challenge_period=CHALLENGE_PERIOD, salt=self.salt()
        )
        now = self.manager.chain.timestamp()
        receipt = self.manager.apply(
            ci.Open(renter, now, params, deposit, Timestamp(now + lifetime), deposit), self.account
        )
        description = describe_channel(
            params, deposit, self.manager.chain_id, self.manager.address, self.settlement
        )
        return OpenedChannel(params, deposit, description, receipt.gas_used, receipt.tx_bytes)

    def now(self) -> int:
        """The L1 clock."""
        return int(self.manager.chain.timestamp())

    def check(self, channel: dict[str, Any], *, max_cost: int, ends_by: int) -> str | None:
        """Read the channel from the ChannelManager."""
        wrong = _mismatch(channel, self.manager.chain_id, self.manager.address, "on L1")
        wrong = wrong or terms_problem(channel)
        if wrong:
            return wrong
        found = self.manager.channel(params_of(channel))
        if found is None or found.status != ChannelStatus.OPEN:
            return "the lease's channel is not open on L1"
        return _short(int(found.deposit), int(found.expires_at), max_cost, ends_by)

    def close(self, channel: dict[str, Any], best: Voucher) -> ClosedChannel:
        """``closeByProvider`` on L1: both sides are paid in the same transaction."""
        params = params_of(channel)
        found = self.manager.channel(params)
        if found is not None and found.status == ChannelStatus.SETTLED:
            raise ChannelAlreadyClosed(f"channel {params.id} is settled on L1 already")
        receipt = self.manager.apply(
            ci.CloseByProvider(
                params.provider, self.manager.chain.timestamp(), params, best.amount,
                best.signature,
            ),
            self.account,
        )  # fmt: skip
        paid = receipt.event("ChannelSettled").args
        return ClosedChannel(best.amount, int(paid["provider_payout"]),
                             int(paid["renter_payout"]), receipt.gas_used,
                             receipt.tx_bytes)  # fmt: skip

    def status(self, channel: dict[str, Any]) -> str:
        """The channel's status in the ChannelManager."""
        found = self.manager.channel(params_of(channel))
        if found is None or found.status == ChannelStatus.NONE:
            return "missing"
        return found.status.name.lower()

    def abandon(self, channel: dict[str, Any]) -> str:
        """``closeByRenter`` conceding 0; settle after the challenge period."""
        params = params_of(channel)
        self.manager.apply(
            ci.CloseByRenter(params.renter, self.manager.chain.timestamp(), params, Wei(0)),
            self.account,
        )
        return (
            f"the close of channel {params.id} has started; after its "
            f"{params.challenge_period} s challenge period 'l2gpu channel settle {params.id}' "
            "returns the deposit"
        )


def _short(deposit: int, expires_at: int, max_cost: int, ends_by: int) -> str | None:
    if deposit < max_cost:
        return f"the channel holds {deposit} wei, less than the lease's {max_cost}"
    if expires_at < ends_by:
        return "the channel expires before the lease would end"
    return None


class RollupChannelRail:
    """Channels inside the rollup (``hybrid``), through a rollup node's API.

    ``client`` is an :class:`~l2gpu.node.client.L2Client` for this party's key;
    ``clock`` gives the time that channel expiries count from (default: the node's,
    which is the L1 clock its transactions run at).
    """

    settlement = "hybrid"

    def __init__(
        self, client: Any, *, clock: Callable[[], int] | None = None, wait: float = 60.0
    ) -> None:
        self.client = client
        self.clock = clock or (lambda: int(client.status().get("time") or time.time()))
        # The agent reads its channels from its main loop: a node busy posting to L1
        # must not hold that loop (and its heartbeats) for long.
        self.reader = type(client)(client.api_url, client.key, timeout=STATUS_TIMEOUT)
        self.wait = wait
        status = client.status()
        self.chain_id = int(status["chain_id"])
        self.rollup = Address.from_hex(status["rollup"])

    @property
    def domain(self) -> Eip712Domain:
        """The Rollup's voucher domain (the STF checks vouchers under it)."""
        return channel_domain(ChainId(self.chain_id), self.rollup)

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """Send an OpenChannel transaction and wait until the node includes it.

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
        if int(self.client.account()["balance"]) < deposit:
            raise L2gpuError(
                f"your L2 balance is below the lease's deposit of {deposit} wei",
                "deposit more with 'l2gpu l2 deposit'",
            )
        expires = Timestamp(self.clock() + lifetime)
        known = {c["channel_id"] for c in self.client.channels()}
        try:
            sent = self.client.send_tx(
                lambda me: OpenChannel(me, provider_index, deposit, expires, CHALLENGE_PERIOD),
                wait=self.wait,
            )
            tx_bytes = sent.tx_bytes
        except NodeError as exc:
            tx_bytes = 0  # the wait may have ended while the channel opened: look for it
            failure: NodeError | None = exc
        else:
            failure = None
        # The new channel is found by its terms, not guessed from a nonce: the STF salts
        # its id with the nonce the renter's account has when the transaction runs.
        new = [c for c in self.client.channels()
               if c["channel_id"] not in known and c["provider"] == provider.checksum
               and int(c["deposit"]) == deposit and int(c["expires_at"]) == expires]  # fmt: skip
        if not new:
            if failure is not None:
                raise failure
            raise L2gpuError("the rollup included the OpenChannel but shows no new channel",
                             "check 'l2gpu l2 status' and rent again")  # fmt: skip
        found = new[0]
        if found["status"] != "open":
            raise L2gpuError(
                f"the rollup shows the new channel {found['channel_id']} as {found['status']}",
                "check 'l2gpu l2 status' and rent again",
            )
        params = ChannelParams(self.client.key.address, provider, ZERO_ADDRESS,
                               Seconds(int(found["challenge_period"])),
                               bytes.fromhex(found["salt"].removeprefix("0x")))  # fmt: skip
        description = describe_channel(params, deposit, self.chain_id, self.rollup, self.settlement)
        return OpenedChannel(params, deposit, description, 0, tx_bytes)

    def now(self) -> int:
        """The node's clock: the L1 time its transactions run at."""
        return int(self.clock())

    def check(self, channel: dict[str, Any], *, max_cost: int, ends_by: int) -> str | None:
        """Read the channel from the node's state."""
        wrong = _mismatch(channel, self.chain_id, self.rollup, "in the rollup")
        wrong = wrong or terms_problem(channel)
        if wrong:
            return wrong
        if self.status(channel) == "missing":
            return "the lease's channel is not in the rollup"
        found = self.client.channel(str(params_of(channel).id))
        if found["status"] != "open":
            return f"the lease's channel is {found['status']} in the rollup, not open"
        return _short(int(found["deposit"]), int(found["expires_at"]), max_cost, ends_by)

    def close(self, channel: dict[str, Any], best: Voucher) -> ClosedChannel:
        """Send CloseByProvider with the best voucher; the payout is on the L2 balances."""
        found = self.client.channel(str(params_of(channel).id))
        if found["status"] == "settled":
            raise ChannelAlreadyClosed(f"channel {found['channel_id']} is settled already")
        index = int(found["index"])
        sent = self.client.send_tx(
            lambda me: CloseByProvider(me, index, best.amount, best.signature), wait=self.wait
        )
        after = self.client.channel(str(params_of(channel).id))
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
        return ClosedChannel(best.amount, payout, deposit - payout, 0, sent.tx_bytes)

    def abandon(self, channel: dict[str, Any]) -> str:
        """StartClose conceding 0; SettleChannel after the challenge period."""
        cid = str(params_of(channel).id)
        index = int(self.client.channel(cid)["index"])
        self.client.send_tx(lambda me: StartClose(me, index, Wei(0)), wait=self.wait)
        deadline = int(self.client.channel(cid)["close_deadline"])
        return (
            f"the close of channel {cid} has started; from {deadline} (unix time) "
            f"'l2gpu l2 settle-channel {cid}' returns the deposit"
        )

    def status(self, channel: dict[str, Any]) -> str:
        """The channel's status in the node's state."""
        from l2gpu.node.client import NodeError

        try:
            return str(self.reader.channel(str(params_of(channel).id))["status"])
        except NodeError as exc:
            if exc.status == 404:
                return "missing"
            raise  # the node is down or failing: not a verdict on the channel
