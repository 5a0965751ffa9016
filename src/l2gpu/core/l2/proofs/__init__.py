"""Fraud-proof building blocks: what a verifier needs to re-execute a commitment
from L1 data and Merkle witnesses alone, without the full L2 state.

This is the Python side of the future on-chain verifier (issue #5). It covers
transfer commitments so far.
"""
