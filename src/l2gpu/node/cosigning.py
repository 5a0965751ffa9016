"""Co-signing rounds: what the sequencer asks for, what comes back, and who went silent.

A sealing round drafts commitments, then asks every required signer of every
draft at once (:class:`Ask`) and waits for all of them with one deadline. Each
answer is a verified BLS signature of the draft's message, a signed refusal
(:data:`REFUSED`), or nothing (``None``: the signer was silent until the
deadline).

A signer that is silent is put in the :class:`SilenceBox` for a time that
doubles with each miss: while there, its own transactions are refused at
admission and any transaction needing its co-signature is dropped without
asking, so one silent account costs the other users at most one deadline per
backoff period, never one per transaction. A refusal costs nobody a wait and
is not penalized: the signer answered.

The refusal is signed (BLS, over ``REFUSAL_TAG || message``) so that nobody but
the signer can make the sequencer drop a signer's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from l2gpu.core.crypto.bls import verify_aggregate_same_message
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.transactions import UserTx

REFUSAL_TAG: Final = b"l2gpu-cosign-refusal-v1"


class _Refused:
    """The signer answered no, with a valid signature over its refusal."""

    def __repr__(self) -> str:
        return "REFUSED"


REFUSED: Final = _Refused()
Answer = bytes | _Refused | None
"""A verified co-signature, a verified refusal, or None for silence."""


@dataclass(frozen=True)
class Ask:
    """One account's co-signature wanted on one draft commitment."""

    account: int
    bls_key: bytes
    message: bytes
    commitment: Commitment
    mine: tuple[UserTx, ...]


def refusal_message(message: bytes) -> bytes:
    """What a signer signs to refuse co-signing ``message``."""
    return REFUSAL_TAG + message


def check_answer(ask: Ask, signature: bytes, *, refuse: bool) -> bool:
    """True if ``signature`` is ``ask``'s signer's BLS signature of the message (or of
    its refusal, when ``refuse``)."""
    signed = refusal_message(ask.message) if refuse else ask.message
    return verify_aggregate_same_message([ask.bls_key], signed, signature)


class CoSigner(Protocol):
    """An account's agent in the same process: signs or refuses at once."""

    def cosign(
        self, message: bytes, commitment: Commitment, mine: tuple[UserTx, ...]
    ) -> bytes | None:
        """A BLS signature of ``message``, or None to refuse; ``mine``: what needs this signer."""


class Collector(Protocol):
    """Reaches many signers at once (the node's co-sign desk). One whose class sets
    ``answers_verified = True`` hands over only signatures it checked against the
    signer's key for the ask's message, and the sequencer does not check them again."""

    def collect(self, asks: Sequence[Ask]) -> list[Answer]:
        """One answer per ask, in order, once all answered or the deadline passed."""


CoSigners = Mapping[int, CoSigner] | Callable[[int], CoSigner | None] | Collector


def collect(cosigners: CoSigners, asks: Sequence[Ask]) -> list[Answer]:
    """Answers for ``asks`` from in-process co-signers or a collector.

    An in-process co-signer answers at once: a signature, or None, which is its
    refusal (it is alive, so it is not counted as silent). A missing co-signer
    is silent.
    """
    if hasattr(cosigners, "collect"):
        return cosigners.collect(asks)
    answers: list[Answer] = []
    for ask in asks:
        if isinstance(cosigners, Mapping):
            cosigner = cosigners.get(ask.account)
        else:
            cosigner = cosigners(ask.account)
        if cosigner is None:
            answers.append(None)
            continue
        signature = cosigner.cosign(ask.message, ask.commitment, ask.mine)
        answers.append(REFUSED if signature is None else signature)
    return answers


def notify_included(cosigners: CoSigners, account: int, txs: Sequence[UserTx]) -> None:
    """Tell an in-process co-signer that its transactions were sealed."""
    if hasattr(cosigners, "collect"):
        return
    cosigner = cosigners.get(account) if isinstance(cosigners, Mapping) else cosigners(account)
    if cosigner is not None and hasattr(cosigner, "included"):
        for tx in txs:
            cosigner.included(tx)


@dataclass(frozen=True)
class Silence:
    """An account that missed co-signing deadlines: ``misses`` in a row, benched until
    ``until`` (L2 clock seconds)."""

    misses: int
    until: int
    since: int


class SilenceBox:
    """Accounts benched for not answering: the first miss ``base`` seconds, doubling
    per miss up to ``cap``; a miss more than ``forget_after`` s after the last bench
    ended starts the count again."""

    def __init__(self, *, base: int = 30, cap: int = 3600, forget_after: int = 3600) -> None:
        self.base, self.cap, self.forget_after = base, cap, forget_after
        self.benched: dict[int, Silence] = {}

    def benched_until(self, account: int, now: int) -> int | None:
        """When ``account`` may be asked again, or None if it may be now."""
        found = self.benched.get(account)
        return found.until if found is not None and now < found.until else None

    def missed(self, account: int, now: int) -> Silence:
        """Record a missed deadline; return the account's new silence."""
        before = self.benched.get(account)
        misses = 1
        if before is not None and now - before.until <= self.forget_after:
            misses = before.misses + 1
        length = min(self.cap, self.base * 2 ** min(misses - 1, 20))
        silence = Silence(misses, now + length, now)
        self.benched[account] = silence
        return silence

    def restore(self, account: int, silence: Silence) -> None:
        """Put back a silence read from the write-ahead log."""
        self.benched[account] = silence
