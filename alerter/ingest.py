"""Turning posted payloads into :class:`~alerter.model.Alert` objects (pure; ``now`` is given).

- ``POST /api/v2/alerts``: a JSON list of ``{labels, annotations, startsAt, endsAt, generatorURL}``
  as Prometheus sends it. Missing ``startsAt`` is ``now`` (or ``endsAt``); missing ``endsAt`` is
  ``now + resolve_timeout`` and marked as a timeout, as in Alertmanager.
- ``POST /webhook``: Alertmanager's webhook payload (version 4); each alert's status decides.
Errors name the alert's index and the field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from alerter.errors import AlertInputError
from alerter.model import Alert

_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_TS = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")


def parse_ts(value: Any, where: str) -> datetime | None:
    """RFC 3339 (any number of fraction digits) → aware datetime; Go's zero time and "" → None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AlertInputError(f"{where}: expected an RFC 3339 timestamp string")
    m = _TS.match(value)
    if m is None:
        raise AlertInputError(f'{where}: invalid timestamp "{value[:64]}" (expected RFC 3339)')
    date, clock, frac, zone = m.groups()
    if date.startswith("0001-01-01"):
        return None
    frac = (frac or "")[:6].ljust(6, "0")
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        return datetime.fromisoformat(f"{date}T{clock}.{frac}{zone}").astimezone(UTC)
    except ValueError:
        raise AlertInputError(f'{where}: invalid timestamp "{value[:64]}"') from None


def _str_map(value: Any, where: str, *, labels: bool) -> dict[str, str]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise AlertInputError(f"{where}: expected an object of strings")
    for k, v in value.items():
        if not isinstance(v, str):
            raise AlertInputError(f"{where}.{k}: value must be a string")
        if labels and not _LABEL.match(k):
            raise AlertInputError(f"{where}: invalid label name {k!r}")
    return value


def alert_from_api(item: Any, index: int, now: datetime, resolve_timeout: timedelta) -> Alert:
    """One element of a ``POST /api/v2/alerts`` body, normalised the way Alertmanager does."""
    where = f"alerts[{index}]"
    if not isinstance(item, dict):
        raise AlertInputError(f"{where}: expected an object")
    labels = _str_map(item.get("labels"), f"{where}.labels", labels=True)
    if not labels:
        raise AlertInputError(f"{where}.labels: at least one label is required")
    annotations = _str_map(item.get("annotations"), f"{where}.annotations", labels=False)
    starts = parse_ts(item.get("startsAt"), f"{where}.startsAt")
    ends = parse_ts(item.get("endsAt"), f"{where}.endsAt")
    gen = item.get("generatorURL") or ""
    if not isinstance(gen, str):
        raise AlertInputError(f"{where}.generatorURL: expected a string")
    if starts is None:
        starts = ends if ends is not None else now
    timeout = False
    if ends is None:
        ends, timeout = now + resolve_timeout, True
    if ends < starts:
        raise AlertInputError(f"{where}: endsAt is before startsAt")
    return Alert(labels=labels, annotations=annotations, starts_at=starts, ends_at=ends,
                 generator_url=gen, updated_at=now, timeout=timeout)


def alerts_from_api(body: Any, now: datetime, resolve_timeout: timedelta) -> list[Alert]:
    """A whole ``POST /api/v2/alerts`` body; the first problem is an :class:`AlertInputError`."""
    if not isinstance(body, list):
        raise AlertInputError("body: expected a JSON list of alerts")
    return [alert_from_api(item, i, now, resolve_timeout) for i, item in enumerate(body)]


def split_api_alerts(body: Any, now: datetime, resolve_timeout: timedelta) -> tuple[list[Alert], list[str]]:
    """The valid alerts of a body and one problem per invalid one (Alertmanager keeps the valid ones)."""
    if not isinstance(body, list):
        raise AlertInputError("body: expected a JSON list of alerts")
    good, problems = [], []
    for i, item in enumerate(body):
        try:
            good.append(alert_from_api(item, i, now, resolve_timeout))
        except AlertInputError as exc:
            problems.append(str(exc))
    return good, problems


def alerts_from_webhook(body: Any, now: datetime, resolve_timeout: timedelta) -> list[Alert]:
    """Alertmanager's webhook payload (version 4): firing alerts stay open, resolved ones end."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise AlertInputError("body: expected an Alertmanager webhook payload with an 'alerts' list")
    version = str(body.get("version", "4"))
    if version != "4":
        raise AlertInputError(f'version: unsupported webhook payload version "{version}" (expected "4")')
    out = []
    for i, item in enumerate(body["alerts"]):
        if not isinstance(item, dict):
            raise AlertInputError(f"alerts[{i}]: expected an object")
        status = item.get("status", "firing")
        if status not in ("firing", "resolved"):
            raise AlertInputError(f'alerts[{i}].status: expected "firing" or "resolved", got {status!r}')
        fixed = dict(item)
        if status == "firing":
            fixed["endsAt"] = None
        elif parse_ts(item.get("endsAt"), f"alerts[{i}].endsAt") is None:
            fixed["endsAt"] = now.isoformat()
        out.append(alert_from_api(fixed, i, now, resolve_timeout))
    return out


def alerts_from_prometheus(body: Any, now: datetime, hold: timedelta) -> list[Alert]:
    """Firing alerts from a Prometheus ``/api/v1/alerts`` answer, open for ``hold`` (pending ones skipped)."""
    try:
        items = body["data"]["alerts"]
    except (KeyError, TypeError):
        raise AlertInputError("expected a Prometheus /api/v1/alerts answer with data.alerts") from None
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("state") != "firing":
            continue
        raw = {"labels": item.get("labels"), "annotations": item.get("annotations"),
               "startsAt": item.get("activeAt"), "endsAt": (now + hold).isoformat()}
        out.append(alert_from_api(raw, i, now, hold))
    return out
