"""Witnesses and root parts as the ABI tuples of StepVerifier.vy's structs."""

from __future__ import annotations

from typing import Any

from l2gpu.core.l2.proofs.step import StepWitness
from l2gpu.core.l2.state import NO_BLS_KEY, Account, L2Channel, RootParts

DEPTH = 24


def root_parts(parts: RootParts) -> tuple[Any, ...]:
    """``RootParts`` (accounts, channels, exits roots, deposits processed, exit count)."""
    return (parts.accounts_root, parts.channels_root, parts.exits_root,
            parts.deposits_processed, parts.exit_count)  # fmt: skip


def account(index: int, value: Account | None) -> tuple[Any, ...]:
    """``Account``: index, present, address, balance, nonce, BLS key."""
    if value is None:
        return (index, False, "0x" + "00" * 20, 0, 0, NO_BLS_KEY)
    return (index, True, value.address.checksum, value.balance, value.nonce, value.bls_key)


def channel(index: int, value: L2Channel | None) -> tuple[Any, ...]:
    """``Channel``: index, present, params, party indices, amounts, times, status."""
    if value is None:
        zero = "0x" + "00" * 20
        return (index, False, (zero, zero, zero, 0, bytes(32)), 0, 0, 0, 0, 0, 0, 0)
    c = value.channel
    p = c.params
    params = (p.renter.checksum, p.provider.checksum, p.token.checksum, p.challenge_period,
              p.salt)  # fmt: skip
    return (index, True, params, value.renter, value.provider, c.deposit, c.best_amount,
            c.expires_at, c.close_deadline, int(c.status))  # fmt: skip


def _path(proof: tuple[bytes, ...]) -> list[bytes]:
    assert len(proof) == DEPTH, "a Merkle path has 24 hashes"
    return list(proof)


def witness(value: StepWitness) -> tuple[Any, ...]:
    """``Witness``: account reads, channel reads, write paths, channel count."""
    accounts = [(account(r.index, r.account), _path(r.proof)) for r in value.accounts]
    channels = [(channel(r.index, r.channel), _path(r.proof)) for r in value.channels]
    return (accounts, channels, [_path(p) for p in value.writes], value.channel_count)
