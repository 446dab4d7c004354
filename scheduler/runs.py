"""One run of a task from lock to last record: attempts, retries with backoff, timeouts, records, metrics.

Records of the event-loop thread are batched per loop iteration and appended with one ``write``
holding only complete lines (so a tailer never sees half a record); records from worker
threads are written at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from scheduler.context import CURRENT_RUN, RunContext, new_span_id
from scheduler.decisions import SlotPlan
from scheduler.eager import Started
from scheduler.errors import LockError
from scheduler.execute import AttemptResult, error_from_exception, run_call, run_command
from scheduler.joblog import base_record, lifecycle_record
from scheduler.locks import Lease, LocalLocks
from scheduler.output import OutputRecords
from scheduler.state import RunRow

if TYPE_CHECKING:
    from scheduler.engine import Scheduler
    from scheduler.entries import Armed, TaskEntry

log = logging.getLogger("cronwatch.scheduler")
_SUCCESS = AttemptResult("success")  # shared: results are never changed after they are made
_NOT_RUN = AttemptResult("failure")
_ECS_LEVEL = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error",
              logging.CRITICAL: "fatal"}


class TaskLogHandler(logging.Handler):
    """Sends ``logging`` records emitted inside a ``call`` task to the job log with the run's ids."""

    def __init__(self, driver: RunDriver) -> None:
        super().__init__(logging.DEBUG)
        self.driver = driver

    def emit(self, record: logging.LogRecord) -> None:
        ctx = CURRENT_RUN.get()
        if ctx is None:
            return
        try:
            entry = self.driver.sched.tasks.get(ctx.task)
            schedule = entry.spec.schedule if entry else ""
            rec = base_record(ctx, schedule, self.driver.host, record.created)
            rec["log.level"] = _ECS_LEVEL.get(record.levelno, record.levelname.lower())
            rec["log.logger"] = record.name
            rec["message"] = record.getMessage()
            if record.exc_info and record.exc_info[0] is not None:
                etype, evalue, tb = record.exc_info
                rec["error.type"] = etype.__name__
                rec["error.message"] = str(evalue)
                rec["error.stack_trace"] = "".join(traceback.format_exception(etype, evalue, tb))
            self.driver.emit(rec)
        except Exception:  # pragma: no cover - logging must never raise into the task
            self.handleError(record)


