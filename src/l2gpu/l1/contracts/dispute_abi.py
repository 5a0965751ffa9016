"""Witnesses and root parts as the ABI tuples of StepVerifier.vy's structs."""

from __future__ import annotations

from typing import Any

from l2gpu.core.crypto.bls_points import g1_point, g2_point
from l2gpu.core.l2.proofs.signature import CloseParties, SignerKey
from l2gpu.core.l2.proofs.step import StepWitness
from l2gpu.core.l2.state import NO_BLS_KEY, TREE_DEPTH, Account, L2Channel, RootParts
from l2gpu.core.l2.transactions import Deposit, L1Operation
from l2gpu.l1.contracts.channel_params import as_rollup_tuple

KIND_DEPOSIT, KIND_FORCED_WITHDRAW = 1, 2


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
        return (index, False, (zero, zero, zero, 0, bytes(32), zero, bytes(32), 0),
                0, 0, 0, 0, 0, 0, 0)  # fmt: skip
    c = value.channel
    return (index, True, as_rollup_tuple(c.params), value.renter, value.provider, c.deposit,
            c.best_amount, c.expires_at, c.close_deadline, int(c.status))  # fmt: skip


def _path(proof: tuple[bytes, ...]) -> list[bytes]:
    assert len(proof) == TREE_DEPTH, "a Merkle path has 24 hashes"
    return list(proof)


def witness(value: StepWitness) -> tuple[Any, ...]:
    """``Witness``: account reads, channel reads, write paths, channel count."""
    accounts = [(account(r.index, r.account), _path(r.proof)) for r in value.accounts]
    channels = [(channel(r.index, r.channel), _path(r.proof)) for r in value.channels]
    return (accounts, channels, [_path(p) for p in value.writes], value.channel_count)


def signer_key(value: SignerKey) -> tuple[Any, ...]:
    """``SignerKey``: the account, its path, and the key as an EIP-2537 point."""
    return (account(value.account.index, value.account), _path(value.proof),
            g2_point(value.account.bls_key))  # fmt: skip


def close_parties(value: CloseParties) -> tuple[Any, ...]:
    """``CloseParties``: position, root parts before it, the channel read and its path."""
    index = value.channel.index if value.channel is not None else 0
    return (value.position, root_parts(value.parts), channel(index, value.channel),
            _path(value.proof))  # fmt: skip


def l1_op(op: L1Operation, account_index: int) -> tuple[Any, ...]:
    """``L1Op``: a queue entry with its account index and, for deposits, EIP-2537 points."""
    if isinstance(op, Deposit):
        return (KIND_DEPOSIT, op.queue_index, op.address.checksum, op.amount, op.bls_key,
                op.proof_of_possession, account_index, g2_point(op.bls_key),
                g1_point(op.proof_of_possession))  # fmt: skip
    return (KIND_FORCED_WITHDRAW, op.queue_index, op.address.checksum, op.amount, b"", b"",
            account_index, b"", b"")  # fmt: skip
