"""Runs prepared ahead of their slot (coroutine, context, records made in idle time) and started by the tick."""

from __future__ import annotations

import asyncio
import gc
import statistics
import warnings
from pathlib import Path

import sched_sample_tasks as tasks
from sched_helpers import T0, Harness, eventually, settle

from cronwatch.clock import SystemClock
from scheduler.entries import Armed


def _armed(harness: Harness, name: str) -> Armed:
    armed = harness.sched.get(name).armed
    assert armed is not None
    return armed


async def test_an_async_def_call_is_made_ahead_and_started_by_the_tick(harness: Harness) -> None:
    """Before the slot the coroutine exists but has not run; at the slot the tick runs it, once, as its task."""
    harness.add(name="rec", schedule="@every 1s", call="sched_sample_tasks:record")
    await harness.start()
    armed = _armed(harness, "rec")
    assert armed.coro is not None and armed.send is not None and armed.slot == T0 + 1
    assert tasks.CALLS == []  # made, not started: none of its code ran
    await harness.advance(0.5)
    assert tasks.CALLS == [("rec", 1, T0 + 1)]
    assert armed.started is armed and armed.coro is None and armed.start == T0 + 1
    (started,) = harness.records("task.started", "rec")
    (ok,) = harness.records("task.succeeded", "rec")
    assert started["task.run_id"] == ok["task.run_id"] == armed.ctx.run_id
    assert started["span.id"] == armed.ctx.span_id and started["extra"] == {"trigger": "schedule"}
    assert started["@timestamp"] == "2027-01-15T08:00:01.000Z"
    assert harness.sched.get("rec").running == {} and harness.sched.get("rec").live == {}
    await harness.advance(2)
    assert [c[2] for c in tasks.CALLS] == [T0 + 1, T0 + 2, T0 + 3]


async def test_a_call_raising_before_its_first_await_fails_with_its_stack_and_the_next_slot_runs(
        harness: Harness) -> None:
    """An exception of the first step (run by the tick) is the run's failure, with type, message and stack."""
    harness.add(name="bad", schedule="@every 1s", call="sched_sample_tasks:raises_at_once")
    harness.add(name="good", schedule="@every 1s", call="sched_sample_tasks:record")
    await harness.start()
    assert _armed(harness, "bad").send is not None
    await harness.advance(2)
    failed = harness.records("task.failed", "bad")
    assert [f["error.type"] for f in failed] == ["ValueError", "ValueError"]
    assert failed[0]["error.message"] == "no input for bad" and "raises_at_once" in failed[0]["error.stack_trace"]
    assert len(harness.records("task.succeeded", "good")) == 2
    assert harness.metric("cronwatch_task_runs_total", task="bad", outcome="failure") == 2
    assert harness.sched.get("bad").live == {}


async def test_a_suspended_call_is_cancelled_where_it_waits_when_replaced(harness: Harness) -> None:
    """A call that suspended in its first step is cancelled at its await by ``concurrency: replace``."""
    harness.add(name="rep", schedule="@every 1s", call="sched_sample_tasks:gated", concurrency="replace")
    await harness.start()
    await harness.advance(0.5)
    assert len(tasks.CALLS) == 1 and harness.metric("cronwatch_task_running", task="rep") == 1
    await harness.advance(1)
    await settle()
    (failed,) = harness.records("task.failed", "rep")
    assert failed["error.type"] == "Cancelled" and "replaced" in failed["error.message"]
    assert len(tasks.CALLS) == 2 and len(harness.sched.get("rep").live) == 1
    tasks.GATE["rep"].set()
    await settle()
    assert len(harness.records("task.succeeded", "rep")) == 1
    assert harness.sched.get("rep").live == {}


async def test_a_call_with_a_timeout_is_not_made_ahead_and_times_out(harness: Harness) -> None:
    """``timeout`` needs the slow path (a time limit around the call): it is not made ahead, and it times out."""
    harness.add(name="slow", schedule="@every 1h", call="sched_sample_tasks:gated", timeout="50ms")
    await harness.start()
    await harness.advance(3598.5, step=1800)
    armed = _armed(harness, "slow")
    assert armed.coro is None and armed.send is None
    await harness.advance(1.5, step=0.25)
    await eventually(lambda: len(harness.records("task.timed_out", "slow")) == 1)
    (timed_out,) = harness.records("task.timed_out", "slow")
    assert timed_out["error.type"] == "TimeoutError"


async def test_a_prepared_run_that_is_not_released_closes_its_coroutine(harness: Harness) -> None:
    """Paused before its slot: the coroutine made ahead is closed unstarted (no "never awaited" warning)."""
    harness.add(name="p", schedule="@every 1s", call="sched_sample_tasks:record")
    await harness.start()
    coro = _armed(harness, "p").coro
    assert coro is not None
    harness.sched.pause("p")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await harness.advance(2)
        assert coro.cr_frame is None  # closed
        del coro
        gc.collect()
    assert tasks.CALLS == [] and not harness.records("task.started", "p")
    assert not [w for w in caught if "never awaited" in str(w.message)]


async def test_run_now_from_a_first_step_sees_the_runs_started_before_it_in_the_burst(harness: Harness) -> None:
    """A run started earlier in the same burst counts as running for a call's ``run_now`` (forbid skips)."""
    harness.add(name="b", schedule="@every 1s", call="sched_sample_tasks:gated")
    harness.add(name="a", schedule="@every 1s", call="sched_sample_tasks:call_hook")
    tasks.HOOKS["a"] = lambda ctx: harness.sched.run_now("b")
    await harness.start()
    await harness.advance(0.5)
    (skipped,) = harness.records("task.skipped", "b")
    assert skipped["extra"]["concurrency"] == "forbid"
    assert len(harness.sched.get("b").live) == 1 and len(harness.records("task.started", "b")) == 1
    tasks.GATE["b"].set()
    await settle()


async def test_an_async_callable_object_is_started_by_the_tick_without_being_made_ahead(harness: Harness) -> None:
    """An object with ``async __call__`` is called at the slot (not ahead), in its run's task."""
    harness.add(name="obj", schedule="@every 1s", call="sched_sample_tasks:async_callable")
    await harness.start()
    armed = _armed(harness, "obj")
    assert armed.coro is None and armed.task is not None
    await harness.advance(0.5)
    assert armed.started is not None and armed.started is not armed  # started by the tick (eager.first_step)
    await harness.advance(1)
    assert [c[2] for c in tasks.CALLS] == [T0 + 1, T0 + 2]
    assert len(harness.records("task.succeeded", "obj")) == 2
    await asyncio.sleep(0)


async def test_on_the_system_clock_runs_start_at_their_slot_never_before(tmp_path: Path) -> None:
    """The loop wakes ahead and arrives at the slot itself: each run starts at or just after its slot."""
    tasks.reset()
    tasks.LATENESS.clear()
    h = Harness(tmp_path, clock=SystemClock())
    for i in range(20):
        h.add(name=f"t{i}", schedule="@every 1s", call="sched_sample_tasks:lateness")
    await h.start()
    await asyncio.sleep(2.2)
    await h.stop()
    assert len(tasks.LATENESS) >= 20
    assert min(tasks.LATENESS) >= 0.0
    assert statistics.median(tasks.LATENESS) < 0.1  # generous: the machine may be busy
