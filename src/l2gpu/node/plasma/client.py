"""A user's client of the Plasma operator's API (:mod:`l2gpu.node.plasma.api`): sends
signed transfers and locks, reads coins, deposits and blocks, and rebuilds the honest
view of every coin (``core/plasma/provenance``) from the blocks the operator serves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.errors import InvalidValue
from l2gpu.core.plasma.provenance import View, follow
from l2gpu.core.plasma.sumtree import Moved, SumTree
from l2gpu.core.plasma.transactions import Deposit, SignedLock, SignedTransfer
from l2gpu.core.types import Address
from l2gpu.node.client import NodeError
from l2gpu.node.plasma.api import PAGE
from l2gpu.node.plasma.block_store import BlockStore


class PlasmaNodeClient:
    """One Plasma operator, reached at ``url``. Blocks never change once sealed, so
    the ones read are kept."""

    def __init__(self, url: str, *, timeout: float = 30.0, store: BlockStore | None = None) -> None:
        self.url = url.rstrip("/")
        self.store = store  # our own copy of the blocks checked against L1 (view)
        self.http = httpx.Client(base_url=self.url, timeout=timeout)
        self._blocks: dict[int, tuple[SignedTransfer, ...]] = {}

    def _call(self, call: Callable[[], httpx.Response]) -> Any:
        try:
            response = call()
        except httpx.HTTPError as exc:
            raise NodeError(
                f"the Plasma operator at {self.url} did not answer ({exc})",
                "start it with 'l2gpu up --design plasma' or pass --node URL",
            ) from exc
        try:
            body = response.json()
        except ValueError:
            raise NodeError(
                f"{self.url} answered {response.status_code} with no JSON",
                "check that --node names a Plasma operator",
                response.status_code,
            ) from None
        if response.status_code >= 400:
            error = body.get("error", body) if isinstance(body, dict) else body
            fix = body.get("fix", "") if isinstance(body, dict) else ""
            raise NodeError(str(error), str(fix), response.status_code)
        return body

    def status(self) -> dict[str, Any]:
        """Height, blocks on L1, coins, waiting transfers, the contract, L1's time."""
        return dict(self._call(lambda: self.http.get("/plasma/status")))

    def submit(self, signed: SignedTransfer, claim: bytes = b"") -> str:
        """Send a signed transfer (``claim``: a lease provider's, for locked coins); its
        leaf (hex) once the operator holds it."""
        body = {"transfer": signed.encode().hex()} | ({"claim": claim.hex()} if claim else {})
        return str(self._call(lambda: self.http.post("/plasma/transfers", json=body))["leaf"])

    def lock(self, signed: SignedLock) -> None:
        """Send a lease's signed lock."""
        lock = signed.lock
        body = {
            "start": str(lock.start),
            "end": str(lock.end),
            "provider": lock.provider.checksum,
            "until": lock.until,
            "signature": signed.signature.hex(),
        }
        self._call(lambda: self.http.post("/plasma/locks", json=body))

    def coins(self, owner: Address, *, free: bool = False) -> list[tuple[int, int, int]]:
        """The coin ranges ``owner`` holds now: ``(start, end, received)`` (``free``:
        less those under a live lease lock)."""
        params = {"owner": owner.checksum, "free": str(free).lower()}
        body = self._call(lambda: self.http.get("/plasma/coins", params=params))
        return [(int(c["start"]), int(c["end"]), int(c["received"])) for c in body["coins"]]

    def lock_at(self, coin: int) -> dict[str, Any] | None:
        """The live lease lock holding ``coin``; None if none does."""
        return self._found(f"/plasma/locks?coin={coin}")

    def owner_of(self, coin: int) -> dict[str, Any] | None:
        """Who holds ``coin`` (``owner``, ``received``); None if no one does."""
        return self._found(f"/plasma/owner?coin={coin}")

    def _found(self, path: str) -> dict[str, Any] | None:
        try:
            return dict(self._call(lambda: self.http.get(path)))
        except NodeError as exc:
            if exc.status == 404:
                return None
            raise

    def deposits(self) -> list[Deposit]:
        """Every deposit the operator recorded, in order."""
        out: list[Deposit] = []
        while True:
            page = self._page(len(out))
            out += [
                Deposit(
                    int(d["start"]), int(d["end"]), Address.from_hex(d["owner"]), int(d["block"])
                )
                for d in page
            ]
            if len(page) < PAGE:
                return out

    def _page(self, start: int) -> list[dict[str, Any]]:
        body = self._call(lambda: self.http.get("/plasma/deposits", params={"start": start}))
        return list(body["deposits"])

    def block(self, number: int) -> tuple[SignedTransfer, ...]:
        """Block ``number``'s transfers (kept once read)."""
        if number not in self._blocks:
            body = self._call(lambda: self.http.get(f"/plasma/blocks/{number}"))
            self._blocks[number] = tuple(
                SignedTransfer.decode(bytes.fromhex(t.removeprefix("0x")))
                for t in body["transfers"]
            )
        return self._blocks[number]

    def view(
        self,
        domain: Eip712Domain,
        height: int | None = None,
        root_of: Callable[[int], bytes] | None = None,
    ) -> View:
        """Every coin's holder and evidence, from the served blocks up to ``height``
        (default: the operator's height). With ``root_of`` (L1's root of a block), a
        block whose transfers do not make L1's root counts as withheld, and the blocks
        that do are kept in :attr:`store` and read from it first. Deposits are as the
        operator reports them (the watcher reads L1's logs instead)."""
        height = int(self.status()["height"]) if height is None else height
        blocks = {}
        for number in range(1, height + 1):
            root = root_of(number) if root_of is not None else None
            kept = self.store.get(number) if self.store is not None and root else None
            if kept is not None and kept[0] == root and _root(kept[1]) == root:
                blocks[number] = kept[1]
                continue
            try:
                transfers = self.block(number)
            except NodeError as exc:
                if exc.status != 404:
                    raise
                break  # withheld: nothing after it can be checked (follow stops there)
            if root is not None and _root(transfers) != root:
                break  # not the block L1 holds: as good as withheld
            if root is not None and self.store is not None:
                self.store.put(number, root, transfers)
            blocks[number] = transfers
        return follow(domain, self.deposits(), blocks, height)


def _root(transfers: tuple[SignedTransfer, ...]) -> bytes | None:
    """The root a block of ``transfers`` has; None if no block can hold them."""
    try:
        return SumTree([Moved(t.transfer.start, t.transfer.end, t.leaf) for t in transfers]).root
    except InvalidValue:
        return None
