"""Python faces of the Vyper contracts that more than one shell uses: deployment and
ABI encoding, below the shells (node, fraud, payments) that drive the contracts."""
