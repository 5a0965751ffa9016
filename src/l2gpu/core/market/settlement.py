"""Whether a channel can pay for a lease: the rules, in one place for every party.

The market (:mod:`l2gpu.api.leases`), the market's read of the rails
(:mod:`l2gpu.payments.channel_check`) and the provider's agent
(:mod:`l2gpu.agent.agent`) each gather what they know (the lease, the channel as its
rail shows it, the leases a channel already pays for) and ask these functions. A
function answers with the reason a channel cannot pay, in words the renter can act
on, or None; the shell decides what a refusal is there (a 400, a 409, a failed start).

The rules:

- the design is one the market knows (:data:`SETTLEMENTS`) and the one the provider
  settles on, in the contract and on the chain its rail reads;
- the channel holds ether, with a challenge period of at least
  :data:`MARKET_MIN_CHALLENGE_PERIOD`;
- it runs from the lease's renter to the lease's provider;
- its deposit covers the lease's maximum cost, and it does not expire before the
  lease would end;
- it pays for one lease only: two leases on one channel would each count its deposit.
"""

from __future__ import annotations

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription, describe_channel
from l2gpu.core.market.lease import Lease
from l2gpu.core.types import ZERO_ADDRESS, Address, Hash32, Seconds

MARKET_MIN_CHALLENGE_PERIOD = Seconds(3600)
"""The shortest challenge period the market accepts for a lease's channel: its policy,
not a channel rule. The ChannelManager and the rollup accept any period from
:data:`l2gpu.core.channel.state.MIN_CHALLENGE_PERIOD` (1 s) up; the market asks for
an hour so that the provider can answer a renter's close (or close after the lease)
within it: a renter choosing seconds could settle a close before the provider's agent
sees it."""

SETTLEMENTS = ("channel-l1", "hybrid", "zk", "plasma")
"""The designs a lease can pay over: an L1 ChannelManager channel, a channel inside
the optimistic rollup, one in the zk rollup's ledger, or locked coins of a Plasma
child chain."""

OPEN_A_CHANNEL = (
    "open a channel from the renter to the offer's provider with deposit >= the lease's cost"
)
ONE_CHANNEL_PER_LEASE = "open a new channel for each lease"

__all__ = [
    "MARKET_MIN_CHALLENGE_PERIOD",
    "ONE_CHANNEL_PER_LEASE",
    "OPEN_A_CHANNEL",
    "SETTLEMENTS",
    "ChannelDescription",
    "check_description",
    "check_lease_channel",
    "describe_channel",
    "funding_problem",
    "parties_problem",
    "rail_problem",
    "reuse_problem",
    "settlement_problem",
    "terms_problem",
]


def check_description(channel: ChannelDescription) -> str:
    """The settlement of a renter's channel, checked on its own terms.

    Raises:
        L2gpuError: the design is not in :data:`SETTLEMENTS`, or :func:`terms_problem`
            found the token or the challenge period wrong.
    """
    if channel.settlement not in SETTLEMENTS:
        raise L2gpuError(
            f"the channel's settlement '{channel.settlement}' is not one the market knows",
            f"use one of {', '.join(SETTLEMENTS)}",
        )
    problem = terms_problem(channel)
    if problem is not None:
        raise L2gpuError(problem, "open the channel with the l2gpu client ('l2gpu rent')")
    return channel.settlement


def terms_problem(channel: ChannelDescription) -> str | None:
    """Why a channel's terms cannot pay for a lease (token, challenge period), or None."""
    if channel.params.token != ZERO_ADDRESS:
        return "leases are paid in ether: the channel's token must be the zero address"
    if channel.params.challenge_period < MARKET_MIN_CHALLENGE_PERIOD:
        return (
            f"the channel's challenge period of {channel.params.challenge_period} s is below "
            f"the {MARKET_MIN_CHALLENGE_PERIOD} s a provider needs to answer a close"
        )
    return None


