"""A stand-in for pynvml, for tests only: this machine has no GPU and no NVML."""

from __future__ import annotations

from types import SimpleNamespace


class FakeNvmlForTests:
    """Answers the few pynvml calls the agent makes, for ``count`` GPUs of one model."""

    def __init__(
        self, count: int = 2, name: bytes = b"NVIDIA GeForce RTX 4090", memory: int = 24 * 2**30
    ) -> None:
        self.count, self.name, self.memory = count, name, memory

    def nvmlDeviceGetCount(self) -> int:
        return self.count

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return self.name

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=self.memory, used=0, free=self.memory)

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=50, memory=10)
