# pragma version ~=0.4.3
"""
@title Plasma
@license Apache-2.0
@notice A Plasma Cash child chain with coin ranges: deposits number wei as coins, the
        operator posts one root per block, and every coin leaves through an exit
        that anyone holding the coins' history can challenge.
@dev    Specification: src/l2gpu/core/plasma/exit_game.py (state_transition) over
        root_chain.py, whose docstring gives the rules. Every check is made in the
        specification's order with its revert reason; tests/plasma compare the two
        call by call. No call loops over exits or deposits: finalizing takes one
        exit and a hint into the sorted exited ranges.
"""

from common import pull_payments
from . import sum_tree

initializes: pull_payments

exports: pull_payments.credit

COIN_SPACE: constant(uint256) = sum_tree.COIN_SPACE
MASK64: constant(uint256) = 2**64 - 1
MASK128: constant(uint256) = 2**128 - 1
MASK160: constant(uint256) = 2**160 - 1
MAX_BATCH: constant(uint256) = 32

OPEN: constant(uint8) = 1
CANCELED: constant(uint8) = 2
FINALIZED: constant(uint8) = 3
ANSWERED: constant(uint8) = 4
SETTLED: constant(uint8) = 5


struct Included:
    transfer: sum_tree.Transfer
    signature: Bytes[65]
    block: uint256
    proof: DynArray[sum_tree.Step, sum_tree.ABI_STEPS]


struct DepositRecord:
    end: uint256
    owner: address
    block: uint256


struct Exit:
    owner: address
    start: uint256
    end: uint256
    block: uint256
    prev_block: uint256
    parent_owner: address
    is_deposit: bool
    deposit_start: uint256
    deadline: uint256
    finalizable_at: uint256
    bond: uint256
    open_challenges: uint256
    status: uint8


struct HistoryChallenge:
    exit_id: uint256
    coin: uint256
    block: uint256
    owner: address
    challenger: address
    bond: uint256
    status: uint8


event Deposited:
    owner: indexed(address)
    start: uint256
    end: uint256
    block: uint256

event BlockSubmitted:
    number: indexed(uint256)
    root: bytes32

event ExitStarted:
    exit_id: indexed(uint256)
    owner: indexed(address)
    start: uint256
    end: uint256
    block: uint256

event ExitCanceled:
    exit_id: indexed(uint256)
    why: String[16]

event ExitFinalized:
    exit_id: indexed(uint256)

event HistoryChallenged:
    challenge_id: indexed(uint256)
    exit_id: indexed(uint256)
    coin: uint256
    block: uint256
    owner: address

event ChallengeAnswered:
    challenge_id: indexed(uint256)

event ChallengeSettled:
    challenge_id: indexed(uint256)

event Paid:
    recipient: indexed(address)
    amount: uint256
    credited: bool


operator: public(immutable(address))
EXIT_PERIOD: public(immutable(uint256))
RESPONSE_PERIOD: public(immutable(uint256))
EXIT_BOND: public(immutable(uint256))
CHALLENGE_BOND: public(immutable(uint256))

height: public(uint256)
coins: public(uint256)
roots: public(HashMap[uint256, bytes32])
deposits: public(HashMap[uint256, DepositRecord])
# Exits and challenges are stored packed, 5 and 3 words instead of 13 and 7: starting
# an exit writes 5 fresh slots. Layout (bit offsets):
#   exit       w0 owner | block << 160 | status << 224 | is_deposit << 232
#              w1 start | (end - 1) << 128         (end may be 2^128 itself)
#              w2 parent_owner | prev_block << 160
#              w3 deposit_start | bond << 128
#              w4 deadline | finalizable_at << 64 | open_challenges << 128
#   challenge  w0 exit_id | coin << 64 | status << 192
#              w1 owner | block << 160
#              w2 challenger | bond << 160
_exit_words: HashMap[uint256, uint256[5]]
exit_count: public(uint256)
_challenge_words: HashMap[uint256, uint256[3]]
challenge_count: public(uint256)
# The exited ranges, a list sorted by first coin: key = first coin + 1 (0 is the head).
exited_end: public(HashMap[uint256, uint256])
exited_next: public(HashMap[uint256, uint256])


