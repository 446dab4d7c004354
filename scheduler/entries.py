"""A task as the run loop holds it: the validated spec compiled (trigger, call target, backoff) plus live state."""

from __future__ import annotations

import asyncio
import contextvars
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cronwatch.retry import Backoff
from scheduler.context import RunContext
from scheduler.decisions import lock_ttl_ms
from scheduler.eager import Started
from scheduler.execute import CallTarget
from scheduler.metrics import TaskMetrics
from scheduler.model import TaskSpec, resolve_call
from scheduler.triggers import CronTrigger, EveryTrigger, parse_schedule

Source = Literal["config", "api"]


@dataclass(slots=True)
class Armed(Started):
    """A run prepared ahead of its slot: its task waits on the slot's gate; ``go`` says whether to run.

    ``after`` is the task's slot after this one (worked out ahead too, so the tick need not).
    ``started`` is the call's first step when the tick started it inline (at ``start``) in the task's
    ``context`` (:mod:`scheduler.eager`).

    For an ``async def`` call (:attr:`CallTarget.plain`) everything that does not depend on the start
    is made ahead as well: the coroutine (``coro``, not started: calling an ``async def`` runs none of
    its code) and ``send`` to start it, ``CURRENT_RUN`` set in ``context`` (its token in ``token``),
    the ``task.started`` record's fields (``record``, all but the start time), the tick's bookkeeping
    item (``fired``) and ``limit``: the run is on time while the clock is before it (the next slot
    and the misfire grace allow it). The tick then starts the coroutine and keeps what its first step
    ended with in this object, which is also the :class:`Started` the run's task awaits (one object
    per run to touch in a burst, not two). A coroutine the tick did not start is closed by the run's
    task (:meth:`discard`)."""

    slot: float
    ctx: RunContext
    after: float | None
    go: bool = False
    task: asyncio.Task[None] | None = None
    gate: asyncio.Future[bool] | None = None
    context: contextvars.Context | None = None
    start: float = 0.0
    started: Started | None = None
    coro: Any = None
    send: Callable[[Any, None], Any] | None = None  # ``CoroutineType.send`` (unbound) when ``coro`` is set
    limit: float = -math.inf
    record: tuple[Any, ...] = ()
    fired: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        Started.__init__(self)

    def discard(self) -> None:
        """Close the coroutine made ahead if the tick did not start it (no "never awaited" warning)."""
        coro, self.coro, self.send = self.coro, None, None
        if coro is not None:
            coro.close()


@dataclass(slots=True)
class TaskEntry:
    """A task the loop knows about, with its live state."""

    spec: TaskSpec
    trigger: CronTrigger | EveryTrigger
    source: Source
    call: CallTarget | None
    backoff: Backoff
    ttl_ms: int
    grace: float
    m: TaskMetrics | None = None
    paused: bool = False
    gen: int = 0
    next_fire: float | None = None
    last_slot: float | None = None
    running: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    live: dict[str, RunContext] = field(default_factory=dict)
    armed: Armed | None = None
    name: str = ""
    schedule: str = ""
    attempts: int = 1
    fast: bool = False  # an ``async`` call without a time limit: its first attempt runs inline

    def __post_init__(self) -> None:
        self.name = self.spec.name
        self.schedule = self.spec.schedule
        self.attempts = self.spec.retries.attempts
        self.fast = self.call is not None and self.call.is_async and self.spec.timeout is None


def compile_task(spec: TaskSpec, source: Source) -> TaskEntry:
    """Parse the schedule and resolve the call target of a validated spec."""
    trigger = parse_schedule(spec.schedule, spec.timezone)
    call = CallTarget.of(resolve_call(spec.call)) if spec.call else None
    r = spec.retries
    return TaskEntry(
        spec=spec, trigger=trigger, source=source, call=call,
        backoff=Backoff(r.initial.total_seconds(), r.max.total_seconds(), r.multiplier),
        ttl_ms=lock_ttl_ms(spec.timeout_s),
        grace=spec.misfire_grace.total_seconds(),
    )
