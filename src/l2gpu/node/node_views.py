"""Read-only views of a node that need L1: batches and exits with their finality.

Each view copies what it needs from the node under its lock, then asks L1 without
it, so a slow L1 never stalls the API's other routes or the sealing thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from l2gpu.core.types import Address

if TYPE_CHECKING:
    from l2gpu.node.node import RollupNode


def batch_views(node: RollupNode, indices: list[int]) -> list[dict[str, Any]]:
    """Posted batches ``indices`` with their windows, challenges and finality."""
    contract = node.rollup.contract
    now = node.rollup.chain.timestamp()
    window = int(contract.call("CHALLENGE_WINDOW"))
    out = []
    for index in indices:
        posted_at = int(contract.call("batch_time", index))
        root = "0x" + bytes(contract.call("batch_root", index)).hex()
        # An open challenge on this batch or an earlier one holds it past its window.
        held = bool(node.rollup.game.call("holds", index))
        out.append({"index": index, "state_root": root,
                    "posted_at": posted_at, "final_at": posted_at + window,
                    "seconds_left": max(0, posted_at + window - now),
                    "challenged": held,
                    "final": bool(contract.call("is_final", index))})  # fmt: skip
    return out


def exit_views(node: RollupNode, address: Address, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` withdrawals of ``address`` and whether each can be claimed."""
    with node.lock:
        mine = [e for e in node.state.exits if e.address == address][-limit:]
        parts = sorted(node.batch_parts.items())
    contract = node.rollup.contract
    window = int(contract.call("CHALLENGE_WINDOW"))
    now = node.rollup.chain.timestamp()
    result = []
    for exit_ in mine:
        first = next((b for b, p in parts if p.exit_count > exit_.index), None)
        claimed = bool(contract.call("exit_claimed", exit_.index))
        proof = node.exit_proof(exit_.index) if first is not None else None
        final_at = int(contract.call("batch_time", first)) + window if first else None
        held = first is not None and bool(node.rollup.game.call("holds", first))
        result.append({"exit_index": exit_.index, "amount": exit_.amount,
                       "batch": first, "final_at": final_at,
                       "seconds_until_final": max(0, final_at - now) if final_at else None,
                       "held_by_challenge": held,
                       "claimable": proof is not None and not claimed,
                       "claimed": claimed})  # fmt: skip
    return result
