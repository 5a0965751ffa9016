"""The shards' bridge on L1, as a state machine: the specification of ``Bridge.vy``.

Shards are rollups that share this one bridge. A transfer between shards is a
*move*: its owner burns the amount on the source shard with an ordinary L2
withdrawal (an exit, numbered by the source shard), then signs, for this bridge,
where it goes: the target shard, the recipient there, and a fee for whoever fronts
it. The move's *message* names the exit only (source shard, exit index, owner,
amount), so every move of one exit is one message: fronted at most once, landed at
most once, whatever recipient each signed move names.

Four calls change the bridge:

- :class:`RouteDeposit`: a deposit goes to the depositor's shard
  (:func:`~l2gpu.core.shards.routing.shard_of`);
- :class:`Front`: a liquidity provider sends the amount less the fee, which is
  deposited for the recipient on the target shard at once; it is repaid the whole
  amount when the message lands, and never if the exit never becomes final (a
  fraud proof reverted its batch): the risk it took, and nobody else's;
- :class:`Relay`: once the exit is final on the source shard, anyone carries the
  signed move: the source shard pays the exit to the bridge (its own checks: the
  batch final, the proof good, the exit not claimed before), and the bridge
  deposits it for the recipient, or pays the provider that fronted it;
- :class:`Cancel`: the owner gives up a signed move nobody fronted (on a zk shard a
  signed move is otherwise good against any later credit of the owner's).

On a shard whose exits are batch positions (a zk shard: ``positional``), one move per
owner may be fronted at a time, and what it owes is kept for the shard
(``owed``): two would share the owner's one credit.

A refused call leaves the state unchanged and answers :class:`Rejected` with the
contract's revert reason. Deposits on a shard are :class:`Deposited` events (the
shard's L1 queue takes them); payments to providers are :class:`Paid` events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.shards.routing import shard_of
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address

DOMAIN_NAME, DOMAIN_VERSION = "l2gpu bridge", "1"
MOVE_SCHEMA = TypedDataSchema(
    {
        "CrossShard": [
            ("fromShard", "uint256"),
            ("exitIndex", "uint256"),
            ("owner", "address"),
            ("amount", "uint256"),
            ("toShard", "uint256"),
            ("to", "address"),
            ("fee", "uint256"),
        ]
    },
    "CrossShard",
)
ZERO = Address(bytes(20))
MAX_AMOUNT = 2**128 - 1  # an L2 amount is 16 bytes on every shard


def bridge_domain(chain_id: int, bridge: Address) -> Eip712Domain:
    """The signing domain of the bridge ``bridge`` on chain ``chain_id``."""
    return Eip712Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, bridge)


@dataclass(frozen=True, slots=True)
class Move:
    """Exit ``exit_index`` of ``owner`` (``amount`` wei) on shard ``from_shard`` goes to
    ``to`` on shard ``to_shard``; whoever fronts it keeps ``fee``."""

    from_shard: int
    exit_index: int
    owner: Address
    amount: int
    to_shard: int
    to: Address
    fee: int = 0

    def typed(self) -> dict[str, object]:
        """The EIP-712 message."""
        return {
            "fromShard": self.from_shard,
            "exitIndex": self.exit_index,
            "owner": self.owner,
            "amount": self.amount,
            "toShard": self.to_shard,
            "to": self.to,
            "fee": self.fee,
        }

    def as_tuple(self) -> tuple[int, int, str, int, int, str, int]:
        """The ``Move`` struct as ``Bridge.vy`` takes it."""
        return (self.from_shard, self.exit_index, self.owner.checksum, self.amount,
                self.to_shard, self.to.checksum, self.fee)  # fmt: skip


def sign_move(key: PrivateKey, domain: Eip712Domain, move: Move) -> bytes:
    """The owner's signature of ``move`` (65 bytes)."""
    return MOVE_SCHEMA.sign(key, domain, move.typed())


