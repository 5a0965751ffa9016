"""The channel that pays for a lease, as the parties hand it to each other.

The renter's rail (:mod:`l2gpu.payments.rails`) writes a :class:`ChannelDescription`
when it opens the channel; the market checks it against the lease and records it;
the provider's agent reads it back to check and close the channel on its own rail.

On the wire and in the database it is a JSON object with amounts as decimal strings::

    {"settlement": "hybrid", "channel_id": "0x…", "chain_id": 31337,
     "manager": "0x…", "renter": "0x…", "provider": "0x…", "token": "0x000…",
     "challenge_period": 3600, "salt": "0x…", "deposit": "600000"}

One end of a virtual channel (a lease between shards, see ``docs/shards.md``) adds
``"virtual": {"signer": "0x…", "virtual_id": "0x…", "fee_ppm": 0}``: its vouchers are
the signer's for that virtual id (``core/channel/state.py`` VirtualTerms), and the
channel id commits to them.

A channel in the zk ledger adds ``"zk": {"channel": …, "renter_index": …,
"open_nonce": …, "ax": "…", "ay": "…"}``: where its leaf lies, its name in the
ledger (the renter's account index and open nonce) and the renter's EdDSA public
key that its vouchers verify under. Its salt is the keccak256 of those fields, so
the channel id commits to them as to the other terms.

:meth:`ChannelDescription.from_json` is the one place that JSON is read: it refuses,
with :class:`~l2gpu.core.errors.InvalidValue` naming the field, anything that is not
such an object. Whether the channel can pay for a given lease is a separate question,
answered by :mod:`l2gpu.core.market.settlement`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel.state import PPM, VirtualTerms
from l2gpu.core.channel.vouchers import VirtualVoucherDomain, VoucherDomain, channel_domain
from l2gpu.core.crypto.eip712 import Eip712Domain
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.errors import InvalidValue
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Hash32, Seconds, Wei

DEFAULT_SETTLEMENT = "channel-l1"
"""The design of a description that names none: descriptions older than the rollup
rail were all L1 channels."""

_SALT = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_DIGITS = re.compile(r"[0-9]{1,78}")
_FIX = "send the channel description that the l2gpu client wrote ('l2gpu rent')"


@dataclass(frozen=True, slots=True)
class ZkChannelName:
    """A zk channel's place and name in the ledger, and the renter's EdDSA key."""

    channel: int
    renter_index: int
    open_nonce: int
    ax: int
    ay: int

    @property
    def salt(self) -> bytes:
        """The channel's salt: keccak256 of the five fields, 32 bytes each."""
        fields = (self.channel, self.renter_index, self.open_nonce, self.ax, self.ay)
        return keccak256(b"".join(v.to_bytes(32, "big") for v in fields))

    def to_json(self) -> dict[str, Any]:
        """As the description's ``zk`` member (the key's coordinates as decimal strings)."""
        return {"channel": self.channel, "renter_index": self.renter_index,
                "open_nonce": self.open_nonce, "ax": str(self.ax), "ay": str(self.ay)}  # fmt: skip

    @classmethod
    def from_json(cls, data: object) -> ZkChannelName:
        """Parse the ``zk`` member; raises :class:`InvalidValue` naming the bad field."""
        if not isinstance(data, Mapping):
            raise InvalidValue("channel zk part", data, "it is not a JSON object", _FIX)
        name = cls(*(_whole_number(data, k) for k in ("channel", "renter_index", "open_nonce",
                                                       "ax", "ay")))  # fmt: skip
        if max(name.channel, name.renter_index, name.open_nonce) >= 2**32:
            raise InvalidValue("channel zk part", dict(data), "an index or nonce is too large",
                               _FIX)  # fmt: skip
        return name


@dataclass(frozen=True, slots=True)
class PlasmaCoins:
    """A Plasma lease's coins: from coin ``start``, received in block ``received``,
    locked for the provider until ``until`` (their number is the deposit)."""

    start: int
    received: int
    until: int

    @property
    def salt(self) -> bytes:
        """The channel's salt: keccak256 of the three fields, 32 bytes each."""
        return keccak256(b"".join(v.to_bytes(32, "big") for v in (self.start, self.received,
                                                                  self.until)))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """As the description's ``plasma`` member (the first coin as a decimal string)."""
        return {"start": str(self.start), "received": self.received, "until": self.until}

    @classmethod
    def from_json(cls, data: object) -> PlasmaCoins:
        """Parse the ``plasma`` member; raises :class:`InvalidValue` naming the bad field."""
        if not isinstance(data, Mapping):
            raise InvalidValue("channel plasma part", data, "it is not a JSON object", _FIX)
        coins = cls(*(_whole_number(data, k) for k in ("start", "received", "until")))
        if coins.start >= 2**128 or max(coins.received, coins.until) >= 2**64:
            raise InvalidValue("channel plasma part", dict(data), "a field is too large", _FIX)
        return coins


