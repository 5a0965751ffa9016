"""The rollup node's HTTP API (FastAPI; OpenAPI at /docs).

Every error is a JSON body ``{"error": what was wrong, "fix": what to do, "status": code}``
(:mod:`l2gpu.serving.errors`). Requests pass the guards of
:mod:`l2gpu.serving.guard` first (body size and JSON depth, checked while reading).
Most handlers are plain functions (FastAPI runs them in its worker pool) and hold
the node's lock only to read or change its state, never while calling L1; the
co-signature long-poll runs on the event loop, so waiting agents hold no worker.
"""

# No "from __future__ import annotations" here: FastAPI reads the route annotations
# (the Annotated path and query types) at definition time.

from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from l2gpu.core.l2.codec import CodecError, decode_tx
from l2gpu.core.l2.envelope import Envelope
from l2gpu.core.l2.receipts import SequencerReceipt
from l2gpu.core.l2.state import L2Channel
from l2gpu.core.market.channel_description import virtual_terms_json
from l2gpu.core.types import Address, Hash32
from l2gpu.node.cosign_desk import CoSignDesk
from l2gpu.node.metrics import node_registry
from l2gpu.node.node import RollupNode
from l2gpu.node.node_views import batch_views, exit_views
from l2gpu.serving.errors import (
    ADDRESS_PATTERN,
    COMMON,
    HASH_PATTERN,
    HEX_PATTERN,
    ApiError,
    Conflict,
    NotFound,
    RateLimited,
    responses,
)
from l2gpu.serving.guard import RequestGuard, restore_recursion_limit
from l2gpu.serving.problems import install_handlers

MAX_BODY_BYTES = 64 * 1024
MAX_LONG_POLL_S = 30.0
U32 = 2**32
U63 = 2**63

AccountIndex = Annotated[int, Path(ge=0, lt=U32, description="the account's L2 index")]
AddressPath = Annotated[str, Path(pattern=ADDRESS_PATTERN, description="0x and 40 hex digits")]
ChannelId = Annotated[str, Path(pattern=HASH_PATTERN, description="0x and 64 hex digits")]


