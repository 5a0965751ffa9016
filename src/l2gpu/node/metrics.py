"""Prometheus metrics of a rollup node (``GET /metrics`` on its API).

Read from the node when Prometheus scrapes, under the node's lock, so that every
figure is the node's own state and nothing else has to keep counters in step:
transactions sealed, the mempool and soft-confirmed channels, batches posted (by
how they were posted) and waiting for L1, the L1 gas and bytes the posts spent,
each batch's size on L1, whether the node is degraded, and the challenge window
(the time from a batch's post to its finality).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from l2gpu.node.cosign_desk import CoSignDesk
    from l2gpu.node.node import RollupNode

BATCH_BYTES_BUCKETS = (512, 1024, 4096, 16384, 65536, 131072, 262144, 1048576)


class NodeCollector(Collector):
    """The node's state as metrics, read at each scrape."""

    def __init__(self, node: RollupNode, desk: CoSignDesk) -> None:
        self.node = node
        self.desk = desk
        self._window: int | None = None

    def collect(self) -> Iterator[Any]:
        """Every node metric (see the module)."""
        node = self.node
        with node.lock:
            sealed = node.transactions_sealed
            mempool = len(node.sequencer.mempool)
            soft = len(node.soft)
            waiting = len(node.unposted)
            modes = list(node.post_modes.values())
            receipts = list(node.post_receipts.values())
            degraded = node.health.degraded
        yield _counter("l2gpu_node_transactions_sealed", "Transactions sealed into batches "
                       "since the node started", sealed)  # fmt: skip
        yield _gauge("l2gpu_node_mempool_transactions", "Transactions waiting to be sealed",
                     mempool)  # fmt: skip
        yield _gauge("l2gpu_node_pending_channels", "Channels soft-confirmed, not sealed yet", soft)
        posted = CounterMetricFamily("l2gpu_node_batches_posted", "Batches posted to L1, by mode",
                                     labels=["mode"])  # fmt: skip
        for mode in ("calldata", "blob"):
            posted.add_metric([mode], modes.count(mode))
        yield posted
        yield _gauge("l2gpu_node_batches_waiting_for_l1", "Batches sealed, not posted yet",
                     waiting)  # fmt: skip
        yield _counter("l2gpu_node_l1_gas_spent", "L1 gas of this process's batch posts",
                       sum(r.gas_used for r in receipts))  # fmt: skip
        yield _counter("l2gpu_node_l1_bytes_posted", "Bytes of this process's signed batch "
                       "posts on L1", sum(r.tx_bytes for r in receipts))  # fmt: skip
        yield _histogram("l2gpu_node_batch_l1_bytes", "Signed L1 bytes per posted batch",
                         [r.tx_bytes for r in receipts], BATCH_BYTES_BUCKETS)  # fmt: skip
        yield _gauge("l2gpu_node_degraded", "1 while the node cannot reach L1", int(degraded))
        yield _gauge("l2gpu_node_cosign_waiters", "Renters waiting for a co-signature",
                     self.desk.waiting())  # fmt: skip
        window = self._challenge_window()
        if window is not None:
            yield _gauge("l2gpu_node_challenge_window_seconds",
                         "Time from a batch's post to its finality", window)  # fmt: skip

    def _challenge_window(self) -> int | None:
        """The rollup's challenge window, read from L1 once (it never changes)."""
        if self._window is None:
            try:
                self._window = int(self.node.rollup.contract.call("CHALLENGE_WINDOW"))
            except Exception:  # L1 away: the metric is left out of this scrape
                return None
        return self._window


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _histogram(name: str, doc: str, values: list[int], bounds: tuple[int, ...]) -> Any:
    buckets = [(str(b), sum(1 for v in values if v <= b)) for b in bounds]
    buckets.append(("+Inf", len(values)))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=sum(values))


def node_registry(node: RollupNode, desk: CoSignDesk) -> CollectorRegistry:
    """A registry with the node's collector."""
    registry = CollectorRegistry()
    registry.register(NodeCollector(node, desk))
    return registry