def parties_problem(channel: ChannelDescription, renter: Address, provider: Address) -> str | None:
    """Why the channel does not run from ``renter`` to ``provider``, or None. A routed
    channel (``sharded``) runs from a hub that signed that it carries ``renter``'s lease."""
    payer = channel.renter
    if channel.routed is not None:
        from l2gpu.core.shards.route import routed_for_signer

        routed = channel.routed
        signer = routed_for_signer(channel.chain_id, channel.renter, channel.channel_id,
                                   routed.renter, routed.signature)  # fmt: skip
        if signer != channel.renter:
            return "the channel's route is not signed by the hub that pays it"
        payer = routed.renter
    if payer != renter or channel.provider != provider:
        return "the channel is not from the lease's renter to its provider"
    if channel.params.virtual is not None and channel.voucher_signer != renter:
        # one end of a virtual channel: its vouchers must be the lease's renter's
        return "the channel's vouchers are not signed by the lease's renter"
    return None


def check_lease_channel(channel: ChannelDescription, lease: Lease) -> ChannelDescription:
    """The market's check of a renter's channel before it records the lease: every rule
    that needs no rail. Whether the channel is open, and holds its deposit, only a rail
    can say (:func:`rail_problem`, :func:`funding_problem`).

    Raises:
        L2gpuError: the design or terms are wrong (:func:`check_description`), the
            channel is not from the lease's renter to its provider, or its deposit is
            below the lease's maximum cost.
    """
    check_description(channel)
    if parties_problem(channel, lease.renter, lease.provider) is not None:
        raise L2gpuError("the channel is not from you to the offer's provider", OPEN_A_CHANNEL)
    if channel.deposit < lease.max_cost:
        raise L2gpuError(
            f"the channel's deposit {channel.deposit} wei is below the lease's maximum cost "
            f"{lease.max_cost} wei",
            OPEN_A_CHANNEL,
        )
    return channel


def settlement_problem(channel: ChannelDescription, settlement: str) -> str | None:
    """Why a provider settling over ``settlement`` cannot be paid by the channel, or None."""
    if channel.settlement != settlement:
        return (
            f"the lease pays over a {channel.settlement} channel; this provider settles "
            f"over {settlement}"
        )
    return None


def rail_problem(
    channel: ChannelDescription, settlement: str, chain_id: int, contract: Address, where: str
) -> str | None:
    """Why a rail of ``settlement``, settling in ``contract`` on ``chain_id`` (``where``,
    in words), cannot read or close the channel, or None."""
    wrong = settlement_problem(channel, settlement)
    if wrong is not None:
        return wrong
    if channel.chain_id != chain_id or channel.manager != contract:
        return (
            f"the lease's channel is in {channel.manager.checksum} on chain {channel.chain_id}; "
            f"this provider settles in {contract.checksum} on chain {chain_id} ({where})"
        )
    return None


def funding_problem(deposit: int, expires_at: int, max_cost: int, ends_by: int) -> str | None:
    """Why a channel holding ``deposit`` until ``expires_at``, as its rail shows it,
    cannot pay a lease costing up to ``max_cost`` that ends by ``ends_by``, or None."""
    if deposit < max_cost:
        return f"the channel holds {deposit} wei, less than the lease's {max_cost}"
    if expires_at < ends_by:
        return "the channel expires before the lease would end"
    return None


def reuse_problem(
    channel_id: Hash32, *, pays_for: int | None = None, in_use: bool = False
) -> str | None:
    """Why the channel cannot pay for one more lease: it already pays for lease
    ``pays_for`` (what the market knows), or is ``in_use`` by another lease (what a
    provider knows from its vouchers and jobs); None when it pays for nothing yet."""
    if pays_for is not None:
        return f"channel {channel_id} already pays for lease {pays_for}"
    if in_use:
        return "the lease's channel already pays for another lease"
    return None
