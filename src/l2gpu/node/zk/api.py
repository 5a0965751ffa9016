"""The zk node's HTTP API (FastAPI; OpenAPI at /docs).

    POST /zk/transactions             a signed transfer or withdrawal; the answer is
                                      its position (it is logged before the answer)
    GET  /zk/transactions/{position}  pending, included in batch n, or dropped (why)
    POST /zk/channels                 a renter's signed open of a lease's channel; the
                                      answer is its position and the channel's slot
    POST /zk/channels/{index}/close   a close: the renter's voucher and the provider's
                                      close signature; the answer is its position
    GET  /zk/channels/{index}         the latest channel given that slot
    GET  /zk/accounts/{index}/channels   the channels an account opened as renter
    GET  /zk/channels?renter=R&open_nonce=N
                                      channel (R, N), followed by its name: pending,
                                      open (in a proven batch), closed, or dropped
    GET  /zk/accounts/{index}         an account of the sealed state
    GET  /zk/batches/{number}         a sealed batch's whole public data: what a
                                      validium keeps off L1, and what anyone needs
                                      to rebuild the state (core/zk/replay.py)
    GET  /zk/status                   root, batches sealed/proven/posted, pending,
                                      the prover's last error

Errors are the project's JSON bodies ``{"error", "fix", "status"}``
(:mod:`l2gpu.serving.errors`): a rule of the ledger that refuses a transaction is a
400 whose error is the rule's reason (``zk: wrong nonce``); a body that does not match
the schema a 422 naming the field. :class:`~l2gpu.serving.guard.RequestGuard` bounds
the body's size and nesting before any parser runs.
"""

# No "from __future__ import annotations": FastAPI reads the annotations at definition.

import re
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.errors import InvalidValue
from l2gpu.core.zk.channel import CloseChannelTx, OpenChannelTx
from l2gpu.core.zk.transfer import TransferTx
from l2gpu.core.zk.withdrawal import WithdrawalTx
from l2gpu.node.zk.node import ZkNode
from l2gpu.node.zk.records import SignedTx
from l2gpu.serving.errors import COMMON, ApiError, NotFound, responses
from l2gpu.serving.guard import RequestGuard, restore_recursion_limit
from l2gpu.serving.problems import install_handlers

MAX_BODY_BYTES = 4 * 1024
_DECIMAL = re.compile(r"[0-9]{1,80}")
U32, U63 = 2**32, 2**63


def _whole(value: object) -> object:
    # JSON numbers above 2^53 lose precision in many clients: amounts may come as
    # decimal strings. Floats and booleans are refused rather than rounded or cast.
    if isinstance(value, bool | float):
        raise ValueError("a whole number (or its decimal digits as a string)")
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise ValueError("a whole number: decimal digits only, at most 80")
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(_whole)]


