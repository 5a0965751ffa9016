"""Relative GPU throughput, and the cost per unit of work that matching ranks offers by.

The throughput table holds rough public FP16 dense figures relative to an H100;
an unknown model counts as 0.1 so that it is never preferred by accident. These
numbers only rank offers; nothing is ever billed by them.
"""

from __future__ import annotations

from l2gpu.core.market.fields import fold
from l2gpu.core.market.view import OfferView

RELATIVE_THROUGHPUT: dict[str, float] = {
    "h200": 1.0,
    "h100": 1.0,
    "h100 sxm": 1.0,
    "h100 pcie": 0.75,
    "a100": 0.32,
    "l40s": 0.37,
    "rtx 4090": 0.17,
    "rtx 3090": 0.07,
    "a10": 0.13,
    "l4": 0.12,
    "t4": 0.07,
    "cpu": 0.01,
}
UNKNOWN_THROUGHPUT = 0.1


def throughput(gpu_name: str) -> float:
    """Relative throughput of one GPU of this model (an H100 is 1.0)."""
    return RELATIVE_THROUGHPUT.get(fold(gpu_name), UNKNOWN_THROUGHPUT)


def cost_per_work(offer: OfferView) -> float:
    """Price per unit of work: lower is better. Used only to rank, never to bill."""
    work = throughput(offer.gpu_name) * max(offer.reliability, 1e-9)
    return float(offer.price_per_gpu_second) / work
