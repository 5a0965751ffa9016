# pragma version ~=0.4.3
"""
@title DisputeGame
@license Apache-2.0
@notice Fraud proofs for the l2gpu rollup. Anyone may challenge one segment of a
        batch (its L1 operations, or one commitment) within the challenge window, with
        a bond. The batch's proposer must then reveal its state root after every
        transaction of that segment (one round). The challenger proves one step: a
        transaction that breaks a rule, or leads from the proposer's root before it
        to another root than the proposer's after it (StepVerifier), or a co-signature
        that does not hold (SignatureVerifier). Anyone may send the proof of an open
        game. If the proof holds, or the proposer does not answer in time, the batch
        and every later one are reverted and the proposer's bond is slashed: half to
        the prover (the challenger on a timeout), half burned. If the
        challenger proves nothing in time, its bond goes to the proposer.
@dev    Why one round of k-ary dissection instead of bisection: a segment holds at most
        32 transactions (or 64 L1 operations), so one reply of at most 64 roots (2 KiB)
        reaches a single step,
        where bisection would need 5 to 6 rounds; the proposer reveals roots only when
        challenged, so no per-transaction roots go to L1 (docs/rollup.md, "Fraud proofs").
        The contract holds only open challenge bonds: every resolved game pays them out.
"""

from common import pull_payments
from interfaces import IDisputeGame
from interfaces import IRollup
from interfaces import ISignatureVerifier
from interfaces import IStepVerifier
from . import state_leaves

implements: IDisputeGame

initializes: pull_payments
# Payouts the challenger or proposer refused, to pull with withdraw_credit.
exports: pull_payments.credit

struct Challenge:
    batch: uint256
    serial: uint256
    segment: uint256
    challenger: address
    proposer: address
    pre_root: bytes32
    post_root: bytes32
    data_hash: bytes32
    roots_hash: bytes32
    tx_count: uint256
    deadline: uint256
    status: uint256

event ChallengeOpened:
    id: indexed(uint256)
    batch: indexed(uint256)
    segment: uint256
    challenger: address
    respond_by: uint256

event RootsRevealed:
    id: indexed(uint256)
    roots: DynArray[bytes32, MAX_ROOTS]
    prove_by: uint256

event ChallengeResolved:
    id: indexed(uint256)
    batch: indexed(uint256)
    outcome: uint256
    reason: String[64]

AWAITING_ROOTS: constant(uint256) = 1
AWAITING_PROOF: constant(uint256) = 2
CHALLENGER_WON: constant(uint256) = 3
PROPOSER_WON: constant(uint256) = 4
VOID: constant(uint256) = 5
MAX_ROOTS: constant(uint256) = 64
SEGMENT_LEVELS: constant(uint256) = 10
NONE_OPEN: constant(uint256) = max_value(uint256)
KIND_DEPOSIT: constant(uint256) = 1

ROLLUP: public(immutable(IRollup))
STEP: public(immutable(IStepVerifier))
SIGNATURE: public(immutable(ISignatureVerifier))
CHALLENGE_BOND: public(immutable(uint256))
RESPONSE_PERIOD: public(immutable(uint256))
PROOF_PERIOD: public(immutable(uint256))

challenges: public(HashMap[uint256, Challenge])
challenge_count: public(uint256)
taken: public(HashMap[bytes32, bool])
open_on_serial: public(HashMap[uint256, uint256])
lowest_open: public(uint256)


@deploy
def __init__(_rollup: address, _step: address, _signature: address, _challenge_bond: uint256, _response_period: uint256, _proof_period: uint256):
    """
    @param _rollup The Rollup whose batches this game judges (it trusts this contract).
    @param _challenge_bond Wei a challenger stakes; lost to the proposer if it proves nothing.
    @param _response_period Seconds the proposer has to reveal its roots.
    @param _proof_period Seconds the challenger then has to prove a step.
    """
    ROLLUP = IRollup(_rollup)
    STEP = IStepVerifier(_step)
    SIGNATURE = ISignatureVerifier(_signature)
    CHALLENGE_BOND = _challenge_bond
    RESPONSE_PERIOD = _response_period
    PROOF_PERIOD = _proof_period
    self.lowest_open = NONE_OPEN


@view
@external
def holds(_batch: uint256) -> bool:
    """
    @notice Whether an open challenge keeps batch `_batch` from becoming final (a
            challenge holds its batch and every later one).
    """
    return self.lowest_open <= _batch


