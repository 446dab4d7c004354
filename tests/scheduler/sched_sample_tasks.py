"""In-process ``call`` targets used by the scheduler tests (importable as ``sched_sample_tasks``)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import defaultdict
from contextvars import ContextVar
from typing import Any

from scheduler.context import current_run

CALLS: list[tuple[str, int, float]] = []  # (task, attempt, scheduled_at)
FAILS_LEFT: dict[str, int] = defaultdict(int)
GATE: dict[str, asyncio.Event] = {}
THREADS: list[str] = []
SEEN: list[tuple[str, Any, Any, str | None]] = []  # (where, current task, current run, PROBE) in ``introspect``
PROBE: ContextVar[str | None] = ContextVar("sample_probe", default=None)
HOOKS: dict[str, Any] = {}  # task name → a callable(ctx) ``call_hook`` calls before its first await


def reset() -> None:
    """Forget everything recorded."""
    CALLS.clear()
    FAILS_LEFT.clear()
    GATE.clear()
    THREADS.clear()
    SEEN.clear()
    HOOKS.clear()


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


async def introspect(ctx: Any) -> None:
    """Note the current task, run and PROBE before and after a suspension; set PROBE in between."""
    SEEN.append(("entry", asyncio.current_task(), current_run(), PROBE.get()))
    PROBE.set(ctx.run_id)
    await asyncio.sleep(0)
    SEEN.append(("resumed", asyncio.current_task(), current_run(), PROBE.get()))


async def times_out(ctx: Any) -> None:
    """Wait longer than its own ``asyncio.timeout`` allows (TimeoutError)."""
    CALLS.append((ctx.task, ctx.attempt, ctx.scheduled_at))
    async with asyncio.timeout(0.01):
        await asyncio.sleep(30)


async def cancels_itself(ctx: Any) -> None:
    """Cancel its own task before its first await."""
    CALLS.append((ctx.task, ctx.attempt, ctx.scheduled_at))
    task = asyncio.current_task()
    assert task is not None
    task.cancel()
    await asyncio.sleep(0)


async def call_hook(ctx: Any) -> None:
    """Call HOOKS[task](ctx) (e.g. pause or remove the task), then yield once."""
    CALLS.append((ctx.task, ctx.attempt, ctx.scheduled_at))
    hook = HOOKS.get(ctx.task)
    if hook is not None:
        hook(ctx)
    await asyncio.sleep(0)


async def raises_at_once(ctx: Any) -> None:
    """Raise before the first await (the tick's first step ends with the exception)."""
    CALLS.append((ctx.task, ctx.attempt, ctx.scheduled_at))
    raise ValueError(f"no input for {ctx.task}")


class AsyncCallable:
    """An object with an ``async __call__`` (not an ``async def`` function: not made ahead)."""

    async def __call__(self, ctx: Any) -> None:
        CALLS.append((ctx.task, ctx.attempt, ctx.scheduled_at))
        await asyncio.sleep(0)


async_callable = AsyncCallable()


LATENESS: list[float] = []


async def lateness(ctx: Any) -> None:
    """Note how late (wall clock) the call starts after its slot."""
    LATENESS.append(time.time() - ctx.scheduled_at)
