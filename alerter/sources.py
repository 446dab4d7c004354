"""Pulling alerts: poll a Prometheus ``/api/v1/alerts`` (firing only; an alert that disappears resolves)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta

import httpx

from alerter.config import PrometheusSource
from alerter.engine import Engine
from alerter.errors import AlertInputError
from alerter.ingest import alerts_from_prometheus

log = logging.getLogger("cronwatch.alerter.sources")


class PrometheusPoller:
    """Polls one Prometheus and feeds the engine."""

    def __init__(self, engine: Engine, cfg: PrometheusSource, http: httpx.AsyncClient) -> None:
        self.engine = engine
        self.cfg = cfg
        self.http = http
        self.seen: set[str] = set()
        self.url = cfg.url.rstrip("/") + "/api/v1/alerts"

    async def poll_once(self) -> int:
        """One poll: ingest firing alerts, resolve the ones that disappeared; returns firing count."""
        resp = await self.http.get(self.url, headers=self.cfg.http_config.headers())
        resp.raise_for_status()
        now = self.engine.clock.now()
        hold = max(self.cfg.interval * 4, timedelta(minutes=1))
        alerts = alerts_from_prometheus(resp.json(), now, hold)
        current = {a.fingerprint for a in alerts}
        gone = []
        for fp in self.seen - current:
            old = self.engine.store.get(fp)
            if old is not None and not old.resolved_at(now):
                gone.append(replace(old, ends_at=now, updated_at=now, timeout=False))
        self.engine.ingest(alerts + gone, "prometheus_poll")
        self.seen = current
        return len(alerts)

    async def run(self) -> None:
        """Poll forever; errors are logged and retried at the next interval."""
        while True:
            try:
                await self.poll_once()
            except (httpx.HTTPError, AlertInputError, ValueError) as exc:
                log.warning("polling Prometheus failed", extra={"url.full": self.url,
                                                                  "error.message": str(exc)[:300]})
            await asyncio.sleep(self.cfg.interval.total_seconds())
