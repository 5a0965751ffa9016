"""Fraud proofs on L1: the watcher that replays the rollup from L1, challenges wrong
state roots and defends its own (the dispute game's client is
:mod:`l2gpu.l1.contracts.dispute_game`; the replay that finds a fault is
:mod:`l2gpu.core.l2.proofs.replay`)."""
