"""What a task prints becomes job-log records carrying its run's ``trace.id``.

Each line is a record whose ``message`` is the original text. A line that is a JSON object keeps
its fields under ``extra`` (its level and error fields are lifted into the ECS fields). Python
tracebacks, Go panics and indented continuation lines are joined to the record they belong to
and also land in ``error.stack_trace``. Over-long lines are cut and tagged ``_truncated``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

_LEVEL_WORDS = {
    "trace": "trace", "debug": "debug", "dbug": "debug", "info": "info", "information": "info",
    "notice": "info", "warn": "warn", "warning": "warn", "error": "error", "err": "error",
    "eror": "error", "critical": "fatal", "crit": "fatal", "fatal": "fatal", "panic": "fatal",
    "emerg": "fatal", "alert": "fatal", "severe": "error", "fine": "debug",
}
_LEVEL_RE = re.compile(
    r"(?:^|[\s\[(|])(?:level=\"?)?(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|CRITICAL|FATAL|PANIC|"
    r"trace|debug|info|warn(?:ing)?|error|fatal|panic)\b"
)
_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure)\b")
_PY_TB = "Traceback (most recent call last)"
_JSON_LEVEL_KEYS = ("log.level", "level", "lvl", "severity", "levelname", "loglevel")


def detect_level(text: str, default: str) -> str:
    """A level word near the start of a plain-text line (``INFO``, ``level=warn``), else ``default``."""
    m = _LEVEL_RE.search(text[:120])
    if m:
        return _LEVEL_WORDS.get(m.group(1).lower(), default)
    return default


def _json_fields(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class OutputRecords:
    """Turns the lines of one stream into records; call :meth:`flush` on idle and at EOF."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], default_level: str, max_bytes: int,
                 stream: str) -> None:
        self.emit = emit
        self.default_level = default_level
        self.max_bytes = max_bytes
        self.stream = stream
        self._pending: dict[str, Any] | None = None
        self._lines: list[str] = []
        self._stack: list[str] | None = None
        self._in_panic = False
        self._py_open = False
        self.last_stack: str | None = None

    def feed(self, raw: bytes) -> None:
        """One line as read from the pipe (with or without its newline)."""
        truncated = len(raw) > self.max_bytes
        text = raw[: self.max_bytes].decode("utf-8", "replace").rstrip("\r\n")
        if self._pending is not None and self._continues(text):
            self._lines.append(text)
            if self._stack is not None:
                self._stack.append(text)
                if self._py_open and text[:1] not in (" ", "\t"):
                    self._py_open = False  # "ValueError: ..." closes a Python traceback
            elif text.startswith(_PY_TB):
                self._stack = [text]
                self._py_open = True
            return
        self.flush()
        self._start(text, truncated)

    def _continues(self, text: str) -> bool:
        return (self._in_panic or self._py_open or text[:1] in (" ", "\t")
                or text.startswith(_PY_TB))

    def _start(self, text: str, truncated: bool) -> None:
        rec: dict[str, Any] = {"message": text}
        fields = _json_fields(text)
        level = None
        if fields is not None:
            for key in _JSON_LEVEL_KEYS:
                v = fields.get(key)
                if isinstance(v, str):
                    level = _LEVEL_WORDS.get(v.lower())
                    if level:
                        break
            for src, dst in (("error.type", "error.type"), ("error.message", "error.message"),
                             ("error.stack_trace", "error.stack_trace"), ("stacktrace", "error.stack_trace"),
                             ("stack", "error.stack_trace")):
                v = fields.get(src)
                if isinstance(v, str) and v:
                    rec[dst] = v
            rec["extra"] = fields
        else:
            level = detect_level(text, self.default_level)
        rec["log.level"] = level or self.default_level
        if truncated:
            rec["tags"] = ["_truncated"]
        self._pending = rec
        self._lines = [text]
        self._in_panic = text.startswith("panic: ") or text.startswith("fatal error: ")
        self._py_open = text.startswith(_PY_TB)
        self._stack = [text] if (self._in_panic or self._py_open) else None

    def flush(self) -> None:
        """Emit the record being assembled, if any."""
        rec = self._pending
        if rec is None:
            return
        if len(self._lines) > 1:
            rec["message"] = "\n".join(self._lines)
        if self._stack is not None and len(self._stack) > 1:
            stack = "\n".join(self._stack)
            rec.setdefault("error.stack_trace", stack)
            self.last_stack = stack
            last = self._stack[-1]
            if ":" in last and _EXC_LINE.match(last):
                etype, _, emsg = last.partition(":")
                rec.setdefault("error.type", etype.strip())
                rec.setdefault("error.message", emsg.strip())
            if self._in_panic:
                rec.setdefault("error.type", "panic")
                rec.setdefault("error.message", self._lines[0][len("panic: "):] if self._lines[0].startswith("panic: ")
                               else self._lines[0])
                rec["log.level"] = "fatal"
            elif rec["log.level"] in ("info", "debug", "trace"):
                rec["log.level"] = "error"
        rec.setdefault("extra", {})
        if isinstance(rec["extra"], dict):
            rec["extra"].setdefault("stream", self.stream)
        self._pending = None
        self._lines = []
        self._stack = None
        self._in_panic = False
        self._py_open = False
        self.emit(rec)