@dataclass(frozen=True, slots=True)
class RoutedFor:
    """A channel a hub pays for another renter's lease (``sharded``): the renter it
    carries, and the hub's signature that says so (EIP-712 ``RoutedFor``, checked by
    :func:`l2gpu.core.market.settlement.parties_problem`)."""

    renter: Address
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        """As the description's ``routed`` member."""
        return {"renter": self.renter.checksum, "signature": "0x" + self.signature.hex()}

    @classmethod
    def from_json(cls, data: object) -> RoutedFor:
        """Parse the ``routed`` member; raises :class:`InvalidValue` naming the bad field."""
        if not isinstance(data, Mapping):
            raise InvalidValue("channel routed part", data, "it is not a JSON object", _FIX)
        signature = data.get("signature")
        if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
            raise InvalidValue("channel routed signature", signature,
                               "it is not 65 bytes of 0x hex", _FIX)  # fmt: skip
        return cls(_address(data, "renter"), bytes.fromhex(signature.removeprefix("0x")))


@dataclass(frozen=True, slots=True)
class ChannelDescription:
    """A lease's channel: its design, where its vouchers verify, its terms and deposit.

    ``manager`` is the voucher domain's verifying contract: the ChannelManager on L1
    for ``channel-l1``, the Rollup for ``hybrid``. The channel id is not stored: it is
    the hash of ``params``, so a description cannot name one channel and hold another.
    """

    settlement: str
    chain_id: ChainId
    manager: Address
    params: ChannelParams
    deposit: Wei
    zk: ZkChannelName | None = None
    plasma: PlasmaCoins | None = None
    routed: RoutedFor | None = None

    @property
    def channel_id(self) -> Hash32:
        """The channel's id, the hash of its terms."""
        return self.params.id

    @property
    def renter(self) -> Address:
        """Who pays into the channel."""
        return self.params.renter

    @property
    def voucher_signer(self) -> Address:
        """Whose vouchers pay on the channel: its payer's, or on one end of a virtual
        channel its virtual signer's (the renter of the lease, not the hub that pays)."""
        v = self.params.virtual
        return self.params.renter if v is None else v.signer

    @property
    def provider(self) -> Address:
        """Who is paid from the channel."""
        return self.params.provider

    def to_json(self) -> dict[str, Any]:
        """The description as the API sends it and the database keeps it."""
        return (
            {
                "settlement": self.settlement,
                "channel_id": str(self.channel_id),
                "chain_id": int(self.chain_id),
                "manager": self.manager.checksum,
                "renter": self.params.renter.checksum,
                "provider": self.params.provider.checksum,
                "token": self.params.token.checksum,
                "challenge_period": int(self.params.challenge_period),
                "salt": "0x" + self.params.salt.hex(),
                "deposit": str(int(self.deposit)),
            }
            | ({"zk": self.zk.to_json()} if self.zk is not None else {})
            | ({"plasma": self.plasma.to_json()} if self.plasma is not None else {})
            | ({"routed": self.routed.to_json()} if self.routed is not None else {})
            | ({"virtual": virtual_terms_json(self.params.virtual)} if self.params.virtual else {})
        )

    @classmethod
    def from_json(cls, data: object) -> ChannelDescription:
        """Parse a description from a peer, the database or the API.

        ``settlement`` defaults to ``channel-l1``, ``token`` to ether (the zero
        address) and ``channel_id`` may be left out; every other field is required.
        Whole numbers may be JSON integers or decimal strings.

        Raises:
            InvalidValue: naming the first field that is missing or malformed, or a
                ``channel_id`` that is not the hash of the channel's terms.
        """
        if not isinstance(data, Mapping):
            raise InvalidValue("channel description", data, "it is not a JSON object", _FIX)
        settlement = data.get("settlement", DEFAULT_SETTLEMENT)
        if not isinstance(settlement, str) or not settlement:
            raise InvalidValue("channel settlement", settlement, "it is not a design's name", _FIX)
        params = ChannelParams(
            _address(data, "renter"),
            _address(data, "provider"),
            token=_address(data, "token") if "token" in data else ZERO_ADDRESS,
            challenge_period=Seconds(_whole_number(data, "challenge_period")),
            salt=_salt(data),
            virtual=_virtual(data["virtual"]) if data.get("virtual") is not None else None,
        )
        described = cls(
            settlement,
            ChainId(_whole_number(data, "chain_id")),
            _address(data, "manager"),
            params,
            Wei(_whole_number(data, "deposit")),
            ZkChannelName.from_json(_field(data, "zk")) if settlement == "zk" else None,
            PlasmaCoins.from_json(_field(data, "plasma")) if settlement == "plasma" else None,
            RoutedFor.from_json(data["routed"]) if data.get("routed") is not None else None,
        )
        part = described.zk or described.plasma
        if part is not None and part.salt != params.salt:
            raise InvalidValue(
                "channel salt", "0x" + params.salt.hex(),
                f"it is not the hash of the channel's {settlement} part", _FIX,
            )  # fmt: skip
        claimed = data.get("channel_id")
        if claimed is not None and (
            not isinstance(claimed, str) or claimed.lower() != str(described.channel_id)
        ):
            raise InvalidValue(
                "channel id",
                claimed,
                "it is not the hash of the channel's terms (renter, provider, token, "
                "challenge period, salt)",
                _FIX,
            )
        return described


