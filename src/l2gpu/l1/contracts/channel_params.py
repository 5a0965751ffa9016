"""The ABI form of a channel's terms: the ChannelManager's on L1, and the rollup's
(with a virtual channel's terms) for its channel exits and fraud proofs."""

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


def as_rollup_tuple(params: ChannelParams) -> tuple[Any, ...]:
    """The ABI tuple of the rollup's ``state_leaves.ChannelParams``: the five terms and
    a virtual channel's three (zeros for an ordinary channel)."""
    v = params.virtual
    virtual = ("0x" + "00" * 20, bytes(32), 0) if v is None else (
        v.signer.checksum, v.virtual_id, v.fee_ppm)  # fmt: skip
    return (*as_tuple(params), *virtual)
