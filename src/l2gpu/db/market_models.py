"""Tables of the GPU market: providers, offers, leases, jobs, job logs, sign-in sessions,
stored archives (jobs' folders and files downloaded from them) and download requests.

Amounts of wei are 78-digit text (see :func:`l2gpu.db.models.encode_wei`); times
are integer Unix seconds (the core's ``Timestamp``), so that the injected clocks
of the shells and the tests need no conversion and compare exactly.

What must hold under concurrent requests is a unique index, not only a check in
Python (migration ``m0002``): a channel pays for one lease, a sign-in nonce gives
one session, a job's log chunks have distinct sequence numbers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from l2gpu.db.models import WEI_DIGITS, Base

# SQLite gives an automatic id only to a column declared INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Provider(Base):
    """A provider's account: its last heartbeat, its inventory and its open record."""

    __tablename__ = "market_providers"

    address: Mapped[bytes] = mapped_column(LargeBinary(20), primary_key=True)
    first_seen: Mapped[int] = mapped_column(BigInteger)
    last_heartbeat: Mapped[int] = mapped_column(BigInteger)
    inventory: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    leases: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_starts: Mapped[int] = mapped_column(BigInteger, default=0)
    preempted: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds_promised: Mapped[int] = mapped_column(BigInteger, default=0)
    seconds_delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    heartbeats_expected: Mapped[int] = mapped_column(BigInteger, default=0)
    heartbeats_seen: Mapped[int] = mapped_column(BigInteger, default=0)


class OfferRow(Base):
    """A signed offer as published; ``status`` is active, withdrawn or leased."""

    __tablename__ = "market_offers"

    offer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    provider: Mapped[bytes] = mapped_column(LargeBinary(20), index=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    gpu_name: Mapped[str] = mapped_column(String(64))
    num_gpus: Mapped[int] = mapped_column(Integer)
    gpu_ram_gb: Mapped[int] = mapped_column(BigInteger)
    cpu_cores: Mapped[int] = mapped_column(BigInteger)
    ram_gb: Mapped[int] = mapped_column(BigInteger)
    disk_gb: Mapped[int] = mapped_column(BigInteger)
    bandwidth_mbps: Mapped[int] = mapped_column(BigInteger)
    location: Mapped[str] = mapped_column(String(16))
    price_per_gpu_second: Mapped[str] = mapped_column(String(WEI_DIGITS))
    min_duration: Mapped[int] = mapped_column(BigInteger)
    max_duration: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    declared: Mapped[bool] = mapped_column(Boolean)
    nonce: Mapped[int] = mapped_column(BigInteger)
    # How the agent runs jobs and the images they may ask for (m0004), as signed.
    backend: Mapped[str] = mapped_column(String(16), default="local", server_default="local")
    images: Mapped[str] = mapped_column(String(512), default="", server_default="")
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_market_offers_status_expires", "status", "expires_at"),)


class LeaseRow(Base):
    """A lease, its channel and its latest voucher (relayed from the renter to the agent)."""

    __tablename__ = "market_leases"

    lease_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    offer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("market_offers.offer_id"))
    renter: Mapped[bytes] = mapped_column(LargeBinary(20), index=True)
    provider: Mapped[bytes] = mapped_column(LargeBinary(20), index=True)
    num_gpus: Mapped[int] = mapped_column(Integer)
    price_per_gpu_second: Mapped[str] = mapped_column(String(WEI_DIGITS))
    max_seconds: Mapped[int] = mapped_column(BigInteger)
    requested_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    metered_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[str] = mapped_column(String(WEI_DIGITS))
    reason: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    voucher_amount: Mapped[str] = mapped_column(String(WEI_DIGITS))
    voucher_signature: Mapped[bytes | None] = mapped_column(LargeBinary(65), nullable=True)
    voucher_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The channel's id, unique: two leases racing for one channel cannot both commit.
    channel_id: Mapped[str | None] = mapped_column(String(66), nullable=True)
    # The provider's agent found the channel open and funded on its rail: only such
    # leases count in the provider's record (a made-up channel costs nobody anything).
    channel_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the agent last saw the job use its GPUs (m0003): what idle means to a renter.
    gpu_active_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (Index("uq_market_leases_channel_id", "channel_id", unique=True),)


class JobRow(Base):
    """The job of a lease. Secrets are kept only until the agent fetches them."""

    __tablename__ = "market_jobs"

    lease_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("market_leases.lease_id"), primary_key=True, autoincrement=False
    )
    command: Mapped[str] = mapped_column(Text)
    env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    secrets: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # The folder the job starts in (``rent --dir``): the SHA-256 and size of the
    # renter's archive (a blob of kind "workdir"), which the agent fetches and checks.
    archive: Mapped[str | None] = mapped_column(String(64), nullable=True)
    archive_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The container image the renter asked for (m0004); None: the provider's own.
    image: Mapped[str | None] = mapped_column(String(255), nullable=True)


class JobLog(Base):
    """A chunk of a job's output, in order of ``seq`` within its lease."""

    __tablename__ = "market_job_logs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lease_id: Mapped[int] = mapped_column(BigInteger, index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("uq_market_job_logs_lease_seq", "lease_id", "seq", unique=True),)


class Blob(Base):
    """An archive stored in parts: a renter's folder for its jobs (``workdir``, written by
    the renter), or files of a lease's folder (``download``, written by the provider's
    agent for the renter). ``owner`` is the account whose storage it counts in."""

    __tablename__ = "market_blobs"

    blob_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    owner: Mapped[bytes] = mapped_column(LargeBinary(20))
    writer: Mapped[bytes] = mapped_column(LargeBinary(20))
    kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    parts: Mapped[int] = mapped_column(BigInteger)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_market_blobs_owner_kind_sha", "owner", "kind", "sha256"),)


class BlobPart(Base):
    """One part of a blob, in order of ``idx``."""

    __tablename__ = "market_blob_parts"

    blob_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class DownloadRow(Base):
    """A renter's signed request for files of its lease's folder; ``status`` is asked,
    sending (the agent is uploading the blob), ready or failed (with ``error``)."""

    __tablename__ = "market_downloads"

    download_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lease_id: Mapped[int] = mapped_column(BigInteger, index=True)
    provider: Mapped[bytes] = mapped_column(LargeBinary(20), index=True)
    path: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str] = mapped_column(Text, default="")
    blob_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    asked_at: Mapped[int] = mapped_column(BigInteger)
    done_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AuthNonce(Base):
    """A sign-in nonce: used once, valid for a few minutes."""

    __tablename__ = "market_auth_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class SessionRow(Base):
    """A bearer token (stored as its hash) and the address that signed in for it."""

    __tablename__ = "market_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    address: Mapped[bytes] = mapped_column(LargeBinary(20), index=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    # The nonce it was signed in with, unique: one signed message, one session.
    nonce: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("uq_market_sessions_nonce", "nonce", unique=True),)
