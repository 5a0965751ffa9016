"""The zk rollup's node: a sequencer over ``core/l2``'s ledger under the zk scheme,
its write-ahead log, a prover thread that proves sealed batches (several at once with
``provers``) and posts them to ZkRollup in order, and its API."""