# -- the game -------------------------------------------------------------------------

@external
@payable
def challenge(_batch: uint256, _segment: uint256, _pre_root: bytes32, _post_root: bytes32, _data_hash: bytes32, _proof: DynArray[bytes32, SEGMENT_LEVELS]) -> uint256:
    """
    @notice Challenge segment `_segment` of batch `_batch` (0: its L1 operations).
    @param _proof The segment leaf's path in the batch's segments tree.
    @return The challenge id.
    """
    assert msg.value == CHALLENGE_BOND, "dispute: send exactly the challenge bond"
    assert _batch > 0 and _batch < staticcall ROLLUP.batch_count(), "dispute: no such batch"
    assert block.timestamp < staticcall ROLLUP.batch_time(_batch) + staticcall ROLLUP.CHALLENGE_WINDOW(), "dispute: the challenge window is over"
    assert _segment < staticcall ROLLUP.batch_segment_count(_batch), "dispute: no such segment"
    leaf: bytes32 = keccak256(abi_encode(_pre_root, _post_root, _data_hash))
    assert self._segment_root(leaf, _segment, _proof) == staticcall ROLLUP.batch_segments_root(_batch), "dispute: not a segment of that batch"
    serial: uint256 = staticcall ROLLUP.batch_serial(_batch)
    key: bytes32 = keccak256(abi_encode(serial, _segment))
    assert not self.taken[key], "dispute: that segment is already challenged"
    self.taken[key] = True
    index: uint256 = self.challenge_count
    self.challenge_count = index + 1
    deadline: uint256 = block.timestamp + RESPONSE_PERIOD
    self.challenges[index] = Challenge(batch=_batch, serial=serial, segment=_segment, challenger=msg.sender, proposer=staticcall ROLLUP.batch_proposer(_batch), pre_root=_pre_root, post_root=_post_root, data_hash=_data_hash, roots_hash=empty(bytes32), tx_count=0, deadline=deadline, status=AWAITING_ROOTS)
    self.open_on_serial[serial] += 1
    self.lowest_open = min(self.lowest_open, _batch)
    log ChallengeOpened(id=index, batch=_batch, segment=_segment, challenger=msg.sender, respond_by=deadline)
    return index


@external
def respond(_id: uint256, _roots: DynArray[bytes32, MAX_ROOTS], _commitment: Bytes[state_leaves.MAX_COMMITMENT]):
    """
    @notice The proposer reveals its state root after each transaction of the segment.
    @param _commitment The commitment's bytes (ignored for segment 0).
    """
    c: Challenge = self.challenges[_id]
    assert c.status == AWAITING_ROOTS, "dispute: not awaiting roots"
    assert msg.sender == c.proposer, "dispute: only the batch's proposer reveals roots"
    assert block.timestamp < c.deadline, "dispute: too late to reveal roots"
    assert not self._void(c), "dispute: the batch is gone"
    count: uint256 = 0
    if c.segment == 0:
        count = staticcall ROLLUP.batch_queue_end(c.batch) - staticcall ROLLUP.batch_queue_end(c.batch - 1)
    else:
        assert keccak256(_commitment) == c.data_hash, "dispute: not the challenged commitment"
        count = convert(slice(_commitment, 1, 1), uint256)
    assert len(_roots) == count, "dispute: one root per transaction"
    assert count == 0 or _roots[count - 1] == c.post_root, "dispute: the last root must be the segment's"
    c.roots_hash = keccak256(abi_encode(_roots))
    c.tx_count = count
    c.status = AWAITING_PROOF
    c.deadline = block.timestamp + PROOF_PERIOD
    self.challenges[_id] = c
    log RootsRevealed(id=_id, roots=_roots, prove_by=c.deadline)


@external
def prove_step(_id: uint256, _roots: DynArray[bytes32, MAX_ROOTS], _position: uint256, _commitment: Bytes[state_leaves.MAX_COMMITMENT], _pre: state_leaves.RootParts, _witness: state_leaves.Witness):
    """
    @notice Prove that transaction `_position` of the challenged commitment breaks a
            rule, or does not lead to the proposer's root after it.
    """
    c: Challenge = self._proving(_id, _roots)
    assert c.segment > 0, "dispute: use prove_l1_step for L1 operations"
    assert keccak256(_commitment) == c.data_hash, "dispute: not the challenged commitment"
    self._check_before(c, _roots, _position, _pre)
    fault: String[64] = ""
    post: bytes32 = empty(bytes32)
    fault, post = extcall STEP.verify_tx(chain.id, ROLLUP.address, _pre, _commitment, _position, staticcall ROLLUP.batch_fee_recipient(c.batch), _witness)
    self._judge_step(_id, c, fault, post, _roots[_position])


