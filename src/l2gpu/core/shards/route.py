"""The request that makes a hub carry a lease across shards, and the hub's rules for
taking it (pure: the hub's service reads the channel and the clock, then asks here).

A renter asks the hub to open a channel to ``provider`` holding ``deposit`` for
``lifetime`` seconds, paid from the renter's channel ``inbound`` to the hub. The
request is signed by the renter (EIP-712 ``HubRoute`` under the hub's domain), so
nobody else can point the renter's channel, and the vouchers the renter will send
on it, at a provider of their choosing.

The hub takes a route only when it can lose nothing by it:

- the inbound channel is the renter's, pays the hub, and is *final* in its rollup
  (a soft-confirmed channel can still be dropped, and every voucher with it);
- it holds what the renter will owe for the whole outbound deposit, fee included;
- its challenge period gives the hub time to answer a close (at least the
  market's), and it outlives the outbound channel by that period, so the hub can
  still claim the renter's best voucher after the provider's last second;
- the two ends live on different shards (on one shard the renter pays directly).
"""

from __future__ import annotations

from dataclasses import dataclass

from l2gpu.core.channel.vouchers import MALFORMED_SIGNATURE
from l2gpu.core.crypto.eip712 import Eip712Domain, TypedDataSchema
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address, Hash32

MAX_LIFETIME_S = 30 * 86_400  # a route's outbound channel lives at most this long
HUB_DOMAIN_NAME = "l2gpu hub"
HUB_DOMAIN_VERSION = "1"

HUB_ROUTE = TypedDataSchema(
    {
        "HubRoute": [
            ("inbound", "bytes32"),
            ("provider", "address"),
            ("deposit", "uint256"),
            ("lifetime", "uint64"),
        ]
    },
    "HubRoute",
)


ROUTED_FOR = TypedDataSchema(
    {"RoutedFor": [("channel", "bytes32"), ("renter", "address")]}, "RoutedFor"
)
"""The hub's word that its channel ``channel`` pays for ``renter``'s lease: the market
takes a lease on a channel whose payer is not its renter only with it."""


def sign_routed_for(key: PrivateKey, chain_id: int, channel: Hash32, renter: Address) -> bytes:
    """The hub (``key``) says its channel ``channel`` carries ``renter``'s lease."""
    return ROUTED_FOR.sign(key, hub_domain(chain_id, key.address),
                           {"channel": channel, "renter": renter})  # fmt: skip


def routed_for_signer(chain_id: int, hub: Address, channel: Hash32, renter: Address,
                      signature: bytes) -> Address | None:  # fmt: skip
    """Who signed that ``channel`` carries ``renter``'s lease under ``hub``'s domain."""
    try:
        return ROUTED_FOR.recover(hub_domain(chain_id, hub),
                                  {"channel": channel, "renter": renter}, signature)  # fmt: skip
    except MALFORMED_SIGNATURE:
        return None


def hub_domain(chain_id: int, hub: Address) -> Eip712Domain:
    """The domain a renter signs route requests to ``hub`` under."""
    return Eip712Domain(HUB_DOMAIN_NAME, HUB_DOMAIN_VERSION, chain_id, hub)


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """A renter's request: carry channel ``inbound`` to ``provider`` (see the module)."""

    inbound: Hash32
    provider: Address
    deposit: int
    lifetime: int

    def message(self) -> dict[str, object]:
        """The EIP-712 message."""
        return {"inbound": self.inbound, "provider": self.provider, "deposit": self.deposit,
                "lifetime": self.lifetime}  # fmt: skip

    def sign(self, key: PrivateKey, domain: Eip712Domain) -> bytes:
        """The renter's signature."""
        return HUB_ROUTE.sign(key, domain, self.message())

    def signer(self, domain: Eip712Domain, signature: bytes) -> Address | None:
        """Who signed it (None: a malformed signature)."""
        try:
            return HUB_ROUTE.recover(domain, self.message(), signature)
        except MALFORMED_SIGNATURE:
            return None


@dataclass(frozen=True, slots=True)
class InboundSeen:
    """The renter's channel to the hub as its rollup shows it."""

    renter: Address
    payee: Address
    status: str  # open, pending, closing, settled, missing
    deposit: int
    expires_at: int
    challenge_period: int
    shard: int


def route_problem(
    request: RouteRequest,
    signer: Address | None,
    inbound: InboundSeen,
    *,
    hub: Address,
    provider_shard: int,
    needed: int,
    now: int,
    min_challenge: int,
) -> str | None:
    """Why the hub must not take ``request`` (None: it can lose nothing by it).
    ``needed``: what the renter will owe for the whole (rounded) outbound deposit."""
    if signer is None or signer != inbound.renter:
        return "the request is not signed by the renter of the inbound channel"
    if inbound.payee != hub:
        return "the inbound channel does not pay this hub"
    if inbound.shard == provider_shard:
        return "the renter and the provider live on one shard: open a channel to the provider"
    if request.deposit <= 0:
        return "the deposit must be above zero"
    if not 0 < request.lifetime <= MAX_LIFETIME_S:
        return f"the lifetime must be between 1 and {MAX_LIFETIME_S} seconds"
    if inbound.status != "open":
        return (f"the inbound channel is {inbound.status}, not open: the hub carries a "
                "lease only on a channel a batch holds (wait for it, then ask again)")  # fmt: skip
    if inbound.challenge_period < min_challenge:
        return (f"the inbound channel's challenge period of {inbound.challenge_period} s is "
                f"shorter than the {min_challenge} s the hub needs to answer a close")  # fmt: skip
    if inbound.deposit < needed:
        return f"the inbound channel holds {inbound.deposit} wei; the route needs {needed}"
    ends = now + request.lifetime + inbound.challenge_period
    if inbound.expires_at < ends:
        return (f"the inbound channel expires at {inbound.expires_at}; the route needs it "
                f"open until {ends} (the outbound's end and one challenge period)")  # fmt: skip
    return None
