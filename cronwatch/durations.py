"""Durations as people write them in YAML: ``30s``, ``5m``, ``1h30m``, ``250ms``, ``1.5s``, ``2d``.

``Duration`` is a pydantic type (a ``datetime.timedelta``) that accepts those strings, plain
numbers (seconds) and timedeltas, and rejects anything else with ``invalid duration "..."``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from cronwatch.errors import DurationError

UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
    "d": 86400 * 1_000_000_000,
    "w": 7 * 86400 * 1_000_000_000,
}
DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")


def parse_duration_ns(text: str) -> int:
    """Parse a Go-style duration string (``1h30m``, ``85.211µs``, ``-2s``) into nanoseconds."""
    s = text.strip()
    sign = 1
    if s and s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    pos = 0
    total = 0.0
    while pos < len(s):
        m = DURATION_PART.match(s, pos)
        if m is None:
            raise DurationError(f'invalid duration "{text}"')
        total += float(m.group(1)) * UNITS_NS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise DurationError(f'invalid duration "{text}"')
    return sign * round(total)


def parse_duration(value: Any) -> timedelta:
    """Turn a duration string, a number of seconds or a timedelta into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise DurationError(f'invalid duration "{value}"')
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        stripped = value.strip()
        try:
            return timedelta(seconds=float(stripped))
        except ValueError:
            pass
        return timedelta(microseconds=parse_duration_ns(stripped) / 1000)
    raise DurationError(f'invalid duration "{value}"')


def format_duration(value: timedelta) -> str:
    """Format a timedelta the way it is written in config (``1h30m``, ``45s``, ``250ms``)."""
    us = round(value.total_seconds() * 1_000_000)
    if us == 0:
        return "0s"
    sign = "-" if us < 0 else ""
    us = abs(us)
    if us % 1_000_000:
        return f"{sign}{us / 1000:g}ms"
    secs = us // 1_000_000
    out = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            out.append(f"{secs // size}{unit}")
            secs %= size
    return sign + "".join(out)


def _validate(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


Duration = Annotated[timedelta, BeforeValidator(_validate), PlainSerializer(format_duration, return_type=str)]
