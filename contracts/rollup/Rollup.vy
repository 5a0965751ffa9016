# pragma version ~=0.4.3
"""
@title Rollup
@license Apache-2.0
@notice The L1 side of l2gpu's optimistic rollup: an L1 queue for deposits and
        forced withdrawals, batches of co-signed commitments posted as calldata
        with their state roots by bonded proposers, a challenge window after which
        a root is final, withdrawals claimed with Merkle proofs against final roots,
        and a freeze: if a queued operation waits longer than the forced-inclusion
        delay, anyone can freeze the rollup and every user exits with a proof
        against the last final root. The L2 rules are specified by the Python state
        transition in src/l2gpu/core/l2/.
@dev    State root = keccak256(accounts_root || channels_root || exits_root ||
        uint64 deposits_processed || uint64 exit_count). Exit leaf = keccak256(
        address || uint128 amount || uint64 index). Account leaf = keccak256(address
        || uint128 balance || uint64 nonce || bls_key[96]). Trees are indexed, depth 24.
        This contract is the composition of its modules: l1_queue (the L1 queue and
        the freeze flag), batches (posting and parsing batches, bonds, finality),
        escape_hatch (the freeze and the exits after it), exits (paths and payouts);
        the leaves, paths and root are state_leaves', payouts pull_payments'. It adds
        deposits, staking, fraud-proof reverts and exit claims.
"""

from common import pull_payments
from interfaces import IBlsVerifier
from interfaces import IRollup
from . import _batches as batches
from . import _exits as exits
from . import _escape_hatch as escape_hatch
from . import l1_queue
from . import state_leaves

implements: IRollup

interface IFronted:
    def is_fronted(_exit_index: uint256, _owner: address, _amount: uint256) -> bool: view

initializes: pull_payments
initializes: exits[pull_payments := pull_payments]
initializes: l1_queue
initializes: batches[l1_queue := l1_queue]
initializes: escape_hatch[l1_queue := l1_queue, batches := batches, exits := exits]

exports: (
    # Payouts a recipient refused (see PayoutDeferred), to pull with withdraw_credit.
    pull_payments.credit,
    l1_queue.NO_ACCOUNT,
    l1_queue.queue,
    l1_queue.queue_time,
    l1_queue.queue_length,
    l1_queue.account_count,
    l1_queue.frozen,
    batches.submit_batch,
    batches.submit_batch_blob,
    batches.batch_count,
    batches.last_serial,
    batches.batch_time,
    batches.batch_queue_end,
    batches.batch_last_timestamp,
    batches.batch_serial,
    batches.batch_fee_recipient,
    batches.batch_segment_count,
    batches.batch_root,
    batches.batch_segments_root,
    batches.batch_proposer,
    batches.bond,
    batches.first_blob_batch,
    batches.GAME,
    batches.ALLOW_BLOBS,
    batches.CHALLENGE_WINDOW,
    batches.MIN_BOND,
    batches.MAX_L1_OPS,
    batches.MAX_CLOSES,
    escape_hatch.freeze,
    escape_hatch.exit_account,
    escape_hatch.exit_channel,
    escape_hatch.refund_queued,
    escape_hatch.FORCE_DELAY,
    escape_hatch.frozen_batch,
    escape_hatch.account_exited,
    escape_hatch.channel_exited,
    escape_hatch.deposit_refunded,
)

event ExitClaimed:
    exit_index: indexed(uint256)
    recipient: indexed(address)
    amount: uint256

event BatchesReverted:
    from_index: indexed(uint256)
    proposer: indexed(address)
    slashed: uint256
    to_challenger: uint256

MAX_BALANCE: constant(uint256) = 2**128 - 1

