"""circomlib's Poseidon on L1 (contracts/zk/PoseidonT3.vy, T6, T7) against the
Python spec: the committed files are what the generator writes from our constants,
and hashes computed on the py-evm chain equal ``poseidon.hash``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import poseidon
from l2gpu.l1 import Chain, ContractRevert, DeployedContract, compile_contract
from l2gpu.l1.build import contracts_root
from l2gpu.zk import poseidon_contract

P = poseidon.FIELD_MODULUS
# Field elements with the edges drawn often: 0, 1, and values just below p (where an
# unreduced sum in the contract would overflow first if its bounds were wrong).
ELEMENTS = st.one_of(
    st.integers(0, P - 1),
    st.integers(P - 2**64, P - 1),
    st.sampled_from([0, 1, P - 1, P - 2, 2**253]),
)


@pytest.fixture(scope="module")
def hashers(module_chain: Chain) -> dict[int, DeployedContract]:
    """The Poseidon contract of each width, deployed on the module's chain."""
    deployer = module_chain.accounts[0]
    return {
        t: module_chain.deploy(
            compile_contract(poseidon_contract.contract_path(t)), sender=deployer
        )
        for t in poseidon_contract.WIDTHS
    }


@pytest.mark.parametrize("t", poseidon_contract.WIDTHS)
def test_the_committed_contract_is_what_the_generator_writes(t: int) -> None:
    committed = (contracts_root() / poseidon_contract.contract_path(t)).read_text()
    assert committed == poseidon_contract.render(t), (
        f"{poseidon_contract.contract_path(t)} differs from the generator's output: "
        "run 'make poseidon-contracts'"
    )


def test_the_generator_refuses_widths_without_constants() -> None:
    with pytest.raises(ValueError, match="outside"):
        poseidon_contract.render(18)


@pytest.mark.parametrize("t", poseidon_contract.WIDTHS)
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_l1_hashes_as_the_spec(
    hashers: dict[int, DeployedContract], t: int, data: st.DataObject
) -> None:
    inputs = data.draw(st.lists(ELEMENTS, min_size=t - 1, max_size=t - 1))
    assert hashers[t].call_fast("hash", inputs) == poseidon.hash(inputs)


@pytest.mark.parametrize("t", poseidon_contract.WIDTHS)
def test_known_answers_and_inputs_at_the_modulus(hashers: dict[int, DeployedContract],
                                                 t: int) -> None:  # fmt: skip
    counting = list(range(1, t))
    assert hashers[t].call("hash", counting) == poseidon.hash(counting)
    top = [P - 1] * (t - 1)
    assert hashers[t].call("hash", top) == poseidon.hash(top)
    for position in range(t - 1):
        for bad in (P, P + 1, 2**256 - 1):
            inputs = [0] * (t - 1)
            inputs[position] = bad
            with pytest.raises(ContractRevert, match="not below the field modulus"):
                hashers[t].call("hash", inputs)


@pytest.mark.parametrize("t", poseidon_contract.WIDTHS)
def test_gas_per_hash(hashers: dict[int, DeployedContract], t: int) -> None:
    """The execution gas of one hash sent as a transaction: its gas used less the
    intrinsic part (21,000 and 4 or 16 per calldata byte)."""
    hasher = hashers[t]
    inputs = [P - 1 - i for i in range(t - 1)]
    data = bytes.fromhex(hasher.function("hash", inputs)._encode_transaction_data()[2:])
    receipt = hasher.transact("hash", inputs, sender=hasher.chain.accounts[1], gas=1_000_000)
    execution = receipt.gas_used - 21_000 - sum(16 if byte else 4 for byte in data)
    print(f"\nPoseidonT{t} (Poseidon({t - 1})): {execution} gas of execution per hash")
    # A bound, so that a regression in the generated code is seen: 55,659, 170,581 and
    # about 225,000 measured with vyper 0.4.3.
    assert execution < {3: 65_000, 6: 190_000, 7: 250_000}[t]
