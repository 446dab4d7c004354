"""Schedules: when a task fires, as pure functions of an instant (UTC epoch seconds).

* Cron expressions are evaluated by ``cronsim`` (Debian cron semantics): 5 fields, or 6 with
  seconds first (robfig/cron's ``WithSeconds`` layout); names (``jan``, ``mon``), ranges, steps,
  lists, ``L``, ``LW``, ``#``; Quartz's ``?`` is read as ``*``. Day-of-month and day-of-week
  both restricted → OR; either starting with ``*`` → AND (Vixie's rule). Across DST a 5-field
  fixed-time job whose local time is skipped runs right after the jump, one whose time repeats
  runs once; jobs more frequent than hourly follow the real (UTC) clock.
* Macros ``@yearly @annually @monthly @weekly @daily @midnight @hourly``.
* ``@every <duration>`` fires on a fixed grid anchored at the Unix epoch (slot ``k × period``),
  so it neither drifts with wake-up times nor fires twice after a late wake-up.

A trigger never reads the clock: ``next_after(t)`` is the first fire instant strictly after ``t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from cronwatch.durations import parse_duration_ns
from cronwatch.errors import DurationError
from scheduler.errors import ScheduleError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELDS5 = ["minute", "hour", "day-of-month", "month", "day-of-week"]
_FIELDS6 = ["second", *_FIELDS5]
_ALLOWED = {
    "second": "0-59",
    "minute": "0-59",
    "hour": "0-23",
    "day-of-month": "1-31, L, LW",
    "month": "1-12 or jan-dec",
    "day-of-week": "0-7 or sun-sat, L, #",
}
_NS = 1_000_000_000


class Trigger(Protocol):
    """When a task fires."""

    expr: str

    def next_after(self, after: float) -> float | None:
        """The first fire instant strictly after ``after`` (epoch seconds), or ``None`` if never."""

    def prev_at_or_before(self, at: float) -> float | None:
        """The last fire instant at or before ``at``, or ``None``."""


def resolve_timezone(name: str | None) -> tzinfo:
    """An IANA zone name (``Asia/Shanghai``) → tzinfo; ``None``/``UTC`` → UTC."""
    if name is None or name.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f'unknown time zone "{name}" (use an IANA name such as Europe/Berlin)') from exc


@dataclass
class EveryTrigger:
    """``@every <duration>``: fires at every multiple of the period since the epoch."""

    expr: str
    period_ns: int

    def next_after(self, after: float) -> float:
        ns = math.floor(after * _NS)
        slot = (ns // self.period_ns + 1) * self.period_ns
        return slot / _NS

    def prev_at_or_before(self, at: float) -> float:
        ns = math.floor(at * _NS)
        return (ns // self.period_ns) * self.period_ns / _NS

    def count_between(self, after: float, upto: float) -> int:
        """How many slots lie in ``(after, upto]``."""
        a = math.floor(after * _NS) // self.period_ns
        b = math.floor(upto * _NS) // self.period_ns
        return max(0, b - a)


@dataclass
class CronTrigger:
    """A cron expression evaluated in a time zone by cronsim."""

    expr: str
    cron: str
    tz: tzinfo = UTC
    _it: CronSim | None = field(default=None, repr=False, compare=False)
    _last: float | None = field(default=None, repr=False, compare=False)

    def next_after(self, after: float) -> float | None:
        # Fast path: asking for the fire after the one returned last continues the same iterator.
        it = self._it if self._last is not None and after == self._last else None
        if it is None:
            it = CronSim(self.cron, datetime.fromtimestamp(after, self.tz))
        for _ in range(16):  # a repeated (DST) hour can yield instants before ``after``; skip them
            try:
                ts = next(it).timestamp()
            except StopIteration:
                return None
            if ts > after:
                self._it, self._last = it, ts
                return ts
        return None  # pragma: no cover - cronsim always moves forward within a few steps

    def prev_at_or_before(self, at: float) -> float | None:
        start = datetime.fromtimestamp(math.floor(at) + 1, self.tz)
        it = CronSim(self.cron, start, reverse=True)
        for _ in range(16):
            try:
                ts = next(it).timestamp()
            except StopIteration:
                return None
            if ts <= at:
                return ts
        return None  # pragma: no cover


def _field_error(expr: str, parts: list[str], exc: CronSimError) -> ScheduleError:
    msg = str(exc)
    names = _FIELDS6 if len(parts) == 6 else _FIELDS5
    if msg.startswith("Bad "):
        fname = msg[4:]
        idx = {"second": 0, "minute": 1, "hour": 2, "day-of-month": 3, "month": 4, "day-of-week": 5}.get(fname)
        if idx is not None:
            if len(parts) == 5:
                idx -= 1
            if 0 <= idx < len(parts):
                return ScheduleError(
                    f'schedule "{expr}": {fname} field "{parts[idx]}" is invalid (allowed: {_ALLOWED[fname]})'
                )
        return ScheduleError(f'schedule "{expr}": invalid {fname} field')
    if "number of fields" in msg:
        return ScheduleError(
            f'schedule "{expr}": expected 5 fields ({" ".join(names[-5:])}) or 6 with seconds first, '
            f"got {len(parts)}"
        )
    return ScheduleError(f'schedule "{expr}": {msg}')


def parse_schedule(expr: str, timezone: str | None = None) -> CronTrigger | EveryTrigger:
    """Parse a schedule; errors are :class:`ScheduleError` naming the bad field."""
    text = " ".join(str(expr).split())
    if not text:
        raise ScheduleError("schedule is empty")
    lower = text.lower()
    if lower.startswith("@every"):
        arg = text[len("@every") :].strip()
        if not arg:
            raise ScheduleError(f'schedule "{expr}": @every needs a duration, e.g. "@every 5m"')
        try:
            period = parse_duration_ns(arg)
        except DurationError:
            raise ScheduleError(f'schedule "{expr}": invalid duration "{arg}" (e.g. 30s, 5m, 1h30m)') from None
        if period < 1_000_000:
            raise ScheduleError(f'schedule "{expr}": @every period must be at least 1ms')
        resolve_timezone(timezone)  # validate even though the grid is zone-independent
        return EveryTrigger(text, period)
    if lower.startswith("@"):
        cron = MACROS.get(lower)
        if cron is None:
            raise ScheduleError(
                f'schedule "{expr}": unknown macro (use {", ".join(sorted(MACROS))} or "@every <duration>")'
            )
    else:
        cron = text
    parts = cron.split()
    if len(parts) in (5, 6):
        # Quartz/robfig "?" means "no specific value": the same as "*" in day fields.
        for i in (len(parts) - 3, len(parts) - 1):
            if parts[i] == "?":
                parts[i] = "*"
        cron = " ".join(parts)
    tz = resolve_timezone(timezone)
    try:
        CronSim(cron, datetime.fromtimestamp(0, tz))
    except CronSimError as exc:
        raise _field_error(text, parts, exc) from None
    except (ValueError, IndexError) as exc:
        raise ScheduleError(f'schedule "{expr}": {exc}') from None
    return CronTrigger(text, cron, tz)


def upcoming(trigger: CronTrigger | EveryTrigger, after: float, count: int) -> list[float]:
    """The next ``count`` fire instants after ``after``."""
    out: list[float] = []
    t: float | None = after
    while len(out) < count and t is not None:
        t = trigger.next_after(t)
        if t is not None:
            out.append(t)
    return out
