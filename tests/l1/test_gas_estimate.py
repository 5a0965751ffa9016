"""The embedded chain's gas estimator (l2gpu.l1.gas_estimate): a limit with which the
transaction succeeds, close above the gas it uses, found in few executions."""

from __future__ import annotations

from typing import Any

import pytest
from eth.estimators.gas import binary_gas_search_exact

from l2gpu.l1 import Chain, ContractRevert, compile_contract
from l2gpu.l1.gas_estimate import CALL_STIPEND, SEARCH_TOLERANCE


@pytest.fixture
def floor(chain: Chain) -> Any:
    return chain.deploy(compile_contract("testing/GasFloor.vy"), sender=chain.accounts[0])


def estimate(chain: Chain, contract: Any, function: str, *args: Any) -> int:
    sender = chain.accounts[1]
    web3_contract = chain.w3.eth.contract(address=contract.address.checksum, abi=contract.abi)
    tx = getattr(web3_contract.functions, function)(*args).build_transaction(
        {"from": sender.address, "gas": 1}  # a limit, so web3 does not estimate it here
    )
    del tx["gas"]
    return int(chain.w3.eth.estimate_gas(tx))


def test_a_child_call_gets_its_gas_and_the_estimate_stays_close(chain: Chain, floor) -> None:
    limit = estimate(chain, floor, "nested", 500)
    receipt = floor.transact("nested", 500, sender=chain.accounts[1], gas=limit)
    assert floor.call("calls") == 1
    assert receipt.gas_used <= limit <= receipt.gas_used * 64 // 63 + CALL_STIPEND
    # never below what py-evm's exact binary search finds
    assert limit >= exact(chain, floor, "nested", 500)


def test_a_call_that_needs_more_gas_than_it_uses_is_searched(chain: Chain, floor) -> None:
    limit = estimate(chain, floor, "needs", 3_000_000)
    assert limit > 3_000_000  # it uses about 45,000: the first guess fails
    assert limit - exact(chain, floor, "needs", 3_000_000) <= SEARCH_TOLERANCE
    floor.transact("needs", 3_000_000, sender=chain.accounts[1], gas=limit)
    assert floor.call("calls") == 1


def test_a_transaction_that_fails_at_any_gas_is_a_revert_with_its_reason(
    chain: Chain, floor
) -> None:
    with pytest.raises(ContractRevert, match="not enough gas left"):
        floor.transact("needs", 10**9, sender=chain.accounts[1])


def exact(chain: Chain, contract: Any, function: str, *args: Any) -> int:
    """py-evm's exact binary search on the same transaction, for comparison."""
    backend = chain.w3.provider.ethereum_tester.backend  # type: ignore[attr-defined]
    ours = backend.chain.gas_estimator
    backend.chain.gas_estimator = binary_gas_search_exact
    try:
        return estimate(chain, contract, function, *args)
    finally:
        backend.chain.gas_estimator = ours
