"""The generated Vyper Groth16 verifier (l2gpu.zk.verifier_contract) on the py-evm chain.

A valid proof of ``Transfer(8)`` is accepted and its gas measured; the same proof
with other public inputs returns False; malformed input (a public input not below
r, a coordinate not below p, a point off the curve, truncated calldata) reverts.
A one-public-signal circuit gives the gas figure that a batch circuit (one public
input, the hash of its public data) will cost.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.l1 import Chain, ContractRevert
from l2gpu.l1 import chain as l1_chain
from l2gpu.l1.build import CompiledContract
from l2gpu.l1.chain import DeployedContract
from l2gpu.zk.prover import BASE_FIELD, SCALAR_FIELD, Proof, prove
from l2gpu.zk.setup import Keys, dev_setup
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain
from l2gpu.zk.verifier_contract import PAIRING_GAS, compile_verifier, render_verifier

GAS_TARGET_ONE_INPUT = 300_000


def deploy(chain: Chain, keys: Keys) -> DeployedContract:
    built = compile_verifier(keys.verifying_key, title=keys.circuit_name)
    compiled = CompiledContract(
        f"Groth16Verifier_{keys.circuit_name}", built.abi, built.bytecode, "generated"
    )
    return chain.deploy(compiled, sender=chain.accounts[0])


@pytest.fixture(scope="module")
def transfer_verifier(module_chain: Chain, transfer_keys: Keys) -> DeployedContract:
    return deploy(module_chain, transfer_keys)


def outcome(verifier: DeployedContract, *args: Any) -> bool | str:
    """verifyProof's result, or the revert's reason."""
    try:
        return bool(verifier.call("verifyProof", *args))
    except ContractRevert as exc:
        return exc.reason


def execution_gas(gas_used: int, calldata: bytes) -> int:
    """A transaction's gas less its intrinsic part (21,000 and 4 or 16 per calldata
    byte): what the verifier itself costs inside a rollup contract's call."""
    intrinsic = 21_000 + sum(16 if byte else 4 for byte in calldata)
    return gas_used - intrinsic


def encoded(proof: Proof) -> bytes:
    """The ABI words of ``verifyProof(a, b, c, pub)`` for ``proof``, after the selector."""
    types = ["uint256[2]", "uint256[2][2]", "uint256[2]", f"uint256[{len(proof.public)}]"]
    return abi_encode(types, proof.calldata())


def selector(n_public: int) -> bytes:
    """verifyProof's selector for a circuit of ``n_public`` public signals."""
    signature = f"verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[{n_public}])"
    return function_signature_to_4byte_selector(signature)


def measured_gas(verifier: DeployedContract, proof: Proof) -> tuple[int, int]:
    """(the receipt's gas used, the execution gas) of one verification sent as a
    transaction, with a fixed gas limit (an estimate would run the pairing again)."""
    account = verifier.chain.accounts[1]
    receipt = verifier.transact("verifyProof", *proof.calldata(), sender=account, gas=1_000_000)
    data = selector(len(proof.public)) + encoded(proof)
    return receipt.gas_used, execution_gas(receipt.gas_used, data)


# -- the source ------------------------------------------------------------------------


def test_every_precompile_call_passes_its_gas(transfer_keys: Keys) -> None:
    source = render_verifier(transfer_keys.verifying_key, title="Transfer(8)")
    assert source == render_verifier(transfer_keys.verifying_key, title="Transfer(8)")
    assert not re.search(r"\becadd\(|\becmul\(", source)  # the builtins forward all gas
    calls = re.findall(r"raw_call\((.*?)\n    \)", source, flags=re.DOTALL)
    assert len(calls) == 3
    for call in calls:
        assert re.search(r"gas=(EC_ADD_GAS|EC_MUL_GAS|PAIRING_GAS)", call), call
        assert "is_static_call=True" in call
        assert "revert_on_failure=False" in call
    assert f"PAIRING_GAS: constant(uint256) = {PAIRING_GAS}" in source
    assert PAIRING_GAS == 181_000
    assert "pub: uint256[N_PUBLIC]" in source
    assert "N_PUBLIC: constant(uint256) = 2" in source


# -- valid and invalid proofs ---------------------------------------------------------


def test_a_valid_proof_is_accepted_and_its_gas_measured(
    transfer_verifier: DeployedContract, transfer_proof: Proof
) -> None:
    assert outcome(transfer_verifier, *transfer_proof.calldata()) is True
    used, execution = measured_gas(transfer_verifier, transfer_proof)
    print(f"\nTransfer(8), 2 public inputs: gas used {used:,}, execution {execution:,}")
    assert execution < used < GAS_TARGET_ONE_INPUT + 10_000


def test_other_public_inputs_are_refused(
    transfer_verifier: DeployedContract, transfer_proof: Proof
) -> None:
    a, b, c, (old_root, new_root) = transfer_proof.calldata()
    assert outcome(transfer_verifier, a, b, c, [old_root, new_root + 1]) is False
    assert outcome(transfer_verifier, a, b, c, [new_root, old_root]) is False
    assert outcome(transfer_verifier, a, b, c, [0, 0]) is False


