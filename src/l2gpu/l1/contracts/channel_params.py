"""The ABI form of a channel's terms, shared by the ChannelManager on L1 and the
Rollup's channel exits."""

from __future__ import annotations

from typing import Any

from l2gpu.core.channel import ChannelParams


def as_tuple(params: ChannelParams) -> tuple[Any, ...]:
    """The ABI tuple of ``ChannelParams``."""
    return (
        params.renter.checksum,
        params.provider.checksum,
        params.token.checksum,
        params.challenge_period,
        params.salt,
    )