BLS: public(immutable(IBlsVerifier))
# The shards' bridge (contracts/bridge/Bridge.vy) this rollup is a shard of, or
# empty(address) for a rollup on its own. Only it deposits for other addresses and
# claims exits to carry them to another shard; it can never change.
BRIDGE: public(immutable(address))
# A shard's exits are proven leaves of the exit tree: the bridge ties a front to the
# exit itself (Bridge.vy).
EXITS_ARE_POSITIONS: public(constant(bool)) = False

exit_claimed: public(HashMap[uint256, bool])
burned: public(uint256)


@deploy
def __init__(_genesis_root: bytes32, _challenge_window: uint256, _force_delay: uint256, _min_bond: uint256, _dispute_game: address, _allow_blobs: bool, _bls: address, _bridge: address):
    """
    @notice Start the rollup at the empty state's root (batch 0, final at once).
    @param _challenge_window Seconds a root can be challenged (7 days by default).
    @param _force_delay Seconds the sequencer has to include a queued L1 operation (12 h).
    @param _min_bond Wei a proposer must stake to post batches.
    @param _bls The BlsVerifier that checks deposited keys are curve points.
    @param _allow_blobs Accept blob batches (never final; see submit_batch_blob).
    @param _dispute_game The DisputeGame that judges fraud proofs; it must name this rollup
           (it was deployed for the address this contract gets), and it can never change.
    @param _bridge The shards' bridge, or empty(address) for a rollup that is no shard.
    """
    batches.__init__(_genesis_root, _challenge_window, _min_bond, _dispute_game, _allow_blobs)
    escape_hatch.__init__(_force_delay)
    BLS = IBlsVerifier(_bls)
    BRIDGE = _bridge


# -- the L1 queue ------------------------------------------------------------------

@external
@payable
def deposit(_bls_key: Bytes[96], _proof_of_possession: Bytes[48], _key_point: Bytes[256]):
    """
    @notice Deposit ether to your L2 account (created on first deposit, with the next
            account index). The BLS key is set on first use if its proof of
            possession is valid.
    @param _bls_key Empty, or a compressed G2 key that is a curve point.
    @param _key_point The key uncompressed (EIP-2537): checked here so that a fraud
           proof can always supply a queued key's point.
    """
    self._deposit(msg.sender, msg.value, _bls_key, _proof_of_possession, _key_point)

@external
@payable
def deposit_for(_account: address, _bls_key: Bytes[96], _proof_of_possession: Bytes[48], _key_point: Bytes[256]):
    """
    @notice The shards' bridge deposits for `_account`: a deposit routed to its shard
            (with the depositor's own key), or a transfer arriving from another
            shard (with no key). Nobody else may: a key set for someone else's
            account would let the setter co-sign for it.
    """
    assert BRIDGE != empty(address) and msg.sender == BRIDGE, "rollup: only the shards' bridge deposits for another address"
    assert _account != empty(address), "rollup: no account to deposit for"
    self._deposit(_account, msg.value, _bls_key, _proof_of_possession, _key_point)

@internal
def _deposit(_account: address, _amount: uint256, _bls_key: Bytes[96], _proof_of_possession: Bytes[48], _key_point: Bytes[256]):
    assert not l1_queue.frozen, "rollup: frozen"
    assert len(_bls_key) == 0 or staticcall BLS.key_is_curve_point(_bls_key, _key_point), "rollup: the BLS key is not a curve point; send it with its uncompressed point"
    assert _amount > 0 and _amount <= MAX_BALANCE, "rollup: deposit out of range"
    stored: uint256 = l1_queue.account_index_of[_account]
    if stored == 0:
        count: uint256 = l1_queue.account_count
        assert count < l1_queue.NO_ACCOUNT, "rollup: the L2 is full"
        l1_queue.account_count = count + 1
        stored = count + 1
        l1_queue.account_index_of[_account] = stored
    l1_queue._enqueue(l1_queue.KIND_DEPOSIT, _account, _amount, _bls_key, _proof_of_possession, stored - 1)

