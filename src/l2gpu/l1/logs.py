"""Turn contract logs into typed inputs for the core's state machines.

A :class:`LogPoller` reads new logs of a set of contracts block range by block
range, decodes them, and maps each event to the input dataclass registered for
its name. Shells feed those inputs to ``state_transition``. The poller remembers
the last block it read, and can hold back the newest ``confirmations`` blocks so
that a reorg on a real L1 cannot feed an input that later disappears.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from l2gpu.l1.chain import Chain, ContractEvent, DeployedContract, checksum

InputFactory = Callable[[ContractEvent], Any]


class LogPoller:
    """Polls logs of ``contracts`` and yields typed inputs in chain order."""

    def __init__(
        self,
        chain: Chain,
        contracts: Sequence[DeployedContract],
        inputs: Mapping[str, InputFactory] | None = None,
        *,
        from_block: int = 0,
        confirmations: int = 0,
        max_range: int = 2_000,
    ) -> None:
        self.chain = chain
        self.contracts = list(contracts)
        self.inputs = dict(inputs or {})
        self.next_block = from_block
        self.confirmations = confirmations
        self.max_range = max_range

    def poll(self) -> list[Any]:
        """Read logs up to the latest confirmed block; return their typed inputs.

        Events without a registered factory are returned as :class:`ContractEvent`.
        """
        head = self.chain.block_number() - self.confirmations
        out: list[Any] = []
        while self.next_block <= head:
            to_block = min(head, self.next_block + self.max_range - 1)
            logs = self.chain.w3.eth.get_logs(
                {
                    "fromBlock": self.next_block,
                    "toBlock": to_block,
                    "address": [checksum(c.address) for c in self.contracts],
                }
            )
            events: list[ContractEvent] = []
            for contract in self.contracts:
                events.extend(contract.decode_logs(logs))
            events.sort(key=lambda e: (e.block_number, e.log_index))
            out.extend(self._typed(e) for e in events)
            self.next_block = to_block + 1
        return out

    def _typed(self, event: ContractEvent) -> Any:
        factory = self.inputs.get(event.name)
        return factory(event) if factory is not None else event
