"""Gas of the ChannelManager's entry points on the embedded L1, and its snapshot file.

Gas on the embedded chain is deterministic, so the snapshot
(``contracts/channels/ChannelManager.gas``) is exact: a change that makes a call
cheaper or dearer shows up as a diff of that file, and a test fails until the
file is regenerated (``l2gpu bench channels --write-gas-snapshot``).
"""

from __future__ import annotations

from pathlib import Path

from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.vouchers import sign_cooperative_close, sign_voucher
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.types import ZERO_ADDRESS, Address, Seconds, Timestamp, Wei
from l2gpu.l1 import compile_contract
from l2gpu.l1.build import contracts_root
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.l1.embedded import start_embedded_chain

GAS_SNAPSHOT = contracts_root() / "channels" / "ChannelManager.gas"
RAIDEN_LIFECYCLE_GAS = 400_528
"""Raiden's published gas from opening a channel to settling it."""


EXPIRY = Timestamp(2**40)
"""The channels' expiry: a constant, since calldata's gas depends on its bytes (a zero
byte costs 4, another 16) and an expiry read from the clock made the snapshot move
with the day it was taken."""


def measure_gas() -> dict[str, int]:
    """Gas used by each entry point, and the lifecycles, on a fresh embedded chain."""
    chain = start_embedded_chain()
    deployer, renter, provider, watcher = chain.accounts[:4]
    renter_key, provider_key = PrivateKey(bytes(renter.key)), PrivateKey(bytes(provider.key))
    manager = ChannelManagerClient.deploy(chain, deployer)
    token = chain.deploy(compile_contract("tokens/TestToken.vy"), "T", "T", 18, sender=deployer)
    token.transact("mint", renter_key.address, 10**24, sender=deployer)
    gas: dict[str, int] = {}
    salt = iter(range(1, 100))

    def open_channel(
        token_address: Address | None = None, label: str = "open_ether"
    ) -> ChannelParams:
        params = ChannelParams(
            renter_key.address,
            provider_key.address,
            token=token_address or ZERO_ADDRESS,
            challenge_period=Seconds(3600),
            salt=next(salt).to_bytes(32, "big"),
        )
        now = int(chain.timestamp())
        deposit = Wei(10**18)
        value = Wei(0) if token_address else deposit
        manager.approve(params, deposit, renter)
        receipt = manager.apply(
            ci.Open(renter_key.address, Timestamp(now), params, deposit, EXPIRY, value),
            renter,
        )
        gas[label] = receipt.gas_used
        return params

    def voucher(params: ChannelParams, amount: int) -> bytes:
        return sign_voucher(renter_key, manager.domain, params.id, Wei(amount)).signature

    # Renter-initiated lifecycle: open, close (stale), watcher answers, settle.
    params = open_channel()
    gas["top_up_ether"] = manager.apply(
        ci.TopUp(
            renter_key.address, Timestamp(0), params, Wei(10**17), Timestamp(2**40), Wei(10**17)
        ),
        renter,
    ).gas_used
    gas["close_by_renter"] = manager.apply(
        ci.CloseByRenter(renter_key.address, Timestamp(0), params, Wei(10**16)), renter
    ).gas_used
    gas["submit_voucher"] = manager.apply(
        ci.SubmitVoucher(
            renter_key.address, Timestamp(0), params, Wei(10**17), voucher(params, 10**17)
        ),
        watcher,
    ).gas_used
    chain.time_travel(3601)
    gas["settle_ether"] = manager.apply(
        ci.Settle(renter_key.address, Timestamp(0), params), watcher
    ).gas_used

    # Provider-initiated: open, close at once with the best voucher.
    params = open_channel()
    gas["close_by_provider_ether"] = manager.apply(
        ci.CloseByProvider(
            provider_key.address, Timestamp(0), params, Wei(5 * 10**17), voucher(params, 5 * 10**17)
        ),
        provider,
    ).gas_used

    # Cooperative close.
    params = open_channel()
    sigs = [
        sign_cooperative_close(k, manager.domain, params.id, Wei(10**17))
        for k in (renter_key, provider_key)
    ]
    gas["cooperative_close_ether"] = manager.apply(
        ci.CooperativeClose(provider_key.address, Timestamp(0), params, Wei(10**17), *sigs),
        provider,
    ).gas_used

    # ERC-20: open and provider close.
    params = open_channel(token.address, "open_token")
    gas["close_by_provider_token"] = manager.apply(
        ci.CloseByProvider(
            provider_key.address, Timestamp(0), params, Wei(10**17), voucher(params, 10**17)
        ),
        provider,
    ).gas_used

    gas["lifecycle_renter_close"] = gas["open_ether"] + gas["close_by_renter"] + gas["settle_ether"]
    gas["lifecycle_provider_close"] = gas["open_ether"] + gas["close_by_provider_ether"]
    return gas


def render_snapshot(gas: dict[str, int]) -> str:
    """The snapshot file's text: one ``name gas`` line per entry, sorted."""
    lines = [
        "# ChannelManager gas on the embedded L1; regenerate with: "
        "l2gpu bench channels --write-gas-snapshot"
    ]
    lines += [f"{name} {value}" for name, value in sorted(gas.items())]
    return "\n".join(lines) + "\n"


def write_snapshot(path: Path = GAS_SNAPSHOT) -> Path:
    """Measure and write the snapshot file."""
    path.write_text(render_snapshot(measure_gas()))
    return path
