"""The run loop: one asyncio loop, a heap of next-fire times, capped sleeps re-checking the wall clock.

The loop is the only place that reads the clock for scheduling; every decision (which slot runs,
which are missed, what an overlap does) is a pure function in :mod:`scheduler.decisions`. Each
run is an asyncio task driven by :mod:`scheduler.runs`. Sleeps are capped at 30 s, so a wall
clock step (NTP, suspend) is noticed within 30 s and slots lost to it are logged as missed.
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from cronwatch.clock import SYSTEM_CLOCK, Clock, SystemClock
from cronwatch.retry import Backoff
from scheduler.context import IdBatch, RunContext
from scheduler.decisions import first_slot, lock_ttl_ms, overlap, plan_slots
from scheduler.errors import TaskExists, TaskNotFound, TaskReadOnly
from scheduler.execute import CallTarget
from scheduler.joblog import JobLog, lifecycle_record
from scheduler.locks import LocalLocks, Locks
from scheduler.metrics import SchedulerMetrics, TaskMetrics
from scheduler.model import TaskSpec, resolve_call
from scheduler.runs import RunDriver
from scheduler.state import StateStore
from scheduler.triggers import CronTrigger, EveryTrigger, parse_schedule

log = logging.getLogger("cronwatch.scheduler")
MAX_SLEEP = 30.0
SPIN = 0.002
Source = Literal["config", "api"]


@dataclass
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

    @property
    def name(self) -> str:
        """The task's name."""
        return self.spec.name


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


