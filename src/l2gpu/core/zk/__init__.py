"""The zk ledger's executable spec: the Poseidon state tree and its operations, which
the circuits in ``circuits/`` are tested against (docs/zk.md)."""
