"""The rollup node's HTTP API (FastAPI; OpenAPI at /docs).

Every error is a JSON body ``{"error": what was wrong, "fix": what to do, "status": code}``,
with the error classes of the market API (``l2gpu.api.errors``).
Handlers are plain functions (FastAPI runs them in its thread pool) because the
node's state is guarded by one lock shared with the sealing thread.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from l2gpu.api.errors import ApiError, Conflict, NotFound
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import CodecError, decode_tx
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.state import L2Channel
from l2gpu.core.types import Address, Hash32
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.node.node import RollupNode

MAX_BODY_BYTES = 64 * 1024


class TransactionIn(BaseModel):
    """A signed envelope: the compact transaction, its nonce and the EIP-712 signature."""

    kind: int = Field(ge=1, le=3)
    body: str = Field(max_length=2_000)
    nonce: int = Field(ge=0, lt=2**64)
    signature: str = Field(max_length=200)


class SignatureIn(BaseModel):
    """An agent's BLS co-signature (48 bytes, hex)."""

    signature: str = Field(max_length=200)


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise ApiError(f"{what} is not hex", "send 0x-prefixed hex") from exc


def channel_json(found: L2Channel, renter: Address, provider: Address) -> dict[str, Any]:
    """A rollup channel as the API shows it (amounts in wei, as strings)."""
    c = found.channel
    return {"index": found.index, "channel_id": str(c.params.id),
            "renter": renter.checksum, "provider": provider.checksum,
            "renter_index": found.renter, "provider_index": found.provider,
            "challenge_period": c.params.challenge_period, "salt": "0x" + c.params.salt.hex(),
            "deposit": str(c.deposit), "best_amount": str(c.best_amount),
            "provider_payout": str(c.provider_payout()),
            "expires_at": c.expires_at, "close_deadline": c.close_deadline,
            "status": c.status.name.lower()}  # fmt: skip


