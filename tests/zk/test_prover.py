"""Groth16 proving (l2gpu.zk.prover, l2gpu.zk.setup), cross-checked with snarkjs.

Our proofs of ``Transfer(8)`` pass ``snarkjs groth16 verify`` under our verifying key
exported as snarkjs JSON; a snarkjs ceremony's zkey, imported with groth16py, checks
snarkjs's proofs, and our prover's proofs with it pass snarkjs. A proof is checked
before it is returned, and keys of another circuit are refused.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import groth16py
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2gpu.core.crypto import poseidon
from l2gpu.zk import setup
from l2gpu.zk.prover import (
    BASE_FIELD,
    SCALAR_FIELD,
    Proof,
    ProofError,
    prove,
    public_signals,
    verify,
    write_wtns,
)
from l2gpu.zk.setup import (
    DEV_SETUP_LABEL,
    DEV_SETUP_NOTICE,
    KeyMismatch,
    Keys,
    SetupFailed,
    dev_setup,
    import_ceremony,
    load_keys,
)
from l2gpu.zk.toolchain import CompiledCircuit, Toolchain, WitnessError, calculate_witness
from l2gpu.zk.zkey import ZkeyError

from . import snarkjs
from .test_zk_transfer import BASE, OTHER_KEY, forged_input

PREIMAGE_POWER = 8
"""A powers of tau of 2^8 = 256 rows holds Preimage's 240 constraints and its output."""
GENERATOR = (1, 2)
"""G1's generator: on the curve, and not the proof's A."""


# -- development keys ---------------------------------------------------------------


def test_dev_keys_are_labelled_and_cached_by_circuit_hash(
    transfer_circuit: CompiledCircuit, transfer_keys: Keys
) -> None:
    folder = setup.user_cache() / "groth16" / f"transfer_8-{transfer_circuit.key[:24]}"
    assert (folder / DEV_SETUP_NOTICE).read_text().startswith(DEV_SETUP_LABEL)
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["setup"] == DEV_SETUP_LABEL
    assert "NOT FOR FUNDS" in DEV_SETUP_LABEL
    assert metadata["circuit_key"] == transfer_circuit.key
    assert transfer_keys.origin == "development"
    assert transfer_keys.label == DEV_SETUP_LABEL
    # Read again from disk: the same keys, not a new setup.
    reread = load_keys(folder, transfer_circuit)
    assert reread.verifying_key.to_json() == transfer_keys.verifying_key.to_json()
    assert dev_setup(transfer_circuit) is transfer_keys


def test_keys_made_here_are_the_folders_keys_and_made_once(
    preimage_circuit: CompiledCircuit, tmp_path: Path
) -> None:
    """The process that makes the keys uses them without reading them back, so they
    must be exactly what the folder holds; processes that ask at once make them once
    (two threads here: the lock is a file lock, which holds between threads too)."""
    from concurrent.futures import ThreadPoolExecutor

    made: list[int] = []
    real_setup = groth16py.setup

    def counted(path: str) -> tuple[groth16py.ProvingKey, groth16py.VerifyingKey]:
        made.append(1)
        return real_setup(path)

    setup.groth16py.setup = counted  # type: ignore[assignment]
    try:
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(
                lambda cache: setup.dev_setup(preimage_circuit, cache_dir=cache),
                [tmp_path / "cache", tmp_path / "cache"],
            )
    finally:
        setup.groth16py.setup = real_setup  # type: ignore[assignment]
    assert made == [1]
    folder = setup.dev_keys_folder(preimage_circuit, cache_dir=tmp_path / "cache")
    reread = load_keys(folder, preimage_circuit)
    assert first.verifying_key.to_json() == reread.verifying_key.to_json()
    assert second.verifying_key.to_json() == reread.verifying_key.to_json()
    assert first.label == reread.label == DEV_SETUP_LABEL
    values = {"a": 11, "b": 12}
    proof = prove(preimage_circuit, values, keys=first)  # checked under its own key
    public = public_signals(calculate_witness(preimage_circuit, values), first.n_public)
    assert verify(reread.verifying_key, proof, public)


