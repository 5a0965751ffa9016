"""Registering a commitment for an eligible account, and the tiers it ends up in.

An eligible account registers one commitment (``identity.Identity.commitment``) by
signing, with the account's own key, the EIP-712 message ``AirdropRegistration``
(the airdrop's id and the commitment). The signature is what stops anyone from
registering a commitment in another account's name and claiming its reward.

The registry is a state machine: :func:`state_transition` takes a registration, an
erasure or the publication and answers the new state with its events. A refused
input changes nothing and answers :class:`Refused` with what was wrong and what to
do. Once published, the tiers are fixed: a later registration is refused, and an
erasure removes the account's link to its commitment but not the commitment from a
tree already on L1 (the commitment says nothing about the account without the
secrets, which only the user holds).

The registry's state holds the account-to-commitment links only while it needs
them (until publication); the operator keeps them encrypted per user
(``l2gpu.airdrop.vault``). A published tier is its commitments sorted by value, so
the order says nothing about who registered first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from l2gpu.core.airdrop.identity import BadIdentity, check_commitment
from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataError, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.transition import TransitionResult
from l2gpu.core.types import Address

REGISTRATION_SCHEMA = TypedDataSchema(
    {"AirdropRegistration": [("airdropId", "uint256"), ("commitment", "uint256")]},
    "AirdropRegistration",
)


def registration_domain(chain_id: int) -> Eip712Domain:
    """The signing domain of registrations on chain ``chain_id``."""
    return Eip712Domain("l2gpu airdrop", "1", chain_id)


def sign_registration(
    key: PrivateKey, domain: Eip712Domain, airdrop_id: int, commitment: int
) -> bytes:
    """The account's signature over its registration."""
    return REGISTRATION_SCHEMA.sign(
        key, domain, {"airdropId": airdrop_id, "commitment": commitment}
    )


@dataclass(frozen=True, slots=True)
class RegistryState:
    """Who may register (account -> tier), who did, and whether the tiers are fixed."""

    airdrop_id: int
    domain: Eip712Domain
    eligible: Mapping[Address, str]
    registered: Mapping[Address, int] = field(default_factory=dict)
    published: bool = False


@dataclass(frozen=True, slots=True)
class Register:
    """``account`` registers ``commitment`` with its ``signature``."""

    account: Address
    commitment: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class Erase:
    """``account`` asked to be forgotten."""

    account: Address


@dataclass(frozen=True, slots=True)
class Publish:
    """Fix the tiers: every registered commitment goes into its account's tier."""


Input = Register | Erase | Publish


@dataclass(frozen=True, slots=True)
class Refused:
    """The input was refused: ``problem`` says why, ``fix`` what to do."""

    problem: str
    fix: str


@dataclass(frozen=True, slots=True)
class Registered:
    """``account``'s commitment was recorded in ``tier``."""

    account: Address
    tier: str


@dataclass(frozen=True, slots=True)
class Forgotten:
    """``account``'s eligibility and link to a commitment are gone from the registry."""

    account: Address
    was_published: bool


@dataclass(frozen=True, slots=True)
class TiersFixed:
    """The published tiers: each tier's commitments, sorted by value."""

    tiers: tuple[tuple[str, tuple[int, ...]], ...]


Event = Refused | Registered | Forgotten | TiersFixed


def state_transition(state: RegistryState, inp: Input) -> TransitionResult[RegistryState, Event]:
    """Apply one registration, erasure or publication."""
    if isinstance(inp, Register):
        problem = registration_problem(state, inp)
        if problem is not None:
            return TransitionResult(state, [problem])
        registered = {**state.registered, inp.account: inp.commitment}
        return TransitionResult(
            replace(state, registered=registered),
            [Registered(inp.account, state.eligible[inp.account])],
        )
    if isinstance(inp, Erase):
        if inp.account not in state.eligible and inp.account not in state.registered:
            return TransitionResult(
                state, [Refused("the registry holds nothing of this account", "nothing to do")]
            )
        eligible = {a: t for a, t in state.eligible.items() if a != inp.account}
        registered = {a: c for a, c in state.registered.items() if a != inp.account}
        after = replace(state, eligible=eligible, registered=registered)
        return TransitionResult(after, [Forgotten(inp.account, state.published)])
    if state.published:
        return TransitionResult(state, [Refused("the tiers are already published", "none")])
    if not state.registered:
        return TransitionResult(
            state, [Refused("no account has registered", "wait for registrations")]
        )
    return TransitionResult(replace(state, published=True), [TiersFixed(tiers_of(state))])


def registration_problem(state: RegistryState, inp: Register) -> Refused | None:
    """Why ``inp`` cannot be registered, or None."""
    if state.published:
        return Refused(
            "the airdrop's tiers are already published", "registrations closed at publication"
        )
    if inp.account not in state.eligible:
        return Refused(
            f"account {inp.account} is not eligible for this airdrop",
            "'l2gpu airdrop eligible' lists the eligible accounts and the rules",
        )
    try:
        check_commitment(inp.commitment)
    except BadIdentity as exc:
        return Refused(exc.what, exc.fix)
    try:
        signer = REGISTRATION_SCHEMA.recover(
            state.domain, {"airdropId": state.airdrop_id, "commitment": inp.commitment},
            inp.signature,
        )  # fmt: skip
    except (TypedDataError, L2gpuError, ValueError):
        signer = None
    if signer != inp.account:
        return Refused(
            "the registration is not signed by the account it names",
            "sign it with the account's own key ('l2gpu --private-key KEY airdrop register')",
        )
    if inp.account in state.registered:
        return Refused(
            f"account {inp.account} has already registered a commitment",
            "keep the secrets file of your first registration; one per account",
        )
    if inp.commitment in state.registered.values():
        return Refused(
            "this commitment is already registered",
            "make fresh secrets: a commitment stands for one account",
        )
    return None


def tiers_of(state: RegistryState) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Each tier with its registered commitments sorted by value, tiers by name."""
    by_tier: dict[str, list[int]] = {}
    for account, commitment in state.registered.items():
        by_tier.setdefault(state.eligible[account], []).append(commitment)
    return tuple((tier, tuple(sorted(c))) for tier, c in sorted(by_tier.items()))
