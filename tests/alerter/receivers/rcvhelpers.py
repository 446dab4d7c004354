"""Helpers for the receiver tests: sample alerts and notifications at a fixed NOW (unique module name)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerter.model import Alert, Notification

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def make_alert(name: str = "TaskFailed", task: str = "db_backup", severity: str = "critical", *,
               start: datetime | None = None, resolved: bool = False, summary: str | None = None,
               **labels: str) -> Alert:
    """An alert that started an hour before NOW (resolved a minute ago when ``resolved``)."""
    start = start or NOW - timedelta(hours=1)
    return Alert(
        labels={"alertname": name, "task": task, "severity": severity, **labels},
        annotations={"summary": summary or f"{task} failed", "runbook_url": "https://runbooks.example/task-failed"},
        starts_at=start,
        ends_at=NOW - timedelta(minutes=1) if resolved else NOW + timedelta(minutes=4),
    )

def make_notification(alerts: list[Alert] | None = None, receiver: str = "ops", group: str = "g1",
                      now: datetime = NOW) -> Notification:
    """A notification of one alert group."""
    alerts = alerts if alerts is not None else [make_alert()]
    status = "firing" if any(not a.resolved_at(now) for a in alerts) else "resolved"
    common = {k: v for k, v in alerts[0].labels.items() if all(a.labels.get(k) == v for a in alerts)}
    return Notification(receiver=receiver, group_key=f'{{}}:{{group="{group}"}}', group_labels={"group": group},
                        alerts=alerts, status=status, now=now, common_labels=common)

def write_ca(tmp_path: Path, pem: bytes | None) -> str:
    """Write a CA certificate to a file and return its path."""
    assert pem is not None
    path = tmp_path / "ca.pem"
    path.write_bytes(pem)
    return str(path)

def any_text(obj: Any) -> str:
    """Everything in ``obj`` as one string (to look for leaked secrets)."""
    return repr(obj)