def create_app(node: RollupNode, desk: CoSignDesk, lock: threading.Lock) -> FastAPI:
    """The API over ``node``; ``lock`` guards the node against the sealing thread."""
    app = FastAPI(title="l2gpu rollup node", version="1")

    @app.exception_handler(L2gpuError)
    def _l2gpu_error(_request: Request, exc: L2gpuError) -> JSONResponse:
        status = exc.status if isinstance(exc, ApiError) else 400
        return JSONResponse(
            {"error": exc.what, "fix": exc.fix, "status": status}, status_code=status
        )

    @app.middleware("http")
    async def _limit_size(request: Request, call_next: Any) -> Any:
        declared = int(request.headers.get("content-length") or 0)
        if declared > MAX_BODY_BYTES:
            return JSONResponse(
                {"error": f"request body of {declared} bytes is too large",
                 "fix": f"send at most {MAX_BODY_BYTES} bytes", "status": 413}, status_code=413,
            )  # fmt: skip
        return await call_next(request)

    @app.get("/l2/status")
    def status() -> dict[str, Any]:
        """Chain, contract, batches and mempool."""
        with lock:
            return {
                "chain_id": node.state.chain_id,
                "rollup": node.rollup.address.checksum,
                "state_root": str(node.state.root()),
                "batches_posted": len(node.posted),
                "accounts": len(node.state.accounts),
                "mempool": len(node.sequencer.mempool),
                "l1_operations_processed": node.state.deposits_processed,
                # the time transactions run at now (the L1 clock): channel expiries
                # and deadlines count in it
                "time": int(node.sequencer.clock()),
            }

    @app.get("/l2/accounts/{address}")
    def account(address: str) -> dict[str, Any]:
        """An account's index, balance and nonces."""
        parsed = Address.from_hex(address)
        with lock:
            found = node.state.account_of(parsed)
            if found is None:
                raise NotFound(f"no L2 account for {parsed}", "deposit on L1 first")
            pending = node.sequencer.pending_per_sender.get(found.index, 0)
            return {"index": found.index, "address": found.address.checksum,
                    "balance": found.balance, "nonce": found.nonce,
                    "next_nonce": found.nonce + pending,
                    "has_bls_key": any(found.bls_key)}  # fmt: skip

    @app.get("/l2/channels/{channel_id}")
    def channel(channel_id: str) -> dict[str, Any]:
        """A channel inside the rollup, by id: its index, parties, funds and status."""
        cid = Hash32.from_hex(channel_id)  # malformed: a 400 saying what to send
        with lock:
            found = node.state.channel(cid)
            if found is None:
                raise NotFound(f"no channel {cid} in the rollup",
                               "open it with an OpenChannel transaction first")  # fmt: skip
            renter, provider = node.state.account(found.renter), node.state.account(found.provider)
            # a channel's parties always have accounts
            assert renter is not None
            assert provider is not None
            return channel_json(found, renter.address, provider.address)

    @app.get("/l2/accounts/{address}/channels")
    def channels_of(address: str) -> list[dict[str, Any]]:
        """The channels an account pays from as renter, newest first (at most 100)."""
        parsed = Address.from_hex(address)
        with lock:
            found = node.state.account_of(parsed)
            if found is None:
                raise NotFound(f"no L2 account for {parsed}", "deposit on L1 first")
            mine = [c for c in reversed(node.state.channels) if c.renter == found.index][:100]
            out = []
            for c in mine:
                provider = node.state.account(c.provider)
                assert provider is not None  # a channel's parties always have accounts
                out.append(channel_json(c, parsed, provider.address))
            return out

    @app.post("/l2/transactions")
    def submit(tx: TransactionIn) -> dict[str, Any]:
        """Accept a signed transaction; the answer is the acknowledgement (it is logged)."""
        try:
            decoded = decode_tx(tx.kind, _hex(tx.body, "body"))
        except CodecError as exc:
            raise ApiError(exc.reason, "encode the transaction as the batch format says") from exc
        envelope = Envelope(decoded, tx.nonce, _hex(tx.signature, "signature"))
        with lock:
            ack = node.submit(envelope)
        return {"accepted": ack}

    @app.get("/l2/cosign/{account_index}")
    def cosign_requests(account_index: int, wait: float = 0.0) -> list[dict[str, object]]:
        """Pending co-signature requests for an account (long-poll with ``wait`` seconds)."""
        return [r.to_json() for r in desk.requests_for(account_index, min(wait, 30.0))]

    @app.post("/l2/cosign/{request_id}")
    def cosign_answer(request_id: int, answer: SignatureIn) -> dict[str, Any]:
        """An agent's co-signature."""
        if not desk.answer(request_id, _hex(answer.signature, "signature")):
            raise NotFound(f"co-signature request {request_id} is gone (timed out)",
                           "resubmit the transaction")  # fmt: skip
        return {"ok": True}

    @app.get("/l2/batches")
    def batches() -> list[dict[str, Any]]:
        """Posted batches with their challenge windows."""
        contract = node.rollup.contract
        now = node.rollup.chain.timestamp()
        window = int(contract.call("CHALLENGE_WINDOW"))
        out = []
        with lock:
            indices = list(node.posted)
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

    @app.get("/l2/exits")
    def exits(address: str) -> list[dict[str, Any]]:
        """The withdrawals of ``address``, and whether each can be claimed on L1."""
        parsed = Address.from_hex(address)
        contract = node.rollup.contract
        window = int(contract.call("CHALLENGE_WINDOW"))
        now = node.rollup.chain.timestamp()
        with lock:
            mine = [e for e in node.state.exits if e.address == parsed]
            result = []
            for exit_ in mine:
                proof = node.exit_proof(exit_.index)
                claimed = bool(contract.call("exit_claimed", exit_.index))
                first = next((b for b in sorted(node.batch_parts)
                              if node.batch_parts[b].exit_count > exit_.index), None)  # fmt: skip
                final_at = int(contract.call("batch_time", first)) + window if first else None
                held = first is not None and bool(node.rollup.game.call("holds", first))
                result.append({"exit_index": exit_.index, "amount": exit_.amount,
                               "batch": first, "final_at": final_at,
                               "seconds_until_final": max(0, final_at - now) if final_at else None,
                               "held_by_challenge": held,
                               "claimable": proof is not None and not claimed,
                               "claimed": claimed})  # fmt: skip
        return result

    @app.get("/l2/exits/{exit_index}/proof")
    def exit_proof(exit_index: int) -> dict[str, Any]:
        """What ``Rollup.withdraw`` takes for this exit, against the newest final batch."""
        with lock:
            if not 0 <= exit_index < len(node.state.exits):
                raise NotFound(f"no exit {exit_index}")
            found = node.exit_proof(exit_index)
            exit_ = node.state.exits[exit_index]
        if found is None:
            raise Conflict(f"exit {exit_index} is not in a final batch yet",
                "wait for the challenge window to pass (see l2gpu l2 batches)",
            )  # fmt: skip
        batch, parts, proof = found
        return {"batch": batch, "exit_index": exit_index, "recipient": exit_.address.checksum,
                "amount": exit_.amount, "proof": ["0x" + p.hex() for p in proof],
                "accounts_root": "0x" + parts.accounts_root.hex(),
                "channels_root": "0x" + parts.channels_root.hex(),
                "deposits_processed": parts.deposits_processed,
                "exit_count": parts.exit_count}  # fmt: skip

    return app
