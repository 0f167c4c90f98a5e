"""Prometheus metrics of the collect endpoint, on a registry of its own per app.

With several worker processes (`--workers`), each process counts its own requests;
when PROMETHEUS_MULTIPROC_DIR is set (serve sets it for you), /metrics aggregates them.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from sources.collect import spool


class SpoolBacklogCollector:
    """Reads the spool folders at scrape time: files waiting to be loaded."""

    def __init__(self, spool_dir: Path):
        self.spool_dir = spool_dir

    def collect(self):
        family = GaugeMetricFamily("headwater_spool_files", "Spool files per state", labels=["state"])
        for state, count in spool.backlog(self.spool_dir).items():
            family.add_metric([state], count)
        yield family


class CollectMetrics:
    def __init__(self, spool_dir: Path):
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages_accepted = Counter(
            "headwater_messages_accepted", "Messages acknowledged (durably spooled)", ["source"],
            registry=self.registry)
        self.messages_rejected = Counter(
            "headwater_messages_rejected", "Messages refused, by reason", ["reason"], registry=self.registry)
        self.messages_suppressed = Counter(
            "headwater_messages_suppressed", "Messages dropped because a privacy request suppresses their sender",
            registry=self.registry)
        self.bytes_received = Counter(
            "headwater_request_bytes", "Request body bytes received (after decompression)", registry=self.registry)
        self.fsync_seconds = Histogram(
            "headwater_spool_fsync_seconds", "Latency of one group-commit fsync", registry=self.registry,
            buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
        self.registry.register(SpoolBacklogCollector(spool_dir))
        self._accepted_children: dict = {}

    def accepted_for(self, source: str):
        """The per-source counter, cached: `labels()` takes a lock and builds a key each call."""
        child = self._accepted_children.get(source)
        if child is None:
            child = self._accepted_children[source] = self.messages_accepted.labels(source)
        return child

    def exposition(self) -> bytes:
        multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if multiproc_dir:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=multiproc_dir)
            return generate_latest(registry) + generate_latest(self._backlog_only())
        return generate_latest(self.registry)

    def _backlog_only(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        for collector in list(self.registry._collector_to_names):  # noqa: SLF001
            if isinstance(collector, SpoolBacklogCollector):
                registry.register(collector)
        return registry