def move_signer(domain: Eip712Domain, move: Move, signature: bytes) -> Address | None:
    """Who signed ``move``; None for a malformed or malleable signature."""
    try:
        return MOVE_SCHEMA.recover(domain, move.typed(), signature)
    except L2gpuError:  # a malformed or malleable signature, or a bad field
        return None


def message_of(move: Move) -> bytes:
    """The message a move carries: the exit, not where it goes (``Bridge.message_of``)."""
    words = (move.from_shard, move.exit_index, int.from_bytes(bytes(move.owner), "big"),
             move.amount)  # fmt: skip
    return keccak256(b"".join(w.to_bytes(32, "big") for w in words))


# -- state, inputs, events ------------------------------------------------------------


@dataclass(frozen=True)
class BridgeState:
    """The bridge's storage: its shards' count, who fronted each message, what landed
    (or was cancelled), the shards whose exits are batch positions (zk shards), and,
    on those, what an owner's one fronted move owes until it lands, by (source shard,
    owner): the shard keeps that much of the owner's L1 credit for the relay
    (``core/shards/zk_exits.py``)."""

    domain: Eip712Domain
    shard_count: int
    fronted_by: dict[bytes, Address] = field(default_factory=dict)
    landed: frozenset[bytes] = frozenset()
    positional: frozenset[int] = frozenset()
    owed: dict[tuple[int, Address], int] = field(default_factory=dict)

    def owed_by(self, shard: int, owner: Address) -> int:
        """What ``owner``'s fronted moves out of ``shard`` owe until they land."""
        return self.owed.get((shard, owner), 0)


@dataclass(frozen=True, slots=True)
class RouteDeposit:
    """``sender`` deposits ``amount`` through the bridge."""

    sender: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Front:
    """``provider`` fronts a signed move, sending ``value``; ``exit_claimed``: the source
    shard has paid the exit already."""

    move: Move
    signature: bytes
    provider: Address
    value: int
    exit_claimed: bool = False


@dataclass(frozen=True, slots=True)
class Relay:
    """Anyone carries a signed move; ``source_refusal`` is the source shard's revert
    reason when it will not pay the exit (not final, a bad proof, claimed), else None."""

    move: Move
    signature: bytes
    source_refusal: str | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    """``sender`` gives up a signed move nobody fronted."""

    move: Move
    sender: Address


BridgeInput = RouteDeposit | Front | Relay | Cancel


@dataclass(frozen=True, slots=True)
class Rejected:
    """The call reverted with ``reason``."""

    reason: str


@dataclass(frozen=True, slots=True)
class Deposited:
    """``amount`` queued for ``account`` on shard ``shard``."""

    shard: int
    account: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Fronted:
    """``provider`` fronted ``message``, delivering ``delivered`` wei."""

    message: bytes
    provider: Address
    delivered: int


@dataclass(frozen=True, slots=True)
class Landed:
    """``message`` landed: ``amount`` to ``paid_to`` (a provider when ``fronted``)."""

    message: bytes
    paid_to: Address
    amount: int
    fronted: bool


@dataclass(frozen=True, slots=True)
class Paid:
    """``amount`` wei pushed to ``to`` on L1 (credited when it refuses)."""

    to: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The owner gave up ``message``: it counts as landed."""

    message: bytes


BridgeEvent = Rejected | Deposited | Fronted | Landed | Paid | Cancelled


def _move_refusal(state: BridgeState, move: Move, signature: bytes) -> str | None:
    if not (move.from_shard < state.shard_count and move.to_shard < state.shard_count):
        return "bridge: no such shard"
    if move.from_shard == move.to_shard:
        return "bridge: the target is the source shard"
    if move.to == ZERO:
        return "bridge: no recipient"
    if move.owner == ZERO:
        return "bridge: no owner"
    if move.fee >= move.amount:
        return "bridge: the fee must be less than the amount"
    if move.amount > MAX_AMOUNT:
        return "bridge: a move carries at most 2**128 - 1 wei"
    if move_signer(state.domain, move, signature) != move.owner:
        return "bridge: the move is not signed by the exit's owner"
    return None


def handle_route(
    state: BridgeState, call: RouteDeposit
) -> TransitionResult[BridgeState, BridgeEvent]:
    """A deposit through the bridge lands on its sender's shard."""
    shard = shard_of(call.sender, state.shard_count)
    return TransitionResult(state, [Deposited(shard, call.sender, call.amount)])


