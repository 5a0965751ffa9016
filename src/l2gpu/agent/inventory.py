"""What the machine offers: GPUs found by NVML, else a declared inventory, else CPU slots.

NVML comes from nvidia-ml-py (module ``pynvml``). Where it is missing or finds no
driver, the operator may declare GPUs (``--gpus "RTX_4090:2"``); offers made from
a declared inventory say so (``declared=true``), so renters can tell. With
neither, the machine offers its CPU cores as slots (``gpu_name=CPU``).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from l2gpu.core.errors import L2gpuError
from l2gpu.core.market.gpus import GPU_CATALOG, catalog_name, known_models

_DECLARED = re.compile(r"^([A-Za-z0-9_.-]{1,64}):([0-9]{1,4})(?::([0-9]{1,5}))?$")


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU: its index (for CUDA_VISIBLE_DEVICES), model and memory."""

    index: int
    name: str
    memory_gb: int


@dataclass(frozen=True, slots=True)
class Inventory:
    """The machine: GPUs, where they came from, CPU, RAM and disk."""

    gpus: tuple[Gpu, ...]
    source: str  # nvml, declared or cpu
    cpu_cores: int
    ram_gb: int
    disk_gb: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def declared(self) -> bool:
        """True when the GPUs were declared by the operator, not discovered."""
        return self.source == "declared"

    def to_json(self) -> dict[str, Any]:
        """The inventory as heartbeats report it."""
        return {
            "gpus": len(self.gpus),
            "source": self.source,
            "cpu_cores": self.cpu_cores,
            "ram_gb": self.ram_gb,
            "disk_gb": self.disk_gb,
            "models": sorted({g.name for g in self.gpus}),
        }

    def groups(self) -> dict[str, list[Gpu]]:
        """GPUs by model (one offer per model)."""
        out: dict[str, list[Gpu]] = {}
        for gpu in self.gpus:
            out.setdefault(gpu.name, []).append(gpu)
        return out


def normalise_name(raw: str | bytes) -> str:
    """``NVIDIA GeForce RTX 4090`` -> ``RTX_4090``."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    for prefix in ("NVIDIA ", "GeForce ", "Tesla "):
        text = text.replace(prefix, "")
    return "_".join(text.split()) or "GPU"


def parse_declared(text: str) -> list[Gpu]:
    """Parse ``"RTX_4090:2"`` or ``"RTX_4090:2:24,A100:1"`` (model:count[:memory GB])."""
    gpus: list[Gpu] = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        match = _DECLARED.match(part)
        if match is None or int(match.group(2)) < 1:
            raise L2gpuError(
                f"invalid GPU declaration '{part}'",
                "write MODEL:COUNT[:MEMORY_GB], e.g. --gpus RTX_4090:2 or --gpus A100:1:80",
            )
        name, count = catalog_name(match.group(1)), int(match.group(2))
        if name is None:
            raise L2gpuError(
                f"unknown GPU model '{match.group(1)}': the market lists only catalog models",
                f"declare one of: {known_models()}",
            )
        memory = int(match.group(3)) if match.group(3) else GPU_CATALOG[name]
        gpus += [Gpu(len(gpus) + i, name, memory) for i in range(count)]
    if not gpus:
        raise L2gpuError("the GPU declaration is empty", "write e.g. --gpus RTX_4090:2")
    return gpus


def load_nvml() -> ModuleType | None:
    """The pynvml module if NVML can start on this machine, else None."""
    try:
        import pynvml

        pynvml.nvmlInit()
        module: ModuleType = pynvml
        return module
    except Exception:  # no library, no driver, no device: all mean "no NVML here"
        return None


def nvml_gpus(nvml: Any) -> list[Gpu]:
    """The GPUs that NVML sees (``nvml`` is pynvml, or a stand-in with its functions)."""
    gpus = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle).total
        raw = nvml.nvmlDeviceGetName(handle)
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        # A model outside the catalog keeps NVML's name; offering it is refused then.
        name = catalog_name(text) or normalise_name(text)
        gpus.append(Gpu(i, name, round(memory / 2**30)))
    return gpus


def discover(
    declared: str | None = None, *, nvml: Any = None, workdir: Path | None = None
) -> Inventory:
    """The machine's inventory: NVML first; a declaration where NVML finds nothing; else CPU.

    A declaration on a machine where NVML does find GPUs is refused: the real
    inventory wins, so an operator cannot claim GPUs the machine does not have.
    """
    cores = os.cpu_count() or 1
    ram = _ram_gb()
    where = Path(workdir or Path.cwd()).resolve()
    while not where.exists():  # the data folder may not exist yet: measure its disk
        where = where.parent
    disk = shutil.disk_usage(where).free // 10**9
    found = nvml_gpus(nvml) if nvml is not None else []
    if found:
        if declared:
            raise L2gpuError(
                f"NVML found {len(found)} GPU(s); a declared inventory is only for machines "
                "without NVML",
                "drop --gpus: the discovered GPUs are offered",
            )
        return Inventory(tuple(found), "nvml", cores, ram, disk)
    if declared:
        return Inventory(tuple(parse_declared(declared)), "declared", cores, ram, disk)
    return Inventory((), "cpu", cores, ram, disk)


def gpu_utilization(nvml: Any, indices: list[int]) -> tuple[float, ...]:
    """Utilisation (0..1) of the given GPUs, or () where NVML is absent."""
    if nvml is None:
        return ()
    out = []
    for i in indices:
        rates = nvml.nvmlDeviceGetUtilizationRates(nvml.nvmlDeviceGetHandleByIndex(i))
        out.append(rates.gpu / 100.0)
    return tuple(out)


def _ram_gb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 10**9
    except (ValueError, OSError, AttributeError):  # not every platform has these
        return 1
