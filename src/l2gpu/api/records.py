"""Conversions between database rows, the core's market types and the API's JSON."""

from __future__ import annotations

from typing import Any

from l2gpu.core.market.lease import Lease, LeaseStatus
from l2gpu.core.market.offers import OfferTerms, SignedOffer
from l2gpu.core.market.reputation import ProviderRecord
from l2gpu.core.market.view import OfferView
from l2gpu.core.types import Address, ChainId, LeaseId, OfferId, Seconds, Timestamp, Wei
from l2gpu.db.market_models import JobRow, LeaseRow, OfferRow, Provider
from l2gpu.db.models import encode_wei


def offer_row(offer: SignedOffer, now: int) -> OfferRow:
    """A new row for a signed offer."""
    return OfferRow(**offer_values(offer, now))


def offer_values(offer: SignedOffer, now: int) -> dict[str, Any]:
    """The column values of a new row for a signed offer (a bulk insert takes these
    without building a mapped object per offer)."""
    t = offer.terms
    return dict(
        offer_id=offer.offer_id,
        provider=bytes(t.provider),
        chain_id=offer.chain_id,
        gpu_name=t.gpu_name,
        num_gpus=t.num_gpus,
        gpu_ram_gb=t.gpu_ram_gb,
        cpu_cores=t.cpu_cores,
        ram_gb=t.ram_gb,
        disk_gb=t.disk_gb,
        bandwidth_mbps=t.bandwidth_mbps,
        location=t.location,
        price_per_gpu_second=encode_wei(t.price_per_gpu_second),
        min_duration=t.min_duration,
        max_duration=t.max_duration,
        expires_at=t.expires_at,
        declared=t.declared,
        nonce=t.nonce,
        backend=t.backend,
        images=t.images,
        signature=offer.signature,
        status="active",
        created_at=now,
    )


def terms_of(row: OfferRow) -> OfferTerms:
    """The signed terms stored in ``row``."""
    return OfferTerms(
        provider=Address(row.provider),
        gpu_name=row.gpu_name,
        num_gpus=row.num_gpus,
        gpu_ram_gb=row.gpu_ram_gb,
        price_per_gpu_second=Wei(int(row.price_per_gpu_second)),
        expires_at=Timestamp(row.expires_at),
        cpu_cores=row.cpu_cores,
        ram_gb=row.ram_gb,
        disk_gb=row.disk_gb,
        bandwidth_mbps=row.bandwidth_mbps,
        location=row.location,
        min_duration=Seconds(row.min_duration),
        max_duration=Seconds(row.max_duration),
        declared=row.declared,
        nonce=row.nonce,
        backend=row.backend,
        images=row.images,
    )


def signed_offer_of(row: OfferRow) -> SignedOffer:
    """The signed offer stored in ``row``."""
    return SignedOffer(terms_of(row), bytes(row.signature), ChainId(row.chain_id))


def view_of_row(row: OfferRow, reliability: float) -> OfferView:
    """The searchable view of ``row`` (without re-hashing: the id is stored)."""
    return OfferView(
        offer_id=OfferId(row.offer_id),
        provider="0x" + bytes(row.provider).hex(),
        gpu_name=row.gpu_name,
        num_gpus=row.num_gpus,
        gpu_ram_gb=row.gpu_ram_gb,
        cpu_cores=row.cpu_cores,
        ram_gb=row.ram_gb,
        disk_gb=row.disk_gb,
        bandwidth_mbps=row.bandwidth_mbps,
        location=row.location,
        price_per_gpu_second=Wei(int(row.price_per_gpu_second)),
        min_duration=row.min_duration,
        max_duration=row.max_duration,
        expires_at=row.expires_at,
        declared=row.declared,
        reliability=reliability,
        backend=row.backend,
        images=row.images,
    )


