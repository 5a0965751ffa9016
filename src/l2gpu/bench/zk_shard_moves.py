"""``l2gpu bench shards``' moves between two **zk** shards, in process on the embedded L1:
two ZkRollups over one verifier share the bridge, each served by a real zk node
(its log, sequencer and prover: ``node/zk``) proving ``Batch(1, 2, 1, 1, 1, 1, 8)``
with development keys, as ``l2gpu up --design zk --shards 2`` runs them.

- the slow path: the owner's withdrawal sealed and signed as a move; the source
  batch proven and accepted (a zk exit is final then: no window); the move relayed;
  the target's next batch proven and accepted (``zk_move_slow_s``, the two proofs
  included: ``zk_move_slow_prove_s``);
- the fast path: the same, fronted by a liquidity provider as soon as the source
  batch is sealed; the recipient's credit is in the target's next sealed batch
  (``zk_move_fast_s``) and final once that batch's proof is on L1
  (``zk_move_fast_final_s``); the provider is repaid when the source batch's proof
  is on L1 (``zk_move_fast_repay_gas``, the held exit's relay).

Gas and signed L1 bytes are the receipts' own.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from l2gpu.core.errors import L2gpuError

ETH = 10**18
DEPTH = 8  # with the shape below, `l2gpu up --design zk`'s default circuit


def measure_zk_moves() -> dict[str, Any]:
    """One move between two zk shards each way (see the module's docstring)."""
    from l2gpu.config import Settings
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.core.shards.bridge import Move, sign_move
    from l2gpu.core.zk.pubdata import BatchShape, decode_withdrawals
    from l2gpu.core.zk.state import ZkState
    from l2gpu.core.zk.withdrawal import WithdrawalTx, sign_withdrawal
    from l2gpu.db import open_database
    from l2gpu.l1 import open_chain
    from l2gpu.l1.build import CompiledContract
    from l2gpu.l1.contracts.bridge import deploy_zk_shards
    from l2gpu.node.zk.l2key import zk_private_key, zk_public_key
    from l2gpu.node.zk.records import SignedTx
    from l2gpu.node.zk.recovery import open_node
    from l2gpu.zk.batch_circuit import compile_batch
    from l2gpu.zk.setup import dev_setup
    from l2gpu.zk.verifier_contract import compile_verifier

    shape = BatchShape(deposits=1, transfers=2, withdrawals=1)  # an open, close, reclaim
    circuit = compile_batch(shape, DEPTH)
    keys = dev_setup(circuit)
    chain = open_chain(Settings())
    operator, alice, bob, lp, relayer = chain.accounts[:5]
    built = compile_verifier(keys.verifying_key, title=circuit.name)
    verifier = chain.deploy(CompiledContract("BatchVerifier", built.abi, built.bytecode,
                                             "generated"), sender=operator)  # fmt: skip
    shards = deploy_zk_shards(chain, operator, 2, genesis_root=ZkState.empty(DEPTH).root(),
                              verifier=verifier, circuit_hash=bytes.fromhex(circuit.key),
                              shape=shape, depth=DEPTH, force_delay=3600)  # fmt: skip
    bridge, rollups = shards.bridge, shards.shards

    def zk_key(account: Any, shard: int) -> bytes:
        return zk_private_key(account, chain.chain_id, rollups[shard].address)

    for shard, user in ((0, alice), (1, bob)):
        for account in (operator, user):  # the operator's fee account first
            rollups[shard].deposit(account, zk_public_key(zk_key(account, shard)), ETH)
    folder = tempfile.TemporaryDirectory(prefix="l2gpu-bench-zk-shards-")
    nodes = [
        open_node(
            rollups[i],
            open_database(f"sqlite:///{Path(folder.name) / f'{i}.db'}"),
            operator,
            circuit,
            keys,
            fee_account=1,
        )
        for i in range(2)
    ]
    try:
        for node in nodes:
            while node.seal() is not None:  # the two deposits, one slot per batch
                pass
            node.prove_and_post()

        def burn(amount: int, fee: int) -> tuple[Move, bytes]:
            """alice withdraws on shard 0; the node seals it; she signs the move."""
            pending = nodes[0].sequencer.pending_state
            account = pending.account(2) if pending is not None else None
            if account is None:
                raise L2gpuError("alice has no account on shard 0; the figures are void")
            nonce = account.nonce
            tx = WithdrawalTx(2, amount, nonce)
            nodes[0].submit(SignedTx(tx, sign_withdrawal(zk_key(alice, 0), tx)))
            batch = nodes[0].seal()
            assert batch is not None
            data = bytes.fromhex(nodes[0].batch_data(batch)["data"][2:])  # type: ignore[index]
            slot = next(i for i, s in enumerate(decode_withdrawals(shape, data)) if s)
            move = Move(0, batch * shape.withdrawals + slot,
                        PrivateKey(bytes(alice.key)).address, amount, 1,
                        PrivateKey(bytes(bob.key)).address, fee)  # fmt: skip
            return move, sign_move(PrivateKey(bytes(alice.key)), bridge.domain, move)

        # The slow path.
        move, signature = burn(ETH // 10, 0)
        started = time.perf_counter()
        nodes[0].prove_and_post()
        proving = nodes[0].last_proof_seconds or 0.0
        relayed = bridge.relay_proven(relayer, move, signature, shape.withdrawals)
        nodes[1].seal()
        nodes[1].prove_and_post()
        slow_s = time.perf_counter() - started
        proving += nodes[1].last_proof_seconds or 0.0
        # The fast path.
        fee = ETH // 10_000
        move, signature = burn(ETH // 10, fee)
        started = time.perf_counter()
        fronted = bridge.front(lp, move, signature)
        nodes[1].seal()
        fast_s = time.perf_counter() - started
        nodes[1].prove_and_post()
        fast_final_s = time.perf_counter() - started
        nodes[0].prove_and_post()
        repaid = bridge.relay_proven(relayer, move, signature, shape.withdrawals)
        bob_there = nodes[1].sequencer.state.account(2)
        if bob_there is None or bob_there.balance != ETH + 2 * (ETH // 10) - fee:
            raise L2gpuError("a move between zk shards did not arrive whole; the figures are void")
        deposit = bridge.deposit_zk(relayer, zk_public_key(zk_key(relayer, 0)), ETH // 10)
    finally:
        for node in nodes:
            node.stop()
        folder.cleanup()
    return {
        "zk_move_slow_s": round(slow_s, 3),
        "zk_move_slow_prove_s": round(proving, 3),
        "zk_move_slow_gas": relayed.gas_used,
        "zk_move_slow_l1_bytes": relayed.tx_bytes,
        "zk_move_fast_s": round(fast_s, 3),
        "zk_move_fast_final_s": round(fast_final_s, 3),
        "zk_move_fast_gas": fronted.gas_used,
        "zk_move_fast_l1_bytes": fronted.tx_bytes,
        "zk_move_fast_repay_gas": repaid.gas_used,
        "zk_bridge_deposit_gas": deposit.gas_used,
        "zk_shards_circuit": circuit.name,
    }
