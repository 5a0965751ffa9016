"""The zk rollup's node: a sequencer over ``core/l2``'s ledger under the zk scheme,
its write-ahead log, a prover thread that proves sealed batches in order and posts
them to ZkRollup, and its API."""
