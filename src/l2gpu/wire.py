"""The market API's answers as typed models, shared by the API and its clients.

The API declares them as its routes' ``response_model`` (so the OpenAPI document
states every answer), and the SDK (:mod:`l2gpu.client`), the renter's paying loop
(:mod:`l2gpu.renter`) and the provider's agent (:mod:`l2gpu.agent`) parse answers
into them instead of reading dicts field by field.

The wire format is the API's: amounts of wei and offer ids are decimal strings
(JSON numbers lose precision past 2**53), which these models hold as Python ints.
Names a newer API adds are ignored, so that an older client still reads its answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

from l2gpu.core.market.channel_description import ChannelDescription
from l2gpu.core.market.lease_state import Lease, LeaseStatus
from l2gpu.core.types import Address, LeaseId, OfferId, Seconds, Timestamp, Wei


def _from_decimal(value: object) -> object:
    # A decimal string becomes an int; anything else is left for pydantic to refuse.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


Decimal = Annotated[
    int,
    BeforeValidator(_from_decimal),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]+$"}),
]
"""A whole number sent as decimal digits in a JSON string (wei, offer ids)."""


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Health(_Answer):
    """GET /health: the API is up, on chain ``chain_id``, at ``version``."""

    ok: bool
    chain_id: int
    version: str


class SignInMessage(_Answer):
    """POST /auth/nonce: the EIP-4361 message to sign, and its nonce."""

    message: str
    nonce: str


class SignedIn(_Answer):
    """POST /auth/login: a bearer token for ``address`` until ``expires_at``."""

    token: str
    address: str
    expires_at: int


class Me(_Answer):
    """GET /accounts/me: the token's account and how many leases it has."""

    address: str
    leases: int


class OfferPublic(_Answer):
    """An offer as the market shows it, with its provider's reliability."""

    id: Decimal
    provider: str
    gpu_name: str
    num_gpus: int
    gpu_ram_gb: int
    cpu_cores: int
    ram_gb: int
    disk_gb: int
    bandwidth_mbps: int
    location: str
    price_per_gpu_second: Decimal
    price_per_hour_eth: str
    min_duration: int
    max_duration: int
    expires_at: int
    declared: bool
    reliability: float
    backend: str = "local"
    """How the provider's agent runs jobs: local, container or ray."""
    images: str = ""
    """For a container backend, the images jobs may ask for (comma-separated patterns,
    ``*`` any characters; the first is where a job without an image runs)."""


class OwnOffer(OfferPublic):
    """GET /accounts/me/offers: one of the caller's offers, in any status."""

    status: str
    """active, leased or withdrawn (an expired one stays active past ``expires_at``)."""
    created_at: int


class OffersFound(_Answer):
    """GET /offers: the offers meeting a filter, best first."""

    count: int
    offers: list[OfferPublic]


class OfferWithdrawn(_Answer):
    """DELETE /offers/{id}."""

    id: Decimal
    status: str


class GpuIndex(_Answer):
    """GET /index/{gpu}: the GPU-hour index of one model over the last day (the
    median over hours of the median over providers of verified leases)."""

    gpu: str
    wei_per_gpu_hour: Decimal
    at: int
    priced_hours: int
    providers: int


class ProviderPublic(_Answer):
    """A provider's public record."""

    address: str
    first_seen: int
    last_heartbeat: int
    inventory: dict[str, Any]
    reliability: float
    uptime: float
    leases: int
    failed_starts: int
    preempted: int
    seconds_promised: int
    seconds_delivered: int
    heartbeats_expected: int
    heartbeats_seen: int


class HeartbeatSeen(_Answer):
    """POST /providers/heartbeat."""

    address: str
    last_heartbeat: int


class Quote(_Answer):
    """POST /quotes: the lease the market would open, and what its channel must hold."""

    offer_id: Decimal
    provider: str
    num_gpus: int
    price_per_gpu_second: Decimal
    duration: int
    max_cost: Decimal
    provider_seen_seconds_ago: int | None


class ChannelPublic(_Answer):
    """A lease's channel as the market recorded it (``ChannelDescription.to_json``)."""

    settlement: str = "channel-l1"
    channel_id: str
    chain_id: int
    manager: str
    renter: str
    provider: str
    token: str
    challenge_period: int
    salt: str
    deposit: Decimal
    zk: dict[str, Any] | None = None
    plasma: dict[str, Any] | None = None
    routed: dict[str, Any] | None = None
    virtual: dict[str, Any] | None = None

    def to_core(self) -> ChannelDescription:
        """The core's description; raises InvalidValue when it does not hold together."""
        return ChannelDescription.from_json(self.model_dump(mode="json", exclude_none=True))


