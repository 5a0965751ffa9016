"""The ``channels`` suite: voucher throughput on one core, L1 gas and bytes of a channel.

``lifecycle_gas`` is open + close by the renter + settle: the three-transaction
path that a stale close forces, and the one comparable to Raiden's published
open-to-settle figure. ``l1_bytes_per_payment`` spreads the signed L1
transactions of that lifecycle over the per-second vouchers of a one-hour lease
(vouchers themselves never touch L1).
"""

from __future__ import annotations

from itertools import cycle
from typing import Any

from l2gpu.bench import environment, median_rate, pin_to_one_core
from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.stream import PayeeState, VoucherReceived, payee_transition
from l2gpu.core.channel.vouchers import channel_domain, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import Address, ChainId, Hash32, Seconds, Timestamp, Wei
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.embedded import start_embedded_chain
from l2gpu.payments.gas import RAIDEN_LIFECYCLE_GAS, measure_gas

LEASE_SECONDS = 3600


def run(count: int = 2_000, rounds: int = 7) -> dict[str, Any]:
    """Measure the suite's figures."""
    gas = measure_gas()  # before pinning: the chain is not part of the one-core figures
    lease_bytes = _lifecycle_bytes()
    cpu = pin_to_one_core()
    renter = PrivateKey((2).to_bytes(32, "big"))
    domain = channel_domain(ChainId(1), Address(b"\x11" * 20))
    cid = Hash32(b"\x01" * 32)
    amounts = cycle(range(1, count + 1))

    def sign_one() -> None:
        sign_voucher(renter, domain, cid, Wei(next(amounts)))

    vouchers = [sign_voucher(renter, domain, cid, Wei(i)) for i in range(1, count + 1)]
    next_voucher = cycle(vouchers).__next__

    def verify_one() -> None:
        if next_voucher().signer(domain) != renter.address:
            raise AssertionError("a valid voucher failed to verify")

    # The payee's whole check per voucher: channel, monotonicity, signature, lag.
    state = PayeeState(cid, renter.address, domain, Wei(10**30), Wei(1))
    payee_next = cycle(vouchers).__next__

    def payee_one() -> None:
        payee_transition(state, VoucherReceived(payee_next(), Timestamp(0)))

    lifecycle = gas["lifecycle_renter_close"]
    return {
        "suite": "channels",
        "voucher_sign_per_s": round(median_rate(sign_one, count, rounds)),
        "voucher_verify_per_s": round(median_rate(verify_one, count, rounds)),
        "payee_check_per_s": round(median_rate(payee_one, count, rounds)),
        "lifecycle_gas": lifecycle,
        "lifecycle_gas_provider_close": gas["lifecycle_provider_close"],
        "raiden_lifecycle_gas_ratio": round(lifecycle / RAIDEN_LIFECYCLE_GAS, 3),
        "l1_bytes_per_lease": lease_bytes,
        "payments_per_lease": LEASE_SECONDS,
        "l1_bytes_per_payment": round(lease_bytes / LEASE_SECONDS, 3),
        "gas": gas,
        "pinned_cpu": cpu,
        **environment(),
    }


def _lifecycle_bytes() -> int:
    """Bytes of the signed L1 transactions of open + close by renter + settle."""
    chain = start_embedded_chain()
    renter, provider = PrivateKey((2).to_bytes(32, "big")), PrivateKey((3).to_bytes(32, "big"))
    manager = ChannelManagerClient.deploy(chain, chain.accounts[0])
    params = ChannelParams(renter.address, provider.address, challenge_period=Seconds(3600))
    now = chain.timestamp()
    account = chain.accounts[1]
    opened = manager.apply(
        ci.Open(
            renter.address, now, params, Wei(10**18), Timestamp(now + LEASE_SECONDS), Wei(10**18)
        ),
        account,
    )
    closed = manager.apply(ci.CloseByRenter(renter.address, now, params, Wei(10**17)), account)
    chain.time_travel(3601)
    settled = manager.apply(ci.Settle(renter.address, now, params), account)
    return opened.tx_bytes + closed.tx_bytes + settled.tx_bytes
