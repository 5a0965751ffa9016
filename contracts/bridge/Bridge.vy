# pragma version ~=0.4.3
"""
@title Bridge
@license Apache-2.0
@notice The one L1 contract that N rollup shards share. It routes each depositor to
        its shard (`shard_of`), carries a transfer from one shard to another, and
        lets a liquidity provider front such a transfer on the target shard at
        once, to be repaid when the transfer lands.

        A transfer between shards is a *move*: its owner burns the amount on the
        source shard with an ordinary L2 withdrawal (an exit), then signs where it
        goes (EIP-712 `CrossShard`: the exit, the target shard, the recipient, a
        fee for whoever fronts it). Two ways it arrives:

        - slow: once the source batch is final (its challenge window passed),
          anyone calls `relay` with the signed move and the exit's proof; the
          source shard pays the exit to this bridge, which deposits it for the
          recipient on the target shard, all in one L1 transaction;
        - fast: a liquidity provider calls `front` with the signed move and the
          amount less the fee, which is deposited for the recipient at once; when
          the move is relayed, the whole amount goes to the provider instead.

        Risks, stated: a relayed exit is claimed once (the source shard marks
        it), so no move lands twice; a move is fronted at most once and never after
        it landed. A provider that fronts before the source batch is final takes
        the risk that a fraud proof reverts that batch: then the exit never
        becomes claimable and the provider is never repaid. Nobody else loses: the
        recipient keeps what was fronted, and the source shard's users keep what
        the reverted batch never legitimately had. A provider that re-executed the
        batch first (`l2gpu watch`) fronts only valid exits, which no fraud proof
        reverts. On a zk shard (contracts/zk/_bridged_exits.vy) the provider is
        repaid from the owner's L1 credit, which the shard keeps while the owner's
        fronted moves are `owed`, wherever its withdrawal lands.
@dev    Specification: src/l2gpu/core/shards/bridge.py. The shards are fixed at
        deployment (each must name this bridge), so no owner can add a shard that
        mints.
"""

from common import pull_payments
from common import vouchers

initializes: pull_payments

exports: pull_payments.credit

interface IShard:
    def BRIDGE() -> address: view
    def EXITS_ARE_POSITIONS() -> bool: view
    def deposit_for(_account: address, _key: Bytes[96], _proof_of_possession: Bytes[48], _key_point: Bytes[256]): payable
    def exit_claimed(_index: uint256) -> bool: view
    def bridge_withdraw(_batch: uint256, _exit_index: uint256, _recipient: address, _amount: uint256, _proof: DynArray[bytes32, 24], _accounts_root: bytes32, _channels_root: bytes32, _deposits_processed: uint256, _exit_count: uint256): nonpayable

struct Move:
    from_shard: uint256
    exit_index: uint256
    owner: address
    amount: uint256
    to_shard: uint256
    to: address
    fee: uint256

struct ExitProof:
    batch: uint256
    proof: DynArray[bytes32, 24]
    accounts_root: bytes32
    channels_root: bytes32
    deposits_processed: uint256
    exit_count: uint256

event Routed:
    account: indexed(address)
    shard: uint256
    amount: uint256

event Fronted:
    message: indexed(bytes32)
    provider: indexed(address)
    to_shard: uint256
    to: address
    delivered: uint256

event Landed:
    message: indexed(bytes32)
    from_shard: uint256
    exit_index: uint256
    to_shard: uint256
    paid_to: address
    amount: uint256
    fronted: bool

event Cancelled:
    message: indexed(bytes32)
    owner: indexed(address)

event PayoutDeferred:
    recipient: indexed(address)
    amount: uint256

MAX_SHARDS: public(constant(uint256)) = 64
# An L2 amount is 16 bytes on every shard.
MAX_AMOUNT: constant(uint256) = 2**128 - 1
NAME_HASH: constant(bytes32) = keccak256("l2gpu bridge")
MOVE_TYPEHASH: constant(bytes32) = keccak256(
    "CrossShard(uint256 fromShard,uint256 exitIndex,address owner,uint256 amount,uint256 toShard,address to,uint256 fee)"
)

