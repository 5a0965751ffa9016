"""The GPU catalog: the models an offer may name, and NVML's names mapped to them.

An offer's GPU model is what renters search and pay for, so it must mean one thing:
a made-up or misspelt model (``FOO_GPU``, ``RTX4090``) would be listed and rented
without a word. Every offer names a model of this catalog; the provider's agent
maps what NVML reports (``NVIDIA GeForce RTX 4090``, ``NVIDIA A100-SXM4-80GB``) to
it, and a declaration or a discovered GPU outside it is refused with the list.

Memory is the model's usual size in GB (a declaration may give another, as for the
40 GB A100).
"""

from __future__ import annotations

import re

GPU_CATALOG: dict[str, int] = {
    # data centre
    "B200": 180,
    "H200": 141,
    "H100": 80,
    "GH200": 96,
    "A100": 80,
    "A800": 80,
    "H800": 80,
    "L40S": 48,
    "L40": 48,
    "A40": 48,
    "A10G": 24,
    "A10": 24,
    "L4": 24,
    "A30": 24,
    "T4": 16,
    "V100": 32,
    # workstation
    "RTX_6000_ADA": 48,
    "RTX_A6000": 48,
    "RTX_A5000": 24,
    "RTX_A4000": 16,
    # consumer
    "RTX_5090": 32,
    "RTX_5080": 16,
    "RTX_4090": 24,
    "RTX_4080": 16,
    "RTX_4070_TI": 12,
    "RTX_3090_TI": 24,
    "RTX_3090": 24,
    "RTX_3080": 10,
    # a machine without GPUs offers its CPU cores under this name
    "CPU": 0,
}
"""Model -> usual memory in GB."""

_VENDOR = re.compile(r"^(NVIDIA\s+)?(GeForce\s+|Tesla\s+|Quadro\s+)?", re.IGNORECASE)
# NVML adds the form factor and memory after the model: "A100-SXM4-80GB", "H100 80GB HBM3",
# "H100 PCIe", "L40S", "RTX 6000 Ada Generation".
_SUFFIX = re.compile(
    r"[-\s](SXM\d?|PCIE|NVL|HBM\d?e?|\d+\s?GB|GENERATION|LAPTOP GPU|MAX-Q).*$", re.IGNORECASE
)


def _key(name: str) -> str:
    return "_".join(name.replace("-", " ").split()).upper()


def catalog_name(raw: str) -> str | None:
    """The catalog model that ``raw`` names (a declaration such as ``rtx_4090`` or an NVML
    name such as ``NVIDIA GeForce RTX 4090``), or None when the catalog has none."""
    text = _VENDOR.sub("", raw.strip())
    for candidate in (text, _SUFFIX.sub("", text)):
        key = _key(candidate)
        if key in GPU_CATALOG:
            return key
    return None


def known_models() -> str:
    """The catalog's models, for an error message."""
    return ", ".join(sorted(GPU_CATALOG))
