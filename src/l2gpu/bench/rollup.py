"""The ``rollup`` suite: L1 bytes and gas per transfer and per lease, sequencer throughput.

Byte figures count every byte the batch puts on L1 (header, deposits root,
commitment headers, aggregate signatures, post-state roots), divided by the
transactions in it. Batches go to L1 uncompressed, so that a fraud proof can read
any commitment straight from calldata; the brotli and zstd sizes are reported to
show what compression would save.
"""

from __future__ import annotations

import random
import time
from typing import Any

import brotli
import zstandard

from l2gpu.bench import environment
from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.l2.codec import MAX_COMMITMENT_TXS, Batch
from l2gpu.core.l2.envelope import Envelope, seal
from l2gpu.core.l2.state import L2State
from l2gpu.core.l2.transactions import CooperativeClose, Deposit, OpenChannel, Transfer, UserTx
from l2gpu.core.types import Address, ChainId, Seconds, Timestamp, Wei
from l2gpu.l1.contracts.rollup import RollupClient
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.cosigners import LocalCoSigner
from l2gpu.node.sequencer import Sequencer

BLOB_GAS_PER_BLOB = 131_072
BLOB_BYTES = 126_976  # 4096 field elements x 31 usable bytes
T0 = 1_800_000_000


_ROLLUP = Address(b"\x11" * 20)


class _World:
    def __init__(self, accounts: int) -> None:
        self.state = L2State(ChainId(1), _ROLLUP)
        self.keys = [PrivateKey((i + 1000).to_bytes(32, "big")) for i in range(accounts)]
        self.bls = [BlsSecretKey.from_seed(k.secret) for k in self.keys]
        self.cosigners = {i: LocalCoSigner(i, b) for i, b in enumerate(self.bls)}
        self.sequencer = Sequencer(self.state, fee_recipient=0, cosigners=self.cosigners,
                                   clock=lambda: Timestamp(T0))  # fmt: skip
        for i, (key, bls) in enumerate(zip(self.keys, self.bls, strict=True)):
            self.sequencer.deposit(Deposit(i, key.address, Wei(10**24), bls.public_key,
                                           bls.prove_possession()))  # fmt: skip
        while self.sequencer.deposit_queue:  # at most MAX_L1_OPS per batch
            self.sequencer.seal()
        self.nonces = [0] * accounts

    def envelope(self, tx: UserTx, *cosigners: int) -> Envelope:
        sender = tx.sender
        envelope = seal(self.keys[sender], self.sequencer.domain, tx, self.nonces[sender])
        self.nonces[sender] += 1
        for index in cosigners or (sender,):
            self.cosigners[index].expect(tx)
        return envelope


def transfer_batch(
    accounts: int = 1_000, transfers: int = 1_000, seed: int = 7
) -> tuple[Batch, float]:
    """Seal ``transfers`` random transfers among ``accounts``; return the batch and the
    sequencer's seconds per transfer (admission + apply + roots + co-signature check),
    without the time the simulated users spend signing."""
    world = _World(accounts)
    rng = random.Random(seed)
    envelopes = [
        world.envelope(Transfer(i % accounts, rng.randrange(accounts),
                                Wei(rng.randrange(1, 500_000) * 10**12), Wei(10**12)))
        for i in range(transfers)
    ]  # fmt: skip
    signing = 0.0
    for cosigner in world.cosigners.values():
        cosign = cosigner.cosign

        def timed(message, commitment, mine, _cosign=cosign):  # type: ignore[no-untyped-def]
            nonlocal signing
            started = time.perf_counter()
            result = _cosign(message, commitment, mine)
            signing += time.perf_counter() - started
            return result

        cosigner.cosign = timed  # type: ignore[method-assign]
    started = time.perf_counter()
    for envelope in envelopes:
        world.sequencer.submit(envelope)
    report = world.sequencer.seal()
    elapsed = time.perf_counter() - started - signing
    assert report.batch is not None
    assert not report.dropped
    return report.batch, elapsed / transfers


def lease_bytes(leases: int = 64) -> float:
    """Batch bytes per lease in hybrid mode, in process: ``leases`` channel opens in one
    batch and their cooperative closes in the next, each batch whole (headers too),
    divided by the leases. The signed L1 transactions a running node posts for the
    same are measured by ``l2gpu bench l1cost``."""
    world = _World(2 * leases)
    for i in range(leases):
        renter, provider = 2 * i, 2 * i + 1
        world.sequencer.submit(world.envelope(
            OpenChannel(renter, provider, Wei(36 * 10**16), Timestamp(T0 + 7200), Seconds(3600))
        ))  # fmt: skip
    opened = world.sequencer.seal().batch
    for i in range(leases):
        renter, provider = 2 * i, 2 * i + 1
        close = CooperativeClose(provider, i, Wei(36 * 10**16))
        world.sequencer.submit(world.envelope(close, renter, provider))
    closed = world.sequencer.seal().batch
    assert opened is not None
    assert closed is not None
    return (len(opened.encode()) + len(closed.encode())) / leases


def post_gas(batch: Batch) -> tuple[int, int]:
    """Execution gas of posting ``batch`` as calldata, and as a blob, on the embedded L1."""
    chain = start_embedded_chain()
    # L1 refuses commitments stamped after its block time: bring the chain to T0.
    chain.time_travel(max(1, T0 - chain.timestamp()))
    client = RollupClient.deploy(chain, chain.accounts[0], genesis_root=bytes(32), allow_blobs=True)
    client.stake(chain.accounts[0], 10**18)
    _, calldata = client.submit(batch, 0, chain.accounts[0])
    _, blob, _ = client.submit_blob(batch, 0, chain.accounts[0])
    return calldata.gas_used, blob.gas_used


def run() -> dict[str, Any]:
    """Measure the suite's figures."""
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    batch, seconds_per_tx = transfer_batch()
    # cores the sequencer kept busy: this process's CPU seconds over wall seconds
    cores_used = (time.process_time() - cpu_before) / (time.perf_counter() - wall_before)
    raw = batch.encode()
    count = sum(len(c.txs) for c in batch.commitments)
    gas, blob_gas_used = post_gas(batch)
    blobs = -(-len(raw) // BLOB_BYTES)
    rounds = [transfer_batch(seed=s)[1] for s in (8, 9)]
    median_seconds = sorted([seconds_per_tx, *rounds])[1]
    return {
        "suite": "rollup",
        "transfers_in_batch": count,
        "l1_bytes_per_transfer": round(len(raw) / count, 3),
        "l1_bytes_per_transfer_brotli": round(len(brotli.compress(raw, quality=11)) / count, 3),
        "l1_bytes_per_transfer_zstd": round(
            len(zstandard.ZstdCompressor(level=19).compress(raw)) / count, 3
        ),
        "batch_post_gas": gas,
        "l1_gas_per_transfer_calldata": round(gas / count, 1),
        "batch_post_gas_blob": blob_gas_used,
        "l1_gas_per_transfer_blob": round(blob_gas_used / count, 1),
        "l1_blob_gas_per_transfer": round(blobs * BLOB_GAS_PER_BLOB / count, 1),
        "batch_bytes_per_lease_in_process": round(lease_bytes(), 2),
        "sequencer_tps": round(1 / median_seconds),
        "sequencer_cores_used": round(cores_used, 2),
        "commitment_size": MAX_COMMITMENT_TXS,
        **environment(),
    }