@external
def prove_l1_step(_id: uint256, _roots: DynArray[bytes32, MAX_ROOTS], _position: uint256, _pre: state_leaves.RootParts, _op: state_leaves.L1Op, _witness: state_leaves.Witness):
    """
    @notice Prove that L1 operation `_position` of the batch was applied wrongly.
    """
    c: Challenge = self._proving(_id, _roots)
    assert c.segment == 0, "dispute: use prove_step for commitments"
    self._check_before(c, _roots, _position, _pre)
    queue_index: uint256 = staticcall ROLLUP.batch_queue_end(c.batch - 1) + _position
    assert _op.queue_index == queue_index, "dispute: wrong queue position"
    entry: bytes32 = keccak256(abi_encode(_op.kind, _op.sender, _op.amount, keccak256(_op.bls_key), keccak256(_op.proof_of_possession), _op.account_index))
    assert entry == staticcall ROLLUP.queue(queue_index), "dispute: not that queue entry"
    fault: String[64] = ""
    post: bytes32 = empty(bytes32)
    fault, post = extcall STEP.verify_l1_op(_pre, _op, _witness)
    self._judge_step(_id, c, fault, post, _roots[_position])


@external
def prove_signature(_id: uint256, _roots: DynArray[bytes32, MAX_ROOTS], _commitment: Bytes[state_leaves.MAX_COMMITMENT], _pre: state_leaves.RootParts, _signers: DynArray[state_leaves.SignerKey, 32], _closes: DynArray[state_leaves.CloseParties, 32], _signature_point: Bytes[128]):
    """
    @notice Prove that the challenged commitment's co-signature does not hold.
    """
    c: Challenge = self._proving(_id, _roots)
    assert c.segment > 0, "dispute: L1 operations carry no co-signature"
    assert keccak256(_commitment) == c.data_hash, "dispute: not the challenged commitment"
    before: DynArray[bytes32, 33] = [c.pre_root]
    for i: uint256 in range(32):
        if i + 1 >= c.tx_count:
            break
        before.append(_roots[i])
    valid: bool = staticcall SIGNATURE.signature_valid(chain.id, ROLLUP.address, _commitment, before, _pre, _signers, _closes, _signature_point)
    assert not valid, "dispute: the co-signature is valid"
    self._challenger_wins(_id, c, "l2: bad aggregate signature", msg.sender)


@external
def timeout(_id: uint256):
    """
    @notice Close a game whose deadline passed: no roots revealed (the challenger wins),
            or no proof (the proposer wins). A game whose batch another game already
            reverted returns the challenger's bond.
    """
    c: Challenge = self.challenges[_id]
    assert c.status == AWAITING_ROOTS or c.status == AWAITING_PROOF, "dispute: already resolved"
    if self._void(c):
        c.status = VOID
        self.challenges[_id] = c
        log ChallengeResolved(id=_id, batch=c.batch, outcome=VOID, reason="dispute: the batch was reverted by another game")
        pull_payments._pay(c.challenger, CHALLENGE_BOND)
        return
    assert block.timestamp >= c.deadline, "dispute: the deadline has not passed"
    if c.status == AWAITING_ROOTS:
        self._challenger_wins(_id, c, "dispute: the proposer did not reveal its roots", c.challenger)
    else:
        self._proposer_wins(_id, c)


@external
def withdraw_credit():
    """
    @notice Collect payouts that were credited because a push was refused.
    """
    amount: uint256 = pull_payments._claim(msg.sender)
    assert amount > 0, "dispute: nothing to withdraw"
    send(msg.sender, amount)


# -- internals ------------------------------------------------------------------------

@view
@internal
def _void(_c: Challenge) -> bool:
    return _c.batch >= staticcall ROLLUP.batch_count() or staticcall ROLLUP.batch_serial(_c.batch) != _c.serial


