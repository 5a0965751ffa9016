"""Claiming a final withdrawal on L1 from the console (the development wallet's way).

A withdrawal leaves the rollup in two steps: the L2 transaction that starts it, and,
once the batch holding it is final, ``Rollup.withdraw`` on L1 with the node's proof,
which pays the withdrawal's recipient (whoever sends it). That call costs L1 gas
and needs a key on L1: the console sends it only from its development wallet's
account (``l2gpu web --dev-wallet`` with ``--l1-rpc``). A browser wallet's user is
told the command that claims instead (``l2gpu l2 withdraw --claim``).
"""

from __future__ import annotations

from typing import Any, Protocol

from eth_account.signers.local import LocalAccount

from l2gpu.core.types import Address


class Claimer(Protocol):
    """Sends ``Rollup.withdraw`` for one proven exit; answers the L1 transaction's hash."""

    def claim(self, rollup: Address, proof: dict[str, Any]) -> str:
        """Claim the exit ``proof`` proves (a ``GET /l2/exits/{i}/proof`` answer)."""
        ...


class RollupClaimer:
    """Claims from one L1 account (the development wallet's), on one chain."""

    def __init__(self, chain: Any, account: LocalAccount) -> None:
        self.chain = chain
        self.account = account

    def claim(self, rollup: Address, proof: dict[str, Any]) -> str:
        """Send ``Rollup.withdraw`` for ``proof`` from this account; its hash."""
        from l2gpu.l1.contracts.rollup import claim_proven_exit

        return str(claim_proven_exit(self.chain, rollup, proof, self.account).tx_hash)