def offer_json(view: OfferView) -> dict[str, Any]:
    """An offer as the API shows it: money as decimal strings, plus per-hour prices in ETH."""
    return {
        "id": str(view.offer_id),
        "provider": Address(bytes.fromhex(view.provider[2:])).checksum,
        "gpu_name": view.gpu_name,
        "num_gpus": view.num_gpus,
        "gpu_ram_gb": view.gpu_ram_gb,
        "cpu_cores": view.cpu_cores,
        "ram_gb": view.ram_gb,
        "disk_gb": view.disk_gb,
        "bandwidth_mbps": view.bandwidth_mbps,
        "location": view.location,
        "price_per_gpu_second": str(view.price_per_gpu_second),
        "price_per_hour_eth": _eth(view.price_per_hour),
        "min_duration": view.min_duration,
        "max_duration": view.max_duration,
        "expires_at": view.expires_at,
        "declared": view.declared,
        "backend": view.backend,
        "images": view.images,
        "reliability": round(view.reliability, 6),
    }


def lease_of(row: LeaseRow) -> Lease:
    """The core lease stored in ``row``."""
    return Lease(
        lease_id=LeaseId(row.lease_id),
        offer_id=OfferId(row.offer_id),
        renter=Address(row.renter),
        provider=Address(row.provider),
        num_gpus=row.num_gpus,
        price_per_gpu_second=Wei(int(row.price_per_gpu_second)),
        max_seconds=Seconds(row.max_seconds),
        requested_at=Timestamp(row.requested_at),
        status=LeaseStatus(row.status),
        started_at=None if row.started_at is None else Timestamp(row.started_at),
        ended_at=None if row.ended_at is None else Timestamp(row.ended_at),
        metered_seconds=row.metered_seconds,
        # Rows written before vouchers went through the machine kept the best one
        # only in voucher_amount.
        paid=Wei(max(int(row.paid), int(row.voucher_amount))),
        reason=row.reason,
        channel_verified=bool(row.channel_verified),
        gpu_active_at=None if row.gpu_active_at is None else Timestamp(row.gpu_active_at),
    )


def lease_json(row: LeaseRow, job: JobRow | None) -> dict[str, Any]:
    """A lease and its job as the API shows them (money as decimal strings)."""
    lease = lease_of(row)
    return {
        "id": row.lease_id,
        "offer_id": str(row.offer_id),
        "renter": Address(row.renter).checksum,
        "provider": Address(row.provider).checksum,
        "num_gpus": row.num_gpus,
        "price_per_gpu_second": str(lease.price_per_gpu_second),
        "max_seconds": row.max_seconds,
        "status": row.status,
        "reason": row.reason,
        "requested_at": row.requested_at,
        "started_at": row.started_at,
        "ends_at": lease.ends_at,
        "ended_at": row.ended_at,
        "metered_seconds": row.metered_seconds,
        "billed_gpu_seconds": lease.billed_gpu_seconds,
        "amount_due": str(lease.amount_due),
        "max_cost": str(lease.max_cost),
        "channel": row.channel,
        "channel_verified": bool(row.channel_verified),
        "gpu_active_at": row.gpu_active_at,
        "voucher": {
            "amount": str(int(row.voucher_amount)),
            "signature": "0x" + row.voucher_signature.hex() if row.voucher_signature else None,
            "at": row.voucher_at,
        },
        "job": {
            "command": job.command if job else "",
            "status": job.status if job else "none",
            "exit_code": job.exit_code if job else None,
            "archive": {"sha256": job.archive, "size": job.archive_size}
            if job is not None and job.archive is not None
            else None,
            "image": job.image if job else None,
        },
    }


def record_of(row: Provider) -> ProviderRecord:
    """A provider's record."""
    return ProviderRecord(
        leases=row.leases,
        failed_starts=row.failed_starts,
        preempted=row.preempted,
        seconds_promised=row.seconds_promised,
        seconds_delivered=row.seconds_delivered,
        heartbeats_expected=row.heartbeats_expected,
        heartbeats_seen=row.heartbeats_seen,
    )


def store_record(row: Provider, record: ProviderRecord) -> None:
    """Write a provider's record into ``row``."""
    row.leases, row.failed_starts, row.preempted = (
        record.leases,
        record.failed_starts,
        record.preempted,
    )
    row.seconds_promised, row.seconds_delivered = record.seconds_promised, record.seconds_delivered
    row.heartbeats_expected, row.heartbeats_seen = (
        record.heartbeats_expected,
        record.heartbeats_seen,
    )


def _eth(wei: int) -> str:
    whole, frac = divmod(wei, 10**18)
    return f"{whole}.{frac:018d}".rstrip("0").rstrip(".")