class TransactionIn(BaseModel):
    """A transfer (``to_index``, ``fee_code``) or a withdrawal, with the sender's
    EdDSA-Poseidon signature packed as circomlibjs's ``packSignature`` (64 bytes:
    packed R8, then S little endian) in hex."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["transfer", "withdrawal"]
    from_index: Whole = Field(ge=0, lt=U32)
    to_index: Whole | None = Field(default=None, ge=0, lt=U32)
    amount: Whole = Field(ge=0, lt=2**256)  # the ledger's rules say which fit
    fee_code: Whole | None = Field(default=None, ge=0, lt=U32)
    nonce: Whole = Field(ge=0, lt=2**64)
    signature: str = Field(pattern=r"^(0x)?[0-9a-fA-F]{128}$")

    def signed(self) -> SignedTx:
        """The transaction as the sequencer takes it. Raises :class:`ApiError` for a
        field of the other kind or a signature whose R8 is not a point."""
        signature = _signature(self.signature, "signature")
        if self.type == "transfer":
            if self.to_index is None:
                raise ApiError("a transfer needs to_index", "name the receiving account")
            fee = self.fee_code if self.fee_code is not None else 0
            return SignedTx(
                TransferTx(self.from_index, self.to_index, self.amount, fee, self.nonce),
                signature,
            )
        if self.to_index is not None or self.fee_code is not None:
            raise ApiError(
                "a withdrawal has no to_index or fee_code",
                "leave them out: a withdrawal pays the L1 address in the sender's leaf",
            )
        return SignedTx(WithdrawalTx(self.from_index, self.amount, self.nonce), signature)


HexSignature = Annotated[str, Field(pattern=r"^(0x)?[0-9a-fA-F]{128}$")]


def _signature(packed: str, what: str) -> eddsa.Signature:
    try:
        return eddsa.unpack_signature(bytes.fromhex(packed.removeprefix("0x")))
    except InvalidValue as exc:
        raise ApiError(
            f"the {what} does not unpack: {exc.what}",
            "send the 64 bytes of circomlibjs's packSignature (packed R8, then S)",
        ) from exc


class OpenIn(BaseModel):
    """A renter's open of a lease's channel: ``deposit`` wei locked for ``provider``
    until ``expiry`` (unix seconds), at the renter's ``nonce``, signed by the renter
    (``channel.open_message``; packed as for a transaction). The node picks the slot."""

    model_config = ConfigDict(extra="forbid")
    renter: Whole = Field(ge=0, lt=U32)
    provider: Whole = Field(ge=0, lt=U32)
    deposit: Whole = Field(ge=0, lt=2**256)  # the ledger's rules say which fit
    expiry: Whole = Field(ge=0, lt=2**64)
    nonce: Whole = Field(ge=0, lt=2**64)
    signature: HexSignature

    def signed(self) -> SignedTx:
        """The open as the sequencer takes it (slot 0 until the node gives one)."""
        tx = OpenChannelTx(0, self.renter, self.provider, self.deposit, self.expiry, self.nonce)
        return SignedTx(tx, _signature(self.signature, "signature"))


class CloseIn(BaseModel):
    """A close: ``amount`` (all the renter paid) to the provider, the rest back to the
    renter, with the renter's voucher (``channel.voucher_message``) and the
    provider's close signature (``channel.close_message``)."""

    model_config = ConfigDict(extra="forbid")
    amount: Whole = Field(ge=0, lt=2**256)
    voucher: HexSignature
    provider_signature: HexSignature