def voucher_domain(channel: ChannelDescription) -> Eip712Domain | VoucherDomain:
    """Where ``channel``'s vouchers are signed and verified: the EIP-712 domain of its
    manager contract, for a zk channel the renter's EdDSA key and its ledger name, for
    a Plasma lease the transfer of its coins that each voucher signs."""
    if channel.plasma is not None:
        from l2gpu.core.plasma.vouchers import PlasmaVoucherDomain

        p = channel.plasma
        return PlasmaVoucherDomain(
            channel.chain_id, channel.manager, channel.renter, channel.provider, p.start,
            p.received, int(channel.deposit),
        )  # fmt: skip
    if channel.params.virtual is not None:
        return VirtualVoucherDomain(channel.chain_id, channel.params.virtual.virtual_id)
    if channel.zk is None:
        return channel_domain(channel.chain_id, channel.manager)
    from l2gpu.core.zk.vouchers import ZkVoucherDomain

    z = channel.zk
    return ZkVoucherDomain(channel.chain_id, channel.manager, channel.renter, z.renter_index,
                           z.open_nonce, z.ax, z.ay, int(channel.deposit))  # fmt: skip


def describe_channel(
    params: ChannelParams, deposit: int, chain_id: int, contract: Address, settlement: str
) -> ChannelDescription:
    """The description of a channel a rail just opened in ``contract`` on ``chain_id``."""
    return ChannelDescription(settlement, ChainId(chain_id), contract, params, Wei(deposit))


def _field(data: Mapping[str, Any], name: str) -> Any:
    if name not in data:
        raise InvalidValue("channel description", dict(data), f"it has no '{name}'", _FIX)
    return data[name]


def _address(data: Mapping[str, Any], name: str) -> Address:
    value = _field(data, name)
    try:
        return Address.from_hex(value)
    except InvalidValue as exc:
        raise InvalidValue(
            f"channel {name}", value, "it is not 0x and 40 hex digits", _FIX
        ) from exc


def _whole_number(data: Mapping[str, Any], name: str) -> int:
    value = _field(data, name)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
        raise InvalidValue(
            f"channel {name.replace('_', ' ')}",
            value,
            "it is not a whole number below 2**256",
            _FIX,
        )
    return value


def _salt(data: Mapping[str, Any]) -> bytes:
    value = _field(data, "salt")
    if not isinstance(value, str) or not _SALT.fullmatch(value):
        raise InvalidValue("channel salt", value, "it is not 32 bytes of 0x hex", _FIX)
    return bytes.fromhex(value.removeprefix("0x"))


def virtual_terms_json(terms: VirtualTerms) -> dict[str, Any]:
    """A virtual channel's terms as JSON (the description's and the node's ``virtual``)."""
    return {"signer": terms.signer.checksum, "virtual_id": str(terms.virtual_id),
            "fee_ppm": terms.fee_ppm}  # fmt: skip


def _virtual(data: object) -> VirtualTerms:
    if not isinstance(data, Mapping):
        raise InvalidValue("channel virtual part", data, "it is not a JSON object", _FIX)
    virtual_id = data.get("virtual_id")
    if not isinstance(virtual_id, str) or not _SALT.fullmatch(virtual_id):
        raise InvalidValue("channel virtual id", virtual_id, "it is not 32 bytes of 0x hex", _FIX)
    fee = _whole_number(data, "fee_ppm")
    if fee > PPM:
        raise InvalidValue("channel virtual fee", fee, "it is above 1000000 ppm (100 %)", _FIX)
    return VirtualTerms(_address(data, "signer"),
                        Hash32(bytes.fromhex(virtual_id.removeprefix("0x"))), fee)  # fmt: skip