@deploy
def __init__(_operator: address, _exit_period: uint256, _response_period: uint256, _exit_bond: uint256, _challenge_bond: uint256):
    assert _operator != empty(address), "plasma: the operator cannot be the zero address"
    assert _exit_period > 0 and _response_period > 0, "plasma: periods must be positive"
    # What the packed words hold (see _exit_words): times, and bonds below 2^96.
    assert _exit_period < 2**40 and _response_period < 2**40, "plasma: periods must be below 2^40 s"
    assert _exit_bond < 2**96 and _challenge_bond < 2**96, "plasma: bonds must be below 2^96 wei"
    operator = _operator
    EXIT_PERIOD = _exit_period
    RESPONSE_PERIOD = _response_period
    EXIT_BOND = _exit_bond
    CHALLENGE_BOND = _challenge_bond


# -- deposits and blocks ----------------------------------------------------------------

@payable
@external
def deposit():
    """
    @notice Turn the wei sent into coins [coins, coins + value), the sender's as of the
            current height.
    """
    assert msg.value > 0, "plasma: a deposit must send some wei"
    assert msg.value <= COIN_SPACE - self.coins, "plasma: the coin space is full"
    start: uint256 = self.coins
    self.deposits[start] = DepositRecord(end=start + msg.value, owner=msg.sender, block=self.height)
    self.coins = start + msg.value
    log Deposited(owner=msg.sender, start=start, end=start + msg.value, block=self.height)


@external
def submit_block(_root: bytes32):
    """
    @notice The operator's next block root.
    """
    assert msg.sender == operator, "plasma: only the operator submits blocks"
    assert _root != empty(bytes32), "plasma: a block root cannot be zero"
    number: uint256 = self.height + 1
    self.height = number
    self.roots[number] = _root
    log BlockSubmitted(number=number, root=_root)


# -- packed storage ---------------------------------------------------------------------

@view
@internal
def _load_exit(_id: uint256) -> Exit:
    w: uint256[5] = self._exit_words[_id]
    if w[0] == 0:
        return empty(Exit)
    return Exit(
        owner=convert(w[0] & MASK160, address), start=w[1] & MASK128, end=(w[1] >> 128) + 1,
        block=(w[0] >> 160) & MASK64, prev_block=(w[2] >> 160) & MASK64,
        parent_owner=convert(w[2] & MASK160, address), is_deposit=((w[0] >> 232) & 255) == 1,
        deposit_start=w[3] & MASK128, deadline=w[4] & MASK64,
        finalizable_at=(w[4] >> 64) & MASK64, bond=w[3] >> 128,
        open_challenges=(w[4] >> 128) & MASK64, status=convert((w[0] >> 224) & 255, uint8),
    )


@internal
def _store_exit(_id: uint256, _e: Exit):
    self._exit_words[_id] = [
        convert(_e.owner, uint256) | (_e.block << 160) | (convert(_e.status, uint256) << 224) | (convert(_e.is_deposit, uint256) << 232),
        _e.start | ((_e.end - 1) << 128),
        convert(_e.parent_owner, uint256) | (_e.prev_block << 160),
        _e.deposit_start | (_e.bond << 128),
        _e.deadline | (_e.finalizable_at << 64) | (_e.open_challenges << 128),
    ]


@view
@internal
def _load_challenge(_id: uint256) -> HistoryChallenge:
    w: uint256[3] = self._challenge_words[_id]
    if w[2] == 0:
        return empty(HistoryChallenge)
    return HistoryChallenge(
        exit_id=w[0] & MASK64, coin=(w[0] >> 64) & MASK128, block=(w[1] >> 160) & MASK64,
        owner=convert(w[1] & MASK160, address), challenger=convert(w[2] & MASK160, address),
        bond=w[2] >> 160, status=convert((w[0] >> 192) & 255, uint8),
    )


