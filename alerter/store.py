"""The alert store: one alert per fingerprint, re-sent alerts merged as Alertmanager merges them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from alerter.model import Alert


def _before(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return False
    return a < b


def merge(old: Alert, new: Alert, now: datetime) -> Alert:
    """Merge two versions of one alert (Alertmanager's ``Alert.Merge``).

    The newer one (by ``updated_at``) wins, the earliest ``starts_at`` is kept; a sender's explicit
    end time beats the alerter's resolve-timeout end when it is later.
    """
    if _before(new.updated_at, old.updated_at):
        old, new = new, old
    res = replace(new)
    if _before(old.starts_at, new.starts_at):
        res.starts_at = old.starts_at
    if new.resolved_at(now):
        if old.resolved_at(now) and _before(new.ends_at, old.ends_at):
            res.ends_at = old.ends_at
    elif _before(new.ends_at, old.ends_at) and not old.timeout:
        res.ends_at = old.ends_at
        res.timeout = False
    return res


class AlertStore:
    """Alerts by fingerprint."""

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}

    def put(self, alert: Alert, now: datetime) -> Alert:
        """Insert or merge ``alert``; returns the stored version."""
        fp = alert.fingerprint
        old = self.alerts.get(fp)
        stored = alert if old is None else merge(old, alert, now)
        self.alerts[fp] = stored
        return stored

    def get(self, fp: str) -> Alert | None:
        return self.alerts.get(fp)

    def __iter__(self) -> Iterator[Alert]:
        return iter(list(self.alerts.values()))

    def __len__(self) -> int:
        return len(self.alerts)

    def gc(self, now: datetime, keep: timedelta) -> list[Alert]:
        """Forget alerts resolved more than ``keep`` ago; returns them."""
        cutoff = now - keep
        gone = [a for a in self.alerts.values() if a.ends_at is not None and a.ends_at < cutoff]
        for a in gone:
            del self.alerts[a.fingerprint]
        return gone
