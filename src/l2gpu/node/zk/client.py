"""A user's client of a zk node's HTTP API (:mod:`l2gpu.node.zk.api`): signs transfers,
withdrawals and channel opens with the user's zk key, sends channel closes, and reads
accounts, transactions, channels and status."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Address
from l2gpu.core.zk.channel import OpenChannelTx, sign_open
from l2gpu.core.zk.transfer import TransferTx, sign_transfer
from l2gpu.core.zk.withdrawal import WithdrawalTx, sign_withdrawal
from l2gpu.node.client import NodeError


class ZkNodeClient:
    """One zk node, reached at ``url``."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, call: Callable[[], httpx.Response]) -> Any:
        try:
            response = call()
        except httpx.HTTPError as exc:
            raise NodeError(
                f"the zk node at {self.url} did not answer ({exc})",
                "start it with 'l2gpu up --design zk' or pass --node URL",
            ) from exc
        try:
            body = response.json()
        except ValueError:
            raise NodeError(f"{self.url} answered {response.status_code} with no JSON",
                            "check that --node names a zk node ('l2gpu up --design zk')",
                            response.status_code) from None  # fmt: skip
        if response.status_code >= 400:
            if not isinstance(body, dict):
                status = response.status_code
                raise NodeError(f"{self.url} answered {status} with no error body",
                                "check that --node names a zk node", status)  # fmt: skip
            if response.status_code == 404 and "error" not in body:
                raise NodeError(f"{self.url} is not a zk node (no /zk routes)",
                                "pass --node URL of 'l2gpu up --design zk'", 404)  # fmt: skip
            raise NodeError(str(body.get("error", body)), str(body.get("fix", "")),
                            response.status_code)  # fmt: skip
        return body

    def status(self) -> dict[str, Any]:
        """Root, batches sealed/proven/posted, pending transactions, the rollup."""
        return dict(self._call(lambda: self.http.get("/zk/status")))

    def account(self, index: int) -> dict[str, Any] | None:
        """The account at ``index`` in the sealed state, or None when there is none."""
        try:
            return dict(self._call(lambda: self.http.get(f"/zk/accounts/{index}")))
        except NodeError as exc:
            if exc.status == 404:
                return None
            raise

    def account_of(self, address: Address) -> dict[str, Any] | None:
        """The account of the L1 ``address`` in the sealed state, or None when it has
        none yet (never deposited, or its deposit is not in a sealed batch)."""
        try:
            found = self._call(
                lambda: self.http.get("/zk/accounts", params={"address": address.checksum})
            )
        except NodeError as exc:
            if exc.status == 404:
                return None
            raise
        return dict(found)

    def batch_data(self, number: int) -> bytes | None:
        """Sealed batch ``number``'s whole public data, or None when there is none."""
        try:
            found = self._call(lambda: self.http.get(f"/zk/batches/{number}"))
        except NodeError as exc:
            if exc.status == 404:
                return None
            raise
        data = found.get("data") if isinstance(found, dict) else None
        if isinstance(data, str):
            try:
                return bytes.fromhex(data.removeprefix("0x"))
            except ValueError:
                pass
        raise NodeError(f"{self.url} served batch {number} without its data as hex",
                        "the node is broken or hostile: fetch the data elsewhere")  # fmt: skip

    def transaction(self, position: int) -> dict[str, Any]:
        """``pending``, ``included`` (its batch) or ``dropped`` (why)."""
        return dict(self._call(lambda: self.http.get(f"/zk/transactions/{position}")))

    def transfer(self, key: bytes, tx: TransferTx) -> int:
        """Sign ``tx`` with ``key`` and send it; return its position."""
        body = {"type": "transfer", "from_index": tx.from_index, "to_index": tx.to_index,
                "amount": str(tx.amount), "fee_code": tx.fee_code, "nonce": tx.nonce,
                "signature": eddsa.pack_signature(sign_transfer(key, tx)).hex()}  # fmt: skip
        return self._send(body)

    def withdraw(self, key: bytes, tx: WithdrawalTx) -> int:
        """Sign ``tx`` with ``key`` and send it; return its position."""
        body = {"type": "withdrawal", "from_index": tx.from_index, "amount": str(tx.amount),
                "nonce": tx.nonce,
                "signature": eddsa.pack_signature(sign_withdrawal(key, tx)).hex()}  # fmt: skip
        return self._send(body)

    def open_channel(
        self, key: bytes, renter: int, provider: int, deposit: int, expiry: int, nonce: int
    ) -> tuple[int, int]:
        """Sign an open of a channel with ``key`` (the renter's) and send it; return its
        position and the channel's slot, which the node picks."""
        tx = OpenChannelTx(0, renter, provider, deposit, expiry, nonce)
        body = {"renter": renter, "provider": provider, "deposit": str(deposit),
                "expiry": expiry, "nonce": nonce,
                "signature": eddsa.pack_signature(sign_open(key, tx)).hex()}  # fmt: skip
        answer = self._call(lambda: self.http.post("/zk/channels", json=body))
        return int(answer["position"]), int(answer["channel_index"])

    def close_channel(
        self,
        channel_index: int,
        amount: int,
        voucher_sig: eddsa.Signature,
        provider_sig: eddsa.Signature,
    ) -> int:
        """Close the channel at ``channel_index``: ``amount`` to its provider with the
        renter's voucher and the provider's close signature; return the position."""
        body = {"amount": str(amount), "voucher": eddsa.pack_signature(voucher_sig).hex(),
                "provider_signature": eddsa.pack_signature(provider_sig).hex()}  # fmt: skip
        path = f"/zk/channels/{channel_index}/close"
        return int(self._call(lambda: self.http.post(path, json=body))["position"])

    def channel(self, index: int) -> dict[str, Any] | None:
        """The latest channel given slot ``index``, or None when there is none."""
        return self._maybe(lambda: self.http.get(f"/zk/channels/{index}"))

    def channel_by_name(self, renter: int, open_nonce: int) -> dict[str, Any] | None:
        """Channel ``(renter, open_nonce)`` and its status, or None when unknown."""
        params = {"renter": renter, "open_nonce": open_nonce}
        return self._maybe(lambda: self.http.get("/zk/channels", params=params))

    def channels_of(self, renter: int) -> list[dict[str, Any]]:
        """The channels the account at index ``renter`` opened as renter, newest first."""
        return list(self._call(lambda: self.http.get(f"/zk/accounts/{renter}/channels")))

    def _maybe(self, call: Callable[[], httpx.Response]) -> dict[str, Any] | None:
        try:
            return dict(self._call(call))
        except NodeError as exc:
            if exc.status == 404:
                return None
            raise

    def _send(self, body: dict[str, Any]) -> int:
        return int(self._call(lambda: self.http.post("/zk/transactions", json=body))["position"])

    def wait_included(self, position: int, *, seconds: float) -> dict[str, Any]:
        """Wait until the transaction at ``position`` is in a sealed batch; raise
        :class:`L2gpuError` when the node dropped it or ``seconds`` passed. Silent: the
        caller says what it waits for."""
        deadline = time.monotonic() + seconds
        while True:
            found = self.transaction(position)
            if found["status"] == "included":
                return found
            if found["status"] == "dropped":
                raise L2gpuError(f"the node dropped transaction {position}: {found['reason']}",
                                 "check the balance and send it again")  # fmt: skip
            if time.monotonic() > deadline:
                raise L2gpuError(
                    f"transaction {position} is still pending after {seconds:.0f} s",
                    "it stays queued: check 'l2gpu zk status' and the node's log",
                )
            time.sleep(0.5)  # the node seals on its own timer: polling it, not a clock
