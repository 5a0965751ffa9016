"""Request bodies of the API (pydantic), with limits on every size.

Amounts of wei travel as decimal strings: JSON numbers lose precision above
2**53 in most clients.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.offers import OfferTerms, SignedOffer
from l2gpu.core.types import Address, ChainId, Seconds, Timestamp, Wei

Wei_ = str | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NonceRequest(_Strict):
    """Ask for a sign-in message for ``address``."""

    address: str = Field(max_length=42)


class LoginRequest(_Strict):
    """A signed EIP-4361 message."""

    message: str = Field(max_length=2000)
    signature: str = Field(max_length=140)


class OfferTermsIn(_Strict):
    """The terms of an offer, as signed."""

    provider: str = Field(max_length=42)
    gpu_name: str = Field(max_length=64)
    num_gpus: int
    gpu_ram_gb: int
    price_per_gpu_second: Wei_
    expires_at: int
    cpu_cores: int = 1
    ram_gb: int = 1
    disk_gb: int = 10
    bandwidth_mbps: int = 100
    location: str = Field("XX", max_length=16)
    min_duration: int = 1
    max_duration: int = 86_400
    declared: bool = False
    nonce: int = 0


class OfferCreate(_Strict):
    """A signed offer to publish."""

    terms: OfferTermsIn
    signature: str = Field(max_length=140)
    chain_id: int

    def to_core(self) -> SignedOffer:
        """The core's signed offer; malformed fields raise L2gpuError."""
        t = self.terms
        terms = OfferTerms(
            provider=Address.from_hex(t.provider),
            gpu_name=t.gpu_name,
            num_gpus=t.num_gpus,
            gpu_ram_gb=t.gpu_ram_gb,
            price_per_gpu_second=Wei(parse_int(t.price_per_gpu_second)),
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
        )
        return SignedOffer(terms, parse_hex(self.signature, 65), ChainId(self.chain_id))


class JobCreate(_Strict):
    """The job to run on a lease: a shell command, its environment, secrets, small files."""

    command: str = Field(min_length=1, max_length=8192)
    env: dict[str, str] = Field(default_factory=dict, max_length=64)
    secrets: dict[str, str] = Field(default_factory=dict, max_length=64)
    files: dict[str, str] = Field(default_factory=dict, max_length=16)


class LeaseCreate(_Strict):
    """Rent an offer and submit a job on it."""

    offer_id: Wei_
    duration: int = Field(gt=0, le=365 * 86_400)
    job: JobCreate
    channel: dict[str, Any]
    max_price_per_gpu_second: Wei_ | None = None


class VoucherIn(_Strict):
    """A renter's voucher for a lease's channel."""

    amount: Wei_
    signature: str = Field(max_length=140)


class Heartbeat(_Strict):
    """An agent's heartbeat and its machine's inventory."""

    inventory: dict[str, Any] = Field(default_factory=dict)


class AgentEvent(_Strict):
    """Something the agent saw happen to a lease's job."""

    kind: str = Field(max_length=32)
    seconds: int = 0
    exit_code: int = 0
    reason: str = Field("", max_length=500)


class LogChunks(_Strict):
    """Output of a job, in order."""

    chunks: list[str] = Field(max_length=256)


def parse_int(value: str | int) -> int:
    """An integer from a JSON number or a decimal string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if not text.lstrip("-").isdigit() or len(text) > 80:
        raise L2gpuError(
            f"{value!r} is not a whole number", "send whole numbers as decimal strings"
        )
    return int(text)


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