class Scheduler:
    """Fires tasks on their schedules; add/update/remove/pause at any time (from the loop's thread)."""

    def __init__(self, joblog: JobLog, *, state: StateStore | None = None, locks: Locks | None = None,
                 metrics: SchedulerMetrics | None = None, clock: Clock = SYSTEM_CLOCK,
                 max_line_bytes: int = 32768, max_threads: int = 32) -> None:
        self.joblog = joblog
        self.state = state
        self.locks: Locks = locks or LocalLocks()
        self.metrics = metrics or SchedulerMetrics()
        self.clock = clock
        self.tasks: dict[str, TaskEntry] = {}
        self.executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="cronwatch-call")
        self.driver = RunDriver(self, max_line_bytes)
        self._heap: list[tuple[float, int, str, int]] = []
        self._seq = itertools.count()
        self._unscheduled: set[str] = set()
        self._sleeper: asyncio.Future[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._gc_rounds = 0
        self._restored: dict[str, float] = {}
        self._paused_names: set[str] = set()
        self.last_tick: float | None = None
        self.started = asyncio.Event()
        self.housekeeping: list[Callable[[float], None]] = []

    # -- task management -----------------------------------------------------------------------
    def restore(self) -> list[TaskSpec]:
        """Read state: last fired slots, paused flags; returns the API-added task specs to add."""
        if self.state is None:
            return []
        self._restored = self.state.last_slots()
        self._paused_names = self.state.paused()
        for entry in self.tasks.values():  # tasks added before the state was read
            entry.last_slot = self._restored.get(entry.name, entry.last_slot)
            entry.paused = entry.name in self._paused_names
            self._reschedule(entry)
        return [TaskSpec.model_validate(spec) for spec in self.state.api_tasks().values()]

    def add(self, spec: TaskSpec, source: Source = "config", *, persist: bool = False) -> TaskEntry:
        """Add a task; it is scheduled at the loop's next tick. A duplicate name is :class:`TaskExists`."""
        if spec.name in self.tasks:
            raise TaskExists(f'task "{spec.name}" already exists')
        entry = compile_task(spec, source)
        entry.paused = spec.name in self._paused_names
        entry.last_slot = self._restored.get(spec.name)
        self.tasks[spec.name] = entry
        entry.m = self.metrics.add_task(spec.name, next_run=lambda: self._next_fire(spec.name),
                                        running=lambda: self._running(spec.name))
        if persist and self.state is not None:
            self.state.save_task(spec.name, spec.model_dump(mode="json"), 0.0)
        self._reschedule(entry)
        return entry

    def update(self, spec: TaskSpec, *, source: Source | None = None, persist: bool = False) -> TaskEntry:
        """Replace a task's spec (running runs finish under the old one)."""
        old = self.get(spec.name)
        if source is None and old.source == "config":
            raise TaskReadOnly(f'task "{spec.name}" is defined in the config file; edit the file instead')
        entry = compile_task(spec, old.source if source is None else source)
        entry.paused, entry.last_slot = old.paused, old.last_slot
        entry.running, entry.live, entry.gen, entry.m = old.running, old.live, old.gen, old.m
        self.tasks[spec.name] = entry
        if persist and self.state is not None:
            self.state.save_task(spec.name, spec.model_dump(mode="json"), 0.0)
        self._reschedule(entry)
        return entry

    def remove(self, name: str, *, source: Source | None = None, persist: bool = False) -> None:
        """Remove a task (its running runs finish)."""
        entry = self.get(name)
        if source is None and entry.source == "config":
            raise TaskReadOnly(f'task "{name}" is defined in the config file; edit the file instead')
        del self.tasks[name]
        entry.gen += 1
        self.metrics.remove_task(name)
        if persist and self.state is not None:
            self.state.delete_task(name)

    def get(self, name: str) -> TaskEntry:
        """The task called ``name`` or :class:`TaskNotFound`."""
        try:
            return self.tasks[name]
        except KeyError:
            raise TaskNotFound(f'no task named "{name}"') from None

    def pause(self, name: str) -> TaskEntry:
        """Stop firing a task until resumed (paused slots are not "missed")."""
        entry = self.get(name)
        entry.paused = True
        entry.gen += 1
        entry.next_fire = None
        if self.state is not None:
            self.state.set_paused(name, True)
        return entry

    def resume(self, name: str) -> TaskEntry:
        """Fire a paused task again from the next slot after now."""
        entry = self.get(name)
        if entry.paused:
            entry.paused = False
            entry.last_slot = None  # slots during the pause were skipped on purpose
            if self.state is not None:
                self.state.set_paused(name, False)
            self._reschedule(entry)
        return entry

    def run_now(self, name: str) -> RunContext:
        """Start a run immediately (outside the schedule); the overlap policy still applies."""
        entry = self.get(name)
        now = self.clock.time()
        ctx = self._start(entry, now, now, "manual", IdBatch(1, now))
        return ctx

    def _next_fire(self, name: str) -> float:
        entry = self.tasks.get(name)
        return entry.next_fire or 0.0 if entry is not None else 0.0

    def _running(self, name: str) -> float:
        entry = self.tasks.get(name)
        return float(len(entry.live)) if entry is not None else 0.0

    def _reschedule(self, entry: TaskEntry) -> None:
        entry.gen += 1
        entry.next_fire = None
        if not entry.paused and entry.spec.enabled:
            self._unscheduled.add(entry.name)
            self.wake()

    # -- the loop ------------------------------------------------------------------------------
    def wake(self) -> None:
        """Make the loop re-check now (a task was added or changed)."""
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.cancel()

    async def run(self) -> None:
        """Fire tasks until :meth:`stop`."""
        self._loop = asyncio.get_running_loop()
        self.driver.attach(self._loop)
        gc.collect()
        gc.freeze()  # tasks, metrics and modules live for the whole run: keep them out of every GC pass
        was_enabled = gc.isenabled()
        gc.disable()  # collections happen in idle time (see _collect_garbage), not inside a burst of runs
        self.started.set()
        try:
            while not self._stopping:
                now = self.clock.time()
                self.tick(now)
                self.last_tick = now
                for hook in self.housekeeping:
                    hook(now)
                self.driver.flush_log()
                if self._unscheduled:
                    wake_at = now
                else:
                    wake_at = min(self._heap[0][0], now + MAX_SLEEP) if self._heap else now + MAX_SLEEP
                self._sleeper = asyncio.ensure_future(self._sleep_until(wake_at))
                await asyncio.wait([self._sleeper])
                self._sleeper = None
        finally:
            if was_enabled:
                gc.enable()

    async def _sleep_until(self, wake_at: float) -> None:
        # The delay is measured when this task starts, not when it was created: a burst of runs
        # queued by the tick runs first and must not push the next wake-up back. The event loop
        # wakes up to ~1 ms late (epoll has millisecond resolution), so the last 2 ms are spent
        # yielding to the loop instead of sleeping.
        clock = self.clock
        await asyncio.sleep(0)  # let the runs just started go first
        self._collect_garbage(wake_at - clock.time())
        delay = wake_at - clock.time()
        if delay > SPIN:
            await clock.sleep(delay - SPIN)
        while clock.time() < wake_at and self._sleeper is not None and not self._sleeper.cancelled():
            if isinstance(clock, SystemClock):
                await asyncio.sleep(0)
            else:
                await clock.sleep(max(wake_at - clock.time(), 0.0))

    def _collect_garbage(self, idle: float) -> None:
        """Collect in idle time (next slot ≥ 50 ms away), or anyway when allocations pile up."""
        pending = gc.get_count()[0]
        if (idle >= 0.05 and pending > 2000) or pending > 500_000:
            self._gc_rounds += 1
            gc.collect(2 if self._gc_rounds % 50 == 0 else 1 if self._gc_rounds % 5 == 0 else 0)

    def tick(self, now: float) -> None:
        """Schedule new tasks and fire every slot due at ``now``."""
        if self._unscheduled:
            for name in self._unscheduled:
                entry = self.tasks.get(name)
                if entry is not None and not entry.paused and entry.spec.enabled:
                    self._push(entry, first_slot(entry.trigger, entry.last_slot, now))
            self._unscheduled.clear()
        heap = self._heap
        due: list[tuple[TaskEntry, float]] = []
        while heap and heap[0][0] <= now:
            slot, _, name, gen = heapq.heappop(heap)
            entry = self.tasks.get(name)
            if entry is not None and entry.gen == gen:
                due.append((entry, slot))
        if due:
            ids = IdBatch(len(due), now)
            for entry, slot in due:
                self._fire(entry, slot, now, ids)

    def _push(self, entry: TaskEntry, slot: float | None) -> None:
        entry.next_fire = slot
        if slot is not None:
            heapq.heappush(self._heap, (slot, next(self._seq), entry.name, entry.gen))

    def _fire(self, entry: TaskEntry, slot: float, now: float, ids: IdBatch) -> None:
        after = entry.trigger.next_after(slot)
        if after is not None and after > now and now - slot <= entry.grace:
            # the common case, kept lean: only this slot is due and it is on time
            self._start(entry, slot, now, "schedule", ids)
            entry.last_slot = slot
            if self.state is not None:
                self.state.note_slot(entry.name, slot)
            self._push(entry, after)
            return
        spec = entry.spec
        plan = plan_slots(entry.trigger, slot, now, entry.grace, spec.catch_up)
        if plan.missed:
            self.driver.log_missed(entry, plan, now)
        if plan.run is not None:
            self._start(entry, plan.run, now, "catch_up" if plan.late else "schedule", ids)
        last = plan.run if plan.run is not None else plan.missed_last
        if last is not None:
            entry.last_slot = last
            if self.state is not None:
                self.state.note_slot(entry.name, last)
        self._push(entry, plan.next)

    def _start(self, entry: TaskEntry, slot: float, now: float, trigger: str, ids: IdBatch) -> RunContext:
        trace_id, span_id, run_id = ids.take()
        ctx = RunContext(entry.name, run_id, trace_id, slot, 1, span_id, entry.spec.labels)
        # only runs that hold their slot count as running: one still waiting for another replica's lock
        # must not make this replica skip its next slot
        decision = overlap(entry.spec.concurrency, len(entry.live))
        if decision == "skip":
            self.driver.log_skipped(entry, ctx, now)
            return ctx
        if decision == "replace":
            for run_id in list(entry.live):
                task = entry.running.get(run_id)
                if task is not None:
                    self.driver.cancel_reasons[run_id] = "replaced by a newer run (concurrency: replace)"
                    task.cancel()
        loop = self._loop or asyncio.get_running_loop()
        task = loop.create_task(self.driver.run(entry, ctx, trigger))
        entry.running[ctx.run_id] = task  # RunDriver.run removes it when it ends
        if isinstance(self.locks, LocalLocks):
            entry.live[ctx.run_id] = ctx  # granted at once; RunDriver adds it after taking a shared lock
        return ctx

    # -- shutdown ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop starting runs (the loop returns at its next wake-up)."""
        self._stopping = True
        self.wake()

    async def drain(self, grace: float) -> None:
        """Let running runs finish within ``grace`` seconds, then cancel (kill) the rest and log it."""
        self.stop()
        tasks = [t for e in self.tasks.values() for t in e.running.values()]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for e in self.tasks.values():
                for run_id, t in e.running.items():
                    if t in pending:
                        self.driver.cancel_reasons[run_id] = f"scheduler shutting down (grace {grace:g}s elapsed)"
                        t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=30)
        self.driver.flush_log()
        if self.state is not None:
            self.state.flush()
        self.executor.shutdown(wait=False, cancel_futures=True)


def missed_record(entry: TaskEntry, ctx: RunContext, host: str, now: float, message: str,
                  extra: dict[str, Any]) -> dict[str, Any]:
    """A ``task.missed`` record."""
    return lifecycle_record("task.missed", ctx, entry.spec.schedule, host, now, message, extra=extra)
