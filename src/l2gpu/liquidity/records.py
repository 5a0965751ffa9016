"""The liquidity provider's journal lines: its book's inputs, and snapshots of entries.

A provider that fronted a move must remember it across ``kill -9``, or it never
relays the move and is never repaid. Every input that changes the book is appended
(fsynced) before the provider acts on it; a restart replays them. At start the
journal is rewritten as one ``entry`` line per entry of the book, so it stays as
small as the book (:data:`~l2gpu.core.shards.liquidity.KEEP_FINISHED` finished
entries and the open ones).
"""

from __future__ import annotations

from typing import Any

from l2gpu.core.shards.bridge import Move
from l2gpu.core.shards.liquidity import (
    Entry,
    ExitChecked,
    Expire,
    FrontDone,
    Landed,
    LpInput,
    Offered,
)
from l2gpu.core.types import Address


def move_to_json(move: Move) -> dict[str, Any]:
    """A move's fields, as ``l2gpu bridge move`` writes them (amounts as integers)."""
    return {"from_shard": move.from_shard, "exit_index": move.exit_index,
            "owner": move.owner.checksum, "amount": move.amount, "to_shard": move.to_shard,
            "to": move.to.checksum, "fee": move.fee}  # fmt: skip


def move_from_json(data: dict[str, Any]) -> Move:
    """Back from :func:`move_to_json` (raises KeyError, TypeError or ValueError)."""
    return Move(int(data["from_shard"]), int(data["exit_index"]),
                Address.from_hex(data["owner"]), int(data["amount"]), int(data["to_shard"]),
                Address.from_hex(data["to"]), int(data["fee"]))  # fmt: skip


def input_to_json(event: LpInput) -> dict[str, Any]:
    """One journal line for an input of the book."""
    if isinstance(event, Offered):
        return {"kind": "offered", "move": move_to_json(event.move),
                "signature": event.signature.hex(), "now": event.now}  # fmt: skip
    if isinstance(event, ExitChecked):
        return {"kind": "checked", "message": event.message.hex(), "batch": event.batch,
                "problem": event.problem}  # fmt: skip
    if isinstance(event, Expire):
        return {"kind": "expire", "now": event.now}
    if isinstance(event, FrontDone):
        return {"kind": "front", "message": event.message.hex(), "fronted": event.fronted,
                "reason": event.reason}  # fmt: skip
    return {"kind": "landed", "message": event.message.hex(), "to_me": event.to_me}


def input_from_json(data: dict[str, Any]) -> LpInput:
    """Back from :func:`input_to_json` (raises KeyError, TypeError or ValueError)."""
    kind = data["kind"]
    if kind == "offered":
        return Offered(move_from_json(data["move"]), bytes.fromhex(data["signature"]),
                       int(data["now"]))  # fmt: skip
    if kind == "checked":
        return ExitChecked(bytes.fromhex(data["message"]), int(data["batch"]), data["problem"])
    if kind == "expire":
        return Expire(int(data["now"]))
    if kind == "front":
        return FrontDone(bytes.fromhex(data["message"]), bool(data["fronted"]),
                         str(data["reason"]))  # fmt: skip
    if kind == "landed":
        return Landed(bytes.fromhex(data["message"]), bool(data["to_me"]))
    raise ValueError(f"unknown journal line kind {kind!r}")


def entry_to_json(message: bytes, entry: Entry) -> dict[str, Any]:
    """A snapshot line of one entry of the book."""
    return {"kind": "entry", "message": message.hex(), "move": move_to_json(entry.move),
            "signature": entry.signature.hex(), "state": entry.state,
            "received_at": entry.received_at, "reason": entry.reason,
            "batch": entry.batch}  # fmt: skip


def entry_from_json(data: dict[str, Any]) -> tuple[bytes, Entry]:
    """Back from :func:`entry_to_json`."""
    entry = Entry(move_from_json(data["move"]), bytes.fromhex(data["signature"]),
                  str(data["state"]), int(data["received_at"]), str(data["reason"]),
                  int(data["batch"]))  # fmt: skip
    return bytes.fromhex(data["message"]), entry
