"""The alerter's Prometheus metrics (names from shared/DESIGN.md), on a registry per engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _StateCollector(Collector):
    """``cronwatch_alerter_alerts{state}`` computed at scrape time."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Any]:
        fam = GaugeMetricFamily("cronwatch_alerter_alerts", "Alerts in the store by state.", labels=["state"])
        for state, n in self._counts().items():
            fam.add_metric([state], n)
        yield fam


class AlerterMetrics:
    """Every metric the alerter exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter("cronwatch_alerter_alerts_received", "Alerts received, by source.",
                                ["source"], registry=r)
        self.invalid = Counter("cronwatch_alerter_alerts_invalid", "Alerts rejected as malformed, by source.",
                               ["source"], registry=r)
        self.notifications = Counter("cronwatch_alerter_notifications", "Notification attempts by outcome.",
                                     ["receiver", "integration", "outcome"], registry=r)
        self.latency = Histogram("cronwatch_alerter_notification_latency_seconds",
                                 "Time of one delivery attempt.", ["integration"], registry=r,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.config_ok = Gauge("cronwatch_alerter_config_last_reload_successful",
                               "1 when the last configuration reload succeeded.", registry=r)
        self.config_ts = Gauge("cronwatch_alerter_config_last_reload_success_timestamp_seconds",
                               "Time of the last successful configuration reload.", registry=r)
        self.silences_ok = Gauge("cronwatch_alerter_silences_last_reload_successful",
                                 "1 when the silences file last loaded without errors.", registry=r)
        self.silences = Gauge("cronwatch_alerter_silences", "Silences by state.", ["state"], registry=r)
        self.groups = Gauge("cronwatch_alerter_aggregation_groups", "Alert groups being tracked.", registry=r)

    def watch_states(self, counts: Callable[[], dict[str, int]]) -> None:
        """Register the scrape-time alert state gauge."""
        self.registry.register(_StateCollector(counts))
