"""Any Ethereum JSON-RPC endpoint as the L1 (geth, anvil, a testnet, mainnet).

Dev controls use the methods that anvil and hardhat share (``evm_increaseTime``,
``evm_mine``, ``evm_snapshot``, ``evm_revert``); a production node answers
"method not found", which becomes :class:`NotADevChain` with a clear message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3RPCError

from l2gpu.config import check_rpc_url
from l2gpu.l1.chain import Chain
from l2gpu.l1.errors import L1Unreachable, NotADevChain


class JsonRpcDevControls:
    """Dev controls over JSON-RPC, as anvil and hardhat implement them."""

    def __init__(self, w3: Web3, url: str) -> None:
        self.w3 = w3
        self.url = url

    def _request(self, method: str, params: list[Any]) -> Any:
        try:
            response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        except Web3RPCError as exc:
            raise self._not_dev(method, str(exc)) from exc
        if "error" in response:
            raise self._not_dev(method, str(response["error"]))
        return response.get("result")

    def _not_dev(self, method: str, detail: str) -> NotADevChain:
        return NotADevChain(
            f"the L1 at {self.url} refused {method} ({detail})",
            "time travel, mining and snapshots need a dev chain: anvil, hardhat, or the "
            "embedded chain (unset L2GPU_L1_RPC)",
        )

    def increase_time(self, seconds: int) -> None:
        """Move the clock forward by ``seconds`` and mine a block at the new time."""
        self._request("evm_increaseTime", [max(int(seconds), 1)])
        self._request("evm_mine", [])

    def mine(self, blocks: int) -> None:
        """Mine ``blocks`` empty blocks."""
        for _ in range(blocks):
            self._request("evm_mine", [])

    def set_next_block_timestamp(self, timestamp: int) -> None:
        """anvil and hardhat: the next block gets exactly ``timestamp``."""
        self._request("evm_setNextBlockTimestamp", [int(timestamp)])

    def snapshot(self) -> Any:
        """Save the chain state; return the node's snapshot id."""
        return self._request("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        """Return to a saved state."""
        if self._request("evm_revert", [snapshot_id]) is False:
            raise NotADevChain(f"the L1 at {self.url} has no snapshot {snapshot_id}")


def connect_jsonrpc(url: str, accounts: Sequence[LocalAccount], *, timeout: float = 10) -> Chain:
    """Connect to the JSON-RPC endpoint at ``url``; sign with ``accounts``.

    Raises InvalidValue for a malformed URL and :class:`L1Unreachable` when nothing answers.
    """
    check_rpc_url(url)
    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - a probe: fails fast when nothing listens
    except (requests.RequestException, OSError, Web3RPCError) as exc:
        raise L1Unreachable(
            f"no Ethereum JSON-RPC answered at {url}",
            "check that the node runs and the URL is right, or unset L2GPU_L1_RPC "
            "to use the embedded chain",
        ) from exc
    return Chain(w3, accounts, JsonRpcDevControls(w3, url), description=f"JSON-RPC at {url}")