shards: public(DynArray[address, MAX_SHARDS])
# A shard's position + 1 (0: not a shard): only shards send ether here.
shard_position: HashMap[address, uint256]
# A move's message (see `message_of`): who fronted it, and whether it landed.
fronted_by: public(HashMap[bytes32, address])
landed: public(HashMap[bytes32, bool])
# Shards whose exits are batch positions, not proven leaves (zk shards: their
# EXITS_ARE_POSITIONS, read once at deployment): another valid batch accepted first
# can take a position, so a provider's repayment there is tied to the owner.
exits_are_positions: public(HashMap[uint256, bool])
# What an owner's fronted move that has not landed yet owes its provider, by such a
# source shard and owner. The shard keeps that much of the owner's L1 credit for the
# relay (`owed`). One such move per owner and shard at a time: two would share one
# credit, and the owner could front the second itself and relay it first.
owed_on: public(HashMap[uint256, HashMap[address, uint256]])


@deploy
def __init__(_shards: DynArray[address, MAX_SHARDS]):
    """
    @notice The bridge of `_shards`, in shard order; each must name this bridge.
    """
    assert len(_shards) > 0, "bridge: no shards"
    for i: uint256 in range(len(_shards), bound=MAX_SHARDS):
        shard: address = _shards[i]
        assert self.shard_position[shard] == 0, "bridge: a shard listed twice"
        assert staticcall IShard(shard).BRIDGE() == self, "bridge: a shard must name this bridge"
        self.shard_position[shard] = i + 1
        self.exits_are_positions[i] = staticcall IShard(shard).EXITS_ARE_POSITIONS()
    self.shards = _shards


@view
@external
def shard_count() -> uint256:
    """
    @notice How many shards share this bridge.
    """
    return len(self.shards)


@view
@external
def shard_of(_account: address) -> uint256:
    """
    @notice The shard `_account` belongs to: keccak256(the address as one ABI word)
            mod the shard count.
    @dev    Mirrors core/shards/routing.py shard_of.
    """
    return self._shard_of(_account)


@view
@internal
def _shard_of(_account: address) -> uint256:
    return convert(keccak256(abi_encode(_account)), uint256) % len(self.shards)


@view
@external
def message_of(_move: Move) -> bytes32:
    """
    @notice A move's message: the exit it carries (shard, index, owner, amount). It
            names the exit, not where it goes, so two moves of one exit are one
            message: it is fronted once and lands once.
    @dev    Mirrors core/shards/bridge.py message_of.
    """
    return self._message(_move)


@view
@external
def is_fronted(_exit_index: uint256, _owner: address, _amount: uint256) -> bool:
    """
    @notice Whether the calling shard's exit was fronted (then its owner cannot
            withdraw it: it leaves only through `relay`, repaying the provider).
    """
    position: uint256 = self.shard_position[msg.sender]
    if position == 0:
        return False
    message: bytes32 = keccak256(abi_encode(position - 1, _exit_index, _owner, _amount))
    return self.fronted_by[message] != empty(address)


@view
@external
def owed(_owner: address) -> uint256:
    """
    @notice What `_owner`'s fronted moves out of the calling shard owe their providers
            until they land (0 for a caller that is not a shard).
    """
    position: uint256 = self.shard_position[msg.sender]
    if position == 0:
        return 0
    return self.owed_on[position - 1][_owner]


@pure
@internal
def _message(_move: Move) -> bytes32:
    return keccak256(abi_encode(_move.from_shard, _move.exit_index, _move.owner, _move.amount))


@view
@internal
def _signer(_move: Move, _signature: Bytes[65]) -> address:
    domain: bytes32 = keccak256(abi_encode(vouchers.DOMAIN_TYPEHASH, NAME_HASH, vouchers.VERSION_HASH, chain.id, self))
    struct_hash: bytes32 = keccak256(abi_encode(MOVE_TYPEHASH, _move.from_shard, _move.exit_index, _move.owner, _move.amount, _move.to_shard, _move.to, _move.fee))
    return vouchers._recover(keccak256(concat(b"\x19\x01", domain, struct_hash)), _signature)


@internal
def _check_move(_move: Move, _signature: Bytes[65]):
    count: uint256 = len(self.shards)
    assert _move.from_shard < count and _move.to_shard < count, "bridge: no such shard"
    assert _move.from_shard != _move.to_shard, "bridge: the target is the source shard"
    assert _move.to != empty(address), "bridge: no recipient"
    assert _move.owner != empty(address), "bridge: no owner"
    assert _move.fee < _move.amount, "bridge: the fee must be less than the amount"
    assert _move.amount <= MAX_AMOUNT, "bridge: a move carries at most 2**128 - 1 wei"
    assert self._signer(_move, _signature) == _move.owner, "bridge: the move is not signed by the exit's owner"