def create_zk_app(node: ZkNode, *, max_body: int = MAX_BODY_BYTES) -> Any:
    """The API over ``node``, inside the request guards."""
    restore_recursion_limit()
    app = FastAPI(title="l2gpu zk rollup node", version="1")
    install_handlers(app)

    @app.post("/zk/transactions", responses=responses(*COMMON))
    def submit(body: TransactionIn) -> dict[str, Any]:
        """Admit a signed transaction against the state the pending ones leave; the
        answer's ``position`` is its acknowledgement (it is logged first)."""
        return {"position": node.submit(body.signed()), "status": "pending"}

    @app.get("/zk/transactions/{position}", responses=responses(*COMMON, 404))
    def transaction(position: Annotated[int, Path(ge=0, lt=U63)]) -> dict[str, Any]:
        """``pending``, ``included`` (with the batch's number) or ``dropped`` (with the
        rule it broke when its batch was sealed)."""
        with node.lock:
            found = node.outcomes.get(position)
        if found is None:
            raise NotFound(f"no transaction at position {position}",
                           "use the position the node answered when it accepted it")  # fmt: skip
        return found.to_json(position)

    @app.post("/zk/channels", responses=responses(*COMMON))
    def open_channel(body: OpenIn) -> dict[str, Any]:
        """Admit a renter's open against the pending state and the node's clock; the
        answer names the channel's slot (``channel_index``) and the open's position."""
        position = node.submit(body.signed())
        return {"position": position, "status": "pending",
                "channel_index": node.channel_of(position)}  # fmt: skip

    @app.post("/zk/channels/{index}/close", responses=responses(*COMMON))
    def close_channel(index: Annotated[int, Path(ge=0, lt=U32)], body: CloseIn) -> dict[str, Any]:
        """Admit a close of the channel at slot ``index`` (it may still be pending)."""
        tx = CloseChannelTx(index, body.amount, _signature(body.voucher, "voucher"),
                            _signature(body.provider_signature, "provider_signature"))  # fmt: skip
        return {"position": node.submit(SignedTx(tx)), "status": "pending"}

    @app.get("/zk/channels/{index}", responses=responses(*COMMON, 404))
    def channel_at(index: Annotated[int, Path(ge=0, lt=U32)]) -> dict[str, Any]:
        """The latest channel the node gave slot ``index``, with its status."""
        found = node.channel_at(index)
        if found is None:
            raise NotFound(f"no channel was opened at slot {index}",
                           "use the channel_index the node answered to the open")  # fmt: skip
        return found

    @app.get("/zk/accounts/{index}/channels", responses=responses(*COMMON))
    def channels_of(index: Annotated[int, Path(ge=0, lt=U32)]) -> list[dict[str, Any]]:
        """The channels the account at ``index`` opened as renter, newest first, each
        with its status (``pending``, ``open``, ``closed`` or ``dropped``)."""
        return node.channels_of(index)

    @app.get("/zk/channels", responses=responses(*COMMON, 404))
    def channel_named(
        renter: Annotated[int, Query(ge=0, lt=U32)],
        open_nonce: Annotated[int, Query(ge=0, lt=U32)],
    ) -> dict[str, Any]:
        """Channel ``(renter, open_nonce)``: ``pending`` until a proven batch holds it,
        ``open``, ``closed`` once a sealed batch emptied its slot, or ``dropped``."""
        found = node.channel(renter, open_nonce)
        if found is None:
            raise NotFound(f"no channel ({renter}, {open_nonce}) was opened",
                           "name it by the renter's index and the nonce its open used")  # fmt: skip
        return found

    def account_json(index: int) -> dict[str, Any]:
        with node.lock:
            state = node.sequencer.state
            found = state.account(index) if state.in_range(index) else None
            if found is None:
                raise NotFound(f"no zk account at index {index}",
                               "deposit on L1 and wait for a batch to include it")  # fmt: skip
            pending = node.sequencer.pending_of(index)
        return {"index": index, "ax": str(found.ax), "ay": str(found.ay),
                "balance": str(found.balance), "nonce": found.nonce,
                "next_nonce": found.nonce + pending,
                "eth_address": "0x" + found.eth_address.to_bytes(20, "big").hex()}  # fmt: skip

    @app.get("/zk/accounts/{index}", responses=responses(*COMMON, 404))
    def account(index: Annotated[int, Path(ge=0, lt=U32)]) -> dict[str, Any]:
        """An account of the sealed state; ``next_nonce`` counts its pending ones."""
        return account_json(index)

    @app.get("/zk/accounts", responses=responses(*COMMON, 404))
    def account_of(
        address: Annotated[str, Query(pattern="^0x[0-9a-fA-F]{40}$")],
    ) -> dict[str, Any]:
        """The account of an L1 address: the index L1 gave its first deposit, once a
        sealed batch holds it (404 before)."""
        with node.l1_lock:
            index = node.rollup.account_index(address)
        if index == 0:
            raise NotFound(f"{address} never deposited into this zk rollup",
                           "deposit on L1 with 'l2gpu zk deposit'")  # fmt: skip
        return account_json(index)

    @app.get("/zk/batches/{number}", responses=responses(*COMMON, 404))
    def batch_data(number: Annotated[int, Path(ge=0, lt=U32)]) -> dict[str, Any]:
        """Sealed batch ``number``'s public data (all seven sections, hex), its public
        input (check it against L1's ``BatchAccepted``) and whether L1 accepted it."""
        found = node.batch_data(number)
        if found is None:
            raise NotFound(f"no batch {number} was sealed",
                           "batches are numbered from 0; /zk/status counts them")  # fmt: skip
        return found

    @app.get("/zk/status", responses=responses(*COMMON))
    def status() -> dict[str, Any]:
        """Root, batches sealed, proven and posted, pending transactions, and the
        prover's last error (None when the last attempt succeeded), and ``time``: L1's
        time as the node reads it, which channel expiries count in."""
        with node.l1_lock:
            now = node.clock()
        return {**node.status(), "time": now}

    return RequestGuard(app, max_body=max_body)