def test_keys_of_another_circuit_are_refused(
    transfer_circuit: CompiledCircuit, preimage_circuit: CompiledCircuit
) -> None:
    other = dev_setup(preimage_circuit)
    values = forged_input(BASE)
    with pytest.raises(KeyMismatch, match=r"made for circuit preimage .* not for transfer_8"):
        prove(transfer_circuit, values, keys=other)
    folder = setup.user_cache() / "groth16" / f"preimage-{preimage_circuit.key[:24]}"
    with pytest.raises(KeyMismatch, match="deploy the verifier contract"):
        load_keys(folder, transfer_circuit)


def test_a_key_that_lies_about_its_circuit_gives_no_proof(
    transfer_circuit: CompiledCircuit, preimage_circuit: CompiledCircuit
) -> None:
    """Keys whose metadata names this circuit but which were made for another: the
    prover fails, and never returns a proof."""
    other = dev_setup(preimage_circuit)
    liar = replace(other, circuit_name="transfer_8", circuit_key=transfer_circuit.key)
    with pytest.raises(ProofError):
        prove(transfer_circuit, forged_input(BASE), keys=liar)


def test_a_proof_that_fails_its_own_check_is_never_returned(
    transfer_circuit: CompiledCircuit, transfer_keys: Keys
) -> None:
    """The proving key is this circuit's, the verifying key another setup's of the
    same circuit: groth16py proves without complaint, and the check catches it."""
    _, stranger_vk = groth16py.setup(str(transfer_circuit.r1cs))
    mixed = replace(transfer_keys, verifying_key=stranger_vk)
    with pytest.raises(ProofError, match="does not verify under its own verifying key"):
        prove(transfer_circuit, forged_input(BASE), keys=mixed)


# -- proofs --------------------------------------------------------------------------


def test_a_transfer_proof_verifies_for_its_roots_only(
    transfer_proof: Proof, transfer_keys: Keys
) -> None:
    vk = transfer_keys.verifying_key
    old_root, new_root = transfer_proof.public
    values = forged_input(BASE)
    assert (old_root, new_root) == (values["old_root"], values["new_root"])
    assert verify(vk, transfer_proof, [old_root, new_root])
    assert not verify(vk, transfer_proof, [old_root, new_root + 1])
    assert not verify(vk, transfer_proof, [new_root, old_root])
    assert not verify(vk, transfer_proof, [old_root + SCALAR_FIELD, new_root])  # alias
    assert not verify(vk, transfer_proof, [old_root])
    assert not verify(vk, transfer_proof, [old_root, new_root, 0])


def test_a_changed_proof_does_not_verify(transfer_proof: Proof, transfer_keys: Keys) -> None:
    vk, public = transfer_keys.verifying_key, transfer_proof.public
    (x0, x1), (y0, y1) = transfer_proof.b
    changed = [
        replace(transfer_proof, a=GENERATOR),
        replace(transfer_proof, c=transfer_proof.a),
        replace(transfer_proof, a=(transfer_proof.a[0], BASE_FIELD - transfer_proof.a[1])),  # -A
        replace(transfer_proof, a=(transfer_proof.a[0], transfer_proof.a[1] + BASE_FIELD)),
        replace(transfer_proof, a=(1, 3)),  # off the curve
        replace(transfer_proof, b=((x1, x0), (y1, y0))),  # Fp2 halves swapped
    ]
    for proof in changed:
        assert not verify(vk, proof, public), proof


def test_a_refused_input_gives_no_proof(
    transfer_circuit: CompiledCircuit, transfer_keys: Keys
) -> None:
    values = forged_input(OTHER_KEY, OTHER_KEY.signature())  # signed by the wrong key
    with pytest.raises(WitnessError):
        prove(transfer_circuit, values, keys=transfer_keys)


