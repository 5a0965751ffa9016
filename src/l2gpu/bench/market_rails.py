"""What paying for a lease costs on each rail: time to open and close its channel, and
the bytes or gas it leaves on L1 (on the L1 rail; the hybrid rail's share of its
batches' L1 cost is ``l2gpu bench l1cost``).

Both rails run on the embedded L1. The hybrid rail goes through a rollup node served
on loopback that seals a batch once its oldest transaction waited ``interval``
seconds (``l2gpu up``'s default is 2 s), so opening and closing each take about one
batch interval: that is the figure a renter waits before its job can start.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from l2gpu.core.types import Wei

SEAL_INTERVAL = 2.0  # l2gpu up's default
DEPOSIT = Wei(36 * 10**14)  # an hour at 10**12 wei per GPU-second, on one GPU


def measure_rails(rounds: int = 3, interval: float = SEAL_INTERVAL) -> dict[str, Any]:
    """Median open and close seconds per rail, and per-lease L1 cost."""
    from l2gpu.core.channel.vouchers import sign_voucher
    from l2gpu.core.crypto.secp256k1 import PrivateKey
    from l2gpu.designs import RailParts, lease_rail
    from l2gpu.l1.contracts.channel_manager import ChannelManagerClient
    from l2gpu.l1.embedded import start_embedded_chain
    from l2gpu.scenarios.embedded_rollup import embedded_rollup

    chain = start_embedded_chain()
    operator, renter_l1, provider_l1 = chain.accounts[:3]
    renter, provider = PrivateKey(bytes(renter_l1.key)), PrivateKey(bytes(provider_l1.key))

    # channel-l1: open and close are L1 transactions (the embedded chain mines at once)
    manager = ChannelManagerClient.deploy(chain, operator)
    l1_renter = lease_rail("channel-l1", RailParts(account=renter_l1, manager=manager))
    l1_provider = lease_rail("channel-l1", RailParts(account=provider_l1, manager=manager))
    l1 = _rounds(rounds, l1_renter, l1_provider, renter, provider.address, sign_voucher)

    # hybrid: through a rollup node (the rail's L1 work is the node's batches)
    served = embedded_rollup(chain, [renter_l1, provider_l1], interval=interval)
    try:
        hybrid = _rounds(rounds, lease_rail("hybrid", RailParts(node_url=served.url, key=renter)),
                         lease_rail("hybrid", RailParts(node_url=served.url, key=provider)),
                         renter, provider.address, sign_voucher)  # fmt: skip
    finally:
        served.stop()
    return {
        "rail_seal_interval_s": interval,
        "hybrid_open_s": hybrid["open_s"],
        "hybrid_close_s": hybrid["close_s"],
        # the lease's own L2 transactions (OpenChannel and the close); what the batches
        # carrying them cost on L1 is measured by `l2gpu bench l1cost`
        "hybrid_lease_l2_tx_bytes": hybrid["bytes"],
        "l1_open_s": l1["open_s"],
        "l1_close_s": l1["close_s"],
        "l1_lease_gas": l1["gas"],
        "l1_lease_tx_bytes": l1["bytes"],
    }


def _rounds(rounds: int, opener: Any, closer: Any, renter: Any, provider: Any,
            sign: Any) -> dict[str, Any]:  # fmt: skip
    opens, closes, gas, size = [], [], 0, 0
    for _ in range(rounds):
        start = time.perf_counter()
        opened = opener.open(provider, DEPOSIT, lifetime=7200)
        opens.append(time.perf_counter() - start)
        voucher = sign(renter, opener.domain, opened.params.id, Wei(DEPOSIT // 2))
        # the renter stays to co-sign a cooperative close (where the rail has one)
        agrees = threading.Thread(target=opener.cosign_close,
                                  args=(opened.description, voucher.amount))  # fmt: skip
        agrees.start()
        start = time.perf_counter()
        closed = closer.close(opened.description, voucher)
        closes.append(time.perf_counter() - start)
        agrees.join()
        gas, size = opened.gas_used + closed.gas_used, opened.tx_bytes + closed.tx_bytes
    return {"open_s": round(statistics.median(opens), 3),
            "close_s": round(statistics.median(closes), 3), "gas": gas, "bytes": size}  # fmt: skip
