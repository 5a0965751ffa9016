"""Vouchers as the hub's API and journal carry them: JSON with the amount as a
decimal string (a wei amount can exceed what a JSON number holds exactly)."""

from __future__ import annotations

from typing import Any

from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Hash32, Wei


def voucher_to_json(voucher: Voucher) -> dict[str, Any]:
    """A voucher as the journal and the hub's API hold it (the amount a string)."""
    return {"channel_id": str(voucher.channel_id), "amount": str(voucher.amount),
            "signature": "0x" + voucher.signature.hex()}  # fmt: skip


def voucher_from_json(data: Any) -> Voucher:
    """A voucher from its JSON form; raises L2gpuError naming what is wrong."""
    try:
        cid = bytes.fromhex(str(data["channel_id"]).removeprefix("0x"))
        amount = int(str(data["amount"]))
        signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
    except (KeyError, TypeError, ValueError) as exc:
        raise L2gpuError("the voucher is not channel_id, amount and signature in hex",
                         "send the voucher as the l2gpu client writes it") from exc  # fmt: skip
    if len(cid) != 32 or not 0 <= amount < 2**128 or len(signature) != 65:
        raise L2gpuError("the voucher's channel id, amount or signature is out of range",
                         "send the voucher as the l2gpu client writes it")  # fmt: skip
    return Voucher(Hash32(cid), Wei(amount), signature)