@external
@payable
@nonreentrant
def deposit(_bls_key: Bytes[96], _proof_of_possession: Bytes[48], _key_point: Bytes[256]):
    """
    @notice Deposit to your account on your shard (`shard_of`), with your BLS key.
    """
    shard: uint256 = self._shard_of(msg.sender)
    extcall IShard(self.shards[shard]).deposit_for(msg.sender, _bls_key, _proof_of_possession, _key_point, value=msg.value)
    log Routed(account=msg.sender, shard=shard, amount=msg.value)


@external
@payable
@nonreentrant
def front(_move: Move, _signature: Bytes[65]):
    """
    @notice Front a signed move: deposit its amount less its fee for its recipient
            on the target shard now; the whole amount is yours when it lands.
    @dev    You are repaid only if the exit becomes final: check the source batch.
    """
    self._check_move(_move, _signature)
    assert msg.value == _move.amount - _move.fee, "bridge: send the amount less the fee"
    message: bytes32 = self._message(_move)
    assert not self.landed[message], "bridge: the move landed already"
    assert self.fronted_by[message] == empty(address), "bridge: the move is fronted already"
    assert not staticcall IShard(self.shards[_move.from_shard]).exit_claimed(_move.exit_index), "bridge: the exit was claimed already"
    if self.exits_are_positions[_move.from_shard]:
        assert self.owed_on[_move.from_shard][_move.owner] == 0, "bridge: a move of this owner out of that shard is fronted and has not landed yet"
        self.owed_on[_move.from_shard][_move.owner] = _move.amount
    self.fronted_by[message] = msg.sender
    extcall IShard(self.shards[_move.to_shard]).deposit_for(_move.to, b"", b"", b"", value=msg.value)
    log Fronted(message=message, provider=msg.sender, to_shard=_move.to_shard, to=_move.to, delivered=msg.value)


@external
@nonreentrant
def relay(_move: Move, _signature: Bytes[65], _exit: ExitProof):
    """
    @notice Carry a signed move once its exit is final on the source shard: the
            amount is deposited for the recipient on the target shard, or paid to
            whoever fronted it. Anyone may call it.
    """
    self._check_move(_move, _signature)
    message: bytes32 = self._message(_move)
    assert not self.landed[message], "bridge: the move landed already"
    self.landed[message] = True
    before: uint256 = self.balance
    extcall IShard(self.shards[_move.from_shard]).bridge_withdraw(_exit.batch, _move.exit_index, _move.owner, _move.amount, _exit.proof, _exit.accounts_root, _exit.channels_root, _exit.deposits_processed, _exit.exit_count)
    assert self.balance == before + _move.amount, "bridge: the source shard paid a different amount"
    provider: address = self.fronted_by[message]
    if provider != empty(address):
        if self.exits_are_positions[_move.from_shard]:
            self.owed_on[_move.from_shard][_move.owner] = 0
        log Landed(message=message, from_shard=_move.from_shard, exit_index=_move.exit_index, to_shard=_move.to_shard, paid_to=provider, amount=_move.amount, fronted=True)
        if not pull_payments._pay(provider, _move.amount):
            log PayoutDeferred(recipient=provider, amount=_move.amount)
        return
    log Landed(message=message, from_shard=_move.from_shard, exit_index=_move.exit_index, to_shard=_move.to_shard, paid_to=_move.to, amount=_move.amount, fronted=False)
    extcall IShard(self.shards[_move.to_shard]).deposit_for(_move.to, b"", b"", b"", value=_move.amount)


@external
def cancel(_move: Move):
    """
    @notice The move's owner gives up a signed move nobody fronted: its message counts
            as landed, so the signature can never carry anything. A zk shard's exit
            index is only a position, so a signed move not relayed stays valid
            against any later credit of the owner's until it is cancelled.
    """
    assert msg.sender == _move.owner, "bridge: only the move's owner cancels it"
    message: bytes32 = self._message(_move)
    assert not self.landed[message], "bridge: the move landed already"
    assert self.fronted_by[message] == empty(address), "bridge: the move is fronted: it lands when relayed"
    self.landed[message] = True
    log Cancelled(message=message, owner=msg.sender)


@external
@nonreentrant
def withdraw_credit():
    """
    @notice Collect a repayment that was credited because a push was refused.
    """
    amount: uint256 = pull_payments._claim(msg.sender)
    assert amount > 0, "bridge: nothing to withdraw"
    send(msg.sender, amount)


@external
@payable
def __default__():
    """
    @notice Only a shard pays ether here (an exit it carries); anyone else's is refused.
    """
    assert self.shard_position[msg.sender] != 0, "bridge: only a shard sends ether here"
