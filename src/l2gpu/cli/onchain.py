"""What the commands over one L1 contract share (``credit``, ``forwards``): the chain
with the signing account, addresses read from flags, and a receipt printed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from l2gpu.cli.common import signing_account, use_l1_rpc
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from l2gpu.l1 import Chain


def parse_address(text: str, what: str) -> Address:
    """``text`` as an address, or a clear error naming ``what`` it should be."""
    try:
        return Address.from_hex(text)
    except ValueError as exc:
        raise L2gpuError(f"{what} {text!r} is not an address", "give 0x and 40 hex digits") from exc


def open_signed_chain(
    ctx: typer.Context, l1_rpc: str | None, command: str
) -> tuple[Chain, LocalAccount]:
    """The L1 chain of ``--l1-rpc`` and the account that signs; ``command`` names the
    command in the error when no chain is given."""
    from l2gpu.l1 import open_chain

    settings = use_l1_rpc(ctx, l1_rpc)
    if not settings.l1_rpc:
        raise L2gpuError(
            f"'l2gpu {command}' needs a chain that outlives the command",
            "give --l1-rpc URL (e.g. anvil's)",
        )
    sender = signing_account(ctx)
    return open_chain(settings, [sender]), sender


def require_contract(chain: Chain, address: Address, printed_by: str) -> None:
    """Refuse an address with no code (an account, or a typo)."""
    if not chain.w3.eth.get_code(chain.w3.to_checksum_address(str(address))):
        raise L2gpuError(f"no contract at {address}", f"give the address '{printed_by}' printed")


def print_receipt(
    receipt: Any, what: str, extra: dict[str, Any] | None = None, *, as_json: bool = False
) -> None:
    """What was done, its transaction and gas, and ``extra`` (amounts marked
    :class:`~l2gpu.cli.output.Eth`): for people, or one JSON object with ``as_json``."""
    from l2gpu.cli.output import emit

    data = {"done": what, "tx": tx_hex(receipt.tx_hash), "gas": receipt.gas_used, **(extra or {})}
    emit(data if as_json else {k: v for k, v in data.items() if k != "done"}, as_json,
         title=what)  # fmt: skip


def tx_hex(tx_hash: Any) -> str:
    """A transaction hash as ``0x`` and 64 hex digits, whatever bytes type holds it."""
    return "0x" + bytes(tx_hash).hex()
