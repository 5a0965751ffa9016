"""A lease between shards over a virtual channel (Nitro-style), one hop.

A renter on shard A and a provider on shard B have no channel in common. A hub with
an account on both joins them with two rollup channels that are the two ends of one
*virtual channel* (``core/channel/state.py`` VirtualTerms):

- on A, the renter's channel to the hub, whose vouchers are the renter's for the
  virtual id and credit the hub each voucher's amount plus the hub's fee;
- on B, the hub's channel to the provider, whose vouchers are the renter's too, for
  the same virtual id, with no fee.

Each second the renter signs one voucher ``(virtual id, amount)`` and hands it to the
provider alone; the same signature closes both ends. Unlike the mediated hop
(``hop.py``), the hub signs nothing per second and need not be online during the
lease; it signs two things in all: its open on B and, after the lease, its claim on A.

- **The hub can lose nothing.** Whatever the provider proves on B (its close
  publishes the voucher in B's batch), the hub proves on A with the same voucher for
  that amount plus its fee, as A's payee: A holds the fee on B's whole deposit
  (:func:`virtual_route_problem`), and A's deadlines outlive B's by one challenge
  period of the hub's. A renter who starts closing A early gives the hub A's
  challenge period, longer than B's by that margin: the hub closes B at once, so the
  provider's last voucher is on B's batch in time for the hub to claim it on A.
- **The hub can block nothing beyond a stated delay.** Once both ends are open, the
  renter pays the provider directly; if the hub vanishes, the provider closes B
  with the renter's best voucher at once, and the renter's unspent deposit on A comes
  back after A's challenge period (the delay, stated in docs/shards.md).
- **The renter** pays for exactly what the provider can claim, plus the fee: one
  voucher pays both ends, so there is no voucher in flight to lose.

Pure: the hub's and the renter's shells read the channels and the clocks.
"""

from __future__ import annotations

from l2gpu.core.channel.state import PPM, VirtualTerms
from l2gpu.core.channel.vouchers import virtual_voucher_signer
from l2gpu.core.crypto.keccak import keccak256
from l2gpu.core.types import Address, Hash32

VIRTUAL_ID_TAG = b"l2gpu virtual channel"
CLAIM_MARGIN_S = 3600
"""How much longer the inbound channel's challenge period must be than the outbound's:
the hub's time to read the provider's last voucher and claim it on the renter's shard."""


def new_virtual_id(renter: Address, entropy: bytes) -> Hash32:
    """A virtual id for ``renter``'s next lease: the hash of the renter and 32 bytes of
    ``entropy`` (fresh randomness), so that no other lease's vouchers count on it."""
    if len(entropy) != 32:
        raise ValueError("a virtual id takes 32 bytes of entropy")
    return Hash32(keccak256(VIRTUAL_ID_TAG + renter + entropy))


def outbound_terms(inbound: VirtualTerms) -> VirtualTerms:
    """The terms of the hub's channel to the provider: the renter's vouchers for the
    same virtual id, with no fee (the provider is paid each voucher's amount)."""
    return VirtualTerms(inbound.signer, inbound.virtual_id, 0)


def virtual_route_problem(
    inbound: VirtualTerms,
    *,
    renter: Address,
    fee_ppm: int,
    inbound_period: int,
    outbound_period: int,
    margin: int,
    used: bool,
) -> str | None:
    """Why the hub must not carry a lease on the inbound channel's virtual terms
    (None: it can lose nothing by them). The route's other rules (a final, funded,
    long-lived inbound channel) are :func:`l2gpu.core.shards.route.route_problem`'s.

    ``margin``: the time the hub needs to read B's last voucher and claim it on A;
    ``used``: the hub carries, or carried, another lease with this virtual id."""
    if inbound.signer != renter:
        return "the inbound channel's vouchers are not its renter's"
    if inbound.fee_ppm != fee_ppm:
        return f"the inbound channel's fee is {inbound.fee_ppm} ppm; this hub's is {fee_ppm}"
    if not 0 <= inbound.fee_ppm <= PPM:
        return "the inbound channel's fee is out of range"
    if used:
        return "that virtual id is taken: open the inbound channel with a fresh one"
    if inbound_period < outbound_period + margin:
        return (f"the inbound channel's challenge period of {inbound_period} s is shorter "
                f"than the {outbound_period + margin} s the hub needs (the channel to the "
                f"provider's {outbound_period} s and {margin} s to claim)")  # fmt: skip
    return None


def claimable(chain_id: int, terms: VirtualTerms, amount: int, signature: bytes) -> bool:
    """True when ``signature`` is the virtual signer's voucher for ``amount`` on the
    terms' virtual id: what the hub may prove on the other end."""
    signer = virtual_voucher_signer(chain_id, terms.virtual_id, amount, signature)
    return signer is not None and signer == terms.signer
