"""A Vyper Groth16 verifier contract generated from a circuit's verifying key.

The template is ours, not groth16py's ``VerifyingKey.to_vyper``: that one computes
the public inputs' sum with Vyper's ``ecadd``/``ecmul`` builtins, which forward all
remaining gas to the precompiles, and calls the pairing precompile without a gas
limit either. Here every precompile call is a ``raw_call`` with its gas written out
(EIP-1108 prices: ecAdd 150, ecMul 6,000, pairing 45,000 + 34,000 per pair), so a
verification costs the same on every call and a failing precompile cannot swallow
the caller's gas; a precompile that fails reverts.

What the contract refuses, and how:

- **reverts** on malformed input: a public input not below r (it would alias
  ``input - r``), a proof coordinate not below p, and any point the precompiles
  reject (off the curve, or not in G2's subgroup), with a ``"verifier: ..."`` reason;
- **returns False** for a well-formed proof that does not prove the public inputs.

A caller (the rollup contract) asserts the result, so both end its transaction; the
split tells a prover's bug (malformed) from a false statement (False) in the logs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import groth16py
import vyper
from vyper.compiler import compile_code
from vyper.exceptions import VyperException

from l2gpu.config import user_cache
from l2gpu.core.errors import L2gpuError
from l2gpu.zk.prover import BASE_FIELD, SCALAR_FIELD

PAIRING_GAS = 45_000 + 34_000 * 4
"""The pairing precompile's price for the four pairs of a Groth16 check (EIP-1108)."""


class VerifierCompileError(L2gpuError):
    """The generated verifier did not compile."""


@dataclass(frozen=True)
class VerifierContract:
    """A generated verifier: its Vyper source, ABI and creation bytecode."""

    source: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    n_public: int


def render_verifier(
    vk: groth16py.VerifyingKey,
    *,
    title: str = "a circom circuit",
) -> str:
    """The Vyper 0.4 source of a verifier for ``vk``; ``title`` names its circuit."""
    data = json.loads(vk.to_json())
    n_public = int(data["nPublic"])
    ic = [_g1(point) for point in data["IC"]]
    ic_rows = ",\n".join(f"    [{x}, {y}]" for x, y in ic)
    return _TEMPLATE.format(
        title=title,
        p=BASE_FIELD,
        r=SCALAR_FIELD,
        n_public=n_public,
        n_ic=n_public + 1,
        pairing_gas=PAIRING_GAS,
        alpha=_g1_literal(_g1(data["vk_alpha_1"])),
        beta=_g2_literal(data["vk_beta_2"]),
        gamma=_g2_literal(data["vk_gamma_2"]),
        delta=_g2_literal(data["vk_delta_2"]),
        ic_rows=ic_rows,
    )


def compile_verifier(
    vk: groth16py.VerifyingKey,
    *,
    title: str = "a circom circuit",
    cache_dir: Path | None = None,
) -> VerifierContract:
    """Render and compile the verifier for ``vk``, cached by the source's hash.

    Raises :class:`VerifierCompileError` (a bug in the template, never the key's).
    """
    source = render_verifier(vk, title=title)
    n_public = vk.n_public
    digest = hashlib.sha256(f"vyper {vyper.__version__}\n{source}".encode()).hexdigest()
    root = (cache_dir if cache_dir is not None else user_cache()) / "verifiers"
    cache_file = root / f"groth16-{digest[:32]}.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        cached = json.loads(cache_file.read_text())
        return VerifierContract(
            source, tuple(cached["abi"]), bytes.fromhex(cached["bytecode"]), n_public
        )
    try:
        out = compile_code(source, output_formats=["abi", "bytecode"])
    except VyperException as exc:
        raise VerifierCompileError(
            f"the generated Groth16 verifier does not compile: {exc}",
            "report this as a bug of l2gpu.zk.verifier_contract's template",
        ) from exc
    built = VerifierContract(
        source, tuple(out["abi"]), bytes.fromhex(out["bytecode"].removeprefix("0x")), n_public
    )
    with contextlib.suppress(OSError):  # a read-only cache: compile again next time
        _write_cache(cache_file, built)
    return built


def _g1(point: list[str]) -> tuple[int, int]:
    """An affine G1 point from snarkjs's projective ``[x, y, "1"]``."""
    return int(point[0]), int(point[1])


def _g1_literal(point: tuple[int, int]) -> str:
    return f"[{point[0]}, {point[1]}]"


def _g2_literal(point: list[list[str]]) -> str:
    """A G2 point from snarkjs's ``[[x0, x1], [y0, y1], ["1", "0"]]``, written in the
    EVM's order ``[[x1, x0], [y1, y0]]`` (EIP-197 reads c1 before c0)."""
    (x0, x1), (y0, y1) = point[0], point[1]
    return f"[[{x1}, {x0}], [{y1}, {y0}]]"


