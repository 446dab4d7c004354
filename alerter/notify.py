"""Notification stages: dedup against the notification log, delivery with retries, status records.

``needs_update`` is Alertmanager's dedup decision, pure and given ``now``. Delivery retries RETRY
results with full-jitter backoff (at least ``retry_after`` when the receiver gives one) until the
group's next flush; PERMANENT results are recorded and never retried.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerter.metrics import AlerterMetrics
from alerter.model import Integration, Notification, Outcome, Result
from alerter.nflog import Entry
from cronwatch.clock import Clock
from cronwatch.retry import Backoff

log = logging.getLogger("cronwatch.alerter.notify")


def needs_update(entry: Entry | None, firing: frozenset[str], resolved: frozenset[str],
                 send_resolved: bool, repeat: timedelta, now: datetime) -> bool:
    """Whether a flush with these firing/resolved fingerprints must notify (Alertmanager's dedup)."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:  # something fires that the receiver was not told about
        return True
    if not firing:
        # everything resolved: tell the receiver once if it knew of firing alerts
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.timestamp <= now - repeat


@dataclass
class IntegrationStatus:
    """The last result of one integration, for ``GET /api/cronwatch/v1/receivers``."""

    receiver: str
    integration: str
    index: int
    send_resolved: bool
    last_outcome: str | None = None
    last_detail: str = ""
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    attempts: int = 0
    failures: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON shape of the status API (no secrets: details come from receivers, which never hold any)."""
        return {"receiver": self.receiver, "integration": self.integration, "index": self.index,
                "send_resolved": self.send_resolved, "last_outcome": self.last_outcome,
                "last_detail": self.last_detail,
                "last_attempt": self.last_attempt.isoformat() if self.last_attempt else None,
                "last_success": self.last_success.isoformat() if self.last_success else None,
                "attempts": self.attempts, "failures": self.failures}


@dataclass
class Slot:
    """One integration of one receiver."""

    receiver: str
    index: int
    integration: Integration
    status: IntegrationStatus

    @property
    def kind(self) -> str:
        return self.integration.kind


class Deliverer:
    """Runs one integration until it succeeds, fails permanently, or the deadline passes."""

    def __init__(self, metrics: AlerterMetrics, clock: Clock, backoff: Backoff, concurrency: int = 64) -> None:
        self.metrics = metrics
        self.clock = clock
        self.backoff = backoff
        # a storm of groups must not open thousands of requests at once (and starve the ingest path)
        self.limit = asyncio.Semaphore(concurrency)
        self._children: dict[tuple[str, ...], Any] = {}  # labelled metric children (a lookup each is costly)

    def _latency(self, kind: str) -> Any:
        child = self._children.get((kind,))
        if child is None:
            child = self._children[(kind,)] = self.metrics.latency.labels(kind)
        return child

    def _counter(self, receiver: str, kind: str, outcome: str) -> Any:
        key = (receiver, kind, outcome)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.metrics.notifications.labels(receiver, kind, outcome)
        return child

    async def _attempt(self, slot: Slot, n: Notification) -> Result:
        await self.limit.acquire()
        start = self.clock.monotonic()
        try:
            result = await slot.integration.notify(n)
        except Exception as exc:  # a receiver bug must not kill the dispatcher
            log.exception("receiver raised", extra={"alerter.receiver": slot.receiver,
                                                    "alerter.integration": slot.kind})
            result = Result(Outcome.RETRY, f"receiver error: {type(exc).__name__}")
        finally:
            self.limit.release()
        self._latency(slot.kind).observe(self.clock.monotonic() - start)
        self._counter(slot.receiver, slot.kind, result.outcome.value).inc()
        st = slot.status
        st.attempts += 1
        st.last_outcome, st.last_detail, st.last_attempt = result.outcome.value, result.detail, self.clock.now()
        if result.outcome is Outcome.SENT:
            st.last_success = st.last_attempt
        else:
            st.failures += 1
        return result

    async def deliver(self, slot: Slot, n: Notification, deadline: float) -> bool:
        """Deliver with retries until ``deadline`` (monotonic seconds); True when sent."""
        attempt = 1
        while True:
            result = await self._attempt(slot, n)
            if result.outcome is Outcome.SENT:
                return True
            extra = {"alerter.receiver": slot.receiver, "alerter.integration": slot.kind,
                     "alerter.group_key": n.group_key, "alerter.outcome": result.outcome.value,
                     "alerter.detail": result.detail, "alerter.attempt": attempt}
            if result.outcome is Outcome.PERMANENT:
                log.error("notification failed permanently", extra=extra)
                return False
            wait = max(self.backoff.delay(attempt), result.retry_after or 0.0)
            if self.clock.monotonic() + wait >= deadline:
                log.warning("notification not delivered before the next flush; giving up", extra=extra)
                return False
            log.warning("notification failed, retrying", extra={**extra, "alerter.retry_in": round(wait, 3)})
            await self.clock.sleep(wait)
            attempt += 1
