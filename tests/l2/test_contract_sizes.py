"""Every contract of the rollup deploys on a real L1: each runtime code within EIP-170."""

from __future__ import annotations

import pytest

from l2gpu.core.types import Address
from l2gpu.l1 import Chain
from l2gpu.l1.chain import checksum
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.node.rollup_client import RollupClient

# EIP-170: a contract's runtime code may hold at most 24,576 bytes. The embedded
# chain might not enforce it the way a production node does, so it is checked here.
MAX_CODE_SIZE = 24_576


@pytest.fixture(scope="module")
def code_sizes() -> dict[str, int]:
    chain: Chain = start_embedded_chain()
    client = RollupClient.deploy(chain, chain.accounts[0], genesis_root=bytes(32))
    game = client.game
    addresses = {
        "Rollup": client.address,
        "DisputeGame": game.address,
        "BlsVerifier": client.contract.call("BLS"),
        "StepVerifier": game.call("STEP"),
        "SignatureVerifier": game.call("SIGNATURE"),
    }

    def size(address: Address) -> int:
        return len(chain.w3.eth.get_code(checksum(address)))

    return {name: size(address) for name, address in addresses.items()}


@pytest.mark.parametrize(
    "name", ["Rollup", "DisputeGame", "BlsVerifier", "StepVerifier", "SignatureVerifier"]
)
def test_the_runtime_code_fits_eip_170(code_sizes: dict[str, int], name: str) -> None:
    assert 0 < code_sizes[name] <= MAX_CODE_SIZE, code_sizes
