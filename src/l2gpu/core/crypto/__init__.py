"""Hashing and signatures used across the core: Keccak-256, secp256k1 and EIP-712."""