def test_a_public_input_not_below_r_reverts(
    transfer_verifier: DeployedContract, transfer_proof: Proof
) -> None:
    a, b, c, (old_root, new_root) = transfer_proof.calldata()
    reason = "verifier: public input not below r"
    # old_root + r would alias old_root in the ecMul: it must not pass for it.
    assert outcome(transfer_verifier, a, b, c, [old_root + SCALAR_FIELD, new_root]) == reason
    assert outcome(transfer_verifier, a, b, c, [old_root, SCALAR_FIELD]) == reason
    assert outcome(transfer_verifier, a, b, c, [old_root, 2**256 - 1]) == reason


def test_a_coordinate_not_below_p_reverts(
    transfer_verifier: DeployedContract, transfer_proof: Proof
) -> None:
    a, b, c, pub = transfer_proof.calldata()
    cases = {
        "a": ([a[0], a[1] + BASE_FIELD], b, c),
        "b": (a, [[b[0][0], b[0][1]], [b[1][0] + BASE_FIELD, b[1][1]]], c),
        "c": (a, b, [c[0] + BASE_FIELD, c[1]]),
    }
    for name, (a2, b2, c2) in cases.items():
        assert outcome(transfer_verifier, a2, b2, c2, pub) == (
            f"verifier: coordinate of {name} not below p"
        )


def test_a_point_off_the_curve_reverts(
    transfer_verifier: DeployedContract, transfer_proof: Proof
) -> None:
    a, b, c, pub = transfer_proof.calldata()
    failed = "verifier: pairing failed"
    assert outcome(transfer_verifier, [1, 3], b, c, pub) == failed
    assert outcome(transfer_verifier, a, b, [c[0], c[1] ^ 1], pub) == failed
    assert (
        outcome(transfer_verifier, a, [[b[0][0], b[0][1]], [b[1][0], b[1][1] ^ 1]], c, pub)
        == failed
    )


def test_a_well_formed_wrong_proof_returns_false(
    transfer_verifier: DeployedContract, transfer_proof: Proof
) -> None:
    a, b, c, pub = transfer_proof.calldata()
    assert outcome(transfer_verifier, [a[0], BASE_FIELD - a[1]], b, c, pub) is False  # -A
    assert outcome(transfer_verifier, [1, 2], b, c, pub) is False  # the generator
    assert outcome(transfer_verifier, c, b, a, pub) is False


def test_b_in_snarkjs_json_order_is_refused(
    transfer_verifier: DeployedContract, transfer_proof: Proof
) -> None:
    """The contract reads b as the EVM does, (x1, x0): the natural order is not a
    point of G2, so the precompile refuses it."""
    a, _, c, pub = transfer_proof.calldata()
    (x0, x1), (y0, y1) = transfer_proof.b
    assert outcome(transfer_verifier, a, [[x0, x1], [y0, y1]], c, pub) == "verifier: pairing failed"


def raw_verify(verifier: DeployedContract, arguments: bytes) -> bytes | None:
    """eth_call of verifyProof with ``arguments`` as raw ABI words; None if it reverts."""
    call = {"to": verifier.address.checksum, "data": HexBytes(selector(2) + arguments)}
    try:
        return bytes(verifier.chain.w3.eth.call(call))
    except l1_chain.REVERT_ERRORS:
        return None


def test_truncated_calldata_reverts(
    transfer_verifier: DeployedContract, transfer_proof: Proof
) -> None:
    words = encoded(transfer_proof)
    assert words[:256] == transfer_proof.to_bytes()  # the Ethereum encoding is the ABI's
    assert raw_verify(transfer_verifier, words) == (1).to_bytes(32, "big")  # the control
    for cut in (0, 1, 32, 255, 256, 319, len(words) - 1):
        assert raw_verify(transfer_verifier, words[:cut]) is None, cut


@settings(max_examples=6, deadline=None)
@given(words=st.lists(st.integers(0, BASE_FIELD - 1), min_size=8, max_size=8))
def test_garbage_proofs_are_refused(
    transfer_verifier: DeployedContract, transfer_proof: Proof, words: list[int]
) -> None:
    blob = b"".join(word.to_bytes(32, "big") for word in words)
    garbage = Proof.from_bytes(blob, transfer_proof.public)
    assert outcome(transfer_verifier, *garbage.calldata()) is not True


# -- one public input: the gas a batch circuit's verification will cost ---------------------


def test_one_public_input_verifies_within_the_gas_target(
    module_chain: Chain, preimage_circuit: CompiledCircuit, toolchain: Toolchain
) -> None:
    keys = dev_setup(preimage_circuit)
    proof = prove(preimage_circuit, {"a": 11, "b": 12}, keys=keys, toolchain=toolchain)
    verifier = deploy(module_chain, keys)
    assert outcome(verifier, *proof.calldata()) is True
    a, b, c, (out,) = proof.calldata()
    assert outcome(verifier, a, b, c, [out + 1]) is False
    used, execution = measured_gas(verifier, proof)
    print(f"\nPreimage, 1 public input: gas used {used:,}, execution {execution:,}")
    assert used <= GAS_TARGET_ONE_INPUT
