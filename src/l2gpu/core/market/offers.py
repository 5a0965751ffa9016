"""Offers: a provider's signed statement "these GPUs, this price per GPU-second, until then".

An offer is an EIP-712 message under the domain ``("l2gpu market", "1", chainId)``,
so a wallet can show it field by field and an offer signed for one chain never
validates on another. Its id is derived from the signed digest: the same terms
always get the same id, and nobody can publish a different offer under it.

Validation (:func:`validate_offer`) is one check per line, each raising
:class:`OfferError` with what was wrong and what to do:

    OfferError (L2gpuError)
    ├── a price that is zero, negative or does not fit in 128 bits
    ├── a GPU count, memory, CPU, RAM, disk or bandwidth out of range
    ├── min duration above max duration, or a duration of zero
    ├── an expiry that has passed
    └── a signature not made by the offer's provider
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError, SignatureError
from l2gpu.core.types import Address, ChainId, OfferId, Seconds, Timestamp, Wei

DOMAIN_NAME = "l2gpu market"
DOMAIN_VERSION = "1"
MAX_PRICE = Wei(2**128 - 1)
"""Prices are uint128 on chain (as channel amounts are): anything larger overflows."""
MAX_GPUS = 1024
MAX_DURATION = Seconds(365 * 86_400)

OFFER = TypedDataSchema(
    {
        "Offer": [
            ("provider", "address"),
            ("gpuName", "string"),
            ("numGpus", "uint16"),
            ("gpuRamGb", "uint32"),
            ("cpuCores", "uint32"),
            ("ramGb", "uint32"),
            ("diskGb", "uint32"),
            ("bandwidthMbps", "uint32"),
            ("location", "string"),
            ("pricePerGpuSecond", "uint128"),
            ("minDuration", "uint64"),
            ("maxDuration", "uint64"),
            ("expiresAt", "uint64"),
            ("declared", "bool"),
            ("nonce", "uint64"),
        ]
    },
    "Offer",
)


class OfferError(L2gpuError):
    """An offer's terms or signature are not acceptable."""


def market_domain(chain_id: ChainId) -> Eip712Domain:
    """The signing domain of offers on chain ``chain_id``."""
    return Eip712Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id)


@dataclass(frozen=True, slots=True)
class OfferTerms:
    """What a provider offers. ``declared`` is True when the GPUs were declared by the
    operator (no NVML on the machine), so renters can tell them from discovered ones."""

    provider: Address
    gpu_name: str
    num_gpus: int
    gpu_ram_gb: int
    price_per_gpu_second: Wei
    expires_at: Timestamp
    cpu_cores: int = 1
    ram_gb: int = 1
    disk_gb: int = 10
    bandwidth_mbps: int = 100
    location: str = "XX"
    min_duration: Seconds = Seconds(1)
    max_duration: Seconds = Seconds(86_400)
    declared: bool = False
    nonce: int = 0

    def message(self) -> dict[str, Any]:
        """The EIP-712 message of these terms."""
        return {
            "provider": self.provider,
            "gpuName": self.gpu_name,
            "numGpus": self.num_gpus,
            "gpuRamGb": self.gpu_ram_gb,
            "cpuCores": self.cpu_cores,
            "ramGb": self.ram_gb,
            "diskGb": self.disk_gb,
            "bandwidthMbps": self.bandwidth_mbps,
            "location": self.location,
            "pricePerGpuSecond": self.price_per_gpu_second,
            "minDuration": self.min_duration,
            "maxDuration": self.max_duration,
            "expiresAt": self.expires_at,
            "declared": self.declared,
            "nonce": self.nonce,
        }

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form: the address in EIP-55, the price as a decimal string
        (JavaScript numbers cannot hold every wei amount)."""
        data = asdict(self)
        data["provider"] = self.provider.checksum
        data["price_per_gpu_second"] = str(self.price_per_gpu_second)
        return data


@dataclass(frozen=True, slots=True)
class SignedOffer:
    """Terms plus the provider's signature over them."""

    terms: OfferTerms
    signature: bytes
    chain_id: ChainId

    @property
    def digest(self) -> bytes:
        """The EIP-712 digest that was signed."""
        return OFFER.digest(market_domain(self.chain_id), self.terms.message())

    @property
    def offer_id(self) -> OfferId:
        """A 63-bit id from the digest: same terms, same id; fits a signed BIGINT."""
        return offer_id_of(self.digest)

    def signer(self) -> Address | None:
        """Who signed the terms; None if the signature is malformed."""
        try:
            return OFFER.recover(market_domain(self.chain_id), self.terms.message(), self.signature)
        except SignatureError:
            return None


