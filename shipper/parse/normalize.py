"""Pure normalisers for single values: level, trace/span id, duration, error text.

Each returns the normalised value, or None when the input is not recognisable (the caller then
keeps the original under ``extra`` so nothing is lost).
"""

from __future__ import annotations

import re
from binascii import unhexlify
from typing import Any

from cronwatch.durations import DURATION_PART, UNITS_NS, parse_duration_ns
from cronwatch.errors import DurationError

LEVELS: dict[str, str] = {}
for _name, _words in {
    "trace": ("trace", "trc", "finest", "finer", "verbose"),
    "debug": ("debug", "dbg", "fine", "config", "d"),
    "info": ("info", "inf", "information", "informational", "notice", "i"),
    "warn": ("warn", "warning", "wrn", "w", "gin-warning"),
    "error": ("error", "err", "severe", "e", "gin-error", "eror"),
    "fatal": ("fatal", "critical", "crit", "panic", "dpanic", "emerg", "emergency", "alert", "ftl", "f",
              "crt"),
}.items():
    for _w in _words:
        LEVELS[_w] = _name
        LEVELS[_w.upper()] = _name
        LEVELS[_w.capitalize()] = _name
LEVELS["GIN-debug"] = "debug"
LEVELS["GIN-warning"] = "warn"
LEVELS["GIN-error"] = "error"
LEVELS["gin-debug"] = "debug"

# pino / bunyan numeric levels
_NUMERIC_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}
# syslog severities 0..7 (RFC 5424)
SYSLOG_SEVERITY = ("fatal", "fatal", "fatal", "error", "warn", "info", "info", "debug")


def level(value: Any) -> str | None:
    """``WARNING`` → ``warn``, ``CRITICAL``/``PANIC``/``DPANIC`` → ``fatal``, 30 → ``info`` ..."""
    if isinstance(value, str):
        found = LEVELS.get(value)
        if found is None:
            found = LEVELS.get(value.strip().lower())
        return found
    if isinstance(value, int) and not isinstance(value, bool):
        return _NUMERIC_LEVELS.get(value)
    return None


_HEX = frozenset("0123456789abcdef")


def trace_id(value: Any) -> str | None:
    """32 lowercase hex (W3C); UUIDs lose their dashes, 16-hex (64-bit) ids are left-padded,
    ``traceparent`` headers give their trace id. All-zero ids are invalid."""
    if not isinstance(value, str):
        return None
    s = value.strip().lower()
    n = len(s)
    if n == 55 and s[2] == "-" and s[35] == "-":  # traceparent 00-<32>-<16>-01
        s = s[3:35]
    elif n == 36 and s[8] == "-" and s[13] == "-" and s[18] == "-" and s[23] == "-":
        s = s.replace("-", "")
    elif n == 16:
        s = "0" * 16 + s
    if len(s) != 32 or not _HEX.issuperset(s) or s == "0" * 32:
        return None
    return s


def span_id(value: Any) -> str | None:
    """16 lowercase hex; a ``traceparent`` header gives its parent id."""
    if not isinstance(value, str):
        return None
    s = value.strip().lower()
    if len(s) == 55 and s[2] == "-" and s[35] == "-":
        s = s[36:52]
    if len(s) != 16 or not _HEX.issuperset(s) or s == "0" * 16:
        return None
    return s


