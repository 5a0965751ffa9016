"""Prometheus metrics of a provider's agent (``provider up --metrics-port N``).

The agent has no HTTP API of its own, so its metrics are served by
prometheus-client's own small server on loopback (or the address given). They are
read from the agent at each scrape: the jobs it runs, each lease's metered seconds
and voucher lag (unpaid seconds), what closed channels paid it, and, where NVML
sees the GPUs, each GPU's utilisation and memory in use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from l2gpu.core.errors import L2gpuError

if TYPE_CHECKING:
    from l2gpu.agent.agent import ProviderAgent


class AgentCollector(Collector):
    """The agent's state as metrics, read at each scrape."""

    def __init__(self, agent: ProviderAgent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[Any]:
        """Every agent metric (see the module)."""
        agent = self.agent
        served = list(agent.served.values())  # a copy: the agent's loop runs on
        settlements = list(agent.settlements)
        yield GaugeMetricFamily("l2gpu_agent_jobs_running", "Leases this agent serves now",
                                value=len(served))  # fmt: skip
        metered = GaugeMetricFamily(
            "l2gpu_agent_lease_metered_seconds", "Seconds metered on each lease served",
            labels=["lease"],
        )  # fmt: skip
        lag = GaugeMetricFamily("l2gpu_agent_voucher_lag_seconds",
                                "Seconds served and not yet paid by a voucher, per lease",
                                labels=["lease"])  # fmt: skip
        for s in served:
            metered.add_metric([str(s.lease_id)], s.meter.seconds)
            lag.add_metric([str(s.lease_id)], s.payee.state.lag_seconds)
        yield metered
        yield lag
        earned = float(sum(x.provider_payout for x in settlements))
        yield CounterMetricFamily(
            "l2gpu_agent_earned_wei", "Wei the channels this agent closed paid it (this run)",
            value=earned,
        )  # fmt: skip
        yield CounterMetricFamily(
            "l2gpu_agent_channels_closed", "Channels this agent closed (this run)",
            value=len(settlements),
        )  # fmt: skip
        yield from _gpu_metrics(agent)


def _gpu_metrics(agent: ProviderAgent) -> Iterator[Any]:
    """Per-GPU utilisation and memory in use, where NVML sees the GPUs."""
    nvml = agent.nvml
    gpus = agent.inventory.gpus if agent.inventory.source == "nvml" else ()
    if nvml is None or not gpus:
        return
    used = GaugeMetricFamily("l2gpu_agent_gpu_utilization_ratio", "GPU busy time (0 to 1)",
                             labels=["gpu", "model"])  # fmt: skip
    memory = GaugeMetricFamily("l2gpu_agent_gpu_memory_used_bytes", "GPU memory in use",
                               labels=["gpu", "model"])  # fmt: skip
    for gpu in gpus:
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(gpu.index)
            rates = nvml.nvmlDeviceGetUtilizationRates(handle)
            info = nvml.nvmlDeviceGetMemoryInfo(handle)
        except Exception:  # noqa: S112 - a GPU NVML cannot read now is left out of this scrape
            continue
        labels = [str(gpu.index), gpu.name]
        used.add_metric(labels, rates.gpu / 100.0)
        memory.add_metric(labels, float(info.used))
    yield used
    yield memory


def serve_metrics(agent: ProviderAgent, port: int, host: str = "127.0.0.1") -> Any:
    """Serve the agent's metrics at ``http://host:port/metrics``; the server stops with
    the process. A busy port is named as such."""
    registry = CollectorRegistry()
    registry.register(AgentCollector(agent))
    try:
        return start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise L2gpuError(
            f"the agent's metrics cannot listen on {host}:{port}: {exc.strerror or exc}",
            "choose another --metrics-port (or stop what uses that one)",
        ) from exc
