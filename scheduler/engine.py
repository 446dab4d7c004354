"""The run loop: one asyncio loop, a heap of next-fire times, capped sleeps re-checking the wall clock.

The loop is the only place that reads the clock for scheduling; every decision (which slot runs,
which are missed, what an overlap does) is a pure function in :mod:`scheduler.decisions`. Each
run is an asyncio task driven by :mod:`scheduler.runs`. Sleeps are capped at 30 s, so a wall
clock step (NTP, suspend) is noticed within 30 s and slots lost to it are logged as missed.

A tick is split so that the last run of a burst starts as early as possible. In idle time before a
slot, :meth:`Scheduler._arm` prepares its runs: ids, context, a parked task and, for an ``async def``
call, the coroutine itself, ``CURRENT_RUN`` set in the run's context, the ``task.started`` record's
fields and the tick's bookkeeping item. The loop wakes a little before the slot and arrives at it
exactly (:meth:`Scheduler._arrive`: never before it). :meth:`Scheduler._release` then only starts
the due runs: for a prepared call, mark it released, take the time, and run its coroutine up to its
first suspension as its own task (see :mod:`scheduler.eager`). The runs' ``running``/``live``
entries (:meth:`Scheduler._enlist`), the state rows and next slots (:meth:`Scheduler._settle`), the
job log records, metrics and history all come after every run of the burst has started.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import heapq
import logging
import time as _time
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cronwatch.clock import SYSTEM_CLOCK, Clock, SystemClock
from scheduler import eager
from scheduler.context import CURRENT_RUN, IdBatch, RunContext
from scheduler.decisions import first_slot, overlap, plan_slots
from scheduler.entries import Armed, Source, TaskEntry, compile_task
from scheduler.errors import TaskExists, TaskNotFound, TaskReadOnly
from scheduler.joblog import JobLog
from scheduler.locks import LocalLocks, Locks
from scheduler.metrics import SchedulerMetrics
from scheduler.model import TaskSpec
from scheduler.runs import RunDriver
from scheduler.state import StateStore

log = logging.getLogger("cronwatch.scheduler")
MAX_SLEEP = 30.0
LEAD = 0.005  # the loop wakes this long before a slot, then arrives at it exactly (Scheduler._arrive)
BLOCK = 0.0055  # the last stretch before a slot is one precise sleep of at most this long
TIGHT = 0.00025  # the last stretch before a slot is waited for without yielding to the event loop
ARM_AHEAD = 2.0
Fired = tuple[TaskEntry, int, float, "float | None"]  # (entry, its generation, the slot fired, the next slot)
_SEND = types.CoroutineType.send  # unbound: no bound method kept per prepared run
_SCHEDULED = {"trigger": "schedule"}  # ``extra`` of the task.started records of scheduled runs (never changed)


class Scheduler:
    """Fires tasks on their schedules; add/update/remove/pause at any time (from the loop's thread)."""

    def __init__(self, joblog: JobLog, *, state: StateStore | None = None, locks: Locks | None = None,
                 metrics: SchedulerMetrics | None = None, clock: Clock = SYSTEM_CLOCK,
                 max_line_bytes: int = 32768, max_threads: int = 32, manage_gc: bool = False) -> None:
        self.joblog = joblog
        self.state = state
        self.locks: Locks = locks or LocalLocks()
        self.metrics = metrics or SchedulerMetrics()
        self.clock = clock
        self.manage_gc = manage_gc  # the process is ours (the service): garbage is collected in idle time
        self.tasks: dict[str, TaskEntry] = {}
        self.executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="cronwatch-call")
        self.driver = RunDriver(self, max_line_bytes)
        # due times: a heap of distinct slots, and per slot each task due then with its generation when
        # scheduled, in the order they were scheduled (thousands of tasks sharing a slot cost one heap
        # operation). An entry whose generation moved on (paused, changed, removed) is skipped.
        self._heap: list[float] = []
        self._due: dict[float, list[tuple[TaskEntry, int]]] = {}
        self._unscheduled: set[str] = set()
        self._sleeper: asyncio.Future[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._gc_rounds = 0
        self._burst: list[Fired | Armed] | None = None  # what _release fired so far, while it runs
        self._enlisted = 0
        self._gates: dict[float, list[asyncio.Future[bool]]] = {}  # per slot, the gates of its armed runs
        self._pushed_at = 0.0
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
            self.state.save_task(spec.name, spec.model_dump(mode="json"), self.clock.time())
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
        old.gen += 1  # what was scheduled for the old entry is stale
        self.tasks[spec.name] = entry
        if persist and self.state is not None:
            self.state.save_task(spec.name, spec.model_dump(mode="json"), self.clock.time())
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
        was_enabled = gc.isenabled()
        if self.manage_gc:
            gc.collect()
            gc.freeze()  # tasks, metrics and modules live for the whole run: keep them out of every GC pass
            gc.disable()  # collections happen in idle time (see _collect_garbage), not inside a burst of runs
        self.started.set()
        try:
            while not self._stopping:
                now = self.clock.time()
                fired = self._release(now)
                if fired:
                    try:
                        await asyncio.sleep(0)  # the runs just released start first; bookkeeping waits for them
                    finally:
                        self._settle(fired)
                self.last_tick = now
                for hook in self.housekeeping:
                    hook(now)
                self.driver.flush_log()
                if self._unscheduled:
                    wake_at = now
                else:
                    wake_at = min(self._heap[0], now + MAX_SLEEP) if self._heap else now + MAX_SLEEP
                self._sleeper = sleeper = asyncio.ensure_future(self._sleep_until(wake_at))
                await asyncio.wait([sleeper])
                self._sleeper = None
                if not sleeper.cancelled() and type(self.clock) is SystemClock:
                    await self._arrive(wake_at)
        finally:
            if was_enabled and self.manage_gc:
                gc.enable()

    async def _sleep_until(self, wake_at: float) -> None:
        # The delay is measured when this task starts, not when it was created: a burst of runs
        # queued by the tick runs first and must not push the next wake-up back. On the system clock
        # this returns a little before ``wake_at``; the run loop then arrives at it exactly (_arrive).
        clock = self.clock
        await asyncio.sleep(0)  # let the runs just started go first
        self._collect_garbage(wake_at - clock.time())
        if type(clock) is SystemClock:
            delay = wake_at - LEAD - clock.time()
            if delay > 0:
                await clock.sleep(delay)
            return
        while clock.time() < wake_at:
            await clock.sleep(max(wake_at - clock.time(), 0.0))

    async def _arrive(self, wake_at: float) -> None:
        """Reach ``wake_at`` on the wall clock to within microseconds, never before it.

        The event loop wakes up to 2 ms late (epoll counts whole milliseconds; later still when the
        machine is busy), so the loop sleeps until :data:`LEAD` before the next slot and comes here:
        the last stretch (at most :data:`BLOCK`) is one precise ``time.sleep`` (a sleeping process is
        also the one the kernel lets run first when it wakes; one that spins has used up that credit),
        and the final :data:`TIGHT` seconds are spent checking the clock. A task added or a stop asked
        for meanwhile ends the wait at once (nothing can run before its slot: :meth:`_release`
        compares with the clock)."""
        now, mono = _time.time, _time.perf_counter
        limit = mono() + LEAD + 0.1  # should the wall clock step back meanwhile: sleep again
        while True:
            left = wake_at - now()
            if left <= TIGHT:
                break
            if self._unscheduled or self._stopping or mono() > limit:
                return
            if left <= BLOCK:
                _time.sleep(left - TIGHT)  # noqa: ASYNC251 - on purpose: at most BLOCK seconds, once per slot
                break
            await asyncio.sleep(min(left - BLOCK, LEAD))
        limit = mono() + 2 * TIGHT + 0.001
        while now() < wake_at and mono() < limit:
            pass

    def _collect_garbage(self, idle: float) -> None:
        """Idle-time chores (next slot ≥ 50 ms away): hand state writes to the writer thread and
        collect garbage, so neither competes with a burst of runs for the GIL; done anyway when
        work piles up."""
        state = self.state
        now = self.clock.time()
        writes = state.pending() if state is not None else 0
        if writes and (idle >= 0.05 or writes > 20_000 or now - self._pushed_at > 1.0):
            assert state is not None
            state.push()
            self._pushed_at = now
        if idle >= 0.05:
            self._arm(now)
        if not self.manage_gc:
            return
        pending = gc.get_count()[0]
        if (idle >= 0.05 and pending > 2000) or pending > 500_000:
            self._gc_rounds += 1
            gc.collect(2 if self._gc_rounds % 50 == 0 else 1 if self._gc_rounds % 5 == 0 else 0)

    def _arm(self, now: float) -> None:
        """Prepare the runs of slots due within ``ARM_AHEAD`` s (in idle time): ids, context and a task
        parked on a gate of its own, in a copy of the context of its own. At the slot the tick says
        "go", starts the call of an ``async`` task as that task, and opens the gates after the burst.
        A run that is not released (paused, changed, skipped, late) wakes with its gate and ends
        without a trace."""
        heap = self._heap
        horizon = now + ARM_AHEAD
        if not heap or heap[0] > horizon:
            return
        todo = []
        for slot in heap:
            if slot <= horizon:
                for entry, gen in self._due[slot]:
                    if entry.gen == gen and (entry.armed is None or entry.armed.slot != slot):
                        todo.append((entry, slot))
        if not todo:
            return
        loop = self._loop or asyncio.get_running_loop()
        ids = IdBatch(len(todo), now)
        run_armed = self.driver.run_armed
        ahead = eager.SUPPORTED and isinstance(self.locks, LocalLocks)  # the tick may start calls itself
        for entry, slot in todo:
            gates = self._gates.get(slot)
            if gates is None:
                gates = self._gates[slot] = []
            trace_id, span_id, run_id = ids.take()
            ctx = RunContext(entry.name, run_id, trace_id, slot, 1, span_id, entry.spec.labels)
            armed = Armed(slot, ctx, entry.trigger.next_after(slot))
            entry.armed = armed
            armed.gate = gate = loop.create_future()
            gates.append(gate)
            armed.context = context = contextvars.copy_context()
            armed.fired = (entry, entry.gen, slot, armed.after)
            call = entry.call
            if ahead and entry.fast and call is not None and call.plain:
                armed.token = context.run(CURRENT_RUN.set, ctx)  # type: ignore[misc]  # a slot of Started
                armed.coro = call.fn(ctx) if call.wants_ctx else call.fn()
                armed.send = _SEND
                armed.record = (ctx, span_id, entry.schedule, 0.0, 1, entry.attempts, _SCHEDULED)
                if armed.after is not None:  # a hair early: at the edge the tick decides the slow way
                    armed.limit = min(armed.after, slot + entry.grace - 1e-6)
            armed.task = asyncio.Task(run_armed(entry, armed, gate), loop=loop, context=context)

    def _open_gates(self, now: float) -> None:
        for slot in [s for s in self._gates if s <= now]:
            for gate in self._gates.pop(slot):
                if not gate.done():
                    gate.set_result(True)

    def _release(self, now: float) -> list[Fired | Armed]:
        """Start every run due at ``now`` with as little work per run as possible; return the on-time
        runs whose bookkeeping (state, next slot) :meth:`_settle` does once they have all started."""
        if self._unscheduled:
            for name in self._unscheduled:
                entry = self.tasks.get(name)
                if entry is not None and not entry.paused and entry.spec.enabled:
                    self._push(entry, first_slot(entry.trigger, entry.last_slot, now))
            self._unscheduled.clear()
        heap = self._heap
        fired: list[Fired | Armed] = []
        if not heap or heap[0] > now:
            return fired
        buckets: list[tuple[float, list[tuple[TaskEntry, int]]]] = []
        while heap and heap[0] <= now:
            slot = heapq.heappop(heap)
            buckets.append((slot, self._due.pop(slot)))
        ids = IdBatch(sum(len(b) for _, b in buckets), now)
        local = isinstance(self.locks, LocalLocks)
        loop: Any = self._loop
        inline = local and eager.SUPPORTED and loop is not None
        current = asyncio.current_task(loop) if inline else None
        clock = self.clock
        time = _time.time if type(clock) is SystemClock else clock.time
        started_record, first_step = self.driver.queue_started, eager.first_step
        fired_append = fired.append
        enter, leave = eager.enter_task, eager.leave_task
        self._burst, self._enlisted = fired, 0
        if current is not None:
            leave(loop, current)  # each call started below runs as its own run's task
        try:
            for slot, bucket in buckets:
                for entry, gen in bucket:
                    if entry.gen != gen:
                        continue
                    armed = entry.armed
                    if armed is not None and armed.slot == slot:
                        send = armed.send
                        if send is not None and inline and now < armed.limit and not entry.live:
                            # the hot path: everything but the start itself was prepared by _arm; the run
                            # is entered in entry.running/live right after the burst (_enlist)
                            armed.go = True  # its task is parked on its gate, opened after the burst
                            entry.armed = None
                            armed.start = time()
                            started_record(armed)  # the task.started record, built at flush time
                            armed.started = armed
                            own = armed.task
                            enter(loop, own)
                            try:
                                armed._yielded = armed.context.run(send, armed.coro, None)  # type: ignore[union-attr]
                                armed._it = armed.coro
                            except StopIteration as stop:
                                armed._result = stop.value
                            except BaseException as exc:  # delivered where the run awaits the call
                                armed._exc = exc  # type: ignore[misc]  # a slot of Started
                            leave(loop, own)
                            armed.coro = armed.send = None
                            entry.last_slot = slot
                            fired_append(armed)  # stands for armed.fired
                            continue
                        after = armed.after
                    else:
                        after = entry.trigger.next_after(slot)
                    if after is None or after <= now or now - slot > entry.grace:
                        self._fire_late(entry, slot, now, ids)
                        continue
                    task = armed.task if armed is not None and armed.slot == slot else None
                    if task is not None and not entry.live:
                        assert armed is not None
                        armed.go = True  # its task is parked on its gate, opened below
                        entry.armed = None
                        ctx = armed.ctx
                        entry.running[ctx.run_id] = task  # RunDriver.run removes it when it ends
                        if local:
                            entry.live[ctx.run_id] = ctx
                        call, context = entry.call, armed.context
                        if inline and entry.fast and call is not None and context is not None:
                            # start the call right here, as its task; the task continues it after the burst
                            armed.start = start = time()
                            started_record((ctx, ctx.span_id, entry.schedule, start, 1, entry.attempts, _SCHEDULED))
                            armed.started = context.run(first_step, armed, None, call.fn,
                                                        (ctx,) if call.wants_ctx else ())
                    else:
                        self._start(entry, slot, now, "schedule", ids)
                    entry.last_slot = slot
                    fired_append((entry, gen, slot, after))
        finally:
            if current is not None:
                enter(loop, current)
            self._enlist()
            self._burst = None
        if inline:
            self.driver.schedule_flush()
        if self._gates:
            self._open_gates(now)
        return fired

    def _enlist(self) -> None:
        """Enter the runs the hot path of :meth:`_release` started so far in their task's ``running`` and
        ``live``: after the burst, and before anything of it looks at them (:meth:`_start`)."""
        fired = self._burst
        if fired is None or self._enlisted >= len(fired):
            return
        for item in fired[self._enlisted:]:
            if type(item) is Armed:
                entry, ctx = item.fired[0], item.ctx
                entry.running[ctx.run_id] = item.task  # RunDriver.run removes it when it ends
                entry.live[ctx.run_id] = ctx
        self._enlisted = len(fired)

    def _settle(self, fired: list[Fired | Armed]) -> None:
        """After a burst has started: note the fired slots and schedule each task's next slot."""
        state = self.state
        for item in fired:
            entry, gen, slot, after = item.fired if isinstance(item, Armed) else item
            if state is not None:
                state.note_slot(entry.name, slot)
            if entry.gen == gen:  # not paused, removed or changed meanwhile
                self._push(entry, after)

    def _push(self, entry: TaskEntry, slot: float | None) -> None:
        entry.next_fire = slot
        if slot is not None:
            bucket = self._due.get(slot)
            if bucket is None:
                self._due[slot] = [(entry, entry.gen)]
                heapq.heappush(self._heap, slot)
            else:
                bucket.append((entry, entry.gen))

    def _fire_late(self, entry: TaskEntry, slot: float, now: float, ids: IdBatch) -> None:
        """A slot that is late or not the only one due: plan which run and which are missed."""
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
        if self._burst is not None:  # called during a burst (late slot, or by a call's first step)
            self._enlist()
        armed = entry.armed
        if armed is None or armed.slot != slot or trigger != "schedule":
            armed = None  # not the run prepared for this slot
        if armed is not None:
            ctx = armed.ctx
        else:
            trace_id, span_id, run_id = ids.take()
            ctx = RunContext(entry.name, run_id, trace_id, slot, 1, span_id, entry.spec.labels)
        # only runs that hold their slot count as running: one still waiting for another replica's lock
        # must not make this replica skip its next slot
        decision = overlap(entry.spec.concurrency, len(entry.live)) if entry.live else "run"
        if decision == "skip":
            self.driver.log_skipped(entry, ctx, now)
            return ctx
        if decision == "replace":
            for run_id in list(entry.live):
                task = entry.running.get(run_id)
                if task is not None:
                    self.driver.cancel_reasons[run_id] = "replaced by a newer run (concurrency: replace)"
                    task.cancel()
        if armed is not None:
            assert armed.task is not None  # _arm parks a task for every prepared run
            armed.go = True  # its task is parked on the slot's gate, which the tick opens next
            entry.armed = None
            task = armed.task
        else:
            task = asyncio.Task(self.driver.run(entry, ctx, trigger), loop=self._loop or asyncio.get_running_loop())
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
        for gates in self._gates.values():  # armed runs that were never released end quietly
            for gate in gates:
                if not gate.done():
                    gate.set_result(False)
        self._gates.clear()
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
