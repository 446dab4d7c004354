"""The job log contract (shared/DESIGN.md): one ECS JSON object per line, one ``write`` per line.

:class:`JobLog` appends lines to a file opened with ``O_APPEND`` so a tailing shipper never sees
half a record; :func:`lifecycle_record` builds ``task.*`` events and :class:`OutputRecords`
turns what a task prints into records carrying its run's ``trace.id`` (``output.py``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from scheduler.context import RunContext

SERVICE = "cronwatch-scheduler"
OUTCOME = {
    "task.started": None,
    "task.succeeded": "success",
    "task.failed": "failure",
    "task.timed_out": "failure",
    "task.retrying": "failure",
    "task.skipped": "unknown",
    "task.missed": "unknown",
}
LEVEL = {
    "task.started": "info",
    "task.succeeded": "info",
    "task.failed": "error",
    "task.timed_out": "error",
    "task.retrying": "warn",
    "task.skipped": "warn",
    "task.missed": "warn",
}


_TS_PREFIX: dict[int, str] = {}


def format_ts(ts: float) -> str:
    """Epoch seconds → ``2026-11-22T02:00:00.123Z`` (per-second prefixes are cached: hot path)."""
    sec = int(ts // 1)
    us = round((ts - sec) * 1e6)  # like datetime: round to microseconds, then cut to milliseconds
    if us >= 1_000_000:
        sec, us = sec + 1, us - 1_000_000
    prefix = _TS_PREFIX.get(sec)
    if prefix is None:
        if len(_TS_PREFIX) > 256:
            _TS_PREFIX.clear()
        prefix = _TS_PREFIX[sec] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{prefix}{us // 1000:03d}Z"


class JobLog:
    """Appends JSON lines to ``path`` atomically (one ``os.write`` per line); thread-safe."""

    def __init__(self, path: str | os.PathLike[str], host_name: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.host_name = host_name or socket.gethostname()
        self._lock = threading.Lock()
        self._fd = self._open()
        self._ino = os.fstat(self._fd).st_ino
        self._checked = time.monotonic()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        """Write one record as one line."""
        self.write_bytes(orjson.dumps(record, default=str) + b"\n")

    def write_bytes(self, line: bytes) -> None:
        """Write one already-encoded line (ending in a newline) with a single write."""
        with self._lock:
            view = memoryview(line)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]

    def reopen_if_moved(self, every: float = 2.0) -> bool:
        """Reopen when the file was rotated away (logrotate ``create``); checked at most every ``every`` s."""
        now = time.monotonic()
        if now - self._checked < every:
            return False
        self._checked = now
        try:
            moved = os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            moved = True
        if moved:
            self.reopen()
        return moved

    def reopen(self) -> None:
        """Close and reopen the file (after rotation, or on SIGHUP)."""
        with self._lock:
            old = self._fd
            self._fd = self._open()
            self._ino = os.fstat(self._fd).st_ino
            os.close(old)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def base_record(ctx: RunContext, schedule: str, host: str, ts: float) -> dict[str, Any]:
    """The fields every record of a run carries (built once per attempt, then copied)."""
    cached = ctx.cache
    if cached is None or cached["span.id"] != ctx.span_id:
        cached = {
            "@timestamp": "",
            "trace.id": ctx.trace_id,
            "span.id": ctx.span_id,
            "task.name": ctx.task,
            "task.run_id": ctx.run_id,
            "task.attempt": ctx.attempt,
            "task.schedule": schedule,
            "task.scheduled_at": format_ts(ctx.scheduled_at),
            "host.name": host,
            "service.name": SERVICE,
        }
        if ctx.labels:
            cached["labels"] = ctx.labels
        ctx.cache = cached
    rec = cached.copy()
    rec["@timestamp"] = format_ts(ts)
    rec["task.attempt"] = ctx.attempt
    return rec


def lifecycle_record(action: str, ctx: RunContext, schedule: str, host: str, ts: float, message: str,
                     *, duration_s: float | None = None, error: dict[str, str] | None = None,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``task.*`` lifecycle event."""
    rec = base_record(ctx, schedule, host, ts)
    rec["log.level"] = LEVEL[action]
    rec["message"] = message
    rec["event.action"] = action
    outcome = OUTCOME[action]
    if outcome is not None:
        rec["event.outcome"] = outcome
    if duration_s is not None:
        rec["event.duration"] = int(duration_s * 1e9)
    if error:
        for key in ("type", "message", "stack_trace"):
            if error.get(key):
                rec[f"error.{key}"] = error[key]
    if extra:
        rec["extra"] = extra
    return rec