@settings(max_examples=25, deadline=None)
@given(words=st.lists(st.integers(0, 2**256 - 1), min_size=8, max_size=8))
def test_the_ethereum_encoding_round_trips_with_b_swapped(words: list[int]) -> None:
    blob = b"".join(word.to_bytes(32, "big") for word in words)
    proof = Proof.from_bytes(blob, [7])
    assert proof.to_bytes() == blob
    assert proof.a == (words[0], words[1])
    assert proof.c == (words[6], words[7])
    # The blob holds b as (x1, x0, y1, y0); the proof holds it as (x0, x1), (y0, y1).
    assert proof.b == ((words[3], words[2]), (words[5], words[4]))
    assert proof.evm_b() == ((words[2], words[3]), (words[4], words[5]))
    a, b, c, pub = proof.calldata()
    assert (a, b, c, pub) == (words[0:2], [words[2:4], words[4:6]], words[6:8], [7])


def test_a_truncated_proof_is_refused() -> None:
    with pytest.raises(ProofError, match="256 bytes"):
        Proof.from_bytes(bytes(255), [])


# -- snarkjs ---------------------------------------------------------------------------


def test_snarkjs_verifies_our_proof_under_our_key(
    snarkjs_tool: Toolchain, transfer_proof: Proof, transfer_keys: Keys, tmp_path: Path
) -> None:
    vk = transfer_keys.verifying_key.to_json()
    proof_json = transfer_proof.to_snarkjs()
    public = list(transfer_proof.public)
    assert snarkjs.verify(snarkjs_tool, vk, public, proof_json, tmp_path)
    assert not snarkjs.verify(snarkjs_tool, vk, [public[0], public[1] + 1], proof_json, tmp_path)
    # The G2 order matters: snarkjs's JSON holds (x0, x1), the EVM's words (x1, x0).
    (x0, x1), (y0, y1) = transfer_proof.b
    swapped = replace(transfer_proof, b=((x1, x0), (y1, y0))).to_snarkjs()
    assert not snarkjs.verify(snarkjs_tool, vk, public, swapped, tmp_path)


def preimage_witness(
    circuit: CompiledCircuit, toolchain: Toolchain, tmp_path: Path
) -> tuple[Path, int]:
    """Our witness of Preimage for (a, b) = (11, 12), as a .wtns file, and its output."""
    witness = calculate_witness(circuit, {"a": 11, "b": 12}, toolchain=toolchain)
    path = tmp_path / "preimage.wtns"
    write_wtns(path, witness.values)
    (out,) = public_signals(witness, 1)
    assert out == poseidon.hash([11, 12])
    return path, out


def test_a_snarkjs_ceremony_key_proves_both_ways(
    snarkjs_tool: Toolchain, preimage_circuit: CompiledCircuit, tmp_path: Path
) -> None:
    """The production path: a snarkjs phase-2 zkey, imported with groth16py.

    snarkjs proves from our .wtns file and groth16py verifies under the imported
    key; our prover proves with the imported key and snarkjs verifies under the
    verifying key it exports itself.
    """
    zkey = snarkjs.zkey(snarkjs_tool, preimage_circuit, PREIMAGE_POWER)
    keys = import_ceremony(preimage_circuit, zkey)
    assert keys.origin == "ceremony"
    assert "zkey sha256" in keys.label
    ceremony_vk = snarkjs.export_vk(snarkjs_tool, zkey, tmp_path)
    ours = json.loads(keys.verifying_key.to_json())
    for field in ("vk_alpha_1", "vk_beta_2", "vk_gamma_2", "vk_delta_2", "IC"):
        assert ours[field] == ceremony_vk[field], field

    wtns, out = preimage_witness(preimage_circuit, snarkjs_tool, tmp_path)
    theirs, public = snarkjs.prove(snarkjs_tool, zkey, wtns, tmp_path)
    assert public == [out]
    verifier = groth16py.Verifier(keys.verifying_key)
    assert verifier.verify_snarkjs(json.dumps(theirs), json.dumps([str(out)]))
    assert not verifier.verify_snarkjs(json.dumps(theirs), json.dumps([str(out + 1)]))

    proof = prove(preimage_circuit, {"a": 11, "b": 12}, keys=keys, toolchain=snarkjs_tool)
    assert proof.public == (out,)
    vk_text = json.dumps(ceremony_vk)
    assert snarkjs.verify(snarkjs_tool, vk_text, [out], proof.to_snarkjs(), tmp_path)


