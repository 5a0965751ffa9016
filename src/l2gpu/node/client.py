"""A user's client of a rollup node: sends transactions and co-signs its own commitments.

The BLS key that co-signs is derived from the account's Ethereum key
(:meth:`BlsSecretKey.from_seed`), so a user keeps one secret. The client signs a
co-signature request only if every transaction it is asked to authorize is one
it sent in this session.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from l2gpu.core.crypto.bls import BlsSecretKey
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.l2.codec import CodecError, decode_tx, encode_tx, kind_of
from l2gpu.core.l2.envelope import Envelope, rollup_domain, seal
from l2gpu.core.l2.receipts import SequencerReceipt, check_receipt
from l2gpu.core.l2.transactions import UserTx
from l2gpu.core.types import Address, ChainId
from l2gpu.node.cosigning import refusal_message

# How long a new transaction waits for the account's earlier ones to leave the node's
# queue and for a first bench (30 s) to end: one co-signing deadline and the bench.
EARLIER_WAIT_S = 90.0
POLL_S = 0.2


class NodeError(L2gpuError):
    """The node answered with an error (``status`` its HTTP code), or did not answer
    (``status`` 0)."""

    def __init__(self, what: str, fix: str = "", status: int = 0) -> None:
        super().__init__(what, fix)
        self.status = status

    @property
    def transient(self) -> bool:
        """The node did not answer, or failed on its side: worth asking again."""
        return self.status == 0 or self.status >= 500


class TransactionDropped(NodeError):
    """The node accepted the transaction, then dropped it at a seal (a co-signer
    refused it or stayed silent)."""


@dataclass(frozen=True)
class Sent:
    """A transaction the node included: its nonce, its size in a batch, the account after."""

    tx: UserTx
    nonce: int
    tx_bytes: int
    account: dict[str, Any]


class NodeReader:
    """What anyone can read from a rollup node: status, batches, accounts, channels and
    withdrawals (no key; the web console reads with one of these)."""

    def __init__(
        self, api_url: str, *, http: httpx.Client | None = None, timeout: float = 30.0
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        # ``http``: a client to reach the node with (tests pass the node app's TestClient)
        self.http = http or httpx.Client(base_url=self.api_url, timeout=timeout)

    def _get(self, path: str, **params: Any) -> Any:
        return self._check(lambda: self.http.get(path, params=params))

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self._check(lambda: self.http.post(path, json=body))

    def _check(self, call: Callable[[], httpx.Response]) -> Any:
        try:
            response = call()
        except httpx.HTTPError as exc:
            raise NodeError(
                f"the rollup node at {self.api_url} did not answer ({exc})",
                "start it with 'l2gpu up' or pass --node URL",
            ) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                raise NodeError(
                    str(body.get("error", body)), str(body.get("fix", "")), response.status_code
                )
            except ValueError:
                raise NodeError(
                    f"the node answered {response.status_code}", "", response.status_code
                ) from None
        return response.json()

    def status(self) -> dict[str, Any]:
        """The node's status."""
        return dict(self._get("/l2/status"))

    def batches(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` posted batches and their challenge windows, oldest first."""
        return list(self._get("/l2/batches", limit=limit))

    def account_of(self, address: Address) -> dict[str, Any]:
        """The account of ``address``."""
        return dict(self._get(f"/l2/accounts/{address.checksum}"))

    def exits_of(self, address: Address, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` withdrawals of ``address``, and whether each is claimable."""
        return list(self._get("/l2/exits", address=address.checksum, limit=limit))

    def channels_of(self, address: Address, role: str = "renter") -> list[dict[str, Any]]:
        """The channels of ``address`` as ``role`` (renter, provider or any), newest first."""
        return list(self._get(f"/l2/accounts/{address.checksum}/channels", role=role))

    def exit_proof(self, exit_index: int) -> dict[str, Any]:
        """Proof data for ``Rollup.withdraw``."""
        return dict(self._get(f"/l2/exits/{exit_index}/proof"))

    def transaction(self, position: int) -> dict[str, Any]:
        """What became of the transaction at ``position`` (from its receipt)."""
        return dict(self._get(f"/l2/transactions/{position}"))

    def channel(self, channel_id: str) -> dict[str, Any]:
        """A channel inside the rollup, by its 0x id."""
        return dict(self._get(f"/l2/channels/{channel_id}"))


class L2Client(NodeReader):
    """One account talking to one rollup node."""

    def __init__(self, api_url: str, key: PrivateKey, *, timeout: float = 30.0) -> None:
        super().__init__(api_url, timeout=timeout)
        self.key = key
        self.bls = BlsSecretKey.from_seed(key.secret)
        self._identity: tuple[Eip712Domain, Address] | None = None

    def account(self, address: Address | None = None) -> dict[str, Any]:
        """An account (default: this client's)."""
        return self.account_of(address or self.key.address)

    def exits(self) -> list[dict[str, Any]]:
        """This account's withdrawals."""
        return self.exits_of(self.key.address)

    def channels(self, address: Address | None = None) -> list[dict[str, Any]]:
        """The channels an account (default: this client's) pays from, newest first."""
        return self.channels_of(address or self.key.address)

    def send(self, make: Callable[[int], UserTx], *, wait: float = 60.0) -> dict[str, Any]:
        """Build a transaction from this account's index, send it, co-sign it, wait for it."""
        return self.send_tx(make, wait=wait).account

    def send_tx(self, make: Callable[[int], UserTx], *, wait: float = 60.0) -> Sent:
        """Like :meth:`send`, and say which transaction and nonce were included."""
        tx, envelope, receipt = self.send_soft(make)
        kind = kind_of(tx)
        outcome: dict[str, Any] = {}

        def settled() -> bool:
            # By the receipt's position, never by the nonce: another program of the same
            # account may have had its own transaction included at this nonce after
            # this one was dropped.
            found = self.transaction(receipt.position)
            if found.get("status") == "pending":
                return False
            outcome.update(found)
            return True

        self.cosign_until(settled, allowed=[tx], wait=wait)
        if outcome.get("status") != "included":
            raise TransactionDropped(
                f"the node dropped the transaction: {outcome.get('reason', 'no reason given')}",
                "send it again once that is resolved (a co-signer that refused or did not "
                "answer, a balance too low, another program using the same account)",
            )
        after = self.account()
        return Sent(tx, envelope.nonce, len(encode_tx(kind, tx)), after)

    def send_soft(self, make: Callable[[int], UserTx]) -> tuple[UserTx, Envelope, SequencerReceipt]:
        """Build, sign and send a transaction; return it with the sequencer's receipt,
        checked against the rollup's proposer (:class:`BadReceipt` if it does not hold).
        The transaction is soft-confirmed: it is included once its co-signature is
        given (:meth:`cosign_until`). It is sent once the account's earlier
        transactions have left the node's queue (:meth:`_after_earlier`)."""
        status = self.status()
        domain = rollup_domain(ChainId(status["chain_id"]), Address.from_hex(status["rollup"]))
        deadline = time.monotonic() + EARLIER_WAIT_S
        while True:
            me = self._after_earlier(deadline)
            tx = make(int(me["index"]))
            envelope = seal(self.key, domain, tx, int(me["next_nonce"]))
            kind = kind_of(tx)
            try:
                answer = self._post("/l2/transactions", {
                    "kind": kind, "body": "0x" + encode_tx(kind, tx).hex(),
                    "nonce": envelope.nonce, "signature": "0x" + envelope.signature.hex(),
                })  # fmt: skip
                break
            except NodeError as exc:
                # 429: the account is benched for an earlier co-signature it missed
                # (a program of it stopped mid-transaction); the bench is short at first.
                if exc.status != 429 or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)  # waiting on the node's bench, not on a clock of ours
        receipt = SequencerReceipt.from_json(
            answer.get("receipt") if isinstance(answer, dict) else None
        )
        check_receipt(receipt, domain, envelope, Address.from_hex(status["proposer"]))
        return tx, envelope, receipt

    def _after_earlier(self, deadline: float) -> dict[str, Any]:
        """This account once no transaction sent before is waiting at the node.

        A transaction queued behind one that nobody co-signs (its program was killed)
        would be dropped with it: the program co-signing the new one does not know
        the old one and refuses the commitment that holds both. The old one leaves
        the queue at the node's next co-signing deadline (or at once when its program
        is alive and co-signs it)."""
        while True:
            me = self.account()
            if int(me["next_nonce"]) == int(me["nonce"]):
                return me
            if time.monotonic() > deadline:
                waiting = int(me["next_nonce"]) - int(me["nonce"])
                raise NodeError(
                    f"{waiting} earlier transaction(s) of account {me['index']} are still "
                    f"waiting at the node after {EARLIER_WAIT_S:g} s",
                    "check 'l2gpu l2 status' (the node may be stuck), then send again",
                )
            time.sleep(POLL_S)  # waiting on the node's next seal

    def send_at(self, tx: UserTx, nonce: int) -> SequencerReceipt:
        """Sign ``tx`` at ``nonce`` and send it; return the sequencer's checked receipt.

        For a sender that tracks its own nonces (a renter paying every second): one
        request per transaction, no account lookups. The rollup's identity is read
        once per client. The caller co-signs (:meth:`cosign_until`)."""
        if self._identity is None:
            status = self.status()
            self._identity = (
                rollup_domain(ChainId(status["chain_id"]), Address.from_hex(status["rollup"])),
                Address.from_hex(status["proposer"]),
            )
        domain, proposer = self._identity
        envelope = seal(self.key, domain, tx, nonce)
        kind = kind_of(tx)
        answer = self._post("/l2/transactions", {
            "kind": kind, "body": "0x" + encode_tx(kind, tx).hex(),
            "nonce": nonce, "signature": "0x" + envelope.signature.hex(),
        })  # fmt: skip
        receipt = SequencerReceipt.from_json(
            answer.get("receipt") if isinstance(answer, dict) else None
        )
        check_receipt(receipt, domain, envelope, proposer)
        return receipt

    def cosign_until(
        self,
        done: Callable[[], bool],
        *,
        allowed: list[UserTx],
        wait: float,
        also: Callable[[UserTx], bool] | None = None,
    ) -> None:
        """Answer co-signature requests until ``done()``: sign those that authorize only
        ``allowed`` transactions (or, given ``also``, transactions it accepts: another
        party's that this account must co-sign), refuse (signed) the others."""
        index = int(self.account()["index"])
        bodies = {(kind_of(t), encode_tx(kind_of(t), t).hex()) for t in allowed}

        def allowed_bodies(kind: int, body: str) -> bool:
            if (kind, body) in bodies:
                return True
            if also is None:
                return False
            try:
                return also(decode_tx(kind, bytes.fromhex(body)))
            except (CodecError, ValueError):
                return False

        deadline = time.monotonic() + wait
        while True:
            try:
                if done():
                    return
                if time.monotonic() > deadline:
                    raise NodeError(
                        "the transaction was not included in time",
                        "check 'l2gpu l2 status'; the node may be down or the transaction invalid",
                    )
                requests = self._get(f"/l2/cosign/{index}", wait=2.0)
                # Done meanwhile (the long-poll lasts up to 2 s): leave these requests
                # to whoever sent them. Answering now would refuse another program's
                # transaction of this account (a rent's close, seen dropped under load).
                if requests and done():
                    return
                for request in requests:
                    self.answer_cosign(request, allowed_bodies)
            except NodeError as exc:
                # A node that restarts asks again for what is in its write-ahead log:
                # keep answering once it is back (until the deadline); a node busy
                # (429) is asked again too.
                if not (exc.transient or exc.status == 429) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)  # the node is down: wait for it, bounded by the deadline

    def answer_cosign(self, request: dict[str, Any], allowed: Callable[[int, str], bool]) -> None:
        """Sign ``request`` if ``allowed(kind, body hex)`` for every transaction it
        authorizes, else refuse it with a signed refusal (so no one waits for us)."""
        wanted = {(int(m["kind"]), str(m["body"]).removeprefix("0x")) for m in request["mine"]}
        message = bytes.fromhex(request["message"].removeprefix("0x"))
        # never authorize something this client did not send or accept
        refuse = not all(allowed(kind, body) for kind, body in wanted)
        signed = refusal_message(message) if refuse else message
        answer = {"signature": "0x" + self.bls.sign(signed).hex(), "refuse": refuse}
        with contextlib.suppress(NodeError):  # timed out: the next round asks again
            self._post(f"/l2/cosign/{request['account']}/{request['request']}", answer)
