"""The zk rollup's node: a sequencer over ``core/zk``, its write-ahead log, a prover
thread that proves sealed batches in order and posts them to ZkRollup, and its API."""
