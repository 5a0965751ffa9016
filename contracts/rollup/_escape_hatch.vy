# pragma version ~=0.4.3
"""
@title _escape_hatch
@license Apache-2.0
@notice The rollup's escape hatch. If a queued L1 operation waits longer than the
        forced-inclusion delay, anyone can freeze the rollup: afterwards no batch is
        accepted, and every user exits with a proof against the last final root
        (an account's balance, a live channel as if settled at the freeze, a queued
        deposit that no final batch processed).
@dev    Rollup `initializes` it and exports its external functions. It `uses` the
        queue (whose freeze flag it sets), the batches (for the last final root) and
        exits (paths and payouts).
        Its file name starts with "_": it `uses` another module, so it compiles
        only inside the contract that `initializes` it (here Rollup).
"""

from . import _batches as batches
from . import _exits as exits
from . import l1_queue
from . import state_leaves

uses: (l1_queue, batches, exits)

event Frozen:
    at_batch: uint256
    final_root: bytes32

event FrozenExit:
    kind: uint256
    index: indexed(uint256)
    recipient: indexed(address)
    amount: uint256

FORCE_DELAY: public(immutable(uint256))

frozen_batch: public(uint256)
account_exited: public(HashMap[uint256, bool])
channel_exited: public(HashMap[uint256, bool])
deposit_refunded: public(HashMap[uint256, bool])


@deploy
def __init__(_force_delay: uint256):
    """
    @param _force_delay Seconds the sequencer has to include a queued L1 operation.
    """
    FORCE_DELAY = _force_delay


@external
def freeze():
    """
    @notice Freeze the rollup when a queued L1 operation has waited past the
            forced-inclusion delay without a batch processing it. Afterwards no batch
            is accepted and everyone exits against the last final root.
    """
    assert not l1_queue.frozen, "rollup: frozen"
    consumed: uint256 = batches._info(batches._batch_count() - 1, 40, 40)
    assert consumed < l1_queue.queue_length, "rollup: nothing is waiting"
    assert block.timestamp > l1_queue.queue_time[consumed] + FORCE_DELAY, "rollup: the sequencer still has time"
    final: uint256 = batches._last_final()
    l1_queue.frozen = True
    self.frozen_batch = final
    log Frozen(at_batch=final, final_root=batches.batch_root[final])


@external
def exit_account(
    _index: uint256,
    _address: address,
    _balance: uint256,
    _nonce: uint256,
    _bls_key: Bytes[96],
    _proof: DynArray[bytes32, state_leaves.DEPTH],
    _channels_root: bytes32,
    _exits_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    """
    @notice After a freeze: take out an account's balance, proven against the last final root.
    """
    assert l1_queue.frozen, "rollup: not frozen"
    assert not self.account_exited[_index], "rollup: account already exited"
    assert len(_bls_key) == 96, "rollup: bad key length"
    leaf: bytes32 = state_leaves._account_leaf(state_leaves.Account(index=_index, present=True, addr=_address, balance=_balance, nonce=_nonce, bls_key=_bls_key))
    accounts_root: bytes32 = exits._merkle_root(leaf, _index, _proof)
    root: bytes32 = state_leaves._state_root(state_leaves.RootParts(accounts_root=accounts_root, channels_root=_channels_root, exits_root=_exits_root, deposits_processed=_deposits_processed, exit_count=_exit_count))
    assert root == batches.batch_root[self.frozen_batch], "rollup: bad account proof"
    self.account_exited[_index] = True
    log FrozenExit(kind=1, index=_index, recipient=_address, amount=_balance)
    exits._pay(_address, _balance)


@external
def exit_channel(
    _index: uint256,
    _params: state_leaves.ChannelParams,
    _renter_index: uint256,
    _provider_index: uint256,
    _deposit: uint256,
    _best: uint256,
    _expires_at: uint256,
    _close_deadline: uint256,
    _status: uint256,
    _proof: DynArray[bytes32, state_leaves.DEPTH],
    _accounts_root: bytes32,
    _exits_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    """
    @notice After a freeze: pay out a live channel as if settled at the freeze: the best
            proven voucher (capped at the deposit) to the provider, the rest to the renter.
    """
    assert l1_queue.frozen, "rollup: not frozen"
    assert not self.channel_exited[_index], "rollup: channel already exited"
    assert _status == 1 or _status == 2, "rollup: channel not live"
    leaf: bytes32 = state_leaves._channel_leaf(state_leaves.Channel(index=_index, present=True, params=_params, renter_index=_renter_index, provider_index=_provider_index, deposit=_deposit, best=_best, expires_at=_expires_at, close_deadline=_close_deadline, status=_status))
    channels_root: bytes32 = exits._merkle_root(leaf, _index, _proof)
    root: bytes32 = state_leaves._state_root(state_leaves.RootParts(accounts_root=_accounts_root, channels_root=channels_root, exits_root=_exits_root, deposits_processed=_deposits_processed, exit_count=_exit_count))
    assert root == batches.batch_root[self.frozen_batch], "rollup: bad channel proof"
    self.channel_exited[_index] = True
    to_provider: uint256 = min(_best, _deposit)
    log FrozenExit(kind=2, index=_index, recipient=_params.provider, amount=to_provider)
    log FrozenExit(kind=2, index=_index, recipient=_params.renter, amount=_deposit - to_provider)
    exits._pay(_params.provider, to_provider)
    exits._pay(_params.renter, _deposit - to_provider)


@external
def refund_queued(_index: uint256, _kind: uint256, _sender: address, _amount: uint256, _key_hash: bytes32, _pop_hash: bytes32, _account_index: uint256):
    """
    @notice After a freeze: return a deposit that no final batch processed.
    @param _account_index The L2 account index the entry recorded (see the Queued event).
    """
    assert l1_queue.frozen, "rollup: not frozen"
    assert _index >= batches._info(self.frozen_batch, 40, 40) and _index < l1_queue.queue_length, "rollup: processed by a final batch"
    assert not self.deposit_refunded[_index], "rollup: already refunded"
    assert l1_queue.queue[_index] == keccak256(abi_encode(_kind, _sender, _amount, _key_hash, _pop_hash, _account_index)), "rollup: not that queue entry"
    self.deposit_refunded[_index] = True
    if _kind == l1_queue.KIND_DEPOSIT:
        log FrozenExit(kind=3, index=_index, recipient=_sender, amount=_amount)
        exits._pay(_sender, _amount)
