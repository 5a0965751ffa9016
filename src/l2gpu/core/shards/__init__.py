"""Rollup shards that share one bridge on L1: routing and the bridge's rules (issue 18)."""