@view
@internal
def _proving(_id: uint256, _roots: DynArray[bytes32, MAX_ROOTS]) -> Challenge:
    c: Challenge = self.challenges[_id]
    assert c.status == AWAITING_PROOF, "dispute: not awaiting a proof"
    assert block.timestamp < c.deadline, "dispute: too late to prove"
    assert not self._void(c), "dispute: the batch is gone; call timeout to get the bond back"
    assert keccak256(abi_encode(_roots)) == c.roots_hash, "dispute: not the revealed roots"
    return c


@pure
@internal
def _check_before(_c: Challenge, _roots: DynArray[bytes32, MAX_ROOTS], _position: uint256, _pre: state_leaves.RootParts):
    assert _position < _c.tx_count, "dispute: no such transaction"
    before: bytes32 = _c.pre_root
    if _position > 0:
        before = _roots[_position - 1]
    assert state_leaves._state_root(_pre) == before, "dispute: the parts are not the root before that step"


@internal
def _judge_step(_id: uint256, _c: Challenge, _fault: String[64], _post: bytes32, _claimed: bytes32):
    if _fault != "":
        self._challenger_wins(_id, _c, _fault, msg.sender)
        return
    assert _post != _claimed, "dispute: the step is correct"
    self._challenger_wins(_id, _c, "l2: wrong post-state root", msg.sender)


@internal
def _challenger_wins(_id: uint256, _c: Challenge, _reason: String[64], _prover: address):
    c: Challenge = _c
    c.status = CHALLENGER_WON
    self.challenges[_id] = c
    self.open_on_serial[c.serial] -= 1
    # Every open challenge on this batch or a later one is void now; earlier ones stay.
    if self.lowest_open >= c.batch:
        self.lowest_open = NONE_OPEN
    log ChallengeResolved(id=_id, batch=c.batch, outcome=CHALLENGER_WON, reason=_reason)
    # The slashed bond's reward goes to whoever proved the fault: a liar that challenges
    # its own batch to block others and never proves gains nothing when someone else does.
    extcall ROLLUP.revert_from(c.batch, _prover)
    pull_payments._pay(c.challenger, CHALLENGE_BOND)


@internal
def _proposer_wins(_id: uint256, _c: Challenge):
    c: Challenge = _c
    c.status = PROPOSER_WON
    self.challenges[_id] = c
    self.open_on_serial[c.serial] -= 1
    if self.lowest_open == c.batch and self.open_on_serial[c.serial] == 0:
        self.lowest_open = self._next_open(c.batch + 1)
    log ChallengeResolved(id=_id, batch=c.batch, outcome=PROPOSER_WON, reason="dispute: no proof in time")
    pull_payments._pay(c.proposer, CHALLENGE_BOND)


@view
@internal
def _next_open(_from: uint256) -> uint256:
    # The lowest batch from `_from` on with an open challenge. If the scan runs out
    # first, hold from where it stopped (safe: later batches wait) until anyone calls
    # advance_lowest_open() to go on.
    count: uint256 = staticcall ROLLUP.batch_count()
    index: uint256 = _from
    for _: uint256 in range(500):
        if index >= count:
            return NONE_OPEN
        if self.open_on_serial[staticcall ROLLUP.batch_serial(index)] > 0:
            return index
        index += 1
    return index


@external
def advance_lowest_open():
    """
    @notice Continue the scan for the lowest open challenge, when a long run of
            batches without one made an earlier scan stop early.
    """
    lowest: uint256 = self.lowest_open
    assert lowest != NONE_OPEN, "dispute: nothing is held"
    if self.open_on_serial[staticcall ROLLUP.batch_serial(lowest)] == 0 or lowest >= staticcall ROLLUP.batch_count():
        self.lowest_open = self._next_open(lowest)


@pure
@internal
def _segment_root(_leaf: bytes32, _index: uint256, _proof: DynArray[bytes32, SEGMENT_LEVELS]) -> bytes32:
    """
    @dev Mirrors core/l2/segments.py verify_segment (the root that the leaf and path lead to).
    """
    node: bytes32 = _leaf
    position: uint256 = _index
    for sibling: bytes32 in _proof:
        if position & 1 == 1:
            node = keccak256(concat(sibling, node))
        else:
            node = keccak256(concat(node, sibling))
        position = position >> 1
    assert position == 0, "dispute: segment index outside the tree"
    return node

