"""``l2gpu bench shards``'s moves between two zk shards (``zk_shard_moves``), with real
proofs. The module proves with the tests' batch circuit, so it runs in the worker that
has its proving key loaded already (``SHARED_PROVING_KEYS`` in ``tests/conftest.py``)."""

from __future__ import annotations

from l2gpu.bench import zk_shard_moves


def test_a_move_between_zk_shards_is_measured_on_both_paths() -> None:
    """Two zk nodes prove the batches (Batch(1, 2, 1, 1, 1, 1, 8), cached by hash); the
    function raises if the money does not arrive whole."""
    moves = zk_shard_moves.measure_zk_moves()
    # the slow path waits for two proofs (the source's, then the target's)
    assert moves["zk_move_slow_s"] >= moves["zk_move_slow_prove_s"] > 0
    # fronted: in the target's next sealed batch at once, final after its proof
    assert moves["zk_move_fast_final_s"] > moves["zk_move_fast_s"] > 0
    # no Merkle proof goes to L1: a relay is a few hundred bytes
    assert 515 <= moves["zk_move_fast_l1_bytes"] < moves["zk_move_slow_l1_bytes"] < 1_000
    assert moves["zk_move_slow_gas"] > moves["zk_move_fast_repay_gas"] > 21_000
    assert moves["zk_bridge_deposit_gas"] > 21_000
