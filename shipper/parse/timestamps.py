"""Time stamps in any common form → ``2026-11-22T02:00:00.123Z`` (UTC, milliseconds).

``TimestampParser`` is built once per input (it holds the zone for times written without one)
and caches the conversion of each distinct second, so a file of lines from the same few seconds
costs one regex match and one dict lookup per line. Forms understood:

- RFC 3339 / ISO 8601, ``T`` or space, ``.`` or ``,`` fractions, ``Z``/``±hh:mm``/``±hhmm``;
  Go ``time.Time`` strings (``2026-11-22 10:00:00.000412 +0800 CST m=+0.01``), ``2006/01/02 15:04:05``
  and Gin's ``2006/01/02 - 15:04:05``
- epoch seconds, milliseconds, microseconds or nanoseconds (int, float or digit string; the unit
  is told by the size of the number)
- syslog without a year (``Nov 22 10:00:01``): the year is the one that puts the time closest
  to ``now`` without being more than a week in the future (New Year safe)
- ``22/Nov/2026:10:00:00 +0800`` (HTTP), RFC 2822, ``Mon Jan  2 15:04:05 [MST ]2006`` (ANSI C / Unix)

Times without a zone are read in the input's ``timezone``, by default the machine's own zone
(:func:`local_zone`). A local time in a zone with daylight saving: an ambiguous (repeated) time is the first
occurrence; a time skipped by the jump is read with the offset before it (so it lands just
after the jump). Anything else → None (the caller tags ``_dateparsefailure``).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ISO = re.compile(
    r"\s*(\d{4})[-/](\d\d)[-/](\d\d)(?:[Tt ]| - )(\d\d):(\d\d)(?::(\d\d))?(?:[.,](\d+))?"
    r"\s*(Z|z|UTC|GMT|[+-]\d\d(?::?\d\d)?)?(?:\s+[A-Z][A-Za-z]{1,5}|\s+[+-]\d\d)?(?:\s+m=[+-][\d.]+)?\s*"
)
_DATE_ONLY = re.compile(r"\s*(\d{4})-(\d\d)-(\d\d)\s*")
_EPOCH = re.compile(r"\s*(\d{1,20})(?:\.(\d*))?\s*")
_SYSLOG = re.compile(r"\s*([A-Z][a-z]{2})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s*")
_HTTP = re.compile(r"\s*(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d+))? ([+-]\d{4})\s*")
_ANSIC = re.compile(
    r"\s*(?:[A-Z][a-z]{2} )?([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
    r"(?: ([A-Z]{2,5}|[+-]\d{4}))? (\d{4})\s*"
)
def local_zone() -> tzinfo:
    """The machine's time zone (``TZ``, else ``/etc/localtime``), with its DST rules; UTC if unknown.

    Jobs write zone-less times in the local zone of the host they run on, so that is the
    default for an input without ``timezone`` (assuming UTC is a known trap: beats#3898).
    """
    name = os.environ.get("TZ", "").lstrip(":")
    candidates = [name] if name else []
    try:
        target = os.path.realpath("/etc/localtime")
        if "/zoneinfo/" in target:
            candidates.append(target.split("/zoneinfo/", 1)[1])
    except OSError:
        pass
    for key in candidates:
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    try:
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        return UTC


_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_UTC_NAMES = frozenset({"Z", "z", "UTC", "GMT"})
_CACHE_MAX = 8192
_MISSING = object()


def _ms(frac: str | None) -> str:
    if not frac:
        return "000"
    return (frac + "00")[:3]


def _offset(zone: str) -> tzinfo:
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4]) if len(digits) >= 4 else 0
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


_MINUTE = timedelta(minutes=1)


def _minute_head(start: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:`` in UTC of the local minute starting at ``start`` when its offset is
    the same whole number of minutes at its first and last second (then second ``s`` of it is
    that head plus ``s``: what :func:`_utc_second` gives); "" otherwise (a transition inside
    the minute, an offset with seconds, as old local mean times have)."""
    offset = start.utcoffset()
    if offset is None or offset % _MINUTE or start.replace(second=59).utcoffset() != offset:
        return ""
    text = _utc_second(start)
    return text[:17] if len(text) == 19 else ""  # (a year below 1000 as the platform writes it: per second)


def _utc_second(dt: datetime) -> str:
    utc = dt.astimezone(UTC)
    if utc.year >= 1000:  # isoformat: the same text as strftime, in half the time
        return utc.isoformat("T", "seconds")[:19]
    return utc.strftime("%Y-%m-%dT%H:%M:%S")  # the platform's %Y (glibc does not pad to 4 digits)


class TimestampParser:
    """Normalises time stamps for one input (``tz``: the zone of times written without one)."""

    def __init__(self, tz: str | tzinfo | None = None) -> None:
        self.tz: tzinfo = ZoneInfo(tz) if isinstance(tz, str) else (tz or UTC)
        self._cache: dict[tuple[str, str | None], str] = {}
        self._epoch_cache: dict[int, str] = {}
        # "2026-11-22 10:15:00" as written (no zone) → its UTC second; also the key of the same time
        # written with 3-digit milliseconds (``...,004``): the text up to the fraction
        self.fast_seconds: dict[str, str] = {}
        self._syslog_cache: dict[tuple[str, int], str | None] = {}
        self._minutes: dict[tuple[str, str | None], str] = {}  # local minute as written, zone → UTC head
        self._named_cache: dict[tuple[str, int], str | None] = {}

    def parse(self, value: object, now: float = 0.0) -> str | None:
        """``value`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ``; None when it is not a time stamp.

        ``now`` (epoch seconds) is needed only for syslog times without a year.
        """
        if type(value) is str:
            # fast path: a second already seen, written the same way (only the milliseconds change)
            fast = self.fast_seconds
            second = fast.get(value)
            if second is not None:
                return second + ".000Z"
            if len(value) > 4 and value[-4] in ".,":
                second = fast.get(value[:-4])
                if second is not None and value[-3:].isdigit():
                    return f"{second}.{value[-3:]}Z"
            if value[:1].isalpha():  # a month or day name: not ISO, not epoch, not HTTP, not a date
                # the result depends on the text and, for syslog's missing year, on the hour of now
                key = (value, int(now) // 3600)
                found = self._named_cache.get(key, _MISSING)
                if found is _MISSING:
                    if len(self._named_cache) >= _CACHE_MAX:
                        self._named_cache.clear()
                    found = self._named_cache[key] = self._named(value, now)
                return found  # type: ignore[return-value]
            m = _ISO.fullmatch(value)
            if m is not None:
                return self._iso(m)
            return self._other(value, now)
        if isinstance(value, str):
            return self.parse(str(value), now)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return self._epoch(str(value), None) if value >= 0 else None
        if isinstance(value, float):
            if not value >= 0 or value == float("inf"):
                return None
            text = repr(value)
            if "e" in text or "E" in text:
                text = f"{value:.6f}"
            whole, _, frac = text.partition(".")
            return self._epoch(whole, frac)
        return None

    def _iso(self, m: re.Match[str]) -> str | None:
        zone = m.group(8)
        key = (m.string[: m.end(6) if m.group(6) else m.end(5)], zone)
        second = self._cache.get(key)
        if second is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
                self.fast_seconds.clear()
                self._minutes.clear()
            # the UTC minute of this local minute, when one offset holds for all of its seconds
            mkey = (m.string[: m.end(5)], zone)
            head = self._minutes.get(mkey)
            sec = m.group(6) or "00"
            y, mo, d, h, mi = (0, 0, 0, 0, 0) if head else map(int, m.group(1, 2, 3, 4, 5))
            try:  # (an impossible date, or an offset of a day or more: not a time stamp)
                if head is None:
                    head = self._minutes[mkey] = _minute_head(datetime(y, mo, d, h, mi, tzinfo=self._zone(zone)))
                if head:
                    second = head + (sec if sec <= "59" else "59")  # a leap second is read as :59
                else:
                    second = _utc_second(datetime(y, mo, d, h, mi, min(int(sec), 59), tzinfo=self._zone(zone)))
            except (ValueError, OverflowError):
                return None
            self._cache[key] = second
            if zone is None and m.start(1) == 0 and m.group(6):
                text = m.string
                frac = m.group(7)
                if frac is None and m.end(6) == len(text):
                    self.fast_seconds[text] = second
                elif frac is not None and len(frac) == 3 and m.end(7) == len(text):
                    self.fast_seconds[text[:-4]] = second
        return f"{second}.{_ms(m.group(7))}Z"

    def _zone(self, zone: str | None) -> tzinfo:
        """The zone of a time written with ``zone`` (None: the input's)."""
        if zone is None:
            return self.tz
        return UTC if zone in _UTC_NAMES else _offset(zone)

    def _epoch(self, whole: str, frac: str | None) -> str | None:
        digits = len(whole.lstrip("0")) or 1
        if digits <= 11:
            seconds, sub = int(whole), (frac or "")
        elif digits <= 14:
            seconds, sub = int(whole[:-3]), whole[-3:]
        elif digits <= 17:
            seconds, sub = int(whole[:-6]), whole[-6:]
        elif digits <= 20:
            seconds, sub = int(whole[:-9]), whole[-9:]
        else:
            return None
        second = self._epoch_cache.get(seconds)
        if second is None:
            try:
                second = _utc_second(datetime.fromtimestamp(seconds, UTC))
            except (ValueError, OverflowError, OSError):
                return None
            if len(self._epoch_cache) >= _CACHE_MAX:
                self._epoch_cache.clear()
            self._epoch_cache[seconds] = second
        return f"{second}.{_ms(sub)}Z"

    def _other(self, text: str, now: float) -> str | None:
        m = _EPOCH.fullmatch(text)
        if m is not None:
            return self._epoch(m.group(1), m.group(2))
        m = _HTTP.fullmatch(text)
        if m is not None and m.group(2) in _MONTHS:
            return self._build(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)), m.group(4, 5, 6),
                               m.group(7), _offset(m.group(8)))
        m = _DATE_ONLY.fullmatch(text)
        if m is not None:
            return self._build(int(m.group(1)), int(m.group(2)), int(m.group(3)), ("0", "0", "0"), None, self.tz)
        return self._named(text, now)

    def _named(self, text: str, now: float) -> str | None:
        """Forms that may start with a month or day name: syslog, ANSI C / Unix, RFC 2822."""
        m = _SYSLOG.fullmatch(text)
        if m is not None and m.group(1) in _MONTHS:
            return self._syslog(m, now)
        m = _ANSIC.fullmatch(text)
        if m is not None and m.group(1) in _MONTHS:
            zone = m.group(7)
            tz = self.tz if zone is None else (_offset(zone) if zone[0] in "+-" else
                                               UTC if zone in _UTC_NAMES else None)
            if tz is None:
                return None  # an abbreviation such as CST is ambiguous: refuse to guess
            return self._build(int(m.group(8)), _MONTHS[m.group(1)], int(m.group(2)), m.group(3, 4, 5),
                               m.group(6), tz)
        if "," in text[:5]:
            try:
                dt = parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=self.tz)
            return f"{_utc_second(dt)}.000Z"
        return None

    def _build(self, y: int, mo: int, d: int, hms: tuple[str, ...], frac: str | None, tz: tzinfo) -> str | None:
        try:
            dt = datetime(y, mo, d, int(hms[0]), int(hms[1]), min(int(hms[2]), 59), tzinfo=tz)
        except (ValueError, OverflowError):
            return None
        return f"{_utc_second(dt)}.{_ms(frac)}Z"

    def _syslog(self, m: re.Match[str], now: float) -> str | None:
        key = (m.string[: m.end(5)], int(now) // 3600)  # the year rule does not care about the hour
        second = self._syslog_cache.get(key)
        if second is None:
            if len(self._syslog_cache) >= _CACHE_MAX:
                self._syslog_cache.clear()
            second = self._syslog_cache[key] = self._syslog_second(m, now)
        return None if second is None else f"{second}.{_ms(m.group(6))}Z"

    def _syslog_second(self, m: re.Match[str], now: float) -> str | None:
        month, day = _MONTHS[m.group(1)], int(m.group(2))
        h, mi, s = (int(x) for x in m.group(3, 4, 5))
        ref = datetime.fromtimestamp(now, self.tz)
        limit = ref + timedelta(days=7)
        for year in range(ref.year + 1, ref.year - 5, -1):  # Feb 29 may be 4 years back
            try:
                dt = datetime(year, month, day, h, mi, min(s, 59), tzinfo=self.tz)
            except ValueError:
                continue  # Feb 29 in a year without it
            if dt <= limit:
                return _utc_second(dt)
        return None