@internal
def _store_challenge(_id: uint256, _c: HistoryChallenge):
    self._challenge_words[_id] = [
        _c.exit_id | (_c.coin << 64) | (convert(_c.status, uint256) << 192),
        convert(_c.owner, uint256) | (_c.block << 160),
        convert(_c.challenger, uint256) | (_c.bond << 160),
    ]


@view
@external
def exits(_exit_id: uint256) -> Exit:
    """
    @notice Exit `_exit_id` (all fields zero if there is none).
    """
    return self._load_exit(_exit_id)


@view
@external
def challenges(_challenge_id: uint256) -> HistoryChallenge:
    """
    @notice History challenge `_challenge_id` (all fields zero if there is none).
    """
    return self._load_challenge(_challenge_id)


# -- shared checks ----------------------------------------------------------------------

@view
@internal
def _included(_evidence: Included):
    root: bytes32 = self.roots[_evidence.block]
    assert root != empty(bytes32), "plasma: no such block"
    assert len(_evidence.proof) <= sum_tree.MAX_STEPS, "plasma: a path has at most 48 steps"
    found: bool = False
    start: uint256 = 0
    end: uint256 = 0
    found, start, end = sum_tree._covered(root, sum_tree._leaf(_evidence.transfer, _evidence.signature), _evidence.proof)
    assert found, "plasma: the transfer is not in that block"
    assert start == _evidence.transfer.start and end == _evidence.transfer.end, "plasma: the transfer sits at other coins than it names"


@view
@internal
def _open_exit(_exit_id: uint256) -> Exit:
    assert _exit_id < self.exit_count, "plasma: no such exit"
    exit: Exit = self._load_exit(_exit_id)
    assert exit.status == OPEN, "plasma: the exit is not open"
    return exit


@pure
@internal
def _moves(_transfer: sum_tree.Transfer, _coin: uint256) -> bool:
    return _transfer.start <= _coin and _coin < _transfer.end


@internal
def _pay(_to: address, _amount: uint256):
    credited: bool = not pull_payments._pay(_to, _amount)
    log Paid(recipient=_to, amount=_amount, credited=credited)


@view
@internal
def _exit_deposit(_deposit_start: uint256, _start: uint256, _end: uint256) -> DepositRecord:
    deposit: DepositRecord = self.deposits[_deposit_start]
    assert deposit.owner != empty(address), "plasma: no deposit starts at that coin"
    assert _deposit_start <= _start and _start < _end and _end <= deposit.end, "plasma: the exit's coins are not all in that deposit"
    return deposit


@internal
def _start(_exit: Exit) -> uint256:
    exit_id: uint256 = self.exit_count
    self._store_exit(exit_id, _exit)
    self.exit_count = exit_id + 1
    log ExitStarted(exit_id=exit_id, owner=_exit.owner, start=_exit.start, end=_exit.end, block=_exit.block)
    return exit_id


# -- starting exits ---------------------------------------------------------------------

@payable
@external
def start_deposit_exit(_deposit_start: uint256, _start: uint256, _end: uint256) -> uint256:
    """
    @notice Exit coins [_start, _end) of the sender's deposit, never moved since.
    @return The exit's id.
    """
    assert msg.value == EXIT_BOND, "plasma: send exactly the exit bond"
    deposit: DepositRecord = self._exit_deposit(_deposit_start, _start, _end)
    assert deposit.owner == msg.sender, "plasma: only the depositor can exit a deposit"
    deadline: uint256 = block.timestamp + EXIT_PERIOD
    return self._start(Exit(
        owner=msg.sender, start=_start, end=_end, block=deposit.block, prev_block=deposit.block,
        parent_owner=msg.sender, is_deposit=True, deposit_start=_deposit_start,
        deadline=deadline, finalizable_at=deadline, bond=msg.value, open_challenges=0, status=OPEN,
    ))


