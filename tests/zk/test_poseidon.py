"""Python's Poseidon against circomlib's ``Poseidon(n)`` circuit, witness by witness."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable

import pytest

from l2gpu.core.crypto import poseidon
from l2gpu.core.crypto.poseidon_constants import MAX_WIDTH, MIN_WIDTH, constants
from l2gpu.core.errors import InvalidValue
from l2gpu.zk.toolchain import (
    CompiledCircuit,
    Toolchain,
    Witness,
    calculate_witness,
    calculate_witnesses,
)

# Digests that circomlib's own tests (test/poseidoncircuit.js) state; the tests below
# recompute each one with the circuit rather than trusting the number.
KNOWN = [
    ([1, 2], 7853200120776062878684798364095072458815029376092732009249414926327459813530),
    ([3, 4], 14763215145315200506921711489642608356394854266165572616578112107564877678998),
    (
        [1, 2, 0, 0, 0],
        1018317224307729531995786483840663576608797660851238720571059489595066344487,
    ),
    (
        [3, 4, 5, 10, 23],
        13034429309846638789535561449942021891039729847501137143363028890275222221409,
    ),
]


def poseidon_circuit(build: Callable[[str, str, str], CompiledCircuit], n: int) -> CompiledCircuit:
    return build(f"poseidon{n}", "poseidon.circom", f"Poseidon({n})")


@pytest.mark.parametrize("n", range(1, 7))
def test_hash_matches_the_circuit(
    n: int, circomlib_circuit: Callable[[str, str, str], CompiledCircuit], toolchain: Toolchain
) -> None:
    circuit = poseidon_circuit(circomlib_circuit, n)
    # Ten drawn inputs and the field's two ends, in one run of the witness calculator
    # (a Node process per input would cost a third of a second each); seeded, so a
    # failure names the inputs again.
    draw = random.Random(f"poseidon-{n}")
    top = poseidon.FIELD_MODULUS - 1
    cases = [[draw.randrange(poseidon.FIELD_MODULUS) for _ in range(n)] for _ in range(10)]
    cases += [[0] * n, [top] * n]
    witnesses = calculate_witnesses(circuit, [{"inputs": inputs} for inputs in cases],
                                    toolchain=toolchain)  # fmt: skip
    for inputs, witness in zip(cases, witnesses, strict=True):
        assert isinstance(witness, Witness), (inputs, witness)
        assert poseidon.hash(inputs) == witness["main.out"], inputs


@pytest.mark.parametrize(("inputs", "digest"), KNOWN)
def test_known_answers(
    inputs: list[int],
    digest: int,
    circomlib_circuit: Callable[[str, str, str], CompiledCircuit],
    toolchain: Toolchain,
) -> None:
    circuit = poseidon_circuit(circomlib_circuit, len(inputs))
    witness = calculate_witness(circuit, {"inputs": inputs}, toolchain=toolchain)
    assert witness["main.out"] == digest
    assert poseidon.hash(inputs) == digest


def test_the_widest_permutation_matches_poseidon_ex(
    circomlib_circuit: Callable[[str, str, str], CompiledCircuit], toolchain: Toolchain
) -> None:
    """16 inputs and an initial state, all 17 outputs: circomlib's own PoseidonEx test."""
    circuit = circomlib_circuit("poseidon_ex16", "poseidon.circom", "PoseidonEx(16, 17)")
    inputs = list(range(1, 17))
    witness = calculate_witness(
        circuit, {"inputs": inputs, "initialState": 17}, toolchain=toolchain
    )
    expected = poseidon.permute([17, *inputs])
    assert [witness[f"main.out[{i}]"] for i in range(17)] == list(expected)
    assert poseidon.hash(inputs) == poseidon.permute([0, *inputs])[0]


def test_derived_constants_equal_circomlibs(toolchain: Toolchain) -> None:
    """The Grain derivation gives every constant and matrix of circomlib's
    poseidon_constants_old.circom, for every width."""
    text = (toolchain.circomlib / "circuits" / "poseidon_constants_old.circom").read_text()
    round_part, mds_part = text.split("function POSEIDON_M")
    round_constants = _circom_arrays(round_part)
    mds = _circom_arrays(mds_part)
    assert sorted(round_constants) == sorted(mds) == list(range(MIN_WIDTH, MAX_WIDTH + 1))
    for t in range(MIN_WIDTH, MAX_WIDTH + 1):
        derived_constants, derived_mds = constants(t)
        assert list(derived_constants) == round_constants[t], f"round constants, t={t}"
        assert [list(row) for row in derived_mds] == mds[t], f"MDS matrix, t={t}"


def _circom_arrays(text: str) -> dict[int, list]:
    """``{t: value}`` from circom's ``if (t == N) { return [...]; }`` branches."""
    found = {}
    for match in re.finditer(r"t == (\d+)\) \{\s*return\s*(\[.*?\]);", text, re.S):
        literal = re.sub(r"0x[0-9a-fA-F]+", lambda m: str(int(m.group(0), 16)), match.group(2))
        found[int(match.group(1))] = json.loads(literal)
    return found


@pytest.mark.parametrize("inputs", [[], list(range(17)), [poseidon.FIELD_MODULUS], [-1], [True]])
def test_refuses_what_the_circuit_cannot_hash(inputs: list[int]) -> None:
    with pytest.raises(InvalidValue):
        poseidon.hash(inputs)
