"""Alertmanager's webhook payload (version 4), built from a :class:`~alerter.model.Notification`.

Firing alerts show ``endsAt`` as Go's zero time, as Alertmanager does (the end is not known yet).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerter.model import Alert, Notification

ZERO_TIME = "0001-01-01T00:00:00Z"


_FORMATTED: dict[datetime, str] = {}  # alerts of one burst share their start times


def rfc3339(ts: datetime | None) -> str:
    """RFC 3339 with milliseconds in UTC; None is Go's zero time."""
    if ts is None:
        return ZERO_TIME
    text = _FORMATTED.get(ts)
    if text is None:
        text = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if len(_FORMATTED) >= 4096:
            _FORMATTED.clear()
        _FORMATTED[ts] = text
    return text


def alert_payload(alert: Alert, now: datetime) -> dict[str, Any]:
    """One alert in the webhook shape."""
    resolved = alert.resolved_at(now)
    return {
        "status": "resolved" if resolved else "firing",
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": rfc3339(alert.starts_at),
        "endsAt": rfc3339(alert.ends_at) if resolved else ZERO_TIME,
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def webhook_payload(n: Notification, max_alerts: int = 0) -> dict[str, Any]:
    """The version 4 webhook body; ``max_alerts`` > 0 truncates and counts the rest."""
    alerts = n.alerts if max_alerts <= 0 else n.alerts[:max_alerts]
    return {
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": len(n.alerts) - len(alerts),
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": n.common_labels,
        "commonAnnotations": n.common_annotations,
        "externalURL": n.external_url,
        "alerts": [alert_payload(a, n.now) for a in alerts],
    }
