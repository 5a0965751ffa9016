"""A liquidity provider for moves between shards (``l2gpu bridge lp``): its book, its
watchers of every shard, its HTTP API and its loop (docs/shards.md)."""
