"""Polling a real Prometheus' /api/v1/alerts: firing alerts come in, an alert that disappears resolves."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from engine_helpers import config

from alerter.engine import Engine
from alerter.sources import PrometheusPoller
from cronwatch.clock import SystemClock
from cronwatch.testing.services import start_prometheus

RULES = """
groups:
  - name: poll
    interval: 1s
    rules:
      - alert: TaskMissed
        expr: {expr}
        labels: {{severity: warning, task: nightly}}
      - alert: NeverFires
        expr: vector(1)
        for: 1h
"""


@pytest.mark.timeout(60)
async def test_poll_fires_and_resolves(tmp_path: Path) -> None:
    """Firing alerts are ingested (pending ones are not); when the rule stops matching the alert resolves."""
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    (prom_dir / "rules.yml").write_text(RULES.format(expr="vector(1)"))
    prom = await asyncio.to_thread(start_prometheus, prom_dir,
                                   f"global: {{evaluation_interval: 1s}}\nrule_files: [{prom_dir / 'rules.yml'}]\n")
    cfg = config(f"route: {{receiver: r}}\nreceivers: [{{name: r}}]\nsources:\n  prometheus:\n"
                 f"    - {{url: '{prom.url}', interval: 1s}}\n", tmp_path)
    e = Engine(cfg, clock=SystemClock(), state_dir=tmp_path / "state")
    poller = PrometheusPoller(e, cfg.sources.prometheus[0], e.http)
    try:
        for _ in range(60):
            if await poller.poll_once():
                break
            await asyncio.sleep(0.3)
        alerts = [a for a in e.store if not a.resolved_at(e.clock.now())]
        assert [a.labels["alertname"] for a in alerts] == ["TaskMissed"]
        assert alerts[0].labels["task"] == "nightly" and alerts[0].starts_at is not None

        (prom_dir / "rules.yml").write_text(RULES.format(expr="vector(1) == 0"))
        async with httpx.AsyncClient() as http:
            (await http.post(prom.url + "/-/reload", timeout=10)).raise_for_status()
        for _ in range(60):
            if not await poller.poll_once():
                break
            await asyncio.sleep(0.3)
        assert all(a.resolved_at(e.clock.now()) for a in e.store)
        assert e.metrics.registry.get_sample_value("cronwatch_alerter_alerts_received_total",
                                                   {"source": "prometheus_poll"})
    finally:
        await e.stop()
        await asyncio.to_thread(prom.stop)
