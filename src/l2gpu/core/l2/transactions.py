"""L2 transactions. Accounts and channels are named by index (3 bytes on L1).

Two kinds of authorization:
- L1-originated (``Deposit``): the L1 contract saw ``msg.sender`` and queued it;
  the batch names the queue position, and L1 checks the order.
- user transactions: every account in ``signers(tx)`` co-signs the commitment
  that carries the transaction, with one aggregate BLS signature per commitment
  (see ``commitment.py``). No per-transaction signature goes to L1. Nonces are not
  posted either: the signed commitment message binds the pre-state root, which
  changes with every transaction, so a commitment can never be replayed.

A channel transaction is named after the ChannelManager function whose rules it
runs: ``OpenChannel`` (open), ``TopUpChannel`` (top_up), ``SubmitVoucher``,
``CloseByRenter``, ``CloseByProvider``, ``CooperativeClose`` and ``SettleChannel``
(settle).

Under the zk scheme (``zk_scheme.py``) those are refused, and a lease's channel is
``core/zk``'s instead (``core/zk/channel.py``): ``OpenZkChannel``,
``CloseZkChannel`` and ``ReclaimZkChannel`` (``zk_channels.py`` runs them; the
optimistic scheme refuses them). They carry their own signatures, as ``core/zk``'s
operations do, and name the channel by its leaf in ``core/zk``'s tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.channel.state import VirtualTerms
from l2gpu.core.types import Address, Seconds, Timestamp, Wei


@dataclass(frozen=True, slots=True)
class Deposit:
    """Credit ``amount`` to ``address`` (creating its account), from L1 queue position."""

    queue_index: int
    address: Address
    amount: Wei
    bls_key: bytes
    proof_of_possession: bytes


@dataclass(frozen=True, slots=True)
class ForcedWithdraw:
    """Queued on L1 by ``address`` itself: withdraw ``amount`` (capped at the balance).

    The path that needs no co-operation from the sequencer: it must process the L1
    queue in order within the forced-inclusion delay, or the rollup freezes.
    """

    queue_index: int
    address: Address
    amount: Wei


L1Operation = Deposit | ForcedWithdraw


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move ``amount`` from ``sender`` to ``to``; ``fee`` goes to the sequencer."""

    sender: int
    to: int
    amount: Wei
    fee: Wei


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Burn ``amount`` on L2 and create an exit to the sender's address on L1."""

    sender: int
    amount: Wei
    fee: Wei


@dataclass(frozen=True, slots=True)
class OpenChannel:
    """The renter ``sender`` locks ``amount`` in a channel to ``provider``; with
    ``virtual`` set, the channel is one end of a virtual channel (its vouchers are
    ``virtual.signer``'s, see ``core/channel/state.py`` VirtualTerms)."""

    sender: int
    provider: int
    amount: Wei
    expires_at: Timestamp
    challenge_period: Seconds
    virtual: VirtualTerms | None = None


@dataclass(frozen=True, slots=True)
class TopUpChannel:
    """The renter adds ``amount`` and sets expiry."""

    sender: int
    channel: int
    amount: Wei
    expires_at: Timestamp


@dataclass(frozen=True, slots=True)
class CooperativeClose:
    """Cooperative close: renter and provider both co-sign; ``amount`` to the provider."""

    sender: int
    channel: int
    amount: Wei


@dataclass(frozen=True, slots=True)
class CloseByRenter:
    """The renter starts a close conceding ``amount``; the challenge period follows."""

    sender: int
    channel: int
    amount: Wei


@dataclass(frozen=True, slots=True)
class SubmitVoucher:
    """Anyone proves the renter's voucher (an EIP-712 signature) before the deadline."""

    sender: int
    channel: int
    amount: Wei
    signature: bytes


@dataclass(frozen=True, slots=True)
class CloseByProvider:
    """The provider closes at once with its best voucher."""

    sender: int
    channel: int
    amount: Wei
    signature: bytes


@dataclass(frozen=True, slots=True)
class SettleChannel:
    """Anyone pays out a channel whose deadline has passed."""

    sender: int
    channel: int


ChannelTx = (
    TopUpChannel
    | CooperativeClose
    | CloseByRenter
    | SubmitVoucher
    | CloseByProvider
    | SettleChannel
)
"""Transactions on an existing channel (named by its index)."""
UserTx = (
    Transfer
    | Withdraw
    | OpenChannel
    | TopUpChannel
    | CooperativeClose
    | CloseByRenter
    | SubmitVoucher
    | CloseByProvider
    | SettleChannel
)
L2Tx = Deposit | ForcedWithdraw | UserTx


@dataclass(frozen=True, slots=True)
class OpenZkChannel:
    """``core/zk``'s OPEN: the renter ``sender`` locks ``deposit`` for ``provider`` (both
    L2 account indices) until ``expiry`` (unix seconds), in the empty channel leaf
    ``slot`` that the sequencer picked (a ``core/zk`` leaf index, from
    ``2^(depth-1)`` up). Authorized by the renter's signature of ``core/zk``'s open
    message at its nonce (``scheme.Authorization``)."""

    slot: int
    sender: int
    provider: int
    deposit: Wei
    expiry: Timestamp


@dataclass(frozen=True, slots=True)
class CloseZkChannel:
    """``core/zk``'s CLOSE of the channel in leaf ``slot``: ``amount`` to the provider,
    the rest of the deposit to the renter. ``voucher`` is the renter's packed
    signature of ``core/zk``'s voucher message for ``amount``, ``provider_signature``
    the provider's of its close message (64 bytes each)."""

    slot: int
    amount: Wei
    voucher: bytes
    provider_signature: bytes


@dataclass(frozen=True, slots=True)
class ReclaimZkChannel:
    """``core/zk``'s RECLAIM: the whole deposit of the expired channel in leaf ``slot``
    back to its renter. Nobody signs it."""

    slot: int


ZkChannelTx = OpenZkChannel | CloseZkChannel | ReclaimZkChannel
"""``core/zk``'s channel operations, run under the zk scheme only. Not in ``L2Tx``:
the optimistic batch codec and fraud proofs never see them."""


@dataclass(frozen=True, slots=True)
class BlockContext:
    """What a transaction sees of its block: the time and who collects fees."""

    timestamp: Timestamp
    fee_recipient: int
