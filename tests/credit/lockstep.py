"""What the pool's and the forwards' lockstep harnesses share: a call made to the
specification and the contract at once (``step``, each harness's own), taken or
refused by both, and the block facts the comparison needs."""

from __future__ import annotations

from typing import Any

from l2gpu.l1 import Chain, Receipt


class Lockstep:
    """Mixed into a harness with a ``chain`` and a ``step(inp, wait) -> reason | None``."""

    chain: Chain

    def step(self, inp: Any, wait: int = 1) -> str | None:  # each harness has its own
        raise NotImplementedError

    def block_time(self, receipt: Receipt) -> int:
        """The timestamp of the block that holds ``receipt``."""
        return int(self.chain.w3.eth.get_block(receipt.block_number)["timestamp"])

    def gas_price(self, receipt: Receipt) -> int:
        """What a unit of ``receipt``'s gas cost its sender."""
        raw = self.chain.w3.eth.get_transaction_receipt(receipt.tx_hash)  # type: ignore[arg-type]
        return int(raw["effectiveGasPrice"])

    def ok(self, inp: Any, wait: int = 1) -> None:
        """Make ``inp`` and insist both took it."""
        assert self.step(inp, wait) is None

    def refused(self, inp: Any, wait: int = 1) -> str:
        """Make ``inp`` and insist both refused it; return the reason."""
        reason = self.step(inp, wait)
        assert reason is not None
        return reason