def offer_id_of(digest: bytes) -> OfferId:
    """The offer id of a signed digest (its first 8 bytes, top bit cleared)."""
    return OfferId(int.from_bytes(digest[:8], "big") >> 1)


def sign_offer(key: PrivateKey, terms: OfferTerms, chain_id: ChainId) -> SignedOffer:
    """The provider signs ``terms``; the provider field must be the key's address."""
    if terms.provider != key.address:
        terms = replace(terms, provider=key.address)
    return SignedOffer(terms, OFFER.sign(key, market_domain(chain_id), terms.message()), chain_id)


def validate_terms(terms: OfferTerms, now: Timestamp) -> None:
    """Check the terms of an offer; raise :class:`OfferError` naming the first bad field."""
    price = terms.price_per_gpu_second
    if isinstance(price, bool) or not isinstance(price, int):
        raise OfferError(f"price {price!r} is not an integer", "give the price in whole wei")
    if price <= 0:
        raise OfferError(
            f"price per GPU-second must be above zero, got {price} wei",
            "set a positive price, e.g. --price '0.0001 ether'",
        )
    if price > MAX_PRICE:
        raise OfferError(
            f"price per GPU-second {price} wei overflows 128 bits",
            "set a price below 2**128 wei per GPU-second",
        )
    if not 1 <= terms.num_gpus <= MAX_GPUS:
        raise OfferError(
            f"an offer holds 1 to {MAX_GPUS} GPUs, got {terms.num_gpus}", "offer fewer GPUs"
        )
    _check_size("GPU memory (GB)", terms.gpu_ram_gb, 0)
    _check_size("CPU cores", terms.cpu_cores, 1)
    _check_size("RAM (GB)", terms.ram_gb, 0)
    _check_size("disk (GB)", terms.disk_gb, 0)
    _check_size("bandwidth (Mbps)", terms.bandwidth_mbps, 0)
    if not terms.gpu_name or len(terms.gpu_name) > 64 or " " in terms.gpu_name:
        raise OfferError(
            f"GPU name {terms.gpu_name!r} must be 1-64 characters without spaces",
            "write it like RTX_4090 or H100_SXM",
        )
    if not terms.location or len(terms.location) > 16:
        raise OfferError(
            f"location {terms.location!r} must be 1-16 characters", "use a code such as EU or US"
        )
    if not 1 <= terms.min_duration <= terms.max_duration <= MAX_DURATION:
        raise OfferError(
            f"durations must satisfy 1 <= min ({terms.min_duration} s) <= max "
            f"({terms.max_duration} s) <= {MAX_DURATION} s",
            "fix --min-duration / --max-duration",
        )
    if terms.expires_at <= now:
        raise OfferError(
            f"offer expired at {terms.expires_at} (now {now})",
            "publish a fresh offer with a later expiry",
        )


def validate_offer(offer: SignedOffer, now: Timestamp) -> None:
    """Check terms and signature of ``offer``; raise :class:`OfferError` if either is bad."""
    validate_terms(offer.terms, now)
    if offer.signer() != offer.terms.provider:
        raise OfferError(
            f"offer is not signed by its provider {offer.terms.provider}",
            "sign the offer with the provider's key",
        )


def _check_size(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2**32:
        raise OfferError(f"{name} {value!r} is out of range", f"give a whole number >= {low}")
