"""Request bodies of the API (pydantic), with limits on every size and range.

The field types (:mod:`l2gpu.api.inputs`) refuse, with a message naming the field,
what the database or the core could not take: integers beyond a BIGINT, amounts
beyond uint256, text with control characters.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from l2gpu.api.inputs import (
    LINE_PATTERN,
    TEXT_PATTERN,
    AddressText,
    Bytes32,
    Id,
    Int32,
    Line,
    OfferIdIn,
    Signature,
    SignedWei,
    Text,
    Uint16,
    Uint32,
    VoucherSignature,
    Wei,
    json_integer,
)
from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.market.offers import OfferTerms, SignedOffer
from l2gpu.core.market.workdir import MAX_ARCHIVE_BYTES, PART_BYTES
from l2gpu.core.types import ZERO_ADDRESS, Address, ChainId, Seconds, Timestamp
from l2gpu.core.types import Wei as WeiAmount


class _Strict(BaseModel):
    # Strict: a JSON string is not an integer, nor 1 a boolean; what the schema says
    # is what the API takes.
    model_config = ConfigDict(extra="forbid", strict=True)


class NonceRequest(_Strict):
    """Ask for a sign-in message for ``address``."""

    address: AddressText


class LoginRequest(_Strict):
    """A signed EIP-4361 message."""

    message: Text = Field(max_length=2000)
    signature: Signature


class OfferTermsIn(_Strict):
    """The terms of an offer, as signed (EIP-712 types: uint16 GPUs, uint32 sizes)."""

    provider: AddressText
    gpu_name: Line = Field(max_length=64)
    num_gpus: Uint16
    gpu_ram_gb: Uint32
    price_per_gpu_second: SignedWei
    expires_at: Id
    cpu_cores: Uint32 = 1
    ram_gb: Uint32 = 1
    disk_gb: Uint32 = 10
    bandwidth_mbps: Uint32 = 100
    location: Line = Field("XX", max_length=16)
    min_duration: Id = 1
    max_duration: Id = 86_400
    declared: bool = False
    nonce: Id = 0
    backend: Line = Field("local", max_length=16)
    images: Annotated[str, Field(max_length=512, pattern=LINE_PATTERN)] = ""


class OfferCreate(_Strict):
    """A signed offer to publish."""

    terms: OfferTermsIn
    signature: Signature
    chain_id: Id

    def to_core(self) -> SignedOffer:
        """The core's signed offer (the core then checks its terms and signature)."""
        t = self.terms
        terms = OfferTerms(
            provider=Address.from_hex(t.provider),
            gpu_name=t.gpu_name,
            num_gpus=t.num_gpus,
            gpu_ram_gb=t.gpu_ram_gb,
            price_per_gpu_second=WeiAmount(t.price_per_gpu_second),
            expires_at=Timestamp(t.expires_at),
            cpu_cores=t.cpu_cores,
            ram_gb=t.ram_gb,
            disk_gb=t.disk_gb,
            bandwidth_mbps=t.bandwidth_mbps,
            location=t.location,
            min_duration=Seconds(t.min_duration),
            max_duration=Seconds(t.max_duration),
            declared=t.declared,
            nonce=t.nonce,
            backend=t.backend,
            images=t.images,
        )
        return SignedOffer(terms, parse_hex(self.signature, 65), ChainId(self.chain_id))


def _names_to_texts(most: int) -> object:
    """A JSON object of at most ``most`` one-line names (of up to 256 characters) to
    texts: said with ``propertyNames``, which pydantic would write as
    ``patternProperties`` (and so let any other name through, in the schema)."""
    schema = {
        "type": "object",
        "maxProperties": most,
        "propertyNames": {"type": "string", "maxLength": 256, "pattern": LINE_PATTERN},
        "additionalProperties": {"type": "string", "pattern": TEXT_PATTERN},
    }
    return Annotated[
        dict[Annotated[Line, Field(max_length=256)], Text],
        Field(max_length=most),
        WithJsonSchema(schema),
    ]


Names64 = _names_to_texts(64)
Names16 = _names_to_texts(16)


