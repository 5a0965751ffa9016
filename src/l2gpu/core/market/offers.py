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
    ├── a GPU name or location that is empty, too long or not printable text
    ├── min duration above max duration, or a duration of zero
    ├── an expiry that has passed (or does not fit in 64 bits), a nonce beyond 64 bits
    ├── a backend not local, container or ray; an image policy that does not fit it
    ├── a chain id beyond 256 bits
    └── a signature not made by the offer's provider

Every field is checked for its type and its EIP-712 range, so that an offer that
validates can always be hashed: nothing but OfferError comes out of validation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataError, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import InvalidValue, L2gpuError, SignatureError
from l2gpu.core.market.gpus import catalog_name, known_models
from l2gpu.core.market.images import policy_problem
from l2gpu.core.types import Address, ChainId, OfferId, Seconds, Timestamp, Wei

DOMAIN_NAME = "l2gpu market"
DOMAIN_VERSION = "1"
MAX_PRICE = Wei(2**128 - 1)
"""Prices are uint128 on chain (as channel amounts are): anything larger overflows."""
MAX_GPUS = 1024
MAX_DURATION = Seconds(365 * 86_400)
MAX_UINT64 = 2**64 - 1
MAX_NAME = 64
MAX_LOCATION = 16

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
            ("backend", "string"),
            ("images", "string"),
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
    backend: str = "local"
    images: str = ""

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
            "backend": self.backend,
            "images": self.images,
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
        """Who signed the terms; None if the signature is malformed, or if the terms or
        the chain id are out of their EIP-712 ranges (no signature can be valid then)."""
        try:
            return OFFER.recover(market_domain(self.chain_id), self.terms.message(), self.signature)
        except (SignatureError, InvalidValue, TypedDataError):
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
    if not isinstance(terms.provider, Address):
        raise OfferError(f"provider {terms.provider!r} is not an address", "give 20 bytes")
    price = terms.price_per_gpu_second
    if not _is_int(price):
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
    if not _is_int(terms.num_gpus) or not 1 <= terms.num_gpus <= MAX_GPUS:
        raise OfferError(
            f"an offer holds 1 to {MAX_GPUS} GPUs, got {terms.num_gpus!r}", "offer fewer GPUs"
        )
    _check_size("GPU memory (GB)", terms.gpu_ram_gb, 0)
    _check_size("CPU cores", terms.cpu_cores, 1)
    _check_size("RAM (GB)", terms.ram_gb, 0)
    _check_size("disk (GB)", terms.disk_gb, 0)
    _check_size("bandwidth (Mbps)", terms.bandwidth_mbps, 0)
    name = terms.gpu_name
    if not _is_text(name, MAX_NAME) or " " in name:
        raise OfferError(
            f"GPU name {name!r} must be 1-{MAX_NAME} printable characters without spaces",
            "write it like RTX_4090 or H100_SXM",
        )
    if catalog_name(name) != name:
        known = catalog_name(name)
        raise OfferError(
            f"GPU model {name!r} is not in the catalog" + (f" (it names {known})" if known else ""),
            f"name one of: {known_models()}",
        )
    if not _is_text(terms.location, MAX_LOCATION):
        raise OfferError(
            f"location {terms.location!r} must be 1-{MAX_LOCATION} printable characters",
            "use a code such as EU or US",
        )
    low, high = terms.min_duration, terms.max_duration
    if not (_is_int(low) and _is_int(high) and 1 <= low <= high <= MAX_DURATION):
        raise OfferError(
            f"durations must satisfy 1 <= min ({low!r} s) <= max ({high!r} s) <= {MAX_DURATION} s",
            "give 'l2gpu provider up --max-duration' a duration such as 24h, at most "
            f"{MAX_DURATION // 86_400} days",
        )
    if not _is_int(terms.expires_at) or terms.expires_at > MAX_UINT64:
        raise OfferError(
            f"expiry {terms.expires_at!r} is not a time in 64 bits",
            "give the expiry in whole seconds since 1970",
        )
    if terms.expires_at <= now:
        raise OfferError(
            f"offer expired at {terms.expires_at} (now {now})",
            "publish a fresh offer with a later expiry",
        )
    if not isinstance(terms.declared, bool):
        raise OfferError(f"declared {terms.declared!r} is not true or false", "give a boolean")
    if not _is_int(terms.nonce) or not 0 <= terms.nonce <= MAX_UINT64:
        raise OfferError(
            f"nonce {terms.nonce!r} is not a whole number in 64 bits", "use 0 <= nonce < 2**64"
        )
    policy = policy_problem(terms.backend, terms.images)
    if policy is not None:
        raise OfferError(
            f"the offer's {policy}",
            "publish with 'l2gpu provider up', which says its backend and images",
        )


def validate_offer(offer: SignedOffer, now: Timestamp) -> None:
    """Check terms and signature of ``offer``; raise :class:`OfferError` if either is bad."""
    validate_terms(offer.terms, now)
    if not _is_int(offer.chain_id) or not 0 <= offer.chain_id < 2**256:
        raise OfferError(
            f"chain id {offer.chain_id!r} is not a whole number in 256 bits",
            "sign the offer for the market's chain",
        )
    if offer.signer() != offer.terms.provider:
        raise OfferError(
            f"offer is not signed by its provider {offer.terms.provider}",
            "sign the offer with the provider's key",
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: object, longest: int) -> bool:
    """Printable text of 1 to ``longest`` characters: no control characters, no line
    breaks, no lone surrogates (which have no UTF-8 form to hash)."""
    return isinstance(value, str) and 1 <= len(value) <= longest and value.isprintable()


def _check_size(name: str, value: int, low: int) -> None:
    if not _is_int(value) or not low <= value < 2**32:
        raise OfferError(f"{name} {value!r} is out of range", f"give a whole number >= {low}")
