"""The zk-rollup mode's shell: the circom toolchain (compile circuits, compute witnesses),
Groth16 keys and proofs (groth16py), and the Vyper verifier generated from a key.

The arithmetic itself (Poseidon, BabyJubJub, EdDSA) is pure and lives in
:mod:`l2gpu.core.crypto`; this package runs the external tools that check it.
"""