SHA256_PATTERN = "^[0-9a-f]{64}$"
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="SHA-256, 64 lower-case hex")]
ArchiveSize = Annotated[
    int, Field(ge=0, le=MAX_ARCHIVE_BYTES, description="bytes"), BeforeValidator(json_integer)
]
# A part of PART_BYTES in base64: 4 characters per 3 bytes, padded.
BASE64_PART = 4 * -(-PART_BYTES // 3)


ImageRef = Annotated[
    str, Field(min_length=1, max_length=255, pattern=LINE_PATTERN, description="a container image")
]


class ArchiveIn(_Strict):
    """An archive by its digest and size (uploaded first: POST /uploads)."""

    sha256: Sha256
    size: ArchiveSize


class JobCreate(_Strict):
    """The job to run on a lease: a shell command, its environment, secrets, small files,
    and the folder it starts in (an archive uploaded first)."""

    command: Text = Field(min_length=1, max_length=8192)
    env: Names64 = Field(default_factory=dict)  # type: ignore[valid-type]
    secrets: Names64 = Field(default_factory=dict)  # type: ignore[valid-type]
    files: Names16 = Field(default_factory=dict)  # type: ignore[valid-type]
    archive: ArchiveIn | None = None
    image: ImageRef | None = None


class UploadCreate(ArchiveIn):
    """Declare an archive to upload in parts."""


class PartIn(_Strict):
    """One part of an archive (at most 128 KiB), in base64."""

    data: str = Field(max_length=BASE64_PART, pattern="^[A-Za-z0-9+/]*={0,2}$")


class DownloadCreate(_Strict):
    """Ask for ``path`` of a lease's folder (``""``: all of it), signed by its renter."""

    path: Line = Field("", max_length=1024)
    issued_at: Id
    signature: Signature


class DownloadAnswer(_Strict):
    """An agent's answer to a download: the archive's digest and size, or an error."""

    sha256: Sha256 | None = None
    size: ArchiveSize | None = None
    error: Text = Field("", max_length=500)


class ZkChannelIn(_Strict):
    """A zk channel's place and name in the ledger and the renter's EdDSA key
    (:class:`l2gpu.core.market.channel_description.ZkChannelName`)."""

    channel: Id
    renter_index: Id
    open_nonce: Id
    ax: Wei
    ay: Wei


class PlasmaCoinsIn(_Strict):
    """A Plasma lease's coins: the first, the block the renter received them in, and
    the lock's end (:class:`l2gpu.core.market.channel_description.PlasmaCoins`)."""

    start: Wei
    received: Id
    until: Id


class RoutedForIn(_Strict):
    """A hub's word that its channel carries this renter's lease (``sharded``:
    :class:`l2gpu.core.market.channel_description.RoutedFor`)."""

    renter: AddressText
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


class VirtualTermsIn(_Strict):
    """One end of a virtual channel: whose vouchers pay on it, for which virtual id,
    and the fee each credits (:class:`l2gpu.core.channel.state.VirtualTerms`)."""

    signer: AddressText
    virtual_id: Bytes32
    fee_ppm: int = Field(ge=0, le=1_000_000)


class ChannelIn(_Strict):
    """The description of the channel that pays for a lease, as the renter's rail wrote
    it (:meth:`l2gpu.core.market.channel_description.ChannelDescription.to_json`)."""

    settlement: Line = Field("channel-l1", max_length=16)
    channel_id: Bytes32 | None = None
    chain_id: Id
    manager: AddressText
    renter: AddressText
    provider: AddressText
    token: AddressText = ZERO_ADDRESS.checksum
    challenge_period: Id
    salt: Bytes32
    deposit: Wei
    zk: ZkChannelIn | None = None
    plasma: PlasmaCoinsIn | None = None
    routed: RoutedForIn | None = None
    virtual: VirtualTermsIn | None = None

    def to_core(self) -> ChannelDescription:
        """The core's description; raises InvalidValue when ``channel_id`` is not the
        hash of the channel's terms."""
        return ChannelDescription.from_json(self.model_dump(exclude_none=True))


class LeaseCreate(_Strict):
    """Rent an offer and submit a job on it."""

    offer_id: OfferIdIn
    duration: Annotated[int, Field(gt=0, le=365 * 86_400), BeforeValidator(json_integer)]
    job: JobCreate
    channel: ChannelIn
    max_price_per_gpu_second: Wei | None = None


class LeaseQuote(_Strict):
    """Ask whether an offer would be rented on these terms, before opening a channel."""

    offer_id: OfferIdIn
    duration: Annotated[int, Field(gt=0, le=365 * 86_400), BeforeValidator(json_integer)]
    max_price_per_gpu_second: Wei | None = None
    image: ImageRef | None = None


class VoucherIn(_Strict):
    """A renter's voucher for a lease's channel."""

    amount: Wei
    signature: VoucherSignature


class InventoryIn(BaseModel):
    """A machine's inventory as the agent reports it (``l2gpu.agent.inventory``). Names
    it does not know are dropped, not refused, so that a newer agent still beats."""

    model_config = ConfigDict(extra="ignore")

    gpus: Annotated[Uint32 | None, Field(description="GPUs in the machine")] = None
    source: Annotated[Line, Field(max_length=32, description="nvml, declared or cpu")] | None = None
    cpu_cores: Uint32 | None = None
    ram_gb: Uint32 | None = None
    disk_gb: Uint32 | None = None
    models: Annotated[list[Annotated[Line, Field(max_length=64)]], Field(max_length=64)] | None = (
        None
    )


class Heartbeat(_Strict):
    """An agent's heartbeat and its machine's inventory."""

    inventory: InventoryIn = Field(default_factory=lambda: InventoryIn())


AgentEventKind = Literal[
    "accepted", "started", "start_failed", "usage", "exited", "stopped", "preempted"
]


class AgentEvent(_Strict):
    """Something the agent saw happen to a lease's job (``preempted``: the agent takes the
    lease back before its end, ``reason`` says why). With ``accepted``,
    ``channel_verified`` says the agent found the lease's channel open and funded on
    its rail: only such leases count in the provider's record."""

    kind: AgentEventKind
    seconds: Id = 0
    exit_code: Int32 = 0
    reason: Text = Field("", max_length=500)
    channel_verified: bool = False
    gpu_active: bool = False


class LogChunks(_Strict):
    """Output of a job, in order. Kept as sent, except what no database stores (NUL,
    lone surrogates), which becomes U+FFFD."""

    chunks: list[str] = Field(max_length=256)


def parse_hex(text: str, size: int) -> bytes:
    """``size`` bytes from 0x-prefixed hex."""
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise L2gpuError(
            f"expected {size} bytes of 0x hex, got {text[:20]!r}",
            "send the signature exactly as signed",
        )
    return raw
