"""The Rollup's gas snapshot: what each L1 entry point costs on the embedded chain.

Gas on the embedded chain is deterministic once the commitments' timestamps are
(their bytes are calldata), so the sequencer here runs on a fixed clock. The file
``contracts/rollup/Rollup.gas`` keeps the figures; ``make vectors`` (or
``python -m tests.l2.rollup_gas --write``) rewrites it after a change that moves gas,
so that the diff shows the change, and ``test_rollup_gas_snapshot.py`` fails when
the contract's gas differs from the file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from l2gpu.core.l2.transactions import Transfer, Withdraw
from l2gpu.core.types import Timestamp, Wei
from l2gpu.l1.build import contracts_root
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.scenarios.arena import ETH, Arena

SNAPSHOT = contracts_root() / "rollup" / "Rollup.gas"
FIXED_TIME = Timestamp(1_700_000_000)  # every commitment's timestamp (before any block's)


def _post(arena: Arena) -> tuple[int, int]:
    batch = arena.seal()
    queue_end = arena.posted_queue_end() + batch.deposits
    index, receipt = arena.l1.submit(batch, queue_end, arena.proposer)
    arena.posted.append((index, batch, []))
    return index, receipt.gas_used


def measure_rollup_gas() -> dict[str, int]:
    """Gas of the Rollup's entry points in one fixed scenario."""
    arena = Arena(start_embedded_chain())
    arena.sequencer.clock = lambda: FIXED_TIME
    gas: dict[str, int] = {}
    gas["deposit"] = arena.client.deposit(arena.users[0], arena.bls[1], ETH).gas_used
    _, gas["submit_batch_5_deposits"] = _post(arena)
    arena.send(1, Transfer(1, 2, Wei(10**15), Wei(0)))
    _, gas["submit_batch_1_transfer"] = _post(arena)
    for _ in range(32):
        arena.send(1, Transfer(1, 2, Wei(10**12), Wei(0)))
    _, gas["submit_batch_32_transfers"] = _post(arena)
    arena.send(1, Withdraw(1, Wei(10**17), Wei(0)))
    index, gas["submit_batch_1_withdraw"] = _post(arena)
    arena.chain.time_travel(int(arena.client.contract.call("CHALLENGE_WINDOW")) + 1)
    state = arena.replica()
    gas["withdraw"] = arena.client.withdraw(state, index, 0, arena.users[0]).gas_used
    gas["force_withdraw"] = arena.client.force_withdraw(arena.users[0], 10**15).gas_used
    return gas


def render(gas: dict[str, int]) -> str:
    """The snapshot file's text."""
    lines = ["# Rollup gas on the embedded L1; regenerate with: make vectors"]
    lines += [f"{name} {gas[name]}" for name in sorted(gas)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = render(measure_rollup_gas())
    if "--write" in sys.argv:
        Path(SNAPSHOT).write_text(text)
    print(text, end="")