class VoucherPublic(_Answer):
    """The renter's best voucher for a lease (amount 0 and no signature: none yet)."""

    amount: Decimal
    signature: str | None
    at: int | None


class ArchivePublic(_Answer):
    """An archive by its SHA-256 (hex) and size in bytes."""

    sha256: str
    size: int


class JobPublic(_Answer):
    """A lease's job as its renter sees it; ``archive``: the folder it starts in."""

    command: str
    status: str
    exit_code: int | None
    archive: ArchivePublic | None = None
    image: str | None = None
    """The container image the renter asked for (None: the provider's own)."""


class LeasePublic(_Answer):
    """A lease and its job as its renter or provider sees it."""

    id: int
    offer_id: Decimal
    renter: str
    provider: str
    num_gpus: int
    price_per_gpu_second: Decimal
    max_seconds: int
    status: LeaseStatus
    reason: str
    requested_at: int
    started_at: int | None
    ends_at: int | None
    ended_at: int | None
    metered_seconds: int
    billed_gpu_seconds: int
    amount_due: Decimal
    max_cost: Decimal
    channel: ChannelPublic
    channel_verified: bool
    voucher: VoucherPublic
    job: JobPublic
    gpu_active_at: int | None = None

    def to_core(self) -> Lease:
        """The core's lease (what a renter needs to compute what to sign)."""
        return Lease(
            lease_id=LeaseId(self.id),
            offer_id=OfferId(self.offer_id),
            renter=Address.from_hex(self.renter),
            provider=Address.from_hex(self.provider),
            num_gpus=self.num_gpus,
            price_per_gpu_second=Wei(self.price_per_gpu_second),
            max_seconds=Seconds(self.max_seconds),
            requested_at=Timestamp(self.requested_at),
            status=self.status,
            started_at=None if self.started_at is None else Timestamp(self.started_at),
            metered_seconds=self.metered_seconds,
            gpu_active_at=None if self.gpu_active_at is None else Timestamp(self.gpu_active_at),
        )


class AgentJob(JobPublic):
    """A lease's job as its provider's agent runs it: with its environment, secrets
    (until the job starts) and files."""

    env: dict[str, str]
    secrets: dict[str, str]
    files: dict[str, str]


class AgentLease(LeasePublic):
    """GET /agent/leases: a live lease the caller's agent serves, with what it runs."""

    job: AgentJob


class VoucherTaken(_Answer):
    """POST /leases/{id}/vouchers: the best amount the market now relays."""

    lease_id: int
    best: Decimal


class LogChunk(_Answer):
    """A piece of a job's output, in order of ``seq``."""

    seq: int
    at: int
    text: str


class Logs(_Answer):
    """GET /jobs/{id}/logs: the chunks after ``after``; ``done`` once the lease is over."""

    chunks: list[LogChunk]
    done: bool


class AgentEventTaken(_Answer):
    """POST /agent/leases/{id}/events: the lease after the event, and why the lease
    machine ignored it, if it did."""

    lease_id: int
    status: LeaseStatus
    ignored: list[str]
    metered_seconds: int


class LogsAppended(_Answer):
    """POST /agent/leases/{id}/logs: the sequence number of the last chunk stored."""

    seq: int


class Upload(_Answer):
    """POST /uploads, PUT /uploads/{sha256}/parts/{index}: an archive at the market, in
    parts of ``part_size`` bytes; ``missing``: the parts still to send."""

    sha256: str
    size: int
    parts: int
    part_size: int
    complete: bool
    missing: list[int]


class Part(_Answer):
    """A part of an archive, in base64."""

    index: int
    data: str


class Download(_Answer):
    """A renter's request for files of its lease's folder: ``asked`` (waiting for the
    provider's agent), ``sending``, ``ready`` (the archive's digest, size and parts
    known) or ``failed`` (``error`` says why)."""

    id: int
    lease_id: int
    path: str
    status: str
    error: str
    sha256: str | None
    size: int | None
    parts: int | None
    part_size: int
    asked_at: int
    done_at: int | None


class AgentDownload(_Answer):
    """GET /agent/downloads: a request the caller's agent is asked to answer, with the
    renter's signature (the agent checks it against the renter it recorded)."""

    id: int
    lease_id: int
    renter: str
    path: str
    issued_at: int
    signature: str


class AgentShell(_Answer):
    """GET /agent/shells: a renter's shell session waiting for the caller's agent to
    connect, with the renter's signed request (the agent checks it again)."""

    id: int
    renter: str
    open: int
    """The lease."""
    command: str
    nonce: str
    issued_at: int
    signature: str
    rows: int
    cols: int
    term: str
