"""In-process ``call`` targets used by the scheduler tests (importable as ``sched_sample_tasks``)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import defaultdict
from typing import Any

CALLS: list[tuple[str, int, float]] = []  # (task, attempt, scheduled_at)
FAILS_LEFT: dict[str, int] = defaultdict(int)
GATE: dict[str, asyncio.Event] = {}
THREADS: list[str] = []


def reset() -> None:
    """Forget everything recorded."""
    CALLS.clear()
    FAILS_LEFT.clear()
    GATE.clear()
    THREADS.clear()


async def record(ctx: Any) -> None:
    """Record the call."""
    CALLS.append((ctx.task, ctx.attempt, ctx.scheduled_at))


async def flaky(ctx: Any) -> None:
    """Fail while FAILS_LEFT[task] > 0, then succeed."""
    CALLS.append((ctx.task, ctx.attempt, ctx.scheduled_at))
    if FAILS_LEFT[ctx.task] > 0:
        FAILS_LEFT[ctx.task] -= 1
        raise ConnectionError("database unreachable")


async def boom() -> None:
    """Always raise (takes no ctx)."""
    raise ValueError("bad value")


async def gated(ctx: Any) -> None:
    """Wait until the test opens GATE[task]."""
    CALLS.append((ctx.task, ctx.attempt, ctx.scheduled_at))
    await GATE.setdefault(ctx.task, asyncio.Event()).wait()


def sync_logging(ctx: Any) -> None:
    """A sync task (run in a thread) that logs through the logging module."""
    THREADS.append(threading.current_thread().name)
    logging.getLogger("sample.sync").warning("working on %s", ctx.task)


def exits() -> None:
    """A task calling sys.exit must not stop the scheduler."""
    raise SystemExit(3)


def append_slot(ctx: Any) -> None:
    """Append "task slot_ms pid" to the file named by $SLOT_FILE (used by the replica tests)."""
    line = f"{ctx.task} {round(ctx.scheduled_at * 1000)} {os.getpid()}\n".encode()
    fd = os.open(os.environ["SLOT_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