@external
def force_withdraw(_amount: uint256):
    """
    @notice Ask, from L1, to withdraw `_amount` of your L2 balance (capped at it). The
            sequencer must include it within the forced-inclusion delay, or anyone may
            freeze the rollup. This path works without the sequencer's goodwill.
    """
    assert not l1_queue.frozen, "rollup: frozen"
    assert _amount > 0 and _amount <= MAX_BALANCE, "rollup: amount out of range"
    l1_queue._enqueue(l1_queue.KIND_FORCED_WITHDRAW, msg.sender, _amount, b"", b"", l1_queue._account_index(msg.sender))

@view
@external
def account_index(_account: address) -> uint256:
    """
    @notice The L2 account index of `_account` (given at its first deposit), or
            NO_ACCOUNT (2**24 - 1) if it never deposited.
    """
    return l1_queue._account_index(_account)


# -- bonds and fraud proofs ------------------------------------------------------------

@external
@payable
def stake():
    """
    @notice Add to your proposer bond.
    """
    batches.bond[msg.sender] += msg.value

@external
def unstake(_amount: uint256):
    """
    @notice Take back bond once every batch you posted is final or reverted.
    """
    assert not self._bond_locked(msg.sender), "rollup: a batch of yours is not final"
    assert batches.bond[msg.sender] >= _amount, "rollup: bond too small"
    batches.bond[msg.sender] -= _amount
    send(msg.sender, _amount)

@view
@external
def bond_locked(_proposer: address) -> bool:
    """
    @notice Whether a batch `_proposer` posted still stands and is not final yet, so
            that `unstake` refuses: its bond backs that batch until it is final.
    """
    return self._bond_locked(_proposer)

@view
@external
def last_batch_of(_proposer: address) -> uint256:
    """
    @notice The index at which `_proposer` posted its newest batch (0: none), which a
            later fraud proof may have reverted since.
    """
    return batches.proposer_last[_proposer] % 2**128

@view
@internal
def _bond_locked(_proposer: address) -> bool:
    """
    @dev No core/ mirror: bonds are L1's alone.
    """
    # revert_from reverts a batch and every later one, whoever posted them, so the
    # proposer's newest batch can be gone while an earlier one of its batches still
    # stands inside its window: checking the newest batch alone would free the bond
    # that the earlier one needs. Every standing batch of the proposer lies at or
    # below `bound` (its newest index, and the last batch), and was posted no later
    # than `posted` (batch times grow with the index; none of its batches is newer
    # than its newest). Finality is monotone in the index and the posting time, so
    # when a batch at `bound` posted at `posted` would be final, all of them are.
    # O(1): no list of a proposer's batches to walk, and revert_from, which cannot
    # visit every proposer of the batches it reverts, needs no bookkeeping.
    last: uint256 = batches.proposer_last[_proposer]
    if last == 0:
        return False  # it never posted a batch
    bound: uint256 = min(last % 2**128, batches._batch_count() - 1)
    return not batches._settled(bound, min(batches._info(bound, 0, 40), last >> 128))

@external
def revert_from(_index: uint256, _challenger: address):
    """
    @notice Called by the DisputeGame when a fraud proof holds: batch `_index` and every
            later batch are reverted, and the proposer of `_index` loses its whole bond,
            half to the challenger and half burned (so that a proposer challenging
            itself through another address still loses half).
    """
    assert msg.sender == batches.GAME.address, "rollup: only the dispute game reverts batches"
    count: uint256 = batches._batch_count()
    assert _index > 0 and _index < count, "rollup: no such batch"
    proposer: address = batches.batch_proposer[_index]
    slashed: uint256 = batches.bond[proposer]
    batches.bond[proposer] = 0
    reward: uint256 = slashed // 2
    self.burned += slashed - reward
    # The serial counter keeps counting, so a re-posted index gets a new serial.
    batches.batch_counters = (batches.batch_counters >> 128 << 128) | _index
    if batches.first_blob_batch >= _index:
        batches.first_blob_batch = 0
    log BatchesReverted(from_index=_index, proposer=proposer, slashed=slashed, to_challenger=reward)
    exits._pay(_challenger, reward)
    if slashed > reward:
        send(empty(address), slashed - reward)

