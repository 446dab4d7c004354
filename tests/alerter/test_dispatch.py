"""Grouping timer decisions are pure functions of the group, the alert and ``now``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine_helpers import config

from alerter.dispatch import Group, first_flush_at, flush_after_insert, is_due, next_flush_after_flush
from alerter.model import Alert
from alerter.route import Router

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _group(tmp_path: Path) -> Group:
    router = Router(config("route: {receiver: r, group_wait: 30s, group_interval: 5m}\nreceivers: [{name: r}]\n",
                           tmp_path))
    dest = router.destinations({"alertname": "A"})[0]
    return Group("k", dest, {}, first_flush_at(NOW, dest))


def test_timer_decisions(tmp_path: Path) -> None:
    """group_wait first, immediate for old alerts before the first flush, group_interval afterwards."""
    g = _group(tmp_path)
    assert g.next_flush == NOW + timedelta(seconds=30)
    fresh = Alert({"alertname": "A"}, starts_at=NOW)
    old = Alert({"alertname": "A", "x": "1"}, starts_at=NOW - timedelta(minutes=2))
    assert flush_after_insert(g, fresh, NOW) == NOW + timedelta(seconds=30)
    assert flush_after_insert(g, old, NOW) == NOW
    g.alerts[fresh.fingerprint] = fresh
    assert not is_due(g, NOW + timedelta(seconds=29)) and is_due(g, NOW + timedelta(seconds=30))
    g.flushed = True
    assert flush_after_insert(g, old, NOW) == g.next_flush  # after a flush, new alerts wait their turn
    assert next_flush_after_flush(g, NOW) == NOW + timedelta(minutes=5)
    g.flushing = True
    assert not is_due(g, NOW + timedelta(hours=1))  # never two flushes of one group at once
