"""The fields a filter can name: their kinds, units and getters.

Every numeric field compares in a base unit (wei, seconds, GB); ``scale`` says
how many base units one written unit is (``10**18`` wei per ETH written,
``3600`` s per hour written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from l2gpu.core.market.view import SECONDS_PER_HOUR, WEI_PER_ETH, OfferView


class Kind(Enum):
    """How a field's literals are read and compared."""

    INT = "int"  # whole numbers, scaled by the field's unit into an int bound
    FLOAT = "float"  # a ratio (reliability): compared as a float, not money
    TEXT = "text"  # case-insensitive, _ == blank
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class Field:
    """A filterable field: its kind, the unit its literals are written in, its getter."""

    name: str
    kind: Kind
    get: Callable[[OfferView], object]
    scale: int = 1  # base units per unit written: 10**18 wei per ETH, 3600 s per hour
    doc: str = ""


def _f(name: str, kind: Kind, get: Callable[[OfferView], object], scale: int, doc: str) -> Field:
    return Field(name, kind, get, scale, doc)


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        _f("id", Kind.INT, lambda o: o.offer_id, 1, "offer id"),
        _f("gpu_name", Kind.TEXT, lambda o: o.gpu_name, 1, "GPU model, e.g. RTX_4090"),
        _f("num_gpus", Kind.INT, lambda o: o.num_gpus, 1, "GPUs in the offer"),
        _f("gpu_ram", Kind.INT, lambda o: o.gpu_ram_gb, 1, "memory per GPU, GB"),
        _f("cpu_cores", Kind.INT, lambda o: o.cpu_cores, 1, "CPU cores"),
        _f("ram", Kind.INT, lambda o: o.ram_gb, 1, "system RAM, GB"),
        _f("disk", Kind.INT, lambda o: o.disk_gb, 1, "disk, GB"),
        _f("inet", Kind.INT, lambda o: o.bandwidth_mbps, 1, "bandwidth, Mbps"),
        _f("location", Kind.TEXT, lambda o: o.location, 1, "region code, e.g. EU"),
        _f("provider", Kind.TEXT, lambda o: o.provider, 1, "provider address"),
        _f("backend", Kind.TEXT, lambda o: o.backend, 1, "how jobs run: local, container, ray"),
        _f("price", Kind.INT, lambda o: o.price_per_gpu_second, 1, "wei per GPU-second"),
        _f(
            "price_per_gpu_hour",
            Kind.INT,
            lambda o: o.price_per_gpu_hour,
            WEI_PER_ETH,
            "ETH per GPU-hour",
        ),
        _f(
            "price_per_hour",
            Kind.INT,
            lambda o: o.price_per_hour,
            WEI_PER_ETH,
            "ETH per hour, all GPUs of the offer",
        ),
        _f(
            "min_duration",
            Kind.INT,
            lambda o: o.min_duration,
            SECONDS_PER_HOUR,
            "shortest lease, hours",
        ),
        _f(
            "max_duration",
            Kind.INT,
            lambda o: o.max_duration,
            SECONDS_PER_HOUR,
            "longest lease, hours",
        ),
        _f("reliability", Kind.FLOAT, lambda o: o.reliability, 1, "0..1, from the record"),
        _f("declared", Kind.BOOL, lambda o: o.declared, 1, "GPUs declared, not discovered"),
    ]
}


def fold(text: str) -> str:
    """Text as compared: lower case, ``_`` and blanks alike."""
    return text.lower().replace("_", " ").strip()
