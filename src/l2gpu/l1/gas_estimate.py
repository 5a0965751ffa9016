"""Gas estimation for the embedded chain in two executions instead of fourteen.

py-evm's estimators (``eth.estimators.gas``) binary-search the gas limit from the
transaction's intrinsic gas up to the block's: about fourteen runs of the
transaction at our 60M block limit. A batch that runs a Groth16 verifier spends most
of a second in py-evm's pure-Python pairing precompile per run, so one estimate took
about 11 s and every proven batch paid it before its own execution.

:func:`estimate_gas` follows go-ethereum's strategy instead (``eth_estimateGas``):
run the transaction once at the block's limit, which gives the gas it used, then try
that amount raised by 64/63 (EIP-150 keeps 1/64 of the gas back at every call) plus
a call stipend. That second run almost always succeeds; when it does not, a binary
search between the two finds the limit, as py-evm's would. An estimate only sets a
transaction's gas limit: what the transaction is charged, and what every gas figure
of the project reads from receipts, is the gas it used.

Hand-written because py-evm offers only the binary searches, and eth-tester takes
any estimator with the same signature (``Chain.gas_estimator``).
"""

from __future__ import annotations

from typing import Any, cast

from eth.abc import SignedTransactionAPI, StateAPI
from eth.exceptions import VMError
from eth.vm.spoof import SpoofTransaction

CALL_STIPEND = 2_300
SEARCH_TOLERANCE = 21_000
"""The binary search's stopping width, as py-evm's default estimator."""


def _run(state: StateAPI, transaction: SignedTransactionAPI, gas: int) -> Any:
    """The computation of ``transaction`` with ``gas``, its effects reverted."""
    spoofed = cast(SignedTransactionAPI, SpoofTransaction(transaction, gas=gas, gas_price=0))
    snapshot = state.snapshot()
    try:
        return state.apply_transaction(spoofed)
    finally:
        state.revert(snapshot)


def _succeeds(state: StateAPI, transaction: SignedTransactionAPI, gas: int) -> bool:
    return not _run(state, transaction, gas).is_error


def estimate_gas(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """A gas limit with which ``transaction`` succeeds, close above what it uses.

    Raises the transaction's own :class:`~eth.exceptions.VMError` (a revert, say) when
    it fails even with the block's whole gas limit, as py-evm's estimators do.
    """
    if not hasattr(transaction, "sender"):
        raise TypeError("an estimated transaction needs its sender ('from')")
    limit = int(state.gas_limit)
    at_limit = _run(state, transaction, limit)
    if at_limit.is_error:
        error: VMError = at_limit.error
        raise error
    # the gas used before refunds: a refund is paid back only after the gas was there
    used = transaction.intrinsic_gas + at_limit.get_gas_used()
    guess = int(min(limit, used * 64 // 63 + CALL_STIPEND))
    if _succeeds(state, transaction, guess):
        return guess
    low, high = guess, limit
    while high - low > SEARCH_TOLERANCE:
        middle = (low + high) // 2
        if _succeeds(state, transaction, middle):
            high = middle
        else:
            low = middle
    return high