@payable
@external
def start_exit(_exiting: Included, _parent: Included, _from_deposit: bool, _deposit_start: uint256, _start: uint256, _end: uint256) -> uint256:
    """
    @notice Exit coins [_start, _end) that `_exiting` paid the sender; `_parent` paid
            its signer (ignored when `_from_deposit`: it spends the deposit itself).
    @return The exit's id.
    """
    assert msg.value == EXIT_BOND, "plasma: send exactly the exit bond"
    deposit: DepositRecord = self._exit_deposit(_deposit_start, _start, _end)
    transfer: sum_tree.Transfer = _exiting.transfer
    assert transfer.recipient == msg.sender, "plasma: only the transfer's recipient can exit its coins"
    assert transfer.start <= _start and _end <= transfer.end, "plasma: the exit's coins are not all in the transfer"
    self._included(_exiting)
    assert _exiting.block > convert(transfer.prev_block, uint256), "plasma: a transfer comes after the block its coins were received in"
    signer: address = sum_tree._signer(transfer, _exiting.signature)
    assert signer != empty(address), "plasma: the transfer's signature does not parse"
    if _from_deposit:
        assert convert(transfer.prev_block, uint256) == deposit.block and deposit.owner == signer, "plasma: the transfer does not spend that deposit"
    else:
        paid: sum_tree.Transfer = _parent.transfer
        assert _parent.block == convert(transfer.prev_block, uint256), "plasma: the parent is not in the block the transfer names"
        assert paid.recipient == signer, "plasma: the parent did not pay the transfer's signer"
        assert paid.start <= _start and _end <= paid.end, "plasma: the exit's coins are not all in the parent"
        assert _parent.block > deposit.block, "plasma: the parent moved the coins before they were deposited"
        self._included(_parent)
    deadline: uint256 = block.timestamp + EXIT_PERIOD
    return self._start(Exit(
        owner=msg.sender, start=_start, end=_end, block=_exiting.block,
        prev_block=convert(transfer.prev_block, uint256), parent_owner=signer, is_deposit=False,
        deposit_start=_deposit_start, deadline=deadline, finalizable_at=deadline, bond=msg.value,
        open_challenges=0, status=OPEN,
    ))


# -- challenges that cancel at once -----------------------------------------------------

@internal
def _cancel(_exit_id: uint256, _why: String[16], _to: address):
    exit: Exit = self._load_exit(_exit_id)
    bond: uint256 = exit.bond
    exit.status = CANCELED
    exit.bond = 0
    self._store_exit(_exit_id, exit)
    log ExitCanceled(exit_id=_exit_id, why=_why)
    self._pay(_to, bond)


@external
def challenge_spent(_exit_id: uint256, _coin: uint256, _spend: Included):
    """
    @notice Cancel an exit whose owner spent `_coin` after receiving it: `_spend`,
            signed by the owner, spends the exit's block and is included later.
    """
    exit: Exit = self._open_exit(_exit_id)
    assert exit.start <= _coin and _coin < exit.end, "plasma: the coin is not in the exit"
    assert self._moves(_spend.transfer, _coin), "plasma: the spend does not move that coin"
    self._included(_spend)
    assert _spend.block > exit.block, "plasma: the spend must come after the exit's transfer"
    assert convert(_spend.transfer.prev_block, uint256) == exit.block, "plasma: the spend does not spend the exit's coins"
    assert sum_tree._signer(_spend.transfer, _spend.signature) == exit.owner, "plasma: the exit's owner did not sign the spend"
    self._cancel(_exit_id, "spent", msg.sender)


