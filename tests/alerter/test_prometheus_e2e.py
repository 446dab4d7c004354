"""Prometheus (Debian binary) evaluating a rule fires into our API and resolves, end to end."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from engine_helpers import outbox, serve

from cronwatch.testing.services import start_prometheus

CFG = """
route: {receiver: out, group_by: [alertname], group_wait: 0s, group_interval: 1s}
receivers: [{name: out, file_configs: [{directory: outbox}]}]
api: {token: prom-token}
"""
RULE = """
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: TaskFailed
        expr: {expr}
        labels: {{severity: critical, task: db_backup}}
        annotations: {{summary: "db_backup failed"}}
"""


async def _wait_for(check: object, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met within {limit} s")


@pytest.mark.timeout(60)
async def test_prometheus_fires_then_resolves(tmp_path: Path) -> None:
    """A rule on vector(1) reaches the file receiver as firing; once the rule stops matching, as resolved."""
    us = await serve(CFG, tmp_path)
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    (prom_dir / "rules.yml").write_text(RULE.format(expr="vector(1)"))
    config = f"""
global: {{evaluation_interval: 1s}}
rule_files: [{prom_dir / 'rules.yml'}]
alerting:
  alertmanagers:
    - api_version: v2
      authorization: {{credentials: prom-token}}
      static_configs: [{{targets: ['127.0.0.1:{us.port}']}}]
"""
    # resend every second: the first alerts are dropped until service discovery (5 s) knows us
    prom = await asyncio.to_thread(start_prometheus, prom_dir, config, None, None, 60.0,
                                   ["--rules.alert.resend-delay=1s"])
    try:
        box = tmp_path / "outbox"
        await _wait_for(lambda: len(outbox(box)) >= 1, 25)
        first = outbox(box)[0]
        assert first["status"] == "firing"
        assert first["alerts"][0]["labels"] == {"alertname": "TaskFailed", "severity": "critical",
                                                "task": "db_backup"}
        assert first["alerts"][0]["annotations"]["summary"] == "db_backup failed"
        assert first["alerts"][0]["generatorURL"].startswith("http")

        (prom_dir / "rules.yml").write_text(RULE.format(expr="vector(1) == 0"))
        async with httpx.AsyncClient() as http:
            (await http.post(prom.url + "/-/reload", timeout=10)).raise_for_status()
        await _wait_for(lambda: any(p["status"] == "resolved" for p in outbox(box)), 25)
        await asyncio.sleep(3)  # Prometheus re-sends the resolved alert every second: still one message
        statuses = [p["status"] for p in outbox(box)]
        assert statuses == ["firing", "resolved"]
        received = us.engine.metrics.registry.get_sample_value("cronwatch_alerter_alerts_received_total",
                                                               {"source": "api"})
        assert received is not None and received >= 2
    finally:
        await asyncio.to_thread(prom.stop)
        await us.stop()