def test_a_zkey_of_another_circuit_gives_no_proof(
    snarkjs_tool: Toolchain, preimage_circuit: CompiledCircuit, transfer_circuit: CompiledCircuit
) -> None:
    zkey = snarkjs.zkey(snarkjs_tool, preimage_circuit, PREIMAGE_POWER)
    with pytest.raises(ZkeyError, match="made for another circuit") as refused:
        import_ceremony(transfer_circuit, zkey)
    assert "1 public signals" in refused.value.what  # the preimage's, beside the transfer's
    # Past that check (a zkey of the same shape), the prover's own check refuses.
    proving_key, verifying_key = groth16py.import_zkey(str(zkey))
    wrong = setup.Keys(transfer_circuit.name, transfer_circuit.key, "ceremony", "wrong",
                       proving_key, verifying_key)  # fmt: skip
    with pytest.raises(ProofError):
        prove(transfer_circuit, forged_input(BASE), keys=wrong)


def test_a_file_that_is_not_a_whole_groth16_zkey_is_refused(
    snarkjs_tool: Toolchain, preimage_circuit: CompiledCircuit, tmp_path: Path
) -> None:
    zkey = snarkjs.zkey(snarkjs_tool, preimage_circuit, PREIMAGE_POWER)
    cut = tmp_path / "cut.zkey"
    cut.write_bytes(zkey.read_bytes()[:40])
    other = tmp_path / "other.zkey"
    other.write_bytes(b"r1cs" + bytes(60))
    for path, reason in ((cut, "ends early"), (other, "is not a snarkjs .zkey"),
                         (tmp_path / "missing.zkey", "cannot read")):  # fmt: skip
        with pytest.raises(ZkeyError, match=reason):
            import_ceremony(preimage_circuit, path)


def test_a_zkey_without_a_phase_2_contribution_is_refused(
    snarkjs_tool: Toolchain, preimage_circuit: CompiledCircuit
) -> None:
    """Its delta is its gamma: anyone could forge proofs under it."""
    zkey = snarkjs.uncontributed_zkey(snarkjs_tool, preimage_circuit, PREIMAGE_POWER)
    with pytest.raises(SetupFailed, match="no phase-2 contribution"):
        import_ceremony(preimage_circuit, zkey)


def test_a_node_proves_a_batch_per_core_within_half_the_free_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from l2gpu.zk import prover

    r1cs = tmp_path / "batch.r1cs"
    r1cs.write_bytes(bytes(1000))  # one proof: 6,500 bytes
    monkeypatch.setattr(prover, "usable_cores", lambda: 16)
    monkeypatch.setattr(prover, "_available_memory", lambda: 10**9)
    assert prover.default_provers() == prover.MAX_DEFAULT_PROVERS  # 16 cores, capped
    assert prover.default_provers(processes=8) == 2  # the cores shared by 8 nodes
    assert prover.default_provers(processes=32) == 1  # never none
    monkeypatch.setattr(prover, "_available_memory", lambda: 6_500 * 2 * 3)
    assert prover.default_provers(r1cs=r1cs) == 3  # half the memory holds 3 proofs
    assert prover.default_provers(processes=3, r1cs=r1cs) == 1
    monkeypatch.setattr(prover, "_available_memory", lambda: 100)
    assert prover.default_provers(r1cs=r1cs) == 1
    monkeypatch.setattr(prover, "_available_memory", lambda: None)  # not Linux
    assert prover.default_provers(r1cs=r1cs) == prover.MAX_DEFAULT_PROVERS
