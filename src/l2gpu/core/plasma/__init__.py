"""Plasma Cash with coin ranges: the child chain's pure specification (issue 17)."""
