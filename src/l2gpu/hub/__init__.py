"""The hub: carries leases between rollup shards (``l2gpu hub``; see docs/shards.md)."""
