"""The liquidity provider's journal lines: each an entry of its book as it became.

A provider that fronted a move must remember it across ``kill -9``, or it never
relays the move and is never repaid. Every entry an input changes is appended
(fsynced) as it now is, before the provider acts on it; a restart reads them, the
last line of each move winning. The journal holds outcomes, not inputs, so a
restart never decides anything again: a provider started with other terms keeps
every move as it left it. At start the journal is rewritten as the book, so it
stays as small as the book (the open entries and the last
:data:`~l2gpu.core.shards.liquidity.KEEP_FINISHED` finished ones).
"""

from __future__ import annotations

from typing import Any

from l2gpu.core.shards.bridge import Move, message_of
from l2gpu.core.shards.liquidity import STATES, Entry
from l2gpu.core.types import Address


def move_to_json(move: Move) -> dict[str, Any]:
    """A move's fields, as ``l2gpu bridge move`` writes them (amounts as integers)."""
    return {"from_shard": move.from_shard, "exit_index": move.exit_index,
            "owner": move.owner.checksum, "amount": move.amount, "to_shard": move.to_shard,
            "to": move.to.checksum, "fee": move.fee}  # fmt: skip


def move_from_json(data: dict[str, Any]) -> Move:
    """Back from :func:`move_to_json` (raises KeyError, TypeError or ValueError)."""
    return Move(_int(data["from_shard"]), _int(data["exit_index"]),
                Address.from_hex(data["owner"]), _int(data["amount"]), _int(data["to_shard"]),
                Address.from_hex(data["to"]), _int(data["fee"]))  # fmt: skip


def entry_to_json(message: bytes, entry: Entry) -> dict[str, Any]:
    """The journal line of one entry of the book."""
    return {"kind": "entry", "message": message.hex(), "move": move_to_json(entry.move),
            "signature": entry.signature.hex(), "state": entry.state,
            "received_at": entry.received_at, "reason": entry.reason,
            "batch": entry.batch}  # fmt: skip


def entry_from_json(data: dict[str, Any]) -> tuple[bytes, Entry]:
    """Back from :func:`entry_to_json` (raises ValueError for a state it does not know,
    or a message that is not its move's)."""
    if data["state"] not in STATES:
        raise ValueError(f"no entry state {data['state']!r}")
    entry = Entry(move_from_json(data["move"]), bytes.fromhex(data["signature"]),
                  data["state"], _int(data["received_at"]), str(data["reason"]),
                  _int(data["batch"]))  # fmt: skip
    message = bytes.fromhex(data["message"])
    if message != message_of(entry.move):
        raise ValueError("the entry's message is not its move's")
    return message, entry


def _int(value: Any) -> int:
    """A whole number as the journal writes it (never a float, a string or a bool)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not a whole number")
    return value
