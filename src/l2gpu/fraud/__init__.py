"""Fraud proofs on L1: encoding witnesses for the verifier contracts, the dispute
game's client, and the watcher that challenges wrong state roots."""
