"""The ``zk`` rail: a lease's channel in the zk rollup's ledger, through a zk node's API.

The channel is a leaf of the proven state (``core/zk/channel.py``): the renter's
OPEN locks the deposit; every second the renter signs a voucher with its EdDSA key
(``core/zk/vouchers.py``); the provider's CLOSE, signed by the provider over the
renter's best voucher, pays it and refunds the rest; a channel the provider never
closes goes back whole to its renter at its expiry (RECLAIM, which the node adds by
itself). No co-signature and no dispute window: the ledger checks both signatures
in the batch's proof, and L1 verifies the proof.

Opening is soft-confirmed, as on the hybrid rail: the node answers with the channel's
slot as soon as its write-ahead log holds the OPEN, the provider's agent sees the
channel ``pending`` and may start the job, and ``open`` once a proven batch holds it.
If the node drops the OPEN, the channel goes ``missing`` and the agent stops the job.

Expiry: the channel expires :data:`CHALLENGE_PERIOD` after the lease's longest
end, so that a provider has that long to close after the lease; the rail reports the
expiry less that margin as the time the channel can pay until (what
``funding_problem`` compares with the lease's end).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from l2gpu.clock import format_timestamp
from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.vouchers import Voucher, channel_domain
from l2gpu.core.crypto import eddsa_poseidon as eddsa
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.designs import ChannelAlreadyClosed, ClosedChannel, OpenedChannel
from l2gpu.core.errors import InvalidValue, L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription, ZkChannelName
from l2gpu.core.market.settlement import funding_problem, rail_problem, terms_problem
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Hash32, Wei
from l2gpu.core.zk.channel import sign_close
from l2gpu.core.zk.keys import zk_private_key, zk_public_key
from l2gpu.core.zk.pubdata import CLOSE_BYTES, OPEN_BYTES
from l2gpu.payments.rails import CHALLENGE_PERIOD, STATUS_TIMEOUT

POLL_SECONDS = 0.25  # how often a party looks whether the node sealed a transaction
STATUSES = {"pending": "pending", "open": "open", "closed": "settled"}
"""The node's channel statuses in the rail's words."""


class ZkChannelRail:
    """Channels in the zk ledger, through a zk node's API (``client``, a
    :class:`~l2gpu.node.zk.client.ZkNodeClient`). ``key`` is the party's L1 key (its
    zk key is derived from it); None for a rail that only reads (the market's check).
    ``clock`` gives the time expiries count in (default: the node's L1 time)."""

    settlement = "zk"
    pending_needs_renter = False
    """An open is pending until a proof holds it: the operator's work, not the renter's."""

    def __init__(
        self,
        client: Any,
        key: PrivateKey | None,
        *,
        clock: Callable[[], int] | None = None,
        wait: float = 120.0,
    ) -> None:
        self.client = client
        self.key = key
        self.wait = wait
        status = client.status()
        self.chain_id = int(status["chain_id"])
        self.rollup = Address.from_hex(status["rollup"])
        # the key of this deployment: one signed for another never verifies here
        self.zk_key = (zk_private_key(key, self.chain_id, self.rollup)
                       if key is not None else None)  # fmt: skip
        self.clock = clock or (lambda: int(client.status().get("time") or time.time()))
        self._opened: dict[Hash32, ZkChannelName] = {}

    @property
    def domain(self) -> Eip712Domain:
        """The rollup's EIP-712 domain. A zk channel's vouchers verify under the
        renter's EdDSA key instead: see ``channel_description.voucher_domain``."""
        return channel_domain(ChainId(self.chain_id), self.rollup)

    def now(self) -> int:
        """The time channel expiries count in."""
        return int(self.clock())

    # -- the renter's side ---------------------------------------------------------

    def open(self, provider: Address, deposit: Wei, *, lifetime: int) -> OpenedChannel:
        """Send the OPEN; return once the node's log holds it (the channel is
        ``pending``) with the channel's description."""
        key, zk_key = self._signer()
        renter = self.index_of(key.address, "your L1 address", "deposit with 'l2gpu zk deposit'")
        provider_index = self.index_of(
            provider, f"the provider {provider.checksum}",
            "ask the provider to deposit, or rent another offer",
        )  # fmt: skip
        account = self.client.account(renter)
        if account is None or int(account["balance"]) < deposit:
            raise L2gpuError(
                f"your zk balance is below the lease's deposit of {deposit} wei",
                "deposit more with 'l2gpu zk deposit'",
            )
        nonce = int(account["next_nonce"])
        expiry = self.now() + lifetime + CHALLENGE_PERIOD
        _, index = self.client.open_channel(zk_key, renter, provider_index, int(deposit), expiry,
                                            nonce)  # fmt: skip
        ax, ay = zk_public_key(zk_key)
        name = ZkChannelName(int(index), renter, nonce, ax, ay)
        params = ChannelParams(key.address, provider, ZERO_ADDRESS, CHALLENGE_PERIOD, name.salt)
        description = ChannelDescription(self.settlement, ChainId(self.chain_id), self.rollup,
                                         params, deposit, name)  # fmt: skip
        self._opened[params.id] = name
        return OpenedChannel(params, deposit, description, 0, OPEN_BYTES)

    def confirmed(self, channel_id: Hash32) -> str:
        """Wait until a channel this rail opened leaves ``pending``; return its status."""
        name = self._opened.get(channel_id)
        if name is None:
            return "missing"
        deadline = time.monotonic() + self.wait
        while True:
            state = self._status(name)
            if state != "pending" or time.monotonic() > deadline:
                return state
            time.sleep(POLL_SECONDS)  # waiting on the node's next proof, not on a clock

    def cosign_close(self, channel: ChannelDescription, paid: Wei) -> str:
        """Nothing to co-sign: the provider closes with the renter's best voucher. Wait
        for that close (up to the rail's wait) and return the channel's status."""
        name = self._name(channel)
        deadline = time.monotonic() + self.wait
        while True:
            state = self._status(name)
            if state not in ("pending", "open") or time.monotonic() > deadline:
                return state
            time.sleep(POLL_SECONDS)

    def abandon(self, channel: ChannelDescription, conceded: Wei = Wei(0)) -> str:
        """A zk channel needs no renter's close: say when the deposit comes back."""
        name = self._name(channel)
        if self._status(name) == "missing":
            return (f"channel {channel.channel_id} was never opened in the zk rollup: "
                    "nothing was locked")  # fmt: skip
        found = self.client.channel_by_name(name.renter_index, name.open_nonce)
        expiry = int(found["expiry"])
        return (
            f"the provider can close channel {channel.channel_id} with your best voucher "
            f"until {format_timestamp(expiry)} (L1 time); after that the node returns the "
            "whole deposit to your zk balance by itself"
        )

    # -- the provider's side -------------------------------------------------------

    def check(self, channel: ChannelDescription, *, max_cost: int, ends_by: int) -> str | None:
        """Read the channel from the node and check it against its description: slot,
        parties (their L1 addresses in their leaves), the renter's key, the deposit
        (the description's is the ledger's: vouchers are held to it), and funding."""
        wrong = rail_problem(channel, self.settlement, self.chain_id, self.rollup,
                             "in the zk rollup")  # fmt: skip
        wrong = wrong or terms_problem(channel)
        if wrong:
            return wrong
        name = self._name(channel)
        found = self._found(name)
        if found is None:
            return "the lease's channel is not in the zk rollup"
        if found["status"] not in ("pending", "open"):
            return f"the lease's channel is {found['status']} in the zk rollup, not open"
        if int(found["index"]) != name.channel:
            return "the lease's channel lies in another slot than its description says"
        if int(found["deposit"]) != int(channel.deposit):
            return (f"the lease's channel holds {found['deposit']} wei in the zk rollup, "
                    f"not the {int(channel.deposit)} its description says")  # fmt: skip
        renter = self.client.account(name.renter_index)
        provider = self.client.account(int(found["provider"]))
        if renter is None or Address.from_hex(renter["eth_address"]) != channel.renter:
            return "the channel's renter account is not the lease's renter"
        if (int(renter["ax"]), int(renter["ay"])) != (name.ax, name.ay):
            return "the channel's description names another key than the renter's"
        if provider is None or Address.from_hex(provider["eth_address"]) != channel.provider:
            return "the channel does not pay the lease's provider"
        pays_until = int(found["expiry"]) - int(channel.params.challenge_period)
        return funding_problem(int(found["deposit"]), pays_until, max_cost, ends_by)

    def close(self, channel: ChannelDescription, best: Voucher) -> ClosedChannel:
        """CLOSE with the renter's best voucher and this provider's signature; return
        once a sealed batch holds it."""
        _, zk_key = self._signer()
        name = self._name(channel)
        found = self._found(name)
        if found is None:
            raise L2gpuError(f"channel {channel.channel_id} was never opened in the zk rollup",
                             "the renter's OPEN was dropped: nothing to close")  # fmt: skip
        if found["status"] == "closed":
            raise ChannelAlreadyClosed(f"channel {channel.channel_id} is closed already")
        try:
            voucher = eddsa.unpack_signature(best.signature)
        except InvalidValue as exc:
            raise L2gpuError(
                "the best voucher's signature is not an EdDSA one",
                "this is a bug in l2gpu: vouchers are checked on arrival",
            ) from exc
        amount = int(best.amount)
        mine = sign_close(zk_key, name.renter_index, name.open_nonce, amount)
        position = self.client.close_channel(name.channel, amount, voucher, mine)
        self._wait_included(position)
        deposit = int(found["deposit"])
        return ClosedChannel(best.amount, amount, deposit - amount, 0, CLOSE_BYTES, "provider")

    def status(self, channel: ChannelDescription) -> str:
        """``pending``, ``open``, ``settled`` (closed or reclaimed) or ``missing``."""
        return self._status(self._name(channel))

    # -- helpers -------------------------------------------------------------------

    def _signer(self) -> tuple[PrivateKey, bytes]:
        if self.key is None or self.zk_key is None:
            raise L2gpuError("this zk rail only reads channels", "pass a signing key")
        return self.key, self.zk_key

    def _name(self, channel: ChannelDescription) -> ZkChannelName:
        if channel.zk is None:
            raise L2gpuError("the channel's description has no zk part",
                             "send the description that 'l2gpu rent' wrote")  # fmt: skip
        return channel.zk

    def index_of(self, address: Address, who: str, fix: str) -> int:
        """The account index of L1 ``address`` in the zk ledger; raises L2gpuError
        naming ``who`` and saying ``fix`` when it has none."""
        found = self.client.account_of(address)
        if found is None:
            raise L2gpuError(f"{who} has no account in the zk rollup", fix)
        return int(found["index"])

    def _found(self, name: ZkChannelName) -> dict[str, Any] | None:
        from l2gpu.node.client import NodeError

        try:
            found: dict[str, Any] = self.client.channel_by_name(name.renter_index, name.open_nonce)
        except NodeError as exc:
            if exc.status == 404:
                return None
            raise  # the node is down or failing: not a verdict on the channel
        return found

    def _status(self, name: ZkChannelName) -> str:
        found = self._found(name)
        return "missing" if found is None else STATUSES.get(str(found["status"]), "missing")

    def _wait_included(self, position: int) -> None:
        deadline = time.monotonic() + self.wait
        while True:
            found = self.client.transaction(position)
            if found["status"] == "included":
                return
            if found["status"] == "dropped":
                raise L2gpuError(f"the zk node dropped the close: {found.get('reason')}",
                                 "check the channel with 'l2gpu zk status'")  # fmt: skip
            if time.monotonic() > deadline:
                raise L2gpuError(f"the close is still pending after {self.wait:.0f} s",
                                 "it stays queued: check the zk node's log")  # fmt: skip
            time.sleep(POLL_SECONDS)  # the node seals on its own timer


def zk_rail_reader(url: str) -> ZkChannelRail:
    """A rail that only reads channels (the market's check): no key."""
    from l2gpu.node.zk.client import ZkNodeClient

    return ZkChannelRail(ZkNodeClient(url, timeout=STATUS_TIMEOUT * 5), None)
