"""The ``zk`` suite: what a zk rollup batch full of transfers costs, measured.

Every figure comes from the real thing, at the production tree depth (24):

- constraints: read from the ``.r1cs`` header of compiled ``Batch(d, t, w, 24)``
  circuits; a slot kind's figure is the difference between two shapes that differ
  only in that section, divided by the slots added. SHA-256 of the public data is
  part of every batch circuit and grows in 64-byte blocks, so a difference of a few
  slots crosses a whole number of blocks: the suite reports that raw difference, and
  beside it the slot's own constraints plus its bytes' share of a block (the block's
  constraints measured from two compiled ``Sha256`` circuits);
- proving: ``prove`` (witness under Node, groth16py's Groth16, the proof's check) of
  a batch whose transfer slots are all real, EdDSA-signed transfers made by the spec
  (``apply_batch``), the median of several rounds, on this machine's cores;
- L1: the embedded py-evm chain runs the generated verifier and ``ZkRollup.vy``; the
  figures are receipts' gas and the signed transactions' bytes (``Receipt.tx_bytes``).

A 1,000-transfer batch is not compiled or proven here: at about 35,000 constraints
per transfer it would be some 35 million constraints, beyond what circom's
WebAssembly compiler and a 2-core machine's memory can set up and prove. The suite
measures two small shapes and projects them to 1,000 transfers, in figures named
``..._projected``: the straight line through their gas, or EIP-7623's calldata floor
projected through their calldata tokens, whichever is more (what Prague charges).
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes

from l2gpu.bench import environment
from l2gpu.bench.zk_parallel import parallel_figures, timed_waves
from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.zk.batch import BatchResult, apply_batch
from l2gpu.core.zk.pubdata import (
    CLOSE_BYTES,
    DEPOSIT_BYTES,
    FORCED_EXIT_BYTES,
    MAX_MANTISSA,
    OPEN_BYTES,
    TRANSFER_BYTES,
    WITHDRAWAL_BYTES,
    BatchShape,
)
from l2gpu.core.zk.state import PRODUCTION_DEPTH, Account, ZkState
from l2gpu.core.zk.transfer import TransferTx, sign_transfer
from l2gpu.l1 import Chain, CompiledContract, DeployedContract, Receipt
from l2gpu.l1.contracts.zk_rollup import (
    Groth16Proof,
    ZkRollupClient,
    pubdata_sections,
    pubdata_timestamp,
)
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.zk.batch_circuit import batch_name, batch_source
from l2gpu.zk.prover import Proof, default_provers, prove, usable_cores
from l2gpu.zk.r1cs import read_header
from l2gpu.zk.setup import Keys, dev_setup
from l2gpu.zk.toolchain import CompiledCircuit, compile_circuit
from l2gpu.zk.verifier_contract import compile_verifier

DEPTH = PRODUCTION_DEPTH
SMALL = BatchShape(deposits=1, transfers=2, withdrawals=1)
LARGE = BatchShape(deposits=1, transfers=10, withdrawals=1)
"""The two proven shapes: they differ only in their transfer slots, by 8. The ABI pads
the transfer section to 32-byte words; 8 transfers are 96 bytes, exactly three words,
so the padding does not bias the bytes per transfer measured between the shapes."""
MORE_DEPOSITS = BatchShape(deposits=2, transfers=2, withdrawals=1)
MORE_WITHDRAWALS = BatchShape(deposits=1, transfers=2, withdrawals=2)
MORE_OPENS = BatchShape(deposits=1, transfers=2, withdrawals=1, opens=2)
MORE_CLOSES = BatchShape(deposits=1, transfers=2, withdrawals=1, closes=2)
MORE_FORCED_EXITS = BatchShape(deposits=1, transfers=2, withdrawals=1, forced_exits=2)
"""Compiled (not proven) for the marginal constraints of a deposit, a withdrawal, a
lease's channel OPEN and CLOSE, and an L1-queued forced exit."""
ROUNDS = 3
ACCOUNTS = 8
PROJECTED_TRANSFERS = 1_000
PROVE_TARGET_SECONDS = 0.5
VERIFY_GAS_TARGET = 300_000
"""The issue's targets, printed beside the figures (a transfer's 12-byte slot is the
bytes target: ``pubdata.TRANSFER_BYTES``)."""
VERIFY_GAS_LIMIT = 1_000_000
SUBMIT_GAS_LIMIT = 10_000_000
"""Fixed gas limits: an estimate would run the pairing check once more in py-evm."""
TX_GAS = 21_000
"""The intrinsic gas of every transaction."""
GAS_PER_TOKEN = 4
"""Calldata's standard price: 4 gas per token (EIP-2028's 16 per non-zero byte)."""
FLOOR_GAS_PER_TOKEN = 10
"""EIP-7623 (Prague): a transaction pays at least 21,000 + 10 per calldata token."""
SHA_BLOCK_BITS = 512
SHA_PADDING_BITS = 65  # the 1 bit and the 64-bit length that SHA-256 appends


