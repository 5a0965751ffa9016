"""The airdrop on L1, as a state machine: the specification of ``Airdrop.vy``.

Three calls change it:

- :class:`Publish` (the operator, once, before the deadline): one Merkle root per
  reward tier, each tier's reward per claim and its number of members, paid in full
  (``sum(reward * members)`` wei) in the same call, so every member's reward is in
  the contract before anyone claims;
- :class:`Claim` (anyone, until the deadline): a proof that the caller knows the
  secrets of one leaf of a tier's tree, with that leaf's nullifier hash. It pays the
  tier's reward less ``fee`` to ``recipient`` and ``fee`` to ``relayer``, who sent
  the transaction: a claimer with a fresh, empty address asks a relayer to send it
  and pays it from the reward. The proof binds the recipient, the relayer and the
  fee (``identity.binding_of``), so nobody can redirect them;
- :class:`Sweep` (anyone, after the deadline): what was not claimed goes back to
  the operator's treasury.

The contract names a tier by its "tier point" (the root's share of the proof's
public inputs, ``IC_BASE + root * IC[1]``, computed once at publication) where this
machine names it by its root: the two are one to one, and the client turns a root
into its point, so the calls here carry roots.

A refused call leaves the state unchanged and answers :class:`Rejected` with the
contract's revert reason; ``tests/airdrop/test_airdrop_contract.py`` makes the same
calls to both and compares reasons and payments. Whether a proof verifies is the
shell's to decide (the EVM's pairing check, or groth16py's): the input carries the
answer, as the L2 specification takes a signature's validity from its shell.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from l2gpu.core.crypto.poseidon_constants import FIELD_MODULUS
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address

MAX_TIERS = 8
MAX_MEMBERS = 2**64 - 1
MAX_REWARD = 2**120 - 1
"""A tier's members and reward share one storage word on L1 with its claim count."""
ZERO = Address(bytes(20))


@dataclass(frozen=True, slots=True)
class Tier:
    """One published tier: its root, the wei each claim pays and its member count."""

    root: int
    reward: int
    members: int


@dataclass(frozen=True, slots=True)
class AirdropState:
    """An airdrop contract's storage: fixed at deployment, then published, claimed."""

    operator: Address
    treasury: Address
    airdrop_id: int
    deadline: int
    tiers: tuple[Tier, ...] = ()
    spent: frozenset[int] = field(default_factory=frozenset)
    balance: int = 0
    claimed: tuple[int, ...] = ()
    """Claims made so far, per tier."""


@dataclass(frozen=True, slots=True)
class Publish:
    """The operator publishes ``tiers``, paying ``value`` wei with the call."""

    sender: Address
    tiers: tuple[Tier, ...]
    value: int


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim from tier root ``root``; ``proof_valid`` is the verifier's answer for
    the public inputs (root, nullifier_hash, airdrop id, binding)."""

    sender: Address
    root: int
    nullifier_hash: int
    recipient: Address
    fee: int
    proof_valid: bool


@dataclass(frozen=True, slots=True)
class Sweep:
    """Anyone returns the unclaimed funds to the treasury after the deadline."""

    sender: Address


Input = Publish | Claim | Sweep


@dataclass(frozen=True, slots=True)
class Rejected:
    """The call reverted with ``reason``; nothing changed."""

    reason: str


@dataclass(frozen=True, slots=True)
class Paid:
    """``amount`` wei went to ``to``."""

    to: Address
    amount: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """The ``Claimed`` log: a nullifier hash spent and who was paid."""

    nullifier_hash: int
    recipient: Address
    relayer: Address
    amount: int
    fee: int


Event = Rejected | Paid | Claimed


def state_transition(
    state: AirdropState, inp: Input, *, now: int
) -> TransitionResult[AirdropState, Event]:
    """Apply one call at L1 time ``now``."""
    if isinstance(inp, Publish):
        return _publish(state, inp, now)
    if isinstance(inp, Claim):
        return _claim(state, inp, now)
    return _sweep(state, now)


def _reject(state: AirdropState, reason: str) -> TransitionResult[AirdropState, Event]:
    return TransitionResult(state, [Rejected(reason)])


def _publish(state: AirdropState, inp: Publish, now: int) -> TransitionResult[AirdropState, Event]:
    if inp.sender != state.operator:
        return _reject(state, "only the operator publishes")
    if state.tiers:
        return _reject(state, "already published")
    if now >= state.deadline:
        return _reject(state, "the claim period has ended")
    if not 0 < len(inp.tiers) <= MAX_TIERS:
        return _reject(state, "one to eight tiers")
    total = 0
    roots: set[int] = set()
    for tier in inp.tiers:
        if not 0 < tier.root < FIELD_MODULUS:
            return _reject(state, "a root is not a field element")
        if tier.root in roots:
            return _reject(state, "a root appears twice")
        if tier.reward == 0 or tier.members == 0:
            return _reject(state, "a tier pays nothing")
        if tier.reward > MAX_REWARD or tier.members > MAX_MEMBERS:
            return _reject(state, "a tier is too large")
        roots.add(tier.root)
        total += tier.reward * tier.members
    if inp.value != total:
        return _reject(state, "the value is not the tiers' total")
    published = replace(
        state, tiers=inp.tiers, balance=state.balance + total, claimed=(0,) * len(inp.tiers)
    )
    return TransitionResult(published, [])


def _claim(state: AirdropState, inp: Claim, now: int) -> TransitionResult[AirdropState, Event]:
    if now > state.deadline:
        return _reject(state, "the claim period has ended")
    tier_index = next((i for i, t in enumerate(state.tiers) if t.root == inp.root), None)
    if tier_index is None:
        return _reject(state, "unknown root")
    tier = state.tiers[tier_index]
    if inp.nullifier_hash >= FIELD_MODULUS:
        return _reject(state, "the nullifier hash is not a field element")
    if inp.nullifier_hash in state.spent:
        return _reject(state, "already claimed")
    if inp.recipient == ZERO:
        return _reject(state, "no recipient")
    if inp.fee > tier.reward:
        return _reject(state, "the fee is more than the reward")
    if state.claimed[tier_index] >= tier.members:
        return _reject(state, "every member of the tier has claimed")
    if not inp.proof_valid:
        return _reject(state, "the proof does not verify")
    claimed = list(state.claimed)
    claimed[tier_index] += 1
    after = replace(
        state,
        spent=state.spent | {inp.nullifier_hash},
        balance=state.balance - tier.reward,
        claimed=tuple(claimed),
    )
    events: list[Event] = [Paid(inp.recipient, tier.reward - inp.fee)]
    if inp.fee:
        events.append(Paid(inp.sender, inp.fee))
    events.append(
        Claimed(inp.nullifier_hash, inp.recipient, inp.sender, tier.reward - inp.fee, inp.fee)
    )
    return TransitionResult(after, events)


def _sweep(state: AirdropState, now: int) -> TransitionResult[AirdropState, Event]:
    if now <= state.deadline:
        return _reject(state, "the claim period has not ended")
    if state.balance == 0:
        return _reject(state, "nothing to return")
    return TransitionResult(replace(state, balance=0), [Paid(state.treasury, state.balance)])
