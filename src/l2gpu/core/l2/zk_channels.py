"""``core/zk``'s lease channels as ``core/l2`` transactions, under the zk scheme.

Under ``POSEIDON_EDDSA`` a lease's channel is ``core/zk``'s (``core/zk/channel.py``,
whose docstring has every rule and message), not the ChannelManager's that
``stf.py`` runs under the optimistic scheme:

- :class:`~l2gpu.core.l2.transactions.OpenZkChannel` is ``core/zk``'s OPEN, authorized
  like a transfer: ``Authorization(nonce, signature)``, the renter's packed signature
  of ``channel.open_message`` at its nonce;
- :class:`~l2gpu.core.l2.transactions.CloseZkChannel` is its CLOSE, with the renter's
  voucher and the provider's close signature in the transaction itself;
- :class:`~l2gpu.core.l2.transactions.ReclaimZkChannel` is its RECLAIM, unsigned, at
  or after the channel's expiry by the block's timestamp (``BlockContext.timestamp``
  is the zk batch's).

Each runs ``core/zk``'s own rules (``open_steps``, ``close_steps``,
``reclaim_steps``) on the zk scheme's tree (``zk_scheme.PoseidonTree.tree``, which
holds exactly the state's accounts and channels), so the refusals are ``core/zk``'s,
in its order, raised as :class:`L2Error` with its reason. Only once they pass does
the state change, through its own records (``put_account``, ``put_zk_channel``,
``drop_zk_channel``, which a checkpoint can roll back), leaf by leaf in the order
``core/zk`` updates them: the root after the transaction is ``core/zk``'s.

Index translation, as for transfers: L2 account ``i`` is ``core/zk`` leaf ``i + 1``
(``zk_scheme.zk_index``); a channel is named by its ``core/zk`` leaf (``slot``), and
its record is ``core/zk``'s :class:`~l2gpu.core.zk.state.Channel` with ``core/zk``
indices, so vouchers and closes sign exactly what they sign for the zk node.

What differs from ``core/zk``: a CLOSE's signatures arrive packed; bytes that pack
no signature are refused (``zk: bad signature``) before any of ``core/zk``'s rules.
Under the optimistic scheme all three are refused before anything is read
(``l2: zk channels need the poseidon-eddsa scheme``).
"""

from __future__ import annotations

from dataclasses import replace

from l2gpu.core.l2.records import L2Error, require
from l2gpu.core.l2.scheme import ZK_CHANNELS_ONLY, Authorization
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import (
    BlockContext,
    CloseZkChannel,
    OpenZkChannel,
    ReclaimZkChannel,
    ZkChannelTx,
)
from l2gpu.core.l2.zk_scheme import PoseidonTree, unpack_signature, zk_index, zk_rules
from l2gpu.core.types import Wei
from l2gpu.core.zk.channel import (
    ChannelSteps,
    CloseChannelTx,
    OpenChannelTx,
    ReclaimTx,
    close_steps,
    open_steps,
    reclaim_steps,
)
from l2gpu.core.zk.state import ZkState

Deltas = tuple[tuple[int, int], ...]
"""Balance changes per L2 account, as ``stf.TxEffects.deltas``."""
Applied = tuple[Deltas, ChannelSteps]
"""What an operation did: its balance changes, and ``core/zk``'s steps it ran (the
states the circuit's intermediate roots are read from, ``core/l2/zk_batch.py``)."""


def apply_zk_channel(
    state: L2State, tx: ZkChannelTx, block: BlockContext, authorization: Authorization | None
) -> Applied:
    """Apply ``core/zk``'s channel operation ``tx`` to ``state`` in place, or raise
    :class:`L2Error` and change nothing; the balance changes it made and the steps."""
    tree = _zk_tree(state, tx)
    if isinstance(tx, OpenZkChannel):
        return _open(state, tree, tx, block, authorization)
    if isinstance(tx, CloseZkChannel):
        return _close(state, tree, tx)
    return _reclaim(state, tree, tx, block)


def _zk_tree(state: L2State, tx: ZkChannelTx) -> ZkState:
    """The zk scheme's tree; a state of another scheme refuses every zk channel."""
    if not isinstance(state.commitment, PoseidonTree):
        raise L2Error(
            ZK_CHANNELS_ONLY,
            f"{type(tx).__name__} runs under the zk scheme; this state's is {state.scheme.name}",
        )
    return state.commitment.tree


def _open(
    state: L2State,
    tree: ZkState,
    tx: OpenZkChannel,
    block: BlockContext,
    authorization: Authorization | None,
) -> Applied:
    require(authorization is not None, "zk: unsigned transaction")
    assert authorization is not None
    nonce = authorization.nonce
    ztx = OpenChannelTx(
        tx.slot, zk_index(tx.sender), zk_index(tx.provider), tx.deposit, tx.expiry, nonce
    )
    with zk_rules():
        signature = unpack_signature(authorization.signature)
        steps = open_steps(tree, ztx, signature, block.timestamp)
    # Validation is over: the renter pays (its nonce, the open's, is used), then the leaf.
    renter = state.accounts[tx.sender]
    balance = Wei(renter.balance - tx.deposit)
    state.put_account(replace(renter, balance=balance, nonce=renter.nonce + 1))
    state.put_zk_channel(tx.slot, steps.channel)
    return ((tx.sender, -tx.deposit),), steps


def _close(state: L2State, tree: ZkState, tx: CloseZkChannel) -> Applied:
    with zk_rules():
        voucher = unpack_signature(tx.voucher)
        provider_signature = unpack_signature(tx.provider_signature)
        steps = close_steps(tree, CloseChannelTx(tx.slot, tx.amount, voucher, provider_signature))
    # core/zk's order: the leaf, the provider's pay, then the renter's refund, each
    # read after the one before (a channel to oneself is credited twice).
    channel = steps.channel
    state.drop_zk_channel(tx.slot)
    provider, renter = l2_index(channel.provider), l2_index(channel.renter)
    _credit(state, provider, tx.amount)
    _credit(state, renter, channel.deposit - tx.amount)
    return ((provider, tx.amount), (renter, channel.deposit - tx.amount)), steps


def _reclaim(state: L2State, tree: ZkState, tx: ReclaimZkChannel, block: BlockContext) -> Applied:
    with zk_rules():
        steps = reclaim_steps(tree, ReclaimTx(tx.slot), block.timestamp)
    channel = steps.channel
    state.drop_zk_channel(tx.slot)
    renter = l2_index(channel.renter)
    _credit(state, renter, channel.deposit)
    return ((renter, channel.deposit),), steps


def l2_index(leaf: int) -> int:
    """The L2 account at ``core/zk`` leaf ``leaf``: the inverse of ``zk_index``."""
    return leaf - 1


def _credit(state: L2State, index: int, amount: int) -> None:
    """``stf.credit`` (which this module cannot import: ``stf`` imports it), with the
    overflow already refused by ``core/zk``'s rules."""
    if amount:
        account = state.accounts[index]
        state.put_account(replace(account, balance=Wei(account.balance + amount)))