# unit of a plain number in each duration field (ns per unit); None: a Go duration string only
DURATION_FIELDS: dict[str, float] = {
    "event.duration": 1,
    "duration_ns": 1,
    "duration_us": 1e3,
    "duration_ms": 1e6,
    "elapsed_ms": 1e6,
    "latency_ms": 1e6,
    "took_ms": 1e6,
    "runtime_ms": 1e6,
    "duration": 1e9,
    "duration_s": 1e9,
    "duration_sec": 1e9,
    "duration_seconds": 1e9,
    "elapsed": 1e9,
    "elapsed_s": 1e9,
    "elapsed_seconds": 1e9,
    "latency": 1e9,
    "runtime": 1e9,
}

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def duration_ns(value: Any, unit_ns: float) -> int | None:
    """A duration in nanoseconds from a number in ``unit_ns`` or a Go duration string (``1.5s``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return round(value * unit_ns)
    if isinstance(value, str):
        s = value.strip()
        # a plain number ends in a digit or ".", a number with a unit in a letter: one check each
        if s[-1:].isalpha():
            m = DURATION_PART.fullmatch(s)  # one number and one unit (``1.5s``): parse_duration_ns without its loop
            if m is not None:
                return round(float(m.group(1)) * UNITS_NS[m.group(2)])
        elif _NUMBER.fullmatch(s):
            return round(float(s) * unit_ns)
        try:
            return parse_duration_ns(s)
        except DurationError:
            return None
    return None


def outcome(value: Any) -> str | None:
    """``success`` / ``failure`` / ``unknown`` (a few synonyms accepted)."""
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    if v in ("success", "failure", "unknown"):
        return v
    return {"ok": "success", "succeeded": "success", "failed": "failure", "fail": "failure",
            "error": "failure"}.get(v)


# searched by their literal "race"/"RACE" (fast); the "t" before and a word boundary are checked after
_HEXID = (r"((?:00-)?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
          r"(?:-[0-9a-fA-F]{16}-[0-9a-fA-F]{2})?|[0-9a-fA-F]{16})\b")
# searched by their literal "race"/"RACE" (str.find), then the "t" before and its word boundary are
# checked and the rest of the expression is matched right after the literal
_TRACE_LOWER_REST = re.compile(r"(?:[-_.]?[iI][dD]|parent)[=:] ?[\"']?" + _HEXID)
_TRACE_UPPER_REST = re.compile(r"(?:[-_.]?ID|PARENT)[=:] ?[\"']?" + _HEXID)
_SPAN_IN_TEXT = re.compile(r"(?i)\bspan[-_.]?id[=:] ?[\"']?([0-9a-f]{16})\b")
_lower_rest = _TRACE_LOWER_REST.match


def _first_trace(rest: Any, needle: str, text: str) -> re.Match[str] | None:
    """The first ``needle`` ("race"/"RACE") after a "t"/"T" that starts a word, followed by the rest
    of the id expression (its match, from the end of ``needle``)."""
    p = text.find(needle)
    while p >= 0:
        if p > 0 and text[p - 1] in "tT" and (p == 1 or not (text[p - 2].isalnum() or text[p - 2] == "_")):
            m = rest(text, p + 4)
            if m is not None:
                return m  # type: ignore[no-any-return]
        p = text.find(needle, p + 1)
    return None


def ids_in_text(text: str) -> tuple[str | None, str | None]:
    """``trace_id=…`` / ``traceId: …`` / ``traceparent=…`` (and a span id) written in a message."""
    return ids_at(text, text.find("race"))


def ids_at(text: str, p: int) -> tuple[str | None, str | None]:
    """:func:`ids_in_text` of ``text`` when ``p`` is ``text.find("race")`` (the caller found it already)."""
    raw = None
    while p >= 0:  # _first_trace, inlined for the usual spelling
        if p > 0 and text[p - 1] in "tT" and (p == 1 or not (text[p - 2].isalnum() or text[p - 2] == "_")):
            # the usual form, checked without the expression: ``trace_id=`` / ``traceId=`` and 32 hex
            # digits followed by neither a word character nor "-" (the expression's first branch would
            # match exactly these 32 digits); anything else goes to the expression
            q = p + 8 if text.startswith("_id=", p + 4) else p + 7 if text.startswith("Id=", p + 4) else 0
            if q:
                raw = text[q:q + 32]
                after = text[q + 32:q + 33]
                if len(raw) == 32 and (not after or not (after.isalnum() or after == "_" or after == "-")):
                    try:
                        unhexlify(raw)  # ValueError unless 32 hex digits
                    except ValueError:
                        pass
                    else:
                        break
            m = _lower_rest(text, p + 4)
            if m is not None:
                raw = m.group(1)
                break
        p = text.find("race", p + 1)
    else:
        if "RACE" not in text:
            return None, None
        m = _first_trace(_TRACE_UPPER_REST.match, "RACE", text)
        if m is None:
            return None, None
        raw = m.group(1)
    if len(raw) == 32:  # the usual case: the regex already checked the hex digits
        low = raw.lower()
        tid = None if low == "0" * 32 else low
    else:
        tid = trace_id(raw)
    sid = span_id(raw) if len(raw) == 55 else None
    if sid is None and ("pan" in text or "PAN" in text):
        s = _SPAN_IN_TEXT.search(text)
        sid = span_id(s.group(1)) if s else None
    return tid, sid


_PY_EXC = re.compile(r"([A-Za-z_][\w.]*)(?::\s?(.*))?")
_JAVA_EXC = re.compile(r"(?:Exception in thread \"[^\"]*\" )?((?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*)(?::\s?(.*))?")


def error_from_stack(first: str, lines: list[str]) -> tuple[str | None, str | None]:
    """``(error.type, error.message)`` from a stack: Python's last line, Java's first, Go's panic."""
    if first.startswith(("panic: ", "fatal error: ")):
        kind, _, msg = first.partition(": ")
        return kind, msg
    if first.startswith("Traceback ("):
        lines = [first, *lines]
    if not lines:
        return None, None
    head = lines[0]
    if head.startswith("Traceback ("):
        for line in reversed(lines):
            if line and not line[0].isspace() and not line.startswith("Traceback ("):
                m = _PY_EXC.fullmatch(line)
                if m:
                    return m.group(1), (m.group(2) or "")
                break
        return None, None
    if head.startswith(("panic: ", "fatal error: ")):
        kind, _, msg = head.partition(": ")
        return kind, msg
    m = _JAVA_EXC.fullmatch(head)
    if m and "." in m.group(1):
        return m.group(1), (m.group(2) or "")
    return None, None
