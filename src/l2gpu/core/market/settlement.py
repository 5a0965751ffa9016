"""A lease's channel as the market records it: which settlement design, which terms.

The renter's rail (:mod:`l2gpu.payments.rails`) writes this description when it
opens the channel; the market checks it against the lease; the provider's agent
reads it back to check and close the channel on its own rail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from l2gpu.core.channel import ChannelParams
from l2gpu.core.errors import InvalidValue, L2gpuError
from l2gpu.core.types import ZERO_ADDRESS, Address, Seconds

MARKET_MIN_CHALLENGE_PERIOD = Seconds(3600)
"""The shortest challenge period the market accepts for a lease's channel: its policy,
not a channel rule. The ChannelManager and the rollup accept any period from
:data:`l2gpu.core.channel.state.MIN_CHALLENGE_PERIOD` (1 s) up; the market asks for
an hour so that the provider can answer a renter's close (or close after the lease)
within it: a renter choosing seconds could settle a close before the provider's agent
sees it."""

SETTLEMENTS = ("channel-l1", "hybrid")
"""The designs a lease can pay over: an L1 ChannelManager channel, or a channel
inside the rollup."""


_SALT = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_DIGITS = re.compile(r"[0-9]{1,78}")
_FIX = "send the channel description that the l2gpu client wrote ('l2gpu rent')"


def params_of(channel: Mapping[str, Any]) -> ChannelParams:
    """The channel's terms from a lease's channel description (JSON from a peer).

    Raises :class:`InvalidValue` (a ValueError) naming the first field that is
    missing or malformed: addresses as 0x hex, the challenge period a whole number
    of seconds below 2**256 (a JSON integer or decimal digits), the salt 32 bytes of hex.
    """
    if not isinstance(channel, Mapping):
        raise InvalidValue("channel description", channel, "it is not a JSON object", _FIX)
    return ChannelParams(
        Address.from_hex(_field(channel, "renter")),
        Address.from_hex(_field(channel, "provider")),
        token=Address.from_hex(channel.get("token", ZERO_ADDRESS.checksum)),
        challenge_period=Seconds(_whole_number(channel, "challenge_period")),
        salt=_salt(channel),
    )


def _field(channel: Mapping[str, Any], name: str) -> Any:
    if name not in channel:
        raise InvalidValue("channel description", dict(channel), f"it has no '{name}'", _FIX)
    return channel[name]


def _whole_number(channel: Mapping[str, Any], name: str) -> int:
    value = _field(channel, name)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise InvalidValue(
            f"channel {name.replace('_', ' ')}",
            value,
            "it is not a whole number below 2**256",
            _FIX,
        )
    return value


def _salt(channel: Mapping[str, Any]) -> bytes:
    value = _field(channel, "salt")
    if not isinstance(value, str) or not _SALT.fullmatch(value):
        raise InvalidValue("channel salt", value, "it is not 32 bytes of 0x hex", _FIX)
    return bytes.fromhex(value.removeprefix("0x"))


def describe_channel(
    params: ChannelParams, deposit: int, chain_id: int, contract: Address, settlement: str
) -> dict[str, Any]:
    """The description a lease records: ``contract`` is the voucher domain's verifying
    contract (the ChannelManager, or the Rollup); amounts are decimal strings."""
    return {
        "settlement": settlement,
        "channel_id": str(params.id),
        "chain_id": chain_id,
        "manager": contract.checksum,
        "renter": params.renter.checksum,
        "provider": params.provider.checksum,
        "token": params.token.checksum,
        "challenge_period": params.challenge_period,
        "salt": "0x" + params.salt.hex(),
        "deposit": str(deposit),
    }


def settlement_of(channel: Mapping[str, Any]) -> str:
    """The description's settlement design (descriptions without one are L1 channels)."""
    if not isinstance(channel, Mapping):
        raise InvalidValue("channel description", channel, "it is not a JSON object", _FIX)
    return str(channel.get("settlement", "channel-l1"))


def check_description(channel: Mapping[str, Any]) -> str:
    """The settlement of a renter's channel description, refusing unknown designs,
    tokens other than ether and challenge periods below :data:`MARKET_MIN_CHALLENGE_PERIOD`."""
    settlement = settlement_of(channel)
    if settlement not in SETTLEMENTS:
        raise L2gpuError(
            f"the channel's settlement '{settlement}' is not one the market knows",
            f"use one of {', '.join(SETTLEMENTS)}",
        )
    problem = terms_problem(channel)
    if problem is not None:
        raise L2gpuError(problem, "open the channel with the l2gpu client ('l2gpu rent')")
    return settlement


def terms_problem(channel: Mapping[str, Any]) -> str | None:
    """Why a channel's terms cannot pay for a lease (token, challenge period), or None."""
    try:
        params = params_of(channel)
    except InvalidValue as exc:
        return f"the channel description is incomplete or malformed: {exc}"
    if params.token != ZERO_ADDRESS:
        return "leases are paid in ether: the channel's token must be the zero address"
    if params.challenge_period < MARKET_MIN_CHALLENGE_PERIOD:
        return (
            f"the channel's challenge period of {params.challenge_period} s is below the "
            f"{MARKET_MIN_CHALLENGE_PERIOD} s a provider needs to answer a close"
        )
    return None
