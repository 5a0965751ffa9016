"""Claiming a final withdrawal on L1 from the console.

A withdrawal leaves the rollup in two steps: the L2 transaction that starts it, and,
once the batch holding it is final, ``Rollup.withdraw`` on L1 with the node's proof,
which pays the withdrawal's recipient (whoever sends it). That call costs L1 gas and
needs a key on L1, and the console claims two ways:

- the development wallet: the console sends it itself, from that wallet's L1 account
  (``l2gpu web --dev-wallet`` with ``--l1-rpc``; :class:`RollupClaimer`);
- a browser wallet: the console never holds its key, so it builds the transaction
  (:func:`claim_transaction`: to the Rollup, the ABI-encoded ``Rollup.withdraw``
  call with the node's proof, the L1's chain id and a fixed gas limit) and the page's
  script hands it to the injected wallet (``eth_sendTransaction``), whose user
  confirms and pays the gas. The node marks the withdrawal claimed once L1 has the
  transaction, and the page's refresh shows it. Without a wallet in the browser, the
  command that claims is shown (``l2gpu l2 withdraw --claim``).
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


def claim_transaction(
    status: dict[str, Any], proof: dict[str, Any], sender: Address
) -> dict[str, str]:
    """The L1 transaction a browser wallet sends to claim the exit ``proof`` proves
    (``status``: the node's ``GET /l2/status``, naming the Rollup and the L1's chain
    id), as ``eth_sendTransaction`` takes it: hex quantities, no value, the gas limit
    fixed (:data:`~l2gpu.l1.contracts.rollup.WITHDRAW_GAS`), the fees left to the wallet."""
    from l2gpu.l1.contracts.rollup import WITHDRAW_GAS, withdraw_calldata

    return {
        "from": sender.checksum,
        "to": Address.from_hex(status["rollup"]).checksum,
        "data": "0x" + withdraw_calldata(proof).hex(),
        "value": "0x0",
        "gas": hex(WITHDRAW_GAS),
        "chainId": hex(int(status["chain_id"])),
    }