@external
def challenge_double_spend(_exit_id: uint256, _coin: uint256, _spend: Included):
    """
    @notice Cancel an exit whose parent's recipient spent `_coin` twice: `_spend`
            spends the parent's block and is included before the exit's transfer.
    """
    exit: Exit = self._open_exit(_exit_id)
    assert not exit.is_deposit, "plasma: a deposit exit has no parent to spend twice"
    assert exit.start <= _coin and _coin < exit.end, "plasma: the coin is not in the exit"
    assert self._moves(_spend.transfer, _coin), "plasma: the spend does not move that coin"
    self._included(_spend)
    assert exit.prev_block < _spend.block and _spend.block < exit.block, "plasma: the spend is not between the exit's parent and its transfer"
    assert convert(_spend.transfer.prev_block, uint256) == exit.prev_block, "plasma: the spend does not spend the exit's parent"
    assert sum_tree._signer(_spend.transfer, _spend.signature) == exit.parent_owner, "plasma: the parent's recipient did not sign the spend"
    self._cancel(_exit_id, "double spend", msg.sender)


# -- the history challenge and its response ---------------------------------------------

@payable
@external
def challenge_history(_exit_id: uint256, _coin: uint256, _earlier: Included, _use_deposit: bool) -> uint256:
    """
    @notice Claim that the exit's history skips an owner of `_coin`: the recipient of
            `_earlier`, or (with `_use_deposit`) the coin's depositor. The exit cannot
            finalize until someone answers with that owner's spend.
    @return The challenge's id.
    """
    exit: Exit = self._open_exit(_exit_id)
    assert msg.value == CHALLENGE_BOND, "plasma: send exactly the challenge bond"
    assert block.timestamp < exit.deadline, "plasma: the exit's challenge period is over"
    assert exit.start <= _coin and _coin < exit.end, "plasma: the coin is not in the exit"
    deposit: DepositRecord = self.deposits[exit.deposit_start]
    owner: address = empty(address)
    at: uint256 = 0
    # The history before the exit's parent: the window between the parent and the
    # exit's transfer is the double-spend challenge's, and coins that came straight
    # from their deposit (a deposit exit, or its first spend) have none.
    assert exit.prev_block > deposit.block, "plasma: the exit's coins came straight from their deposit: no history to skip"
    if _use_deposit:
        owner = deposit.owner
        at = deposit.block
    else:
        assert self._moves(_earlier.transfer, _coin), "plasma: the earlier transfer does not move that coin"
        self._included(_earlier)
        assert deposit.block < _earlier.block and _earlier.block < exit.prev_block, "plasma: the earlier transfer is not between the coin's deposit and the exit's parent"
        owner = _earlier.transfer.recipient
        at = _earlier.block
    challenge_id: uint256 = self.challenge_count
    self._store_challenge(challenge_id, HistoryChallenge(
        exit_id=_exit_id, coin=_coin, block=at, owner=owner, challenger=msg.sender,
        bond=msg.value, status=OPEN,
    ))
    self.challenge_count = challenge_id + 1
    exit.open_challenges += 1
    exit.finalizable_at = max(exit.finalizable_at, block.timestamp + RESPONSE_PERIOD)
    self._store_exit(_exit_id, exit)
    log HistoryChallenged(challenge_id=challenge_id, exit_id=_exit_id, coin=_coin, block=at, owner=owner)
    return challenge_id


@view
@internal
def _open_challenge(_challenge_id: uint256) -> HistoryChallenge:
    assert _challenge_id < self.challenge_count, "plasma: no such challenge"
    challenge: HistoryChallenge = self._load_challenge(_challenge_id)
    assert challenge.status == OPEN, "plasma: the challenge is not open"
    return challenge


@external
def respond_history(_challenge_id: uint256, _spend: Included):
    """
    @notice Answer a history challenge with the challenged owner's spend of the coin,
            included after the owner got it and no later than the exit's transfer.
    """
    challenge: HistoryChallenge = self._open_challenge(_challenge_id)
    exit: Exit = self._open_exit(challenge.exit_id)
    assert self._moves(_spend.transfer, challenge.coin), "plasma: the response does not move the challenged coin"
    self._included(_spend)
    assert challenge.block < _spend.block and _spend.block <= exit.prev_block, "plasma: the response is not between the challenged owner's coins and the exit's parent"
    assert convert(_spend.transfer.prev_block, uint256) == challenge.block, "plasma: the response does not spend the challenged owner's coins"
    signer: address = sum_tree._signer(_spend.transfer, _spend.signature)
    assert signer != empty(address) and signer == challenge.owner, "plasma: the challenged owner did not sign the response"
    challenge.status = ANSWERED
    self._store_challenge(_challenge_id, challenge)
    exit.open_challenges -= 1
    self._store_exit(challenge.exit_id, exit)
    log ChallengeAnswered(challenge_id=_challenge_id)
    self._pay(exit.owner, challenge.bond)