def _not_bool(value: object) -> object:
    # JSON Schema's integer admits 2.0 but not false: pydantic's lax mode does the
    # opposite for booleans, its strict mode for 2.0.
    if isinstance(value, bool):
        raise ValueError("a whole number, not true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_bool)]


class TransactionIn(BaseModel):
    """A signed envelope: the compact transaction, its nonce and the EIP-712 signature."""

    model_config = ConfigDict(extra="forbid")
    kind: WholeNumber = Field(ge=1, le=3)
    body: str = Field(max_length=2_000, pattern=HEX_PATTERN)
    # 2^53: the largest integer a JSON reader that uses doubles keeps exact
    nonce: WholeNumber = Field(ge=0, le=2**53)
    signature: str = Field(max_length=200, pattern=HEX_PATTERN)


class TransactionsIn(BaseModel):
    """Up to 256 signed envelopes, accepted or refused one by one, in order."""

    model_config = ConfigDict(extra="forbid")
    transactions: list[TransactionIn] = Field(min_length=1, max_length=256)


class SignatureIn(BaseModel):
    """An agent's BLS co-signature (48 bytes, hex), or with ``refuse`` its signed refusal."""

    model_config = ConfigDict(extra="forbid")
    signature: str = Field(max_length=200, pattern=HEX_PATTERN)
    refuse: bool = Field(default=False, strict=True)


class AnswerIn(SignatureIn):
    """One answer of several: the request it answers, and the signature or refusal."""

    request: str = Field(pattern="^[0-9a-f]{32}$")


class AnswersIn(BaseModel):
    """Up to 64 answers to one account's open co-signature requests, taken one by one."""

    model_config = ConfigDict(extra="forbid")
    answers: list[AnswerIn] = Field(min_length=1, max_length=64)


# An answer taken: checked against the account's key when the round closes, so only a
# signature that verifies counts; any other is dropped and blamed on no one.
TAKEN: dict[str, Any] = {"ok": True, "checked": "when the round closes"}


def _hex(value: str, what: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError as exc:
        raise ApiError(f"{what} is not hex", "send 0x-prefixed hex") from exc


def channel_json(
    found: L2Channel, renter: Address, provider: Address,
    settled: tuple[int, int] | None = None, voucher: tuple[int, bytes] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A rollup channel as the API shows it (amounts in wei, as strings). A settled
    channel's leaf holds zeros; ``settled`` (the state's record of what it paid) shows
    its outcome instead: ``paid_to_provider`` and ``refunded_to_renter``. One end of a
    virtual channel shows its terms (``virtual``) and ``voucher``, the best voucher
    proven on it (what its hub claims on the other end)."""
    c = found.channel
    outcome: dict[str, Any] = (
        {}
        if settled is None
        else {"paid_to_provider": str(settled[0]), "refunded_to_renter": str(settled[1])}
    )
    if c.params.virtual is not None:
        outcome["virtual"] = virtual_terms_json(c.params.virtual)
        if voucher is not None:
            outcome["voucher"] = {"amount": str(voucher[0]), "signature": "0x" + voucher[1].hex()}
    return outcome | {"index": found.index, "channel_id": str(c.params.id),
            "renter": renter.checksum, "provider": provider.checksum,
            "renter_index": found.renter, "provider_index": found.provider,
            "challenge_period": c.params.challenge_period, "salt": "0x" + c.params.salt.hex(),
            "deposit": str(c.deposit), "best_amount": str(c.best_amount),
            "provider_payout": str(c.provider_payout()),
            "expires_at": c.expires_at, "close_deadline": c.close_deadline,
            "status": c.status.name.lower()}  # fmt: skip


def create_app(node: RollupNode, desk: CoSignDesk, *, max_body: int = MAX_BODY_BYTES) -> Any:
    """The API over ``node`` (its ``lock`` guards the state against the sealing thread),
    inside the request guards."""
    restore_recursion_limit()  # py_ecc raises it to 100,000: see serving.guard
    app = FastAPI(title="l2gpu rollup node", version="1")
    install_handlers(app)
    lock = node.lock

    @app.get("/l2/status", responses=responses(*COMMON))
    def status() -> dict[str, Any]:
        """Chain, contract, batches, mempool, and whether the node reaches L1."""
        with lock:
            health = node.health
            return {
                "status": "degraded" if health.degraded else "ok",
                "degraded_reason": health.reason or None,
                "chain_id": node.state.chain_id,
                "rollup": node.rollup.address.checksum,
                "proposer": node.receipt_key.address.checksum,
                "pending_channels": len(node.soft),
                "state_root": str(node.state.root()),
                "batches_posted": len(node.posted),
                "batches_waiting_for_l1": len(node.unposted),
                "accounts": len(node.state.accounts),
                "mempool": len(node.sequencer.mempool),
                "transactions_sealed": node.transactions_sealed,
                "l1_operations_processed": node.state.deposits_processed,
                "cosign_waiters": desk.waiting(),
                # the time transactions run at now (the L1 clock): channel expiries
                # and deadlines count in it
                "time": int(node.sequencer.clock()),
            }

    @app.get("/l2/accounts/{address}", responses=responses(*COMMON, 404))
    def account(address: AddressPath) -> dict[str, Any]:
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

    @app.get("/l2/channels/{channel_id}", responses=responses(*COMMON, 404))
    def channel(channel_id: ChannelId) -> dict[str, Any]:
        """A channel inside the rollup, by id: its index, parties, funds and status."""
        cid = Hash32.from_hex(channel_id)  # malformed: a 400 saying what to send
        with lock:
            found = node.state.channel(cid)
            soft = node.soft.get(cid) if found is None else None
            if soft is not None:
                return soft.to_json()
            if found is None:
                raise NotFound(f"no channel {cid} in the rollup",
                               "open it with an OpenChannel transaction first")  # fmt: skip
            renter, provider = node.state.account(found.renter), node.state.account(found.provider)
            # a channel's parties always have accounts
            assert renter is not None
            assert provider is not None
            return channel_json(found, renter.address, provider.address,
                                node.state.settlements.get(found.index),
                                node.state.virtual_vouchers.get(found.index))  # fmt: skip

    @app.get("/l2/accounts/{address}/channels", responses=responses(*COMMON, 404))
    def channels_of(
        address: AddressPath,
        role: Annotated[Literal["renter", "provider", "any"], Query()] = "renter",
    ) -> list[dict[str, Any]]:
        """The channels of an account as ``role`` (by default those it pays from as
        renter), newest first: pending ones, then at most 100 in the state."""
        parsed = Address.from_hex(address)
        pays, paid = role in ("renter", "any"), role in ("provider", "any")
        with lock:
            found = node.state.account_of(parsed)
            if found is None:
                raise NotFound(f"no L2 account for {parsed}", "deposit on L1 first")
            mine = [c for c in reversed(node.state.channels)
                    if (pays and c.renter == found.index)
                    or (paid and c.provider == found.index)][:100]  # fmt: skip
            # pending (soft-confirmed) channels are the newest
            soft = node.soft.of_party(found.index, renter=pays, provider=paid)
            out = [s.to_json() for s in soft]
            for c in mine:
                renter, provider = node.state.account(c.renter), node.state.account(c.provider)
                # a channel's parties always have accounts
                assert renter is not None
                assert provider is not None
                out.append(channel_json(c, renter.address, provider.address,
                                        node.state.settlements.get(c.index),
                                        node.state.virtual_vouchers.get(c.index)))  # fmt: skip
            return out

    @app.post("/l2/transactions", responses=responses(*COMMON))
    def submit(tx: TransactionIn) -> dict[str, Any]:
        """Accept a signed transaction; the answer is the acknowledgement (it is logged) and
        the sequencer's signed receipt: its promise of the transaction's position, signed
        by the proposer (see ``/l2/status``). An OpenChannel's channel shows as
        ``pending`` from then until a batch includes it.

        429 with Retry-After: the sender did not co-sign its last transaction in time.
        """
        try:
            decoded = decode_tx(tx.kind, _hex(tx.body, "body"))
        except CodecError as exc:
            raise ApiError(exc.reason, "encode the transaction as the batch format says") from exc
        envelope = Envelope(decoded, tx.nonce, _hex(tx.signature, "signature"))
        receipt = node.submit_signed(envelope)
        return {"accepted": receipt.position, "receipt": receipt.to_json()}

    @app.get("/l2/transactions/{position:int}", responses=responses(*COMMON, 404))
    def transaction(position: Annotated[int, Path(ge=0, lt=U63)]) -> dict[str, Any]:
        """What became of the transaction at ``position`` (its receipt's): ``pending``,
        ``included`` (with the node's batch number) or ``dropped`` (with the reason).
        The only sound test of inclusion: a rise of the sender's nonce may be another
        program's transaction of the same account."""
        found = node.outcomes.get(position)
        if found is not None:
            return found.to_json(position)
        raise NotFound(f"no transaction at position {position} that this node remembers",
                       "use the position of the receipt the node gave you")  # fmt: skip

    @app.post("/l2/transactions/batch", responses=responses(*COMMON))
    def submit_batch(body: TransactionsIn) -> JSONResponse:
        """Accept several signed transactions in one request (an SDK's pipeline): each
        result is ``{"accepted": n, "receipt"}`` or ``{"error", "fix"}`` for that one."""
        envelopes: list[Envelope | ApiError] = []
        for tx in body.transactions:
            try:
                decoded = decode_tx(tx.kind, _hex(tx.body, "body"))
                envelopes.append(Envelope(decoded, tx.nonce, _hex(tx.signature, "signature")))
            except CodecError as exc:
                envelopes.append(ApiError(exc.reason, "encode it as the batch format says"))
            except ApiError as exc:
                envelopes.append(exc)
        good = [e for e in envelopes if isinstance(e, Envelope)]
        outcomes = iter(node.submit_many(good))
        results: list[dict[str, Any]] = []
        for item in envelopes:
            outcome = item if isinstance(item, ApiError) else next(outcomes)
            if isinstance(outcome, SequencerReceipt):
                results.append({"accepted": outcome.position, "receipt": outcome.to_json()})
            else:
                results.append({"error": outcome.what, "fix": outcome.fix})
        # Plain JSON built here, not validated again against ``dict[str, Any]``: that
        # second pass over 64 receipts was 4% of a loaded node's interpreter time.
        return JSONResponse({"results": results})

    @app.get("/l2/cosign/{account_index}", responses=responses(*COMMON))
    async def cosign_requests(
        account_index: AccountIndex,
        wait: Annotated[float, Query(ge=0, le=MAX_LONG_POLL_S)] = 0.0,
    ) -> list[dict[str, object]]:
        """Open co-signature requests for an account: long-polls up to ``wait`` seconds,
        and ends early (with what is open, maybe nothing) when a seal includes or drops
        a transaction the account sent or co-signed, so a client waiting for inclusion
        needs no other polling."""
        found = await desk.wait_for_requests(account_index, wait)
        return [r.to_json() for r in found]

    def take_answer(account_index: int, request_id: str, answer: SignatureIn) -> None:
        """Hand one answer to the desk; raise the API error that says why it was not taken."""
        outcome = desk.answer(request_id, _hex(answer.signature, "signature"),
                              refuse=answer.refuse, account=account_index)  # fmt: skip
        if outcome == "gone":
            raise NotFound(
                f"co-signature request {request_id} is not open",
                "fetch the open requests again; the transaction may be resubmitted",
            )
        if outcome == "invalid":
            raise ApiError("the signature is not a BLS signature (or a refusal that verifies)",
                           "sign the request's message with the account's BLS key")  # fmt: skip
        if outcome == "busy":
            raise RateLimited("this request already holds four answers to check",
                              "answer only your own account's requests")  # fmt: skip

    @app.post("/l2/cosign/{account_index}/{request_id}", responses=responses(*COMMON, 404))
    def cosign_answer(
        account_index: AccountIndex,
        request_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")],
        answer: SignatureIn,
    ) -> dict[str, Any]:
        """An agent's co-signature (checked when the round closes), or its signed refusal
        (checked now); only one that verifies against the account's registered BLS key
        for this request's message counts."""
        take_answer(account_index, request_id, answer)
        return TAKEN

    @app.post("/l2/cosign/{account_index}", responses=responses(*COMMON))
    def cosign_answers(account_index: AccountIndex, body: AnswersIn) -> JSONResponse:
        """Several answers in one request (the requests one long-poll returned), each
        taken as ``POST /l2/cosign/{account}/{request}`` takes it, one per request; each
        result is ``{"ok": true}`` or ``{"error", "fix", "status"}`` for that one."""
        results: list[dict[str, Any]] = []
        seen: set[str] = set()
        for answer in body.answers:
            try:
                if answer.request in seen:
                    # One answer per request per body: 64 refusals of one request would
                    # cost 64 pairing checks for one HTTP request.
                    raise ApiError(f"request {answer.request} is answered earlier in this "
                                   "body", "send one answer per request")  # fmt: skip
                seen.add(answer.request)
                take_answer(account_index, answer.request, answer)
            except ApiError as exc:
                results.append({"error": exc.what, "fix": exc.fix, "status": exc.status})
            else:
                results.append(TAKEN)
        return JSONResponse({"results": results})

    @app.get("/l2/batches", responses=responses(*COMMON))
    def batches(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before: Annotated[int | None, Query(ge=0, lt=U63)] = None,
    ) -> list[dict[str, Any]]:
        """Posted batches with their challenge windows, newest ``limit`` (before index
        ``before`` when given), oldest first."""
        with lock:
            indices = [i for i in node.posted if before is None or i < before][-limit:]
        return batch_views(node, indices)

    @app.get("/l2/exits", responses=responses(*COMMON))
    def exits(
        address: Annotated[str, Query(pattern=ADDRESS_PATTERN)],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """The withdrawals of ``address`` (newest ``limit``), and whether each can be
        claimed on L1."""
        return exit_views(node, Address.from_hex(address), limit)

    @app.get("/l2/exits/{exit_index}/proof", responses=responses(*COMMON, 404, 409))
    def exit_proof(exit_index: Annotated[int, Path(ge=0, lt=U63)]) -> dict[str, Any]:
        """What ``Rollup.withdraw`` takes for this exit, against the newest final batch."""
        with lock:
            if not exit_index < len(node.state.exits):
                raise NotFound(f"no exit {exit_index}")
            exit_ = node.state.exits[exit_index]
        found = node.exit_proof(exit_index)
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

    registry = node_registry(node, desk)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics of the node (read at the scrape)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return RequestGuard(app, max_body=max_body)