def handle_front(state: BridgeState, call: Front) -> TransitionResult[BridgeState, BridgeEvent]:
    """A provider delivers the move's amount less its fee now, once per message."""
    move = call.move
    refusal = _move_refusal(state, move, call.signature)
    message = message_of(move)
    if refusal is None and call.value != move.amount - move.fee:
        refusal = "bridge: send the amount less the fee"
    if refusal is None and message in state.landed:
        refusal = "bridge: the move landed already"
    if refusal is None and message in state.fronted_by:
        refusal = "bridge: the move is fronted already"
    if refusal is None and call.exit_claimed:
        refusal = "bridge: the exit was claimed already"
    debtor, positional = (move.from_shard, move.owner), move.from_shard in state.positional
    if refusal is None and positional and state.owed.get(debtor, 0):
        refusal = "bridge: a move of this owner out of that shard is fronted and has not landed yet"
    if refusal is not None:
        return TransitionResult(state, [Rejected(refusal)])
    fronted = {**state.fronted_by, message: call.provider}
    owed = {**state.owed, debtor: move.amount} if positional else state.owed
    return TransitionResult(
        replace(state, fronted_by=fronted, owed=owed),
        [
            Deposited(move.to_shard, move.to, call.value),
            Fronted(message, call.provider, call.value),
        ],
    )


def handle_relay(state: BridgeState, call: Relay) -> TransitionResult[BridgeState, BridgeEvent]:
    """A final exit lands: for its recipient, or for the provider that fronted it."""
    move = call.move
    refusal = _move_refusal(state, move, call.signature)
    message = message_of(move)
    if refusal is None and message in state.landed:
        refusal = "bridge: the move landed already"
    refusal = refusal or call.source_refusal
    if refusal is not None:
        return TransitionResult(state, [Rejected(refusal)])
    after = replace(state, landed=state.landed | {message})
    provider = state.fronted_by.get(message)
    if provider is not None:
        if move.from_shard in state.positional:
            after = replace(after, owed={**after.owed, (move.from_shard, move.owner): 0})
        return TransitionResult(
            after, [Landed(message, provider, move.amount, True), Paid(provider, move.amount)]
        )
    return TransitionResult(
        after,
        [Landed(message, move.to, move.amount, False),
         Deposited(move.to_shard, move.to, move.amount)],
    )  # fmt: skip


def handle_cancel(state: BridgeState, call: Cancel) -> TransitionResult[BridgeState, BridgeEvent]:
    """The owner gives up a move nobody fronted: its message counts as landed."""
    message = message_of(call.move)
    refusal = None
    if call.sender != call.move.owner:
        refusal = "bridge: only the move's owner cancels it"
    elif message in state.landed:
        refusal = "bridge: the move landed already"
    elif message in state.fronted_by:
        refusal = "bridge: the move is fronted: it lands when relayed"
    if refusal is not None:
        return TransitionResult(state, [Rejected(refusal)])
    return TransitionResult(replace(state, landed=state.landed | {message}), [Cancelled(message)])


def state_transition(
    state: BridgeState, call: BridgeInput
) -> TransitionResult[BridgeState, BridgeEvent]:
    """Apply one call to the bridge (see the module's docstring)."""
    match call:
        case RouteDeposit():
            return handle_route(state, call)
        case Front():
            return handle_front(state, call)
        case Relay():
            return handle_relay(state, call)
        case Cancel():
            return handle_cancel(state, call)
