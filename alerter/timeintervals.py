"""Alertmanager's ``time_intervals``: named sets of times, weekdays, days of month, months, years.

An interval contains ``now`` when any of its specs does; a spec contains ``now`` when every field
it sets does (an unset field matches all). ``end_time`` is exclusive; ``24:00`` is allowed. Days of
month may be negative (``-1`` is the last day). ``location`` is an IANA zone (default UTC).
Routes use them as ``mute_time_intervals`` (quiet hours) and ``active_time_intervals``.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from cronwatch.config import Model

_WEEKDAYS = {d: i for i, d in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday",
                                          "saturday", "sunday"])}
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def _minutes(text: str, *, end: bool) -> int:
    m = _TIME.match(text.strip())
    if m is None:
        raise ValueError(f'invalid time "{text}": expected HH:MM')
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and (mi or not end)):
        raise ValueError(f'invalid time "{text}": hours 00-23 (24:00 only as end_time), minutes 00-59')
    return h * 60 + mi


def _range(text: str, names: dict[str, int] | None, lo: int, hi: int, what: str) -> tuple[int, int]:
    def one(part: str) -> int:
        p = part.strip().lower()
        if names is not None and p in names:
            return names[p]
        try:
            v = int(p)
        except ValueError:
            raise ValueError(f'invalid {what} "{part}"') from None
        if not lo <= v <= hi or (v == 0 and lo < 0):
            raise ValueError(f"{what} {v} out of range {lo}..{hi}")
        return v

    a, sep, b = str(text).partition(":")
    first = one(a)
    last = one(b) if sep else first
    return first, last


class TimeRange(Model):
    """``start_time``–``end_time`` within a day (end exclusive)."""

    start_time: str
    end_time: str

    @field_validator("start_time")
    @classmethod
    def _start(cls, v: str) -> str:
        _minutes(v, end=False)
        return v

    @field_validator("end_time")
    @classmethod
    def _end(cls, v: str) -> str:
        _minutes(v, end=True)
        return v


class TimeSpec(Model):
    """One spec of an interval; every field set must contain the instant."""

    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str] = Field(default_factory=list)
    months: list[str] = Field(default_factory=list)
    years: list[str] = Field(default_factory=list)
    location: str = "UTC"

    @field_validator("weekdays", "days_of_month", "months", "years", mode="before")
    @classmethod
    def _strs(cls, v: object) -> object:
        return [str(x) for x in v] if isinstance(v, list) else v

    @field_validator("weekdays")
    @classmethod
    def _wd(cls, v: list[str]) -> list[str]:
        for item in v:
            _range(item, _WEEKDAYS, 0, 6, "weekday")
        return v

    @field_validator("days_of_month")
    @classmethod
    def _dom(cls, v: list[str]) -> list[str]:
        for item in v:
            _range(item, None, -31, 31, "day of month")
        return v

    @field_validator("months")
    @classmethod
    def _mo(cls, v: list[str]) -> list[str]:
        for item in v:
            _range(item, _MONTHS, 1, 12, "month")
        return v

    @field_validator("years")
    @classmethod
    def _yr(cls, v: list[str]) -> list[str]:
        for item in v:
            _range(item, None, 1, 9999, "year")
        return v

    @field_validator("location")
    @classmethod
    def _loc(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'unknown time zone "{v}"') from None
        return v

    def contains(self, now: datetime) -> bool:
        """Whether the aware instant ``now`` falls inside this spec."""
        t = now.astimezone(ZoneInfo(self.location))
        if self.times:
            minute = t.hour * 60 + t.minute
            if not any(_minutes(r.start_time, end=False) <= minute < _minutes(r.end_time, end=True)
                       for r in self.times):
                return False
        if self.weekdays and not any(_in(t.weekday(), _range(w, _WEEKDAYS, 0, 6, "weekday"))
                                     for w in self.weekdays):
            return False
        if self.days_of_month:
            days = calendar.monthrange(t.year, t.month)[1]
            ok = False
            for spec in self.days_of_month:
                a, b = _range(spec, None, -31, 31, "day of month")
                a = a if a > 0 else days + a + 1
                b = b if b > 0 else days + b + 1
                ok = ok or a <= t.day <= b
            if not ok:
                return False
        if self.months and not any(_in(t.month, _range(m, _MONTHS, 1, 12, "month")) for m in self.months):
            return False
        return not self.years or any(_in(t.year, _range(y, None, 1, 9999, "year")) for y in self.years)


def _in(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


class TimeInterval(Model):
    """A named interval as in Alertmanager's ``time_intervals``."""

    name: str
    time_intervals: list[TimeSpec] = Field(default_factory=list)

    def contains(self, now: datetime) -> bool:
        """Whether any spec contains ``now`` (an interval with no spec is always active)."""
        return not self.time_intervals or any(s.contains(now) for s in self.time_intervals)
