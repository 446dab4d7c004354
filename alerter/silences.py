"""Silences: a YAML file users edit by hand is the single source of truth.

```yaml
silences:
  - id: db-maintenance                       # optional, stable id
    matchers: ['task="db_backup"', 'severity=~"warning|info"']
    starts_at: 2026-11-22T22:00:00+08:00
    ends_at: 2026-11-23T06:00:00+08:00
    created_by: ops-oncall
    comment: DB maintenance window
  - matchers: ['env="staging"']
    every: {cron: "0 22 * * *", duration: 8h, timezone: Asia/Shanghai}
```

A silence mutes an alert when every matcher matches (Alertmanager's meaning). A silence whose
matchers all match the empty label set would mute everything and is rejected. A recurring silence
(``every``) is active for ``duration`` after each cron fire, within optional ``starts_at``/``ends_at``.
Entries without an ``id`` get a stable UUID derived from their content (not from ``ends_at``, so
extending a silence keeps its id). The file store lives in :mod:`alerter.silencefile`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError
from pydantic import Field, PrivateAttr, field_validator, model_validator

from alerter.errors import MatcherError
from alerter.matchers import Matcher, MatchType, parse_matcher
from cronwatch.config import Model, TimeZoneName
from cronwatch.durations import Duration

_NS = uuid.UUID("6f1c2a8e-4f43-4c5e-9d8e-2f3b7c1a0c11")


class Recurrence(Model):
    """``every: {cron, duration, timezone}`` — a window opening at each cron fire."""

    cron: str
    duration: Duration
    timezone: TimeZoneName = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        try:
            CronSim(v, datetime(2026, 1, 1))
        except CronSimError as exc:
            raise ValueError(f'invalid cron expression "{v}": {exc}') from None
        return v

    @field_validator("duration")
    @classmethod
    def _dur(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("duration must be positive")
        return v

    def window_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The window containing ``now``, if any."""
        tz = ZoneInfo(self.timezone)
        start = (now - self.duration).astimezone(tz).replace(microsecond=0) - timedelta(seconds=1)
        fire = next(CronSim(self.cron, start.replace(tzinfo=tz)))
        if fire <= now < fire + self.duration:
            return fire, fire + self.duration
        return None

    def next_window(self, now: datetime) -> tuple[datetime, datetime]:
        """The first window opening after ``now``."""
        tz = ZoneInfo(self.timezone)
        fire = next(CronSim(self.cron, now.astimezone(tz).replace(microsecond=0)))
        return fire, fire + self.duration


class Silence(Model):
    """One silence, from the file or the API."""

    id: str | None = None
    matchers: list[str] = Field(min_length=1)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    every: Recurrence | None = None
    created_by: str = ""
    comment: str = ""

    _matchers: list[Matcher] = PrivateAttr(default_factory=list)
    _uid: str = PrivateAttr(default="")

    @field_validator("matchers")
    @classmethod
    def _parse(cls, v: list[str]) -> list[str]:
        for text in v:
            try:
                parse_matcher(text)
            except MatcherError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("timestamp needs a time zone (add Z or +08:00); it is never assumed to be UTC")
        return v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or "/" in v):
            raise ValueError("id must be a non-empty string without '/'")
        return v

    @model_validator(mode="after")
    def _check(self) -> Silence:
        self._matchers = [parse_matcher(t) for t in self.matchers]
        if all(m.matches_value("") for m in self._matchers):
            raise ValueError("at least one matcher must not match the empty value, or the silence "
                             "would mute every alert (e.g. use =~\".+\" instead of =~\".*\")")
        if self.every is None and self.ends_at is None:
            raise ValueError("ends_at is required (or use every: for a recurring silence)")
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        self._uid = self.id or str(uuid.uuid5(_NS, self._identity()))
        return self

    def _identity(self) -> str:
        every = self.every.model_dump_json() if self.every else ""
        start = self.starts_at.isoformat() if self.starts_at else ""
        return "\x00".join([*sorted(self.matchers), start, every, self.created_by, self.comment])

    @property
    def uid(self) -> str:
        """The explicit id or the stable derived one."""
        return self._uid

    @property
    def parsed(self) -> list[Matcher]:
        return self._matchers

    def window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The active window containing ``now``, or None."""
        if self.starts_at is not None and now < self.starts_at:
            return None
        if self.ends_at is not None and now >= self.ends_at:
            return None
        if self.every is None:
            start = self.starts_at or datetime.min.replace(tzinfo=now.tzinfo)
            assert self.ends_at is not None
            return start, self.ends_at
        win = self.every.window_at(now)
        if win is None:
            return None
        return max(win[0], self.starts_at or win[0]), min(win[1], self.ends_at or win[1])

    def state(self, now: datetime) -> str:
        """``active``, ``pending`` or ``expired`` (Alertmanager's names)."""
        if self.ends_at is not None and now >= self.ends_at:
            return "expired"
        return "active" if self.window(now) is not None else "pending"

    def shown_window(self, now: datetime) -> tuple[datetime, datetime]:
        """Start and end to show in the API: the current window, else the next one."""
        win = self.window(now)
        if win is not None:
            return win
        if self.every is not None and self.state(now) == "pending":
            after = max(now, self.starts_at) if self.starts_at else now
            nxt = self.every.next_window(after)
            return nxt[0], min(nxt[1], self.ends_at) if self.ends_at else nxt[1]
        end = self.ends_at or now
        return self.starts_at or end, end

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """True when this silence is active at ``now`` and every matcher matches ``labels``."""
        return all(m.matches(labels) for m in self._matchers) and self.window(now) is not None


class SilencesDocument(Model):
    """The whole silences file."""

    silences: list[Silence] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> SilencesDocument:
        seen: set[str] = set()
        for s in self.silences:
            if s.uid in seen:
                raise ValueError(f'two silences have the id "{s.uid}"')
            seen.add(s.uid)
        return self


class SilenceIndex:
    """Silences indexed by one equality matcher each, so muting stays fast with thousands of them."""

    def __init__(self, silences: Iterable[Silence]) -> None:
        self.silences = list(silences)
        self.by_id = {s.uid: s for s in self.silences}
        self._by_label: dict[tuple[str, str], list[Silence]] = {}
        self._scan: list[Silence] = []
        for s in self.silences:
            key = next(((m.name, m.value) for m in s.parsed if m.type is MatchType.EQ and m.value), None)
            if key is None:
                self._scan.append(s)
            else:
                self._by_label.setdefault(key, []).append(s)

    def muted_by(self, labels: Mapping[str, str], now: datetime) -> list[str]:
        """Ids of the silences muting ``labels`` at ``now``."""
        out = [s.uid for s in self._scan if s.mutes(labels, now)]
        if self._by_label:
            for item in labels.items():
                for s in self._by_label.get(item, ()):
                    if s.mutes(labels, now):
                        out.append(s.uid)
        return out
