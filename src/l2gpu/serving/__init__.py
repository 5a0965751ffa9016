"""HTTP pieces shared by every l2gpu server (market API, rollup node): request guards."""
