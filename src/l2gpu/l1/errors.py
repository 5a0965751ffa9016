"""Errors of the L1 shell (all are :class:`~l2gpu.core.errors.L2gpuError`).

L1Error
├── ContractRevert     a call or transaction reverted; carries the contract's reason
├── CompileError       a Vyper source did not compile
├── NotADevChain       time travel, mining or snapshots asked of a chain that has none
└── L1Unreachable      the JSON-RPC endpoint did not answer
"""

from __future__ import annotations

from l2gpu.core.errors import L2gpuError


class L1Error(L2gpuError):
    """Something went wrong talking to the L1 chain."""


class ContractRevert(L1Error):
    """A contract call or transaction reverted."""

    def __init__(self, contract: str, function: str, reason: str) -> None:
        self.contract = contract
        self.function = function
        self.reason = reason
        super().__init__(f"{contract}.{function} reverted: {reason}")


class CompileError(L1Error):
    """A contract source failed to compile."""


class NotADevChain(L1Error):
    """The chain offers no time travel, mining on demand or snapshots."""


class L1Unreachable(L1Error):
    """The L1 JSON-RPC endpoint could not be reached."""
