"""Identity of a run: trace id, span id, run id (a ULID) and the context a ``call`` task sees."""

from __future__ import annotations

import os
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits → 2 characters
_time_ms = -1
_time_part = ""


def new_trace_id() -> str:
    """32 lowercase hex characters (W3C trace-id), never all zeros."""
    while True:
        tid = os.urandom(16).hex()
        if tid != "0" * 32:
            return tid


def new_ids() -> tuple[str, str]:
    """A new trace id and span id from one read of the random source."""
    raw = os.urandom(24).hex()
    trace, span = raw[:32], raw[32:]
    if trace == "0" * 32 or span == "0" * 16:  # pragma: no cover - 2**-64 chance
        return new_trace_id(), new_span_id()
    return trace, span


def new_span_id() -> str:
    """16 lowercase hex characters (W3C parent-id)."""
    while True:
        sid = os.urandom(8).hex()
        if sid != "0" * 16:
            return sid


def new_run_id(ts: float | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32 (sortable by start)."""
    global _time_ms, _time_part
    ms = int((time.time() if ts is None else ts) * 1000) & ((1 << 48) - 1)
    if ms != _time_ms:  # 48 bits of time → 10 characters (cached: many runs start in the same ms)
        _time_part = "".join(_CROCKFORD[(ms >> shift) & 31] for shift in range(45, -1, -5))
        _time_ms = ms
    r = int.from_bytes(os.urandom(10), "big")  # 80 random bits → 16 characters
    p = _PAIRS
    return (_time_part + p[r >> 70] + p[(r >> 60) & 1023] + p[(r >> 50) & 1023] + p[(r >> 40) & 1023]
            + p[(r >> 30) & 1023] + p[(r >> 20) & 1023] + p[(r >> 10) & 1023] + p[r & 1023])


_B32_TABLE = str.maketrans({chr(i): _CROCKFORD[i & 31] for i in range(256)})  # a byte → 5 random bits


class IdBatch:
    """Trace, span and run ids for a burst of runs, drawn from the random source in one read."""

    def __init__(self, count: int, ts: float) -> None:
        self._count = count
        self._ts = ts
        self._hex = ""
        self._b32 = ""
        self._prefix = ""
        self._i = 0

    def take(self) -> tuple[str, str, str]:
        """``(trace_id, span_id, run_id)`` of the next run (the random bytes are read on first use)."""
        if not self._prefix:
            n = self._count
            self._hex = os.urandom(24 * n).hex()  # 16 bytes trace + 8 bytes span per run
            self._b32 = os.urandom(16 * n).decode("latin-1").translate(_B32_TABLE)  # 16 × 5 random bits each
            self._prefix = new_run_id(self._ts)[:10]
        i = self._i
        self._i = i + 1
        h = self._hex[48 * i: 48 * i + 48]
        trace, span = h[:32], h[32:]
        if trace == "0" * 32 or span == "0" * 16:  # pragma: no cover - 2**-64 chance
            trace, span = new_ids()
        return trace, span, self._prefix + self._b32[16 * i: 16 * i + 16]


def traceparent(trace_id: str, span_id: str) -> str:
    """The W3C ``traceparent`` header value for a sampled span."""
    return f"00-{trace_id}-{span_id}-01"


@dataclass(slots=True)
class RunContext:
    """What a ``call`` task may ask for by taking a ``ctx`` parameter."""

    task: str
    run_id: str
    trace_id: str
    scheduled_at: float
    attempt: int = 1
    span_id: str = field(default_factory=new_span_id)
    labels: dict[str, str] = field(default_factory=dict)
    cache: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # the job log's base fields

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` of this attempt."""
        return traceparent(self.trace_id, self.span_id)


CURRENT_RUN: ContextVar[RunContext | None] = ContextVar("cronwatch_current_run", default=None)
"""The run a ``call`` task is executing for (set around the call, also in worker threads)."""


def current_run() -> RunContext | None:
    """The run the calling code executes for, or ``None`` outside a task."""
    return CURRENT_RUN.get()
