"""The Python SDK of the market: every operation of the API as a method.

    from l2gpu.client import MarketClient
    market = MarketClient("http://127.0.0.1:8600", key)   # signs in on first use
    found = market.search("gpu_name=RTX_4090 num_gpus>=2", sort="price")
    lease = market.rent(found.offers[0].id, command="python train.py", duration=3600,
                        channel=...)
    for line in market.follow_logs(lease.id): print(line, end="")

Every method returns the typed answer the API declares for its route
(:mod:`l2gpu.wire`): amounts and offer ids are ints, a lease's status a
``LeaseStatus``; ``model_dump(mode="json")`` gives back the API's JSON.

All network I/O goes through one ``httpx.Client``; tests pass FastAPI's
``TestClient`` in its place, so the SDK is exercised without sockets. An error
answer from the API becomes :class:`ApiRequestError` carrying the API's own
``what`` and ``fix``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from l2gpu import wire as w
from l2gpu.core.channel.vouchers import Voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.market.offers import SignedOffer
from l2gpu.core.market.signin import parse_message, sign_message
from l2gpu.core.market.workdir import PART_BYTES, sign_download
from l2gpu.core.types import Address


class ApiRequestError(L2gpuError):
    """The API refused a request; ``status`` is the HTTP status."""

    def __init__(self, what: str, fix: str, status: int) -> None:
        self.status = status
        super().__init__(what, fix)


class MarketClient:
    """A signed-in session with the market API."""

    def __init__(
        self,
        base_url: str,
        key: PrivateKey,
        *,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.key = key
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._token: str | None = None

    # -- plumbing ------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self.login()
        return {"Authorization": f"Bearer {self._token}"}

    def _call(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        headers = self._headers() if auth else {}
        try:
            reply = self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise L2gpuError(
                f"cannot reach the market API: {exc}",
                "check --api-url and that 'l2gpu up' or the API runs",
            ) from exc
        if reply.status_code >= 400:
            raise _error(reply)
        return reply.json()

    def bearer(self) -> dict[str, str]:
        """The session's Authorization header (signing in first): what a websocket of
        the API (``l2gpu ssh``'s relay, :mod:`l2gpu.shell_link`) sends as it connects."""
        return self._headers()

    def forget_session(self) -> None:
        """Sign in afresh on the next call (a restarted market forgot the session)."""
        self._token = None

    def login(self) -> str:
        """Sign in with EIP-4361; return the bearer token."""
        message = self.sign_in_message(self.key.address)
        signature = sign_message(self.key, parse_message(message))
        self._token = self.sign_in(message, "0x" + signature.hex())
        return self._token

    def sign_in_message(self, address: Address) -> str:
        """The market's EIP-4361 message for ``address`` to sign (any wallet's way in)."""
        issued = self._call("POST", "/auth/nonce", auth=False, json={"address": address.checksum})
        return w.SignInMessage.model_validate(issued).message

    def sign_in(self, message: str, signature: str) -> str:
        """Trade a signed sign-in message for a bearer token (kept by this client)."""
        reply = self._call("POST", "/auth/login", auth=False,
                           json={"message": message, "signature": signature})  # fmt: skip
        self._token = w.SignedIn.model_validate(reply).token
        return self._token

    # -- everyone --------------------------------------------------------------------

    def health(self) -> w.Health:
        """The API's liveness, chain id and version."""
        return w.Health.model_validate(self._call("GET", "/health", auth=False))

    def search(self, query: str = "", *, sort: str = "", limit: int = 50) -> w.OffersFound:
        """Offers meeting ``query`` (the filter language), ordered by ``sort``."""
        reply = self._call(
            "GET", "/offers", auth=False, params={"q": query, "sort": sort, "limit": limit}
        )
        return w.OffersFound.model_validate(reply)

    def offer(self, offer_id: str | int) -> w.OfferPublic:
        """One offer."""
        return w.OfferPublic.model_validate(self._call("GET", f"/offers/{offer_id}", auth=False))

    def gpu_index(self, gpu: str) -> w.GpuIndex:
        """The GPU-hour index of ``gpu`` over the last day (ApiRequestError 404 for a
        thin market): what forwards settle against."""
        path = f"/index/{quote(gpu, safe='')}"  # a model's name may hold spaces or "/"
        return w.GpuIndex.model_validate(self._call("GET", path, auth=False))

    def providers(self) -> list[w.ProviderPublic]:
        """Every provider's public record."""
        return [
            w.ProviderPublic.model_validate(p) for p in self._call("GET", "/providers", auth=False)
        ]

    def provider(self, address: Address) -> w.ProviderPublic:
        """One provider's public record: its machine's inventory, last heartbeat, record."""
        reply = self._call("GET", f"/providers/{address.checksum}", auth=False)
        return w.ProviderPublic.model_validate(reply)

    # -- renters ---------------------------------------------------------------------

    def quote(
        self,
        offer_id: str | int,
        *,
        duration: int,
        max_price_per_gpu_second: int | None = None,
        image: str | None = None,
    ) -> w.Quote:
        """Whether ``offer_id`` would be rented for ``duration`` s (the market's checks that
        need no channel, ``image`` among them), and the lease's maximum cost."""
        body: dict[str, Any] = {"offer_id": str(offer_id), "duration": duration}
        if image is not None:
            body["image"] = image
        if max_price_per_gpu_second is not None:
            body["max_price_per_gpu_second"] = str(max_price_per_gpu_second)
        return w.Quote.model_validate(self._call("POST", "/quotes", json=body))

    def rent(
        self,
        offer_id: str | int,
        *,
        command: str,
        duration: int,
        channel: ChannelDescription,
        env: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
        max_price_per_gpu_second: int | None = None,
        archive: w.ArchivePublic | None = None,
        image: str | None = None,
    ) -> w.LeasePublic:
        """Rent an offer for ``duration`` seconds and submit ``command`` on it, started in
        the folder ``archive`` (uploaded first with :meth:`upload`), in the container
        ``image`` (None: the provider's own)."""
        body: dict[str, Any] = {
            "offer_id": str(offer_id),
            "duration": duration,
            "channel": channel.to_json(),
            "job": {
                "command": command,
                "env": env or {},
                "secrets": secrets or {},
                "files": files or {},
            },
        }
        if archive is not None:
            body["job"]["archive"] = {"sha256": archive.sha256, "size": archive.size}
        if image is not None:
            body["job"]["image"] = image
        if max_price_per_gpu_second is not None:
            body["max_price_per_gpu_second"] = str(max_price_per_gpu_second)
        return w.LeasePublic.model_validate(self._call("POST", "/leases", json=body))

    def lease(self, lease_id: int) -> w.LeasePublic:
        """A lease and its job."""
        return w.LeasePublic.model_validate(self._call("GET", f"/leases/{lease_id}"))

    def jobs(self, *, live: bool = False) -> list[w.LeasePublic]:
        """The caller's jobs (leases), newest first."""
        reply = self._call("GET", "/jobs", params={"live": live})
        return [w.LeasePublic.model_validate(item) for item in reply]

    def leases(
        self, *, role: str = "any", since: int | None = None, limit: int = 500
    ) -> list[w.LeasePublic]:
        """The caller's leases as ``role`` (any, renter or provider), newest first, at most
        ``limit``; with ``since``, only those live or ended at or after it."""
        params: dict[str, Any] = {"role": role, "limit": limit}
        if since is not None:
            params["since"] = since
        return [
            w.LeasePublic.model_validate(i) for i in self._call("GET", "/leases", params=params)
        ]

    def pay(self, lease_id: int, voucher: Voucher) -> w.VoucherTaken:
        """Send a voucher for the lease's channel; the answer holds the best amount the
        market now relays to the provider."""
        return w.VoucherTaken.model_validate(
            self._call(
                "POST",
                f"/leases/{lease_id}/vouchers",
                json={"amount": str(voucher.amount), "signature": "0x" + voucher.signature.hex()},
            )
        )

    def stop(self, lease_id: int) -> w.LeasePublic:
        """End a lease and stop its job; return the lease after it."""
        return w.LeasePublic.model_validate(self._call("POST", f"/jobs/{lease_id}/stop"))

    def logs(self, lease_id: int, after: int = 0) -> w.Logs:
        """Log chunks after seq ``after``, and whether the lease is over."""
        reply = self._call("GET", f"/jobs/{lease_id}/logs", params={"after": after})
        return w.Logs.model_validate(reply)

    def follow_logs(self, lease_id: int, after: int = 0) -> Iterator[str]:
        """Yield the job's output as it comes, until the lease is over."""
        with self.http.stream(
            "GET",
            f"/jobs/{lease_id}/logs",
            headers=self._headers(),
            params={"after": after, "follow": True},
            timeout=None,
        ) as reply:
            if reply.status_code >= 400:
                reply.read()
                raise _error(reply)
            for line in reply.iter_lines():
                item = json.loads(line)
                if item.get("end"):
                    return
                yield str(item["text"])

    # -- a job's folder --------------------------------------------------------------

    def upload(self, data: bytes) -> w.ArchivePublic:
        """Upload an archive (a job's folder) in parts; parts the market has already (an
        earlier upload of the same folder) are not sent again."""
        digest = hashlib.sha256(data).hexdigest()
        state = w.Upload.model_validate(
            self._call("POST", "/uploads", json={"sha256": digest, "size": len(data)})
        )
        for index in state.missing:
            part = data[index * state.part_size : (index + 1) * state.part_size]
            state = w.Upload.model_validate(self._call(
                "PUT", f"/uploads/{digest}/parts/{index}", json={"data": _b64(part)}
            ))  # fmt: skip
        if not state.complete:
            raise L2gpuError(f"the market holds the upload {digest} incomplete",
                             "run the command again: the missing parts are sent")  # fmt: skip
        return w.ArchivePublic(sha256=digest, size=len(data))

    def archive(self, lease_id: int, archive: w.ArchivePublic) -> bytes:
        """The folder a lease's job starts in (the provider's agent), checked against
        its digest."""
        parts = [
            self._part(f"/agent/leases/{lease_id}/archive/parts/{i}")
            for i in range(-(-archive.size // PART_BYTES))
        ]
        return _checked(b"".join(parts), archive.sha256, archive.size, f"lease {lease_id}'s folder")

    def ask_download(self, lease_id: int, path: str, *, issued_at: int) -> w.Download:
        """Ask the provider's agent for ``path`` of a lease's folder, signed with this
        client's key (the lease's renter's)."""
        signature = sign_download(self.key, lease_id, path, issued_at)
        body = {"path": path, "issued_at": issued_at, "signature": "0x" + signature.hex()}
        return w.Download.model_validate(
            self._call("POST", f"/jobs/{lease_id}/downloads", json=body)
        )

    def download(self, lease_id: int, download_id: int) -> w.Download:
        """A download request as it stands."""
        path = f"/jobs/{lease_id}/downloads/{download_id}"
        return w.Download.model_validate(self._call("GET", path))

    def download_data(self, asked: w.Download) -> bytes:
        """The archive of a ready download, checked against its digest."""
        if asked.status != "ready" or asked.sha256 is None or asked.size is None:
            raise L2gpuError(f"download {asked.id} is {asked.status}", "wait until it is ready")
        base = f"/jobs/{asked.lease_id}/downloads/{asked.id}/parts"
        data = b"".join(self._part(f"{base}/{i}") for i in range(asked.parts or 0))
        return _checked(data, asked.sha256, asked.size, f"download {asked.id}")

    def agent_downloads(self) -> list[w.AgentDownload]:
        """Download requests waiting for this provider's agent."""
        reply = self._call("GET", "/agent/downloads")
        return [w.AgentDownload.model_validate(item) for item in reply]

    def agent_shells(self) -> list[w.AgentShell]:
        """Shell sessions (``l2gpu ssh``) waiting for this provider's agent to connect."""
        return [w.AgentShell.model_validate(item) for item in self._call("GET", "/agent/shells")]

    def answer_download(self, download_id: int, data: bytes | None, error: str = "") -> w.Download:
        """Answer a download with an archive (sent in parts) or with why not."""
        path = f"/agent/downloads/{download_id}"
        if data is None:
            return w.Download.model_validate(self._call("POST", path, json={"error": error[:500]}))
        digest = hashlib.sha256(data).hexdigest()
        state = w.Download.model_validate(
            self._call("POST", path, json={"sha256": digest, "size": len(data)})
        )
        for index in range(state.parts or 0) if state.status == "sending" else ():
            part = data[index * state.part_size : (index + 1) * state.part_size]
            state = w.Download.model_validate(
                self._call("PUT", f"{path}/parts/{index}", json={"data": _b64(part)})
            )
        return state

    def _part(self, path: str) -> bytes:
        return base64.b64decode(w.Part.model_validate(self._call("GET", path)).data)

    # -- providers -------------------------------------------------------------------

    def publish(self, offer: SignedOffer) -> w.OfferPublic:
        """Publish a signed offer; return it as the market shows it."""
        return w.OfferPublic.model_validate(
            self._call(
                "POST",
                "/offers",
                json={
                    "terms": offer.terms.to_json(),
                    "signature": "0x" + offer.signature.hex(),
                    "chain_id": offer.chain_id,
                },
            )
        )

    def my_offers(self, *, limit: int = 100, offset: int = 0) -> list[w.OwnOffer]:
        """The caller's offers in any status (active, leased, withdrawn), newest first."""
        reply = self._call("GET", "/accounts/me/offers", params={"limit": limit, "offset": offset})
        return [w.OwnOffer.model_validate(item) for item in reply]

    def withdraw(self, offer_id: str | int) -> w.OfferWithdrawn:
        """Withdraw one of your offers."""
        return w.OfferWithdrawn.model_validate(self._call("DELETE", f"/offers/{offer_id}"))

    def heartbeat(self, inventory: dict[str, Any]) -> w.HeartbeatSeen:
        """Tell the market the agent is alive."""
        reply = self._call("POST", "/providers/heartbeat", json={"inventory": inventory})
        return w.HeartbeatSeen.model_validate(reply)

    def work(self) -> list[w.AgentLease]:
        """Live leases served by the caller, with jobs and newest vouchers."""
        return [w.AgentLease.model_validate(item) for item in self._call("GET", "/agent/leases")]

    def report(self, lease_id: int, kind: str, **fields: Any) -> w.AgentEventTaken:
        """Report a job event (accepted, started, start_failed, usage, exited, stopped);
        the answer says the lease's status after it, and why the market ignored it."""
        reply = self._call(
            "POST", f"/agent/leases/{lease_id}/events", json={"kind": kind, **fields}
        )
        return w.AgentEventTaken.model_validate(reply)

    def send_logs(self, lease_id: int, chunks: list[str]) -> int:
        """Append job output; return the last seq."""
        reply = self._call("POST", f"/agent/leases/{lease_id}/logs", json={"chunks": chunks})
        return w.LogsAppended.model_validate(reply).seq


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _checked(data: bytes, sha256: str, size: int, what: str) -> bytes:
    """``data`` if it is ``size`` bytes hashing to ``sha256``; else an error (the market,
    or whoever wrote the archive, sent something else)."""
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != size or digest != sha256:
        raise L2gpuError(
            f"{what} arrived as {len(data)} bytes hashing to {digest}, not the {size} bytes "
            f"hashing to {sha256} it was declared as",
            "try again; if it persists, the market is not relaying it faithfully",
        )
    return data


NOT_THE_MARKET_FIX = (
    "check that --api-url (or the market_url setting) names the market ('l2gpu market "
    "serve'), not a rollup node or another server"
)


def _error(reply: httpx.Response) -> ApiRequestError:
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return ApiRequestError(body["error"], str(body.get("fix", "")), reply.status_code)
    # Not the market's error shape: another server answered (the rollup node shares the
    # default port), so say what came back instead of "error: None".
    shown = " ".join(reply.text.split())[:120]
    return ApiRequestError(
        f"{reply.request.url} answered {reply.status_code} without a market error"
        + (f" ({shown})" if shown else ""),
        NOT_THE_MARKET_FIX,
        reply.status_code,
    )
