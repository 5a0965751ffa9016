"""Client of DisputeGame.vy: open, answer, prove and close challenges.

Each method turns l2gpu values (segments, witnesses, faults from
:mod:`l2gpu.core.l2.proofs.replay`) into one L1 transaction. Reverts surface as
:class:`~l2gpu.l1.errors.ContractRevert` with the contract's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount

from l2gpu.core.crypto.bls_points import g1_point
from l2gpu.core.l2.codec import Commitment
from l2gpu.core.l2.proofs.replay import SignatureFault, StepFault
from l2gpu.core.l2.segments import Segment, segment_proof
from l2gpu.l1.chain import Chain, DeployedContract, Receipt
from l2gpu.l1.contracts import dispute_abi as abi

AWAITING_ROOTS, AWAITING_PROOF, CHALLENGER_WON, PROPOSER_WON, VOID = 1, 2, 3, 4, 5
# Big proofs: estimate_gas on some nodes under-reserves for precompile-heavy calls.
PROOF_GAS = 8_000_000


class DisputeClient:
    """Calls to one DisputeGame deployment."""

    def __init__(self, chain: Chain, game: DeployedContract) -> None:
        self.chain = chain
        self.contract = game

    def bond(self) -> int:
        """The challenge bond in wei."""
        return int(self.contract.call("CHALLENGE_BOND"))

    def challenge(
        self,
        batch: int,
        segments: Sequence[Segment],
        segment: int,
        sender: LocalAccount,
    ) -> tuple[int, Receipt]:
        """Challenge ``segment`` of ``batch``; return the challenge id and the receipt."""
        s = segments[segment]
        receipt = self.contract.transact(
            "challenge", batch, segment, s.pre_root, s.post_root, s.data_hash,
            list(segment_proof(segments, segment)), sender=sender, value=self.bond(),
        )  # fmt: skip
        return int(receipt.event("ChallengeOpened").args["id"]), receipt

    def respond(
        self, challenge: int, roots: Sequence[bytes], commitment: bytes, sender: LocalAccount
    ) -> Receipt:
        """The proposer reveals its root after every transaction of the segment."""
        return self.contract.transact("respond", challenge, list(roots), commitment,
                                      sender=sender)  # fmt: skip

    def prove(
        self,
        challenge: int,
        roots: Sequence[bytes],
        commitment: Commitment | None,
        raw_commitment: bytes,
        fault: StepFault | SignatureFault,
        sender: LocalAccount,
    ) -> Receipt:
        """Send the one-step proof of ``fault`` against the revealed ``roots``."""
        args: tuple[Any, ...]
        if isinstance(fault, SignatureFault):
            w = fault.witness
            assert commitment is not None
            args = (
                "prove_signature",
                challenge,
                list(roots),
                raw_commitment,
                abi.root_parts(w.pre_parts),
                [abi.signer_key(s) for s in w.signers],
                [abi.close_parties(c) for c in w.closes],
                g1_point(commitment.signature),
            )
        elif commitment is None:
            args = ("prove_l1_step", challenge, list(roots), fault.position,
                    abi.root_parts(fault.pre_parts),
                    abi.l1_op(fault.tx, fault.l1_account_index),  # type: ignore[arg-type]
                    abi.witness(fault.witness))  # fmt: skip
        else:
            args = ("prove_step", challenge, list(roots), fault.position, raw_commitment,
                    abi.root_parts(fault.pre_parts), abi.witness(fault.witness))  # fmt: skip
        return self.contract.transact(*args, sender=sender, gas=PROOF_GAS)

    def timeout(self, challenge: int, sender: LocalAccount) -> Receipt:
        """Close a game past its deadline (or void)."""
        return self.contract.transact("timeout", challenge, sender=sender)

    def status(self, challenge: int) -> dict[str, Any]:
        """The challenge record as a dict."""
        fields = (
            "batch",
            "serial",
            "segment",
            "challenger",
            "proposer",
            "pre_root",
            "post_root",
            "data_hash",
            "roots_hash",
            "tx_count",
            "deadline",
            "status",
        )
        return dict(zip(fields, self.contract.call("challenges", challenge), strict=True))