def _write_cache(cache_file: Path, built: VerifierContract) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"abi": list(built.abi), "bytecode": built.bytecode.hex()})
    # Write then rename: a crash never leaves half an entry.
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(payload)
    os.replace(tmp, cache_file)


_TEMPLATE = '''\
# pragma version ~=0.4.3
"""
@title Groth16 verifier for {title}
@license Apache-2.0
@notice Generated by l2gpu.zk.verifier_contract from a verifying key: do not edit.
        verifyProof reverts on malformed input (a public input not below r, a
        coordinate not below p, a point the precompiles reject) and returns False
        for a well-formed proof that does not prove the public inputs.
@dev    G2 points are in the EVM's order [[x1, x0], [y1, y0]] (EIP-197). Every
        precompile call passes its EIP-1108 gas price explicitly.
"""

P: constant(uint256) = {p}
R: constant(uint256) = {r}
N_PUBLIC: constant(uint256) = {n_public}

EC_ADD: constant(address) = 0x0000000000000000000000000000000000000006
EC_MUL: constant(address) = 0x0000000000000000000000000000000000000007
PAIRING: constant(address) = 0x0000000000000000000000000000000000000008
EC_ADD_GAS: constant(uint256) = 150
EC_MUL_GAS: constant(uint256) = 6000
PAIRING_GAS: constant(uint256) = {pairing_gas}

ALPHA: constant(uint256[2]) = {alpha}
BETA: constant(uint256[2][2]) = {beta}
GAMMA: constant(uint256[2][2]) = {gamma}
DELTA: constant(uint256[2][2]) = {delta}
IC: constant(uint256[2][{n_ic}]) = [
{ic_rows},
]


@internal
@view
def _ec_add(p: uint256[2], q: uint256[2]) -> uint256[2]:
    """
    @notice p + q on G1 by the ecAdd precompile; reverts if it fails.
    """
    ok: bool = False
    out: Bytes[64] = b""
    ok, out = raw_call(
        EC_ADD, abi_encode(p, q), max_outsize=64, gas=EC_ADD_GAS,
        is_static_call=True, revert_on_failure=False,
    )
    assert ok and len(out) == 64, "verifier: ecAdd failed"
    return [extract32(out, 0, output_type=uint256), extract32(out, 32, output_type=uint256)]


@internal
@view
def _ec_mul(p: uint256[2], s: uint256) -> uint256[2]:
    """
    @notice s * p on G1 by the ecMul precompile; reverts if it fails.
    """
    ok: bool = False
    out: Bytes[64] = b""
    ok, out = raw_call(
        EC_MUL, abi_encode(p, s), max_outsize=64, gas=EC_MUL_GAS,
        is_static_call=True, revert_on_failure=False,
    )
    assert ok and len(out) == 64, "verifier: ecMul failed"
    return [extract32(out, 0, output_type=uint256), extract32(out, 32, output_type=uint256)]


@external
@view
def verifyProof(
    a: uint256[2], b: uint256[2][2], c: uint256[2], pub: uint256[N_PUBLIC]
) -> bool:
    """
    @notice Whether (a, b, c) proves the public signals pub.
    @param a The proof's A (G1: x, y).
    @param b The proof's B (G2: [[x1, x0], [y1, y0]], the EVM's order).
    @param c The proof's C (G1: x, y).
    @param pub The circuit's public signals: outputs, then public inputs.
    @return True for a valid proof, False for a well-formed one that is not.
    """
    assert a[0] < P and a[1] < P, "verifier: coordinate of a not below p"
    assert b[0][0] < P and b[0][1] < P, "verifier: coordinate of b not below p"
    assert b[1][0] < P and b[1][1] < P, "verifier: coordinate of b not below p"
    assert c[0] < P and c[1] < P, "verifier: coordinate of c not below p"

    # vk_x = IC[0] + sum(pub[i] * IC[i + 1]): the public inputs' point.
    vk_x: uint256[2] = IC[0]
    for i: uint256 in range(N_PUBLIC):
        assert pub[i] < R, "verifier: public input not below r"
        vk_x = self._ec_add(vk_x, self._ec_mul(IC[i + 1], pub[i]))

    # e(-a, b) * e(alpha, beta) * e(vk_x, gamma) * e(c, delta) == 1; -(x, y) = (x, p - y),
    # and the point at infinity (0, 0) is its own negation.
    neg_a: uint256[2] = [a[0], (P - a[1]) % P]
    ok: bool = False
    out: Bytes[32] = b""
    ok, out = raw_call(
        PAIRING,
        abi_encode(neg_a, b, ALPHA, BETA, vk_x, GAMMA, c, DELTA),
        max_outsize=32, gas=PAIRING_GAS, is_static_call=True, revert_on_failure=False,
    )
    assert ok and len(out) == 32, "verifier: pairing failed"
    return extract32(out, 0, output_type=uint256) == 1
'''
