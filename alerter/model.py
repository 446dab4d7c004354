"""The alerter's data model and the seam between the engine and the receivers.

The engine (ingest, dispatch, silences, dedup) produces a :class:`Notification` — one alert group
at one flush, for one receiver — and hands it to each :class:`Integration` the receiver has.
Integrations answer with a :class:`Result`: sent, retry later, or permanent failure.

Each receiver config class (``alerter/receivers/<name>.py``) is a pydantic model with
``build(ctx: BuildContext) -> Integration``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cronwatch.compiled import extension

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
_ext = extension("alerter._speedups")
_compiled_fingerprint = _ext.fingerprint if _ext is not None else None


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's label-set fingerprint: FNV-1a 64 over sorted names and values, 0xFF-separated
    (compiled in ``alerter/_speedups.c`` when built: :func:`fingerprint_py` is the reference)."""
    if _compiled_fingerprint is not None:
        try:
            return _compiled_fingerprint(labels)  # type: ignore[no-any-return]
        except TypeError:  # not a dict of str to str: the reference decides
            pass
    return fingerprint_py(labels)


def fingerprint_py(labels: Mapping[str, str]) -> str:
    """:func:`fingerprint` in Python."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


@dataclass
class Alert:
    """One alert as Alertmanager knows it."""

    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""
    updated_at: datetime | None = None
    timeout: bool = False  # ends_at was set by the alerter (resolve_timeout), not by the sender
    _fp: str = field(default="", init=False, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """Alertmanager's fingerprint of the labels (computed once; labels are never mutated)."""
        if not self._fp:
            self._fp = fingerprint(self.labels)
        return self._fp

    def resolved_at(self, now: datetime) -> bool:
        """True when ``ends_at`` has passed."""
        return self.ends_at is not None and self.ends_at <= now

    def status(self, now: datetime) -> str:
        return "resolved" if self.resolved_at(now) else "firing"


@dataclass
class Notification:
    """What one receiver is told at one flush of one alert group."""

    receiver: str
    group_key: str
    group_labels: dict[str, str]
    alerts: list[Alert]
    status: str  # "firing" when any alert fires, else "resolved"
    now: datetime
    external_url: str = ""
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if not a.resolved_at(self.now)]

    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.resolved_at(self.now)]


class Outcome(enum.Enum):
    """How a delivery attempt ended."""

    SENT = "sent"
    RETRY = "retry"  # transient: rate limit, 5xx, timeout — try again later
    PERMANENT = "permanent"  # bad key, bad signature, 4xx — report, never retry


@dataclass
class Result:
    """The answer of one delivery attempt. ``detail`` must never contain a secret."""

    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None


@dataclass
class BuildContext:
    """What a receiver config needs to build its integration."""

    http: Any  # httpx.AsyncClient shared by the receivers (TLS verified)
    clock: Any  # cronwatch.clock.Clock
    state_dir: Path
    external_url: str = ""
    templates: Any = None  # the template environment (Jinja2 sandbox), set by the receivers issue
    extra: dict[str, Any] = field(default_factory=dict)


class Integration(Protocol):
    """One configured channel of a receiver (one entry of e.g. ``dingtalk_configs``)."""

    kind: str  # "webhook", "email", "wecom", "dingtalk", "sentry", "file"
    send_resolved: bool

    async def notify(self, notification: Notification) -> Result:
        """Deliver ``notification`` once; never raise for delivery problems, return a Result."""