class RunDriver:
    """Drives runs for a :class:`Scheduler`."""

    def __init__(self, sched: Scheduler, max_line_bytes: int) -> None:
        self.sched = sched
        self.max_line_bytes = max_line_bytes
        self.host = sched.joblog.host_name
        self.cancel_reasons: dict[str, str] = {}
        self._buf: list[dict[str, Any] | tuple[Any, ...] | Armed] = []
        # defer_started for the tick, which calls schedule_flush once after a burst; an Armed run
        # stands for its prepared ``record`` with its ``start``
        self.queue_started: Callable[[dict[str, Any] | tuple[Any, ...] | Armed], None] = self._buf.append
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._flush_scheduled = False
        self._local = isinstance(sched.locks, LocalLocks)  # no lock to take: a slot is ours at once
        self.log_handler = TaskLogHandler(self)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Batch records written from ``loop``'s thread; route tasks' ``logging`` to the job log."""
        self._loop = loop
        self._thread = threading.get_ident()
        root = logging.getLogger()
        if self.log_handler not in root.handlers:
            root.addHandler(self.log_handler)

    def detach(self) -> None:
        """Stop routing ``logging`` records (at shutdown)."""
        self.flush_log()
        logging.getLogger().removeHandler(self.log_handler)

    # -- records -------------------------------------------------------------------------------
    def emit(self, rec: dict[str, Any]) -> None:
        """Queue a record (loop thread: encoded at the end of this loop iteration) or write it now."""
        if self._loop is None or threading.get_ident() != self._thread:
            self.sched.joblog.write_bytes(orjson.dumps(rec, default=str) + b"\n")
            return
        self._buf.append(rec)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush_log)

    def flush_log(self) -> None:
        """Encode queued records and append them (complete lines only) with one ``write``."""
        self._flush_scheduled = False
        if self._buf:
            recs = self._buf.copy()  # the same list stays: the tick holds its ``append`` (queue_started)
            self._buf.clear()
            data = b"".join([orjson.dumps(r if isinstance(r, dict) else self._started_record(r), default=str)
                             + b"\n" for r in recs])
            try:
                self.sched.joblog.write_bytes(data)
            except OSError as exc:
                log.error("cannot write job log %s: %s", self.sched.joblog.path, exc)

    def log_missed(self, entry: TaskEntry, plan: SlotPlan, now: float) -> None:
        """One ``task.missed`` record (and the metric) for the slots a plan gave up."""
        from cronwatch.jsonlog import format_ts

        first = plan.missed_first if plan.missed_first is not None else now
        ctx = RunContext(entry.name, "", "", first, labels=entry.spec.labels)
        n = plan.missed if plan.missed_exact else f"at least {plan.missed}"
        msg = (f"missed {n} run(s) from {format_ts(first)} to {format_ts(plan.missed_last or first)}"
               if plan.missed != 1 else f"missed the run scheduled at {format_ts(first)}")
        rec = lifecycle_record("task.missed", ctx, entry.spec.schedule, self.host, now, msg,
                               extra={"missed_count": plan.missed, "missed_first": format_ts(first),
                                      "missed_last": format_ts(plan.missed_last or first),
                                      "misfire_grace_s": entry.grace, "catch_up": entry.spec.catch_up})
        for key in ("trace.id", "span.id", "task.run_id", "task.attempt"):
            rec.pop(key, None)
        self.emit(rec)
        if entry.m is not None:
            entry.m.missed.inc(plan.missed)

    def log_skipped(self, entry: TaskEntry, ctx: RunContext, now: float) -> None:
        """A run not started because the previous one is still going (``concurrency: forbid``)."""
        running = ", ".join(sorted(entry.live))
        self.emit(lifecycle_record("task.skipped", ctx, entry.spec.schedule, self.host, now,
                                   f"skipped: previous run still running ({running})",
                                   extra={"reason": "overlap", "concurrency": entry.spec.concurrency}))
        if entry.m is not None:
            entry.m.skipped.inc()

    # -- a run ---------------------------------------------------------------------------------
    async def _acquire(self, entry: TaskEntry, ctx: RunContext) -> tuple[Lease | None, bool]:
        """Take the (task, slot) lock; wait and take over when its owner died; ``None`` if not ours."""
        clock, locks = self.sched.clock, self.sched.locks
        takeover = False
        while True:
            try:
                lease = await locks.acquire(entry.name, ctx.scheduled_at, entry.ttl_ms)
            except LockError as exc:
                now = clock.time()
                rec = lifecycle_record("task.missed", ctx, entry.spec.schedule, self.host, now,
                                       f"not run: {exc}", extra={"missed_count": 1, "reason": "lock"})
                self.emit(rec)
                if entry.m is not None:
                    entry.m.missed.inc()
                return None, False
            if lease.verdict == "acquired":
                return lease, takeover
            if lease.verdict == "done":
                return None, False
            wait = min(lease.retry_in_ms / 1000 + 0.01, 1.0)
            if clock.time() + wait > ctx.scheduled_at + entry.grace:
                return None, False
            takeover = True
            await clock.sleep(wait)

    async def _renew(self, entry: TaskEntry, lease: Lease) -> None:
        while True:
            await asyncio.sleep(entry.ttl_ms / 3000)
            try:
                if not await self.sched.locks.renew(lease, entry.ttl_ms):
                    log.warning("lock %s was lost while running", lease.key)
                    return
            except LockError as exc:
                log.warning("cannot renew lock %s: %s", lease.key, exc)

    async def run(self, entry: TaskEntry, ctx: RunContext, trigger: str, started: Started | None = None,
                  start: float = 0.0) -> None:
        """Run ``ctx`` to the end; never raises (cancellation is logged as the run's failure).

        The hot path (an ``async`` call without a time limit, local locks) runs the first attempt
        with a few operations: the ``task.started`` record is built later, at flush time, and
        everything else waits until the other runs of the burst have started. ``started`` is that
        call when the tick already started it (at ``start``, see :mod:`scheduler.eager`).
        """
        sched = self.sched
        if started is None:
            start = sched.clock.time()
        lease: Lease | None = None
        renewer: asyncio.Future[None] | None = None
        result = _NOT_RUN
        stack: str | None = None
        try:
            if entry.fast and self._local:
                call = entry.call
                assert call is not None
                ctx.attempt = 1
                extra: dict[str, Any] = {"trigger": trigger}
                if started is None:
                    self.defer_started(ctx, entry.spec.schedule, start, 1, entry.attempts, extra)
                    token = CURRENT_RUN.set(ctx)
                else:
                    token = started.token  # type: ignore[assignment]
                try:
                    await (started if started is not None else call.fn(ctx) if call.wants_ctx else call.fn())
                    result = _SUCCESS
                except (Exception, SystemExit, KeyboardInterrupt) as exc:
                    result = AttemptResult("failure", error_from_exception(exc))
                finally:
                    CURRENT_RUN.reset(token)
                if result is not _SUCCESS and entry.attempts > 1:
                    result, stack = await self._attempts(entry, ctx, start, extra, result)
            else:
                if not self._local:
                    lease, takeover = await self._acquire(entry, ctx)
                    if lease is None:
                        return
                    entry.live[ctx.run_id] = ctx
                    start = sched.clock.time()
                    renewer = asyncio.ensure_future(self._renew(entry, lease))
                    extra = {"trigger": trigger, "takeover": True} if takeover else {"trigger": trigger}
                else:
                    extra = {"trigger": trigger}
                result, stack = await self._attempts(entry, ctx, start, extra, None)
            if started is None:  # let the other runs of this burst start before this one does its bookkeeping
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            reason = self.cancel_reasons.pop(ctx.run_id, "run cancelled")
            result = AttemptResult("failure", {"type": "Cancelled", "message": reason})
        finally:
            if renewer is not None:
                renewer.cancel()
            entry.running.pop(ctx.run_id, None)
        if lease is not None or self._local:
            self._finish(entry, ctx, trigger, start, result, stack)
        entry.live.pop(ctx.run_id, None)
        if lease is not None:
            with contextlib.suppress(LockError):
                await sched.locks.complete(lease)

    async def _attempts(self, entry: TaskEntry, ctx: RunContext, start: float, extra: dict[str, Any],
                        first: AttemptResult | None) -> tuple[AttemptResult, str | None]:
        """Attempts with backoff until one succeeds or none is left; ``first`` is the result of the
        first attempt when the hot path already ran it."""
        spec, m, clock = entry.spec, entry.m, self.sched.clock
        assert m is not None
        attempts = entry.attempts
        result, stack = first or _NOT_RUN, None
        for attempt in range(1, attempts + 1):
            t0 = start if attempt == 1 else clock.time()
            if attempt > 1 or first is None:
                ctx.attempt = attempt
                if attempt > 1:
                    ctx.span_id = new_span_id()
                self.defer_started(ctx, spec.schedule, t0, attempt, attempts, extra)
                if not entry.fast:
                    m.last_run.set(t0)  # slow path (process, thread, time limit): show the start at once
                result, stack = await self._attempt(entry, ctx)
            if result.outcome == "success" or attempt == attempts:
                break
            now = clock.time()
            delay = entry.backoff.delay(attempt)
            # one terminal record per run (succeeded / failed / timed_out): a timed-out attempt that
            # is retried is a task.retrying whose error.type is TimeoutError
            what = "timed out" if result.outcome == "timeout" else "failed"
            self.emit(lifecycle_record(
                "task.retrying", ctx, spec.schedule, self.host, now,
                f"attempt {attempt}/{attempts} {what}; retrying in {delay:.2f}s", duration_s=now - t0,
                error=self._with_stack(result, stack), extra={"retry_in_s": round(delay, 3)}))
            m.retries.inc()
            await clock.sleep(delay)
        return result, stack

    async def run_armed(self, entry: TaskEntry, armed: Armed, gate: asyncio.Future[bool]) -> None:
        """A run prepared ahead of its slot: wait for the gate, then run if the tick released it."""
        try:
            opened = await gate
        except asyncio.CancelledError:
            if armed.started is None:
                armed.discard()
                return
            armed.started.cancel()  # the run was cancelled before it could continue its call
            opened = True
        armed.discard()  # a call made ahead that the tick did not start (not released, or started otherwise)
        if opened and armed.go:
            await self.run(entry, armed.ctx, "schedule", armed.started, armed.start)

    def defer_started(self, ctx: RunContext, schedule: str, ts: float, attempt: int, attempts: int,
                       extra: dict[str, Any]) -> None:
        """Queue a ``task.started`` record, built when the log is flushed (after the burst has started)."""
        self._buf.append((ctx, ctx.span_id, schedule, ts, attempt, attempts, extra))
        self.schedule_flush()

    def schedule_flush(self) -> None:
        """Flush the queued records at the end of this loop iteration."""
        if not self._flush_scheduled and self._loop is not None and self._buf:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush_log)

    def _started_record(self, item: tuple[Any, ...] | Armed) -> dict[str, Any]:
        if isinstance(item, tuple):
            ctx, span_id, schedule, ts, attempt, attempts, extra = item
        else:
            ctx, span_id, schedule, _, attempt, attempts, extra = item.record
            ts = item.start
        rec = lifecycle_record("task.started", ctx, schedule, self.host, ts,
                               f"task started (attempt {attempt}/{attempts})", extra=extra)
        rec["span.id"], rec["task.attempt"] = span_id, attempt
        return rec

    def _with_stack(self, result: AttemptResult, stack: str | None) -> dict[str, str] | None:
        if result.error is None or not stack or "stack_trace" in result.error:
            return result.error
        return {**result.error, "stack_trace": stack}

    def _finish(self, entry: TaskEntry, ctx: RunContext, trigger: str, start: float, result: AttemptResult,
                stack: str | None) -> None:
        sched, spec, name, m = self.sched, entry.spec, entry.name, entry.m
        assert m is not None
        end = sched.clock.time()
        duration = end - start
        m.last_run.set(start)
        if trigger == "schedule":
            sched.metrics.lateness.observe(max(0.0, start - ctx.scheduled_at))
        if result.outcome == "success":
            self.emit(lifecycle_record("task.succeeded", ctx, spec.schedule, self.host, end, "task succeeded",
                                       duration_s=duration))
            m.last_success.set(end)
            m.success.inc()
        else:
            action = "task.timed_out" if result.outcome == "timeout" else "task.failed"
            err = self._with_stack(result, stack) or {"type": "Error", "message": "failed"}
            msg = f"task {'timed out' if result.outcome == 'timeout' else 'failed'}: {err.get('message', '')}"
            extra = {"exit_code": result.exit_code} if result.exit_code is not None else None
            self.emit(lifecycle_record(action, ctx, spec.schedule, self.host, end, msg, duration_s=duration,
                                       error=err, extra=extra))
            m.failure.inc()
        m.duration.observe(duration)
        if sched.state is not None:
            err = result.error or {}
            sched.state.record_run(RunRow(ctx.run_id, name, ctx.trace_id, ctx.scheduled_at, start, end,
                                          result.outcome, ctx.attempt, trigger, err.get("type"),
                                          err.get("message"), result.exit_code))

    async def _attempt(self, entry: TaskEntry, ctx: RunContext) -> tuple[AttemptResult, str | None]:
        spec = entry.spec
        if entry.call is not None:
            if not entry.call.is_async:
                self.flush_log()  # keep "task.started" ahead of what the thread logs
            return await run_call(entry.call, ctx, time_limit=spec.timeout_s, executor=self.sched.executor), None
        assert spec.command is not None
        schedule, clock = spec.schedule, self.sched.clock
        streams: dict[str, OutputRecords] = {}

        def emit_output(rec: dict[str, Any]) -> None:
            out = base_record(ctx, schedule, self.host, clock.time())
            out.update(rec)
            self.emit(out)

        for stream, level in (("stdout", "info"), ("stderr", "info")):
            streams[stream] = OutputRecords(emit_output, level, self.max_line_bytes, stream)

        def on_line(stream: str, line: bytes | None) -> None:
            if line is None:
                streams[stream].flush()
            else:
                streams[stream].feed(line)

        result = await run_command(spec.command, ctx, env=spec.env, cwd=spec.cwd, time_limit=spec.timeout_s,
                                   kill_grace=spec.kill_grace.total_seconds(), on_line=on_line,
                                   max_line_bytes=self.max_line_bytes)
        for s in streams.values():
            s.flush()
        stack = streams["stderr"].last_stack or streams["stdout"].last_stack
        return result, stack