# -- constraints --------------------------------------------------------------------


def compile_batch(shape: BatchShape, depth: int) -> CompiledCircuit:
    """``Batch(shape, depth)``, compiled once and cached by content hash (the source and
    name of ``zk.batch_circuit``, which the tests and a node share)."""
    return compile_circuit(batch_source(shape, depth), batch_name(shape, depth))


def constraints(circuit: CompiledCircuit) -> int:
    """The circuit's constraints, from its ``.r1cs`` header."""
    return read_header(circuit.r1cs).constraints


def sha256_blocks(shape: BatchShape) -> int:
    """How many 64-byte blocks SHA-256 hashes for the shape's public data."""
    return -(-(8 * shape.size + SHA_PADDING_BITS) // SHA_BLOCK_BITS)


def sha256_constraints_per_block() -> int:
    """The constraints of one more SHA-256 block: ``Sha256(1024)`` less ``Sha256(512)``
    (circomlib's, compiled as the batch compiles it)."""
    counts = []
    for bits in (SHA_BLOCK_BITS, 2 * SHA_BLOCK_BITS):
        source = (
            'pragma circom 2.0.0;\ninclude "circomlib/circuits/sha256/sha256.circom";\n'
            f"component main = Sha256({bits});\n"
        )
        counts.append(constraints(compile_circuit(source, f"sha256_{bits}")))
    return counts[1] - counts[0]


@dataclass(frozen=True, slots=True)
class SlotCost:
    """One more slot of a kind, from two compiled shapes that differ in that section."""

    between_shapes: float
    """The raw difference per slot, with whatever SHA-256 blocks it crossed."""
    amortized: float
    """The slot's own constraints plus its bytes' share of a SHA-256 block."""


def slot_cost(
    base: tuple[BatchShape, int], more: tuple[BatchShape, int], slot_bytes: int, block: int
) -> SlotCost:
    """The constraints of one slot between ``base`` and ``more`` (shape, constraints)."""
    (low_shape, low), (high_shape, high) = base, more
    slots = (high_shape.size - low_shape.size) // slot_bytes
    crossed = sha256_blocks(high_shape) - sha256_blocks(low_shape)
    own = (high - low - crossed * block) / slots
    return SlotCost((high - low) / slots, own + slot_bytes * block / (SHA_BLOCK_BITS // 8))


# -- a batch full of transfers --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FullBatch:
    """A batch whose transfer slots all hold signed transfers, and the state before it."""

    shape: BatchShape
    genesis: ZkState
    fee_account: int
    result: BatchResult


def full_of_transfers(shape: BatchShape, depth: int, seed: int = 16) -> FullBatch:
    """``ACCOUNTS`` accounts at random leaves of the tree's account half paying each
    other ``shape.transfers`` times (random float40 amounts and fee codes), applied by
    the spec."""
    rng = random.Random(seed)
    keys = [rng.randbytes(32) for _ in range(ACCOUNTS)]
    indices = rng.sample(range(1, 2 ** (depth - 1)), ACCOUNTS + 1)
    fee_account, senders = indices[-1], indices[:-1]
    state = ZkState.empty(depth)
    for index, key in zip(indices, [*keys, rng.randbytes(32)], strict=True):
        point = eddsa.public_key(key)
        state = state.with_account(
            index, Account(point.x, point.y, 10**26, 0, rng.getrandbits(160))
        )
    nonces = [0] * ACCOUNTS
    transfers, signatures = [], []
    for t in range(shape.transfers):
        sender = t % ACCOUNTS
        amount = rng.randrange(1, MAX_MANTISSA) * 10 ** rng.randrange(0, 8)
        tx = TransferTx(senders[sender], rng.choice(indices), amount, rng.randrange(1, 256),
                        nonces[sender])  # fmt: skip
        nonces[sender] += 1
        transfers.append(tx)
        signatures.append(sign_transfer(keys[sender], tx))
    result = apply_batch(state, shape, fee_account, [], transfers, [], signatures)
    return FullBatch(shape, state, fee_account, result)


@dataclass(frozen=True, slots=True)
class ProveTimes:
    """Median seconds of ``prove`` and of its parts over the rounds."""

    total: float
    witness: float
    groth16: float
    runs: tuple[float, ...]
    groth16_cores: float
    """CPU seconds over wall seconds of the Groth16 part: how many cores it kept busy."""


def timed_proofs(
    circuit: CompiledCircuit, keys: Keys, batch: FullBatch, rounds: int
) -> tuple[Proof, ProveTimes]:
    """Prove ``batch`` ``rounds`` times; the last proof and the medians."""
    parts: list[dict[str, float]] = []
    proof = None
    for _ in range(rounds):
        timings: dict[str, float] = {}
        proof = prove(circuit, batch.result.circuit_input, keys=keys, timings=timings)
        parts.append(timings)
    assert proof is not None
    totals = tuple(p["witness"] + p["groth16"] + p["check"] for p in parts)
    return proof, ProveTimes(
        statistics.median(totals),
        statistics.median(p["witness"] for p in parts),
        statistics.median(p["groth16"] for p in parts),
        totals,
        statistics.median(p["groth16_cpu"] / p["groth16"] for p in parts),
    )


# -- L1 -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class L1Cost:
    """What one proven batch cost on L1."""

    submit_gas: int
    submit_bytes: int
    """The signed transaction's bytes: its signature's r and s each lose a byte in RLP
    when they start with a zero byte (1 in 256), so two batches differ by up to 2 more."""
    submit_calldata_bytes: int
    """The calldata alone: fixed by the batch's shape."""
    submit_tokens: int
    """EIP-7623's calldata tokens of the submit transaction (zero bytes + 4 x others)."""
    proof_tokens: int
    """The tokens of the proof's 256 bytes among them: a Groth16 proof is randomized,
    so this part changes from one proof of the same batch to the next."""
    verify_gas: int
    """The verifier alone: its transaction's gas less 21,000 and the calldata's."""


def calldata_tokens(data: bytes) -> int:
    """EIP-7623's tokens of calldata: 1 per zero byte, 4 per other byte."""
    return sum(4 if byte else 1 for byte in data)


def calldata_gas(data: bytes) -> int:
    """The intrinsic gas of calldata: 4 per token (4 per zero byte, 16 per other)."""
    return GAS_PER_TOKEN * calldata_tokens(data)


def post_batch(
    chain: Chain, circuit: CompiledCircuit, keys: Keys, batch: FullBatch, proof: Proof
) -> L1Cost:
    """Deploy the circuit's verifier and a ZkRollup at the batch's genesis root, send
    one ``verifyProof`` and then ``submit_batch``; their receipts' figures."""
    shape, depth = batch.shape, batch.genesis.depth
    owner = chain.accounts[0]
    built = compile_verifier(keys.verifying_key, title=circuit.name)
    verifier: DeployedContract = chain.deploy(
        CompiledContract("Verifier", built.abi, built.bytecode, "generated"), sender=owner
    )
    assert verifier.call("verifyProof", *proof.calldata()) is True
    check = verifier.transact("verifyProof", *proof.calldata(), sender=owner, gas=VERIFY_GAS_LIMIT)
    sent = _calldata(chain, check)
    rollup = ZkRollupClient.deploy(
        chain, owner, genesis_root=batch.genesis.root(), verifier=verifier,
        circuit_hash=bytes.fromhex(circuit.key), shape=shape, depth=depth,
    )  # fmt: skip
    data = batch.result.pubdata
    receipt = rollup.submit_batch(
        new_root=batch.result.new_state.root(), fee_account=batch.fee_account,
        timestamp=pubdata_timestamp(data), deposit_count=0,
        sections=pubdata_sections(shape, data),
        proof=Groth16Proof(proof.a, proof.evm_b(), proof.c), sender=owner, gas=SUBMIT_GAS_LIMIT,
    )  # fmt: skip
    receipt.event("BatchAccepted")  # raises unless the batch was accepted
    assert rollup.state_root() == batch.result.new_state.root()
    calldata = _calldata(chain, receipt)
    return L1Cost(
        receipt.gas_used,
        receipt.tx_bytes,
        len(calldata),
        calldata_tokens(calldata),
        calldata_tokens(proof.to_bytes()),
        check.gas_used - TX_GAS - calldata_gas(sent),
    )


def _calldata(chain: Chain, receipt: Receipt) -> bytes:
    """The calldata of the mined transaction of ``receipt``, as the chain holds it."""
    return bytes(chain.w3.eth.get_transaction(HexBytes(receipt.tx_hash))["input"])


# -- the suite ----------------------------------------------------------------------


def line_at(points: tuple[tuple[int, int], tuple[int, int]], x: int) -> float:
    """The straight line through two ``(x, y)`` points, evaluated at ``x``."""
    (x0, y0), (x1, y1) = points
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def constraint_figures(depth: int, small: BatchShape, large: BatchShape,
                       slot_kinds: bool) -> dict[str, Any]:  # fmt: skip
    """Constraints per batch shape and per slot kind, from compiled circuits."""
    block = sha256_constraints_per_block()
    counted = {shape: constraints(compile_batch(shape, depth)) for shape in (small, large)}
    kinds = [("transfer", large, TRANSFER_BYTES)]
    if slot_kinds:
        for more in (MORE_DEPOSITS, MORE_WITHDRAWALS, MORE_OPENS, MORE_CLOSES,
                     MORE_FORCED_EXITS):  # fmt: skip
            counted[more] = constraints(compile_batch(more, depth))
        kinds += [("deposit", MORE_DEPOSITS, DEPOSIT_BYTES),
                  ("withdrawal", MORE_WITHDRAWALS, WITHDRAWAL_BYTES),
                  ("open", MORE_OPENS, OPEN_BYTES),
                  ("close", MORE_CLOSES, CLOSE_BYTES),
                  ("forced_exit", MORE_FORCED_EXITS, FORCED_EXIT_BYTES)]  # fmt: skip
    figures: dict[str, Any] = {
        f"constraints_batch_{_name(shape)}": count for shape, count in counted.items()
    }
    figures["sha256_constraints_per_block"] = block
    for kind, more, slot_bytes in kinds:
        cost = slot_cost((small, counted[small]), (more, counted[more]), slot_bytes, block)
        figures[f"constraints_per_{kind}"] = round(cost.amortized)
        figures[f"constraints_per_{kind}_between_shapes"] = cost.between_shapes
    if slot_kinds:  # a lease's channel costs the ledger its OPEN and its CLOSE
        figures["constraints_per_lease"] = (
            figures["constraints_per_open"] + figures["constraints_per_close"]
        )
    return figures


def run(
    depth: int = DEPTH,
    small: BatchShape = SMALL,
    large: BatchShape = LARGE,
    rounds: int = ROUNDS,
    slot_kinds: bool = True,
    provers: int | None = None,
) -> dict[str, Any]:
    """Measure the suite's figures (``l2gpu bench zk``): the production depth and shapes
    by default; the tests pass a small depth and shapes. ``provers`` large batches are
    also proven at once, as a node started with ``--provers`` does (default: the
    node's default, one per core)."""
    figures = constraint_figures(depth, small, large, slot_kinds)
    chain = start_embedded_chain()
    l1: dict[BatchShape, L1Cost] = {}
    times: dict[BatchShape, ProveTimes] = {}
    data: dict[BatchShape, bytes] = {}
    for shape in (small, large):
        circuit = compile_batch(shape, depth)
        keys = dev_setup(circuit)
        batch = full_of_transfers(shape, depth)
        data[shape] = batch.result.pubdata
        proof, times[shape] = timed_proofs(circuit, keys, batch, rounds)
        l1[shape] = post_batch(chain, circuit, keys, batch, proof)
        if shape == large:
            others = [full_of_transfers(shape, depth, seed=16 + i).result.circuit_input
                      for i in range(provers or default_provers())]  # fmt: skip
            wave = timed_waves(circuit, keys, others, rounds)
    big, few = large.transfers, small.transfers
    timing = times[large]
    large_constraints = figures[f"constraints_batch_{_name(large)}"]
    # The lines go through the two batches less their proof's calldata: its zero
    # bytes vary from proof to proof, and the slope over 8 transfers would carry that
    # noise 998 times. The large batch's proof is added back once.
    proof_tokens = l1[large].proof_tokens
    (small_gas, small_tokens), (large_gas, large_tokens) = map(
        _without_proof, (l1[small], l1[large])
    )
    gas_points = ((few, small_gas), (big, large_gas))
    token_points = ((few, small_tokens), (big, large_tokens))
    # The line through two small batches, whose gas is mostly execution (the pairing
    # check), misses EIP-7623's floor, which a batch of 1,000 transfers' 12,000 bytes
    # may reach: project the calldata's tokens too and pay whichever is more.
    line_gas = line_at(gas_points, PROJECTED_TRANSFERS) + GAS_PER_TOKEN * proof_tokens
    floor_tokens = line_at(token_points, PROJECTED_TRANSFERS) + proof_tokens
    floor_gas = TX_GAS + FLOOR_GAS_PER_TOKEN * floor_tokens
    figures |= {
        "suite": "zk",
        "depth": depth,
        "proven_shapes": [_name(small), _name(large)],
        "prove_shape": _name(large),
        "prove_rounds": rounds,
        "prove_seconds_batch": round(timing.total, 3),
        "prove_seconds_batch_runs": [round(t, 3) for t in timing.runs],
        "prove_seconds_witness": round(timing.witness, 3),
        "prove_seconds_groth16": round(timing.groth16, 3),
        "prove_seconds_per_transfer": round(timing.total / big, 3),
        "prove_seconds_batch_small": round(times[small].total, 3),
        "prove_seconds_per_transfer_marginal": round(
            (timing.total - times[small].total) / (big - few), 3
        ),
        "prove_seconds_per_transfer_target": PROVE_TARGET_SECONDS,
        # The prover's measured rate, and what a transfer's own constraints cost at it:
        # the per-transfer time a batch approaches as it grows and its fixed slots are
        # shared by more transfers. Below the target only with a faster prover (more
        # cores, a GPU) or fewer constraints per transfer, not with larger batches.
        "prove_us_per_constraint": round(1e6 * timing.total / large_constraints, 2),
        "prove_seconds_per_transfer_at_scale": round(
            figures["constraints_per_transfer"] * timing.total / large_constraints, 3
        ),
        "l1_bytes_batch": {_name(s): c.submit_bytes for s, c in l1.items()},
        "l1_calldata_bytes_batch": {_name(s): c.submit_calldata_bytes for s, c in l1.items()},
        "l1_bytes_per_transfer": round(
            (l1[large].submit_bytes - l1[small].submit_bytes) / (big - few), 2
        ),
        "l1_bytes_per_transfer_absolute": round(l1[large].submit_bytes / big, 2),
        "l1_bytes_per_transfer_target": TRANSFER_BYTES,
        "pubdata_bytes_per_transfer": (len(data[large]) - len(data[small])) / (big - few),
        "verify_gas_per_batch": l1[large].verify_gas,
        "verify_gas_per_batch_target": VERIFY_GAS_TARGET,
        "submit_batch_gas": {_name(s): c.submit_gas for s, c in l1.items()},
        "l1_gas_per_transfer": {
            _name(s): round(c.submit_gas / s.transfers, 1) for s, c in l1.items()
        },
        "l1_gas_per_transfer_marginal": round(
            (l1[large].submit_gas - l1[small].submit_gas) / (big - few), 1
        ),
        "l1_gas_per_transfer_1000_projected": round(
            max(line_gas, floor_gas) / PROJECTED_TRANSFERS, 1
        ),
        "l1_gas_per_transfer_1000_projected_line": round(line_gas / PROJECTED_TRANSFERS, 1),
        "l1_gas_per_transfer_1000_projected_floor": round(floor_gas / PROJECTED_TRANSFERS, 1),
        **parallel_figures(
            wave, timing.total, large, large_constraints, figures["constraints_per_transfer"]
        ),
        "cores": usable_cores(),  # groth16py proves on one: prove_groth16_cores_used
        "prove_groth16_cores_used": round(timing.groth16_cores, 2),
        **environment(),
    }
    return figures


def _without_proof(cost: L1Cost) -> tuple[int, int]:
    """The submit transaction's gas and calldata tokens less its proof's calldata."""
    proof_gas = GAS_PER_TOKEN * cost.proof_tokens
    return cost.submit_gas - proof_gas, cost.submit_tokens - cost.proof_tokens


def _name(shape: BatchShape) -> str:
    return "_".join(str(n) for n in shape.sections)