@external
def is_final(_index: uint256) -> bool:
    """
    @notice Whether batch `_index`'s root can no longer be challenged.
    """
    return batches._is_final(_index)

@view
@external
def last_final_batch() -> uint256:
    """
    @notice The newest final batch.
    """
    return batches._last_final()


# -- withdrawals -----------------------------------------------------------------------

@external
def withdraw(
    _batch: uint256,
    _exit_index: uint256,
    _recipient: address,
    _amount: uint256,
    _proof: DynArray[bytes32, state_leaves.DEPTH],
    _accounts_root: bytes32,
    _channels_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    """
    @notice Claim an exit (an L2 withdrawal) proven against a final state root.
    """
    # An exit a liquidity provider fronted through the bridge is the provider's to be
    # repaid from: it leaves only through the bridge (else its owner is paid twice).
    assert BRIDGE == empty(address) or not staticcall IFronted(BRIDGE).is_fronted(_exit_index, _recipient, _amount), "rollup: this exit was fronted on another shard; it leaves through the bridge"
    self._claim_exit(_batch, _exit_index, _recipient, _amount, _proof, _accounts_root, _channels_root, _deposits_processed, _exit_count)
    exits._pay(_recipient, _amount)

@external
def bridge_withdraw(
    _batch: uint256,
    _exit_index: uint256,
    _recipient: address,
    _amount: uint256,
    _proof: DynArray[bytes32, state_leaves.DEPTH],
    _accounts_root: bytes32,
    _channels_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    """
    @notice The shards' bridge claims an exit to carry it to another shard; the
            bridge checked that `_recipient` signed where it goes. The ether goes
            to the bridge, which deposits it on the target shard at once.
    """
    assert BRIDGE != empty(address) and msg.sender == BRIDGE, "rollup: only the shards' bridge claims an exit for its owner"
    self._claim_exit(_batch, _exit_index, _recipient, _amount, _proof, _accounts_root, _channels_root, _deposits_processed, _exit_count)
    raw_call(BRIDGE, b"", value=_amount)

@internal
def _claim_exit(
    _batch: uint256,
    _exit_index: uint256,
    _recipient: address,
    _amount: uint256,
    _proof: DynArray[bytes32, state_leaves.DEPTH],
    _accounts_root: bytes32,
    _channels_root: bytes32,
    _deposits_processed: uint256,
    _exit_count: uint256,
):
    assert batches._is_final(_batch), "rollup: batch not final"
    # After a freeze, balances leave as of the frozen batch (exit_account): an exit of
    # a later batch was burned from a balance that is paid out whole there.
    assert not l1_queue.frozen or _batch <= escape_hatch.frozen_batch, "rollup: frozen: exits after the frozen batch are in the frozen balances"
    assert _exit_index < _exit_count, "rollup: no such exit"
    assert not self.exit_claimed[_exit_index], "rollup: exit already claimed"
    exits_root: bytes32 = exits._merkle_root(state_leaves._exit_leaf(_recipient, _amount, _exit_index), _exit_index, _proof)
    root: bytes32 = state_leaves._state_root(state_leaves.RootParts(accounts_root=_accounts_root, channels_root=_channels_root, exits_root=exits_root, deposits_processed=_deposits_processed, exit_count=_exit_count))
    assert root == batches.batch_root[_batch], "rollup: bad exit proof"
    self.exit_claimed[_exit_index] = True
    log ExitClaimed(exit_index=_exit_index, recipient=_recipient, amount=_amount)

@external
def withdraw_credit():
    """
    @notice Collect payouts that were credited because a push was refused.
    """
    amount: uint256 = pull_payments._claim(msg.sender)
    assert amount > 0, "rollup: nothing to withdraw"
    send(msg.sender, amount)
