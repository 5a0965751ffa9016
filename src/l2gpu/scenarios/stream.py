"""The stream service: a lease paid every second over an L1 payment channel.

:func:`stream_service` delivers seconds of service on a simulated clock, the payer
signing a voucher for each and the payee checking it. :func:`channel_lease` runs the
whole lease of the ``channel-l1`` demo on it: a renter streams per-second vouchers
to a provider over a channel on L1; the provider's payee checks each one and stores
the best; the renter then tries to close with a stale voucher while the provider is
offline, a watcher answers, and after the challenge period (time travel, no
waiting) the channel settles.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import vyper
from eth_account.signers.local import LocalAccount
from rich.console import Console

from l2gpu.clock import SimulatedClock, l1_clock
from l2gpu.config import Settings
from l2gpu.core.channel import ChannelParams
from l2gpu.core.channel import inputs as ci
from l2gpu.core.channel.stream import PayeeState, ServiceState
from l2gpu.core.crypto.secp256k1 import PrivateKey
from l2gpu.core.errors import L2gpuError
from l2gpu.core.types import Seconds, Timestamp, Wei, format_wei
from l2gpu.db import open_database
from l2gpu.l1 import Chain, NotADevChain
from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
from l2gpu.payments.payee import Payee
from l2gpu.payments.payer import Payer
from l2gpu.payments.store import VoucherStore
from l2gpu.payments.watcher import ChannelWatcher

LEASE_SECONDS = 30
PRICE_PER_SECOND = Wei(10**14)  # 0.0001 ETH per GPU-second (0.36 ETH per hour)
CHALLENGE_PERIOD = Seconds(3600)


def stream_service(payer: Payer, payee: Payee, clock: SimulatedClock, seconds: int) -> int:
    """Deliver ``seconds`` of service one second at a time on a simulated clock: each
    second the payee meters it, the payer signs what is due, the payee checks the
    voucher. Return how many vouchers were signed."""
    vouchers = 0
    for _ in range(seconds):
        clock.advance(1)
        payee.delivered(1, clock())
        voucher = payer.poll()
        if voucher is not None:
            payee.receive(voucher, clock())
            vouchers += 1
    return vouchers


@dataclass(frozen=True)
class ChannelLease:
    """What the L1 channel lease left behind: its figures, and the parties' keys and
    manager for the market stage that follows on the same chain."""

    vouchers: int
    owed: Wei
    provider_payout: int
    l1_gas: int
    l1_bytes: int
    manager: ChannelManagerClient
    renter: PrivateKey
    provider: PrivateKey
    renter_account: LocalAccount
    provider_account: LocalAccount


def channel_lease(settings: Settings, chain: Chain, out: Console) -> ChannelLease:
    """Run a lease of :data:`LEASE_SECONDS` over an L1 channel on ``chain`` (a dev chain
    with four funded accounts), with a stale close that a watcher answers.

    Raises L2gpuError when the chain has too few accounts or cannot travel in time.
    """
    if len(chain.accounts) < 4:
        raise L2gpuError(
            f"the demo needs four funded accounts and {chain.description} offers "
            f"{len(chain.accounts)}",
            "run it on the embedded chain (unset L2GPU_L1_RPC)",
        )
    deployer, renter_account, provider_account = chain.accounts[:3]
    watcher_account = chain.accounts[3]
    renter = PrivateKey(bytes(renter_account.key))
    provider = PrivateKey(bytes(provider_account.key))
    out.print(f"  L1        {chain.description}, chain id {chain.chain_id}")

    manager = ChannelManagerClient.deploy(chain, deployer, cache_dir=settings.cache_dir)
    out.print(f"  deploy    ChannelManager at {manager.address} (vyper {vyper.__version__})")

    deposit = Wei(PRICE_PER_SECOND * LEASE_SECONDS * 2)
    params = ChannelParams(renter.address, provider.address, challenge_period=CHALLENGE_PERIOD)
    start = l1_clock(chain)()
    opened = manager.apply(
        ci.Open(renter.address, start, params, deposit, Timestamp(start + 3600), deposit),
        renter_account,
    )
    out.print(f"  open      channel {str(params.id)[:18]}... deposit {format_wei(deposit)}, "
              f"gas {opened.gas_used:,}")  # fmt: skip

    # The lease runs for LEASE_SECONDS of simulated time: one voucher per second.
    clock = SimulatedClock(start)
    payer = Payer(renter, manager.domain, params.id, price_per_second=PRICE_PER_SECOND,
                  cap=deposit, started_at=start, clock=clock)  # fmt: skip
    # The embedded chain starts afresh each run, with the same addresses: a channel id
    # can recur, so the demo keeps its vouchers in a database of its own.
    workdir = tempfile.TemporaryDirectory(prefix="l2gpu-demo-")
    store = VoucherStore(open_database(f"sqlite:///{workdir.name}/vouchers.db"))
    payee = Payee(
        PayeeState(params.id, renter.address, manager.domain, deposit, PRICE_PER_SECOND),
        store,
        manager=manager.address,
    )
    vouchers = stream_service(payer, payee, clock, LEASE_SECONDS)
    if payee.service != ServiceState.RUNNING:
        raise L2gpuError(f"the demo's payee stopped the service ({payee.service.name})",
                         "report this as a bug")  # fmt: skip
    best = payee.state.best_amount
    out.print(f"  stream    {LEASE_SECONDS} s of GPU time, {vouchers} vouchers signed and checked "
              f"off chain; best {format_wei(best)}; lag {payee.state.lag_seconds} s")  # fmt: skip

    stale = Wei(best // 3)
    closing = manager.apply(ci.CloseByRenter(renter.address, start, params, stale), renter_account)
    out.print(f"  cheat     renter closes conceding only {format_wei(stale)} while the provider is "
              f"offline (gas {closing.gas_used:,})")  # fmt: skip
    answers = ChannelWatcher(manager, store, watcher_account).run_once()
    out.print(f"  watch     a watcher answers with the provider's best voucher "
              f"(gas {sum(r.gas_used for r in answers):,})")  # fmt: skip
    try:
        chain.time_travel(CHALLENGE_PERIOD + 1)
    except NotADevChain as exc:
        raise L2gpuError(exc.what, "run the demo on the embedded chain") from exc
    settled = manager.apply(ci.Settle(renter.address, start, params), watcher_account)
    paid = settled.event("ChannelSettled").args
    out.print(f"  settle    after the {CHALLENGE_PERIOD // 3600} h challenge period: provider "
              f"{format_wei(paid['provider_payout'])}, renter refund "
              f"{format_wei(paid['renter_payout'])}")  # fmt: skip
    receipts = [opened, closing, settled, *answers]
    return ChannelLease(
        vouchers=vouchers,
        owed=best,
        provider_payout=int(paid["provider_payout"]),
        l1_gas=sum(r.gas_used for r in receipts),
        l1_bytes=sum(r.tx_bytes for r in receipts),
        manager=manager,
        renter=renter,
        provider=provider,
        renter_account=renter_account,
        provider_account=provider_account,
    )
