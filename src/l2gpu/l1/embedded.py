"""The embedded L1: a py-evm chain in this process, through eth-tester.

Every transaction is mined at once into its own block. Ten accounts are funded
at genesis (:func:`l2gpu.l1.keys.embedded_dev_accounts`). Time travel, mining and
snapshots act directly on eth-tester, so tests never sleep through a window.
"""

from __future__ import annotations

from typing import Any

from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3

from l2gpu.l1.chain import Chain, add_revert_error
from l2gpu.l1.gas_estimate import estimate_gas
from l2gpu.l1.keys import embedded_dev_accounts

add_revert_error(TransactionFailed)  # what py-evm's reverts raise through eth-tester

# Room for big batches and fraud proofs in later stages; mainnet's limit is 36M.
EMBEDDED_BLOCK_GAS_LIMIT = 60_000_000


class EmbeddedDevControls:
    """Dev controls over an in-process eth-tester chain."""

    def __init__(self, tester: EthereumTester) -> None:
        self.tester = tester

    def increase_time(self, seconds: int) -> None:
        """Move the clock forward by ``seconds`` and mine a block at the new time."""
        latest = self.tester.get_block_by_number("latest")["timestamp"]
        # eth-tester's time_travel sets the *pending* block's time; mining it makes
        # the new time the latest block's, as evm_increaseTime + evm_mine do on anvil.
        self.tester.time_travel(int(latest) + max(int(seconds), 1))
        self.tester.mine_blocks(1)

    def mine(self, blocks: int) -> None:
        """Mine ``blocks`` empty blocks."""
        self.tester.mine_blocks(blocks)

    def set_next_block_timestamp(self, timestamp: int) -> None:
        """The pending block (where the next transaction lands) gets ``timestamp``."""
        self.tester.time_travel(int(timestamp))

    def snapshot(self) -> Any:
        """Save the chain state."""
        return self.tester.take_snapshot()

    def revert(self, snapshot_id: Any) -> None:
        """Return to a saved state."""
        self.tester.revert_to_snapshot(snapshot_id)


def start_embedded_chain() -> Chain:
    """Start a fresh in-process chain with the funded dev accounts."""
    genesis = PyEVMBackend.generate_genesis_params(
        overrides={"gas_limit": EMBEDDED_BLOCK_GAS_LIMIT}
    )
    backend = PyEVMBackend(genesis_parameters=genesis)
    # eth-tester defines a chain class per backend, so this estimator is this chain's
    # only; the class keeps it for the chain objects that reverting a snapshot makes
    type(backend.chain).gas_estimator = staticmethod(estimate_gas)
    backend.chain.gas_estimator = estimate_gas
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    return Chain(
        w3,
        embedded_dev_accounts(),
        EmbeddedDevControls(tester),
        description="embedded py-evm chain (in process)",
    )
