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
from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from l2gpu.clock import format_timestamp
from l2gpu.core.channel import ChannelParams, ChannelStatus
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.designs import (
    ChannelAlreadyClosed,
    ChannelNotDue,
    ChannelRail,
    ClosedChannel,
    OpenedChannel,
)
from l2gpu.core.market.settlement import (
    ChannelDescription,
    describe_channel,
    funding_problem,
    rail_problem,
    terms_problem,
)
from l2gpu.core.types import Address, Hash32, Seconds, Timestamp, Wei, format_wei
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient

CHALLENGE_PERIOD = Seconds(3600)
STATUS_TIMEOUT = 2.0  # seconds an agent waits for a channel's status

# The market's face of a design lives in the core seam (l2gpu.core.designs); these
# names stay importable from here while callers move to it.
__all__ = ["ChannelAlreadyClosed", "ChannelRail", "ClosedChannel", "L1ChannelRail",
           "OpenedChannel"]  # fmt: skip


@dataclass
class L1ChannelRail:
    """Channels in the ChannelManager contract on L1 (``channel-l1``)."""

    manager: ChannelManagerClient
    account: LocalAccount
    salt: Callable[[], bytes] = lambda: secrets.token_bytes(32)
    settlement: str = "channel-l1"
    pending_needs_renter = False  # never pending: the channel opens in its L1 transaction

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
        return OpenedChannel(params, deposit, description, receipt.gas_used, receipt.tx_bytes,
                             bytes(receipt.tx_hash))  # fmt: skip

    def now(self) -> int:
        """The L1 clock."""
        return int(self.manager.chain.timestamp())

    def check(self, channel: ChannelDescription, *, max_cost: int, ends_by: int) -> str | None:
        """Read the channel from the ChannelManager."""
        wrong = rail_problem(
            channel, self.settlement, self.manager.chain_id, self.manager.address, "on L1"
        )
        wrong = wrong or terms_problem(channel)
        if wrong:
            return wrong
        found = self.manager.channel(channel.params)
        if found is None or found.status != ChannelStatus.OPEN:
            return "the lease's channel is not open on L1"
        return funding_problem(int(found.deposit), int(found.expires_at), max_cost, ends_by)

    def close(self, channel: ChannelDescription, best: Voucher) -> ClosedChannel:
        """``closeByProvider`` on L1: both sides are paid in the same transaction."""
        params = channel.params
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
                             receipt.tx_bytes, tx_hash=bytes(receipt.tx_hash))  # fmt: skip

    def confirmed(self, channel_id: Hash32) -> str:
        """An L1 channel is open once its transaction is mined, which :meth:`open` waits for."""
        return "open"

    def cosign_close(self, channel: ChannelDescription, paid: Wei) -> str:
        """On L1 the provider closes alone with the best voucher (a cooperative close
        needs the renter's EIP-712 signature, which this rail does not collect yet)."""
        return self.status(channel)

    def status(self, channel: ChannelDescription) -> str:
        """The channel's status in the ChannelManager."""
        found = self.manager.channel(channel.params)
        if found is None or found.status == ChannelStatus.NONE:
            return "missing"
        return found.status.name.lower()

    def settle(self, channel: ChannelDescription) -> str:
        """``settle`` once the channel's deadline has passed: what each side got.
        Raises :class:`ChannelNotDue` before it, :class:`ChannelAlreadyClosed` after a
        settlement."""
        params = channel.params
        found = self.manager.channel(params)
        if found is None or found.status in (ChannelStatus.NONE, ChannelStatus.SETTLED):
            raise ChannelAlreadyClosed(f"channel {params.id} is settled (or was never opened)",
                                       "nothing is left to pay out")  # fmt: skip
        deadline = int(found.deadline())
        if self.now() < deadline:
            raise ChannelNotDue(
                f"channel {params.id} can be settled from {format_timestamp(deadline)}",
                "wait for its deadline", deadline,
            )  # fmt: skip
        receipt = self.manager.apply(
            ci.Settle(Address.from_hex(self.account.address), Timestamp(self.now()), params),
            self.account,
        )
        paid = receipt.event("ChannelSettled").args
        return (f"channel {params.id} settled: {format_wei(Wei(paid['renter_payout']))} back "
                f"to you, {format_wei(Wei(paid['provider_payout']))} to the provider")  # fmt: skip

    def abandon(self, channel: ChannelDescription, conceded: Wei = Wei(0)) -> str:
        """``closeByRenter`` conceding ``conceded``; settle after the challenge period."""
        params = channel.params
        now = self.manager.chain.timestamp()
        self.manager.apply(ci.CloseByRenter(params.renter, now, params, conceded), self.account)
        return (
            f"the close of channel {params.id} has started; from "
            f"{format_timestamp(now + params.challenge_period)} (L1 time, after its "
            f"{params.challenge_period} s challenge period) 'l2gpu channel settle {params.id}' "
            "returns the deposit"
        )


__all__ = ["ChannelRail", "ClosedChannel", "L1ChannelRail", "OpenedChannel"]
