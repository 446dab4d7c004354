"""Identity of a run: trace id, span id, run id (a ULID) and the context a ``call`` task sees."""

from __future__ import annotations

import os
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_trace_id() -> str:
    """32 lowercase hex characters (W3C trace-id), never all zeros."""
    while True:
        tid = os.urandom(16).hex()
        if tid != "0" * 32:
            return tid


def new_span_id() -> str:
    """16 lowercase hex characters (W3C parent-id)."""
    while True:
        sid = os.urandom(8).hex()
        if sid != "0" * 16:
            return sid


def new_run_id(ts: float | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32 (sortable by start)."""
    ms = int((time.time() if ts is None else ts) * 1000) & ((1 << 48) - 1)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def traceparent(trace_id: str, span_id: str) -> str:
    """The W3C ``traceparent`` header value for a sampled span."""
    return f"00-{trace_id}-{span_id}-01"


@dataclass
class RunContext:
    """What a ``call`` task may ask for by taking a ``ctx`` parameter."""

    task: str
    run_id: str
    trace_id: str
    scheduled_at: float
    attempt: int = 1
    span_id: str = field(default_factory=new_span_id)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` of this attempt."""
        return traceparent(self.trace_id, self.span_id)


CURRENT_RUN: ContextVar[RunContext | None] = ContextVar("cronwatch_current_run", default=None)
"""The run a ``call`` task is executing for (set around the call, also in worker threads)."""


def current_run() -> RunContext | None:
    """The run the calling code executes for, or ``None`` outside a task."""
    return CURRENT_RUN.get()