@external
def settle_challenge(_challenge_id: uint256):
    """
    @notice Pay an unanswered history challenge of a cancelled exit: its bond back,
            and the exit's bond to the first to settle.
    """
    challenge: HistoryChallenge = self._open_challenge(_challenge_id)
    exit: Exit = self._load_exit(challenge.exit_id)
    assert exit.status == CANCELED, "plasma: the exit was not cancelled"
    challenge.status = SETTLED
    self._store_challenge(_challenge_id, challenge)
    paid: uint256 = challenge.bond + exit.bond
    exit.bond = 0
    self._store_exit(challenge.exit_id, exit)
    log ChallengeSettled(challenge_id=_challenge_id)
    self._pay(challenge.challenger, paid)


# -- finalization -----------------------------------------------------------------------

@internal
def _finalize(_exit_id: uint256, _hint: uint256):
    exit: Exit = self._open_exit(_exit_id)
    assert block.timestamp >= exit.finalizable_at, "plasma: the exit is still in its challenge period"
    if exit.open_challenges > 0:
        # The bond waits for the first challenger to settle.
        exit.status = CANCELED
        self._store_exit(_exit_id, exit)
        log ExitCanceled(exit_id=_exit_id, why="history")
        return
    # The hint is the exited range just before the exit's coins: the last one starting
    # at or before them (0: none does). Checked, so the caller cannot skip a range.
    bad: String[80] = "plasma: the hint is not the exited range just before the exit's coins"
    if _hint != 0:
        assert self.exited_end[_hint] != 0 and _hint - 1 <= exit.start, bad
    following: uint256 = self.exited_next[_hint]
    assert following == 0 or following - 1 > exit.start, bad
    if (_hint != 0 and self.exited_end[_hint] > exit.start) or (following != 0 and following - 1 < exit.end):
        self._cancel(_exit_id, "already exited", msg.sender)
        return
    key: uint256 = exit.start + 1
    self.exited_end[key] = exit.end
    self.exited_next[key] = following
    self.exited_next[_hint] = key
    paid: uint256 = exit.end - exit.start + exit.bond
    exit.status = FINALIZED
    exit.bond = 0
    self._store_exit(_exit_id, exit)
    log ExitFinalized(exit_id=_exit_id)
    self._pay(exit.owner, paid)


@external
def finalize_exit(_exit_id: uint256, _hint: uint256):
    """
    @notice Pay an exit whose period is over and that no open challenge holds back,
            unless some of its coins already left (then its bond pays the caller).
    @param  _hint 0, or 1 + the first coin of the exited range just before the exit's.
    """
    self._finalize(_exit_id, _hint)


@external
def finalize_exits(_exit_ids: DynArray[uint256, MAX_BATCH], _hints: DynArray[uint256, MAX_BATCH]):
    """
    @notice finalize_exit for up to 32 exits in order, each hint as the ranges stand
            after the exits before it.
    """
    assert len(_exit_ids) == len(_hints), "plasma: one hint per exit"
    for i: uint256 in range(len(_exit_ids), bound=MAX_BATCH):
        self._finalize(_exit_ids[i], _hints[i])


@external
def withdraw_credit():
    """
    @notice Collect payouts that were credited because a push was refused.
    """
    amount: uint256 = pull_payments._claim(msg.sender)
    assert amount > 0, "plasma: nothing to withdraw"
    # All the gas, not send's 2,300: a receiver that refused a bounded push must be able
    # to take its credit. The credit is cleared first, so a re-entry finds nothing.
    raw_call(msg.sender, b"", value=amount)
