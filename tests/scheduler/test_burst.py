"""Runs started inside the tick (eager start), slot buckets, and bookkeeping deferred until a burst has started."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sched_sample_tasks as tasks
from sched_helpers import T0, Harness, eventually, settle

from scheduler import eager
from scheduler.model import parse_task
from scheduler.state import StateStore


async def test_a_call_started_by_the_tick_runs_as_its_own_task_in_its_own_context(harness: Harness) -> None:
    """The tick starts the call in the run's task: current_task, current_run and context variables are the run's."""
    assert eager.SUPPORTED
    harness.add(name="probe", schedule="@every 1s", call="sched_sample_tasks:introspect")
    await harness.start()
    await harness.advance(2)
    assert [s[0] for s in tasks.SEEN] == ["entry", "resumed", "entry", "resumed"]
    runs = [r["task.run_id"] for r in harness.records("task.started", "probe")]
    for i, run_id in enumerate(runs):
        (_, task_in, run_in, probe_in), (_, task_out, run_out, probe_out) = tasks.SEEN[2 * i: 2 * i + 2]
        assert task_in is task_out and task_in is not harness.loop_task  # its own task, before and after awaiting
        assert run_in.run_id == run_out.run_id == run_id
        assert probe_in is None and probe_out == run_id  # a fresh context per run, kept across the suspension
    assert tasks.PROBE.get() is None  # nothing leaked into the scheduler's context
    assert len(harness.records("task.succeeded", "probe")) == 2
    assert harness.loop_task is not None and not harness.loop_task.done()


async def test_a_timeout_inside_a_call_cancels_only_that_call(harness: Harness) -> None:
    """``asyncio.timeout`` in a call started by the tick cancels the call, never the scheduler's loop."""
    harness.add(name="slow", schedule="@every 1s", call="sched_sample_tasks:times_out")
    await harness.start()
    await harness.advance(1)
    await eventually(lambda: len(harness.records("task.failed", "slow")) == 1)
    (failed,) = harness.records("task.failed", "slow")
    assert failed["error.type"] == "TimeoutError"
    await harness.advance(1)
    assert len(tasks.CALLS) == 2  # the loop goes on
    await eventually(lambda: len(harness.records("task.failed", "slow")) == 2)


async def test_a_call_cancelling_its_own_task_in_its_first_step_fails_as_cancelled(harness: Harness) -> None:
    """A call that cancels its own task before its first await ends as a cancelled run; later slots run."""
    harness.add(name="quitter", schedule="@every 1s", call="sched_sample_tasks:cancels_itself")
    await harness.start()
    await harness.advance(2)
    failed = harness.records("task.failed", "quitter")
    assert [f["error.type"] for f in failed] == ["Cancelled", "Cancelled"]
    assert len(harness.records("task.started", "quitter")) == 2
    assert harness.metric("cronwatch_task_runs_total", task="quitter", outcome="failure") == 2


async def test_a_first_attempt_started_by_the_tick_is_retried(harness: Harness) -> None:
    """A scheduled call whose first attempt (started by the tick) fails is retried after its backoff."""
    tasks.FAILS_LEFT["flaky"] = 1
    harness.add(name="flaky", schedule="@every 1h", call="sched_sample_tasks:flaky",
                retries={"attempts": 2, "initial": "1s", "max": "1s"})
    await harness.start()
    await harness.advance(3598.5, step=1800)  # a second before the slot: armed ahead, like an idle scheduler
    await harness.advance(1.5, step=0.25)
    (retry,) = harness.records("task.retrying", "flaky")
    assert retry["task.attempt"] == 1 and retry["error.type"] == "ConnectionError"
    await harness.advance(1.5, step=0.25)
    (ok,) = harness.records("task.succeeded", "flaky")
    assert ok["task.attempt"] == 2 and [c[1] for c in tasks.CALLS] == [1, 2]


async def test_tasks_due_at_the_same_instant_share_one_heap_entry_and_keep_their_order(harness: Harness) -> None:
    """Tasks due at the same instant share one heap entry; from slot to slot they start in the same order."""
    for i in range(30):
        harness.add(name=f"t{i:02d}", schedule="@every 1s" if i % 2 else "@every 2s", call="sched_sample_tasks:record")
    await harness.start()
    assert len(harness.sched._heap) == 2  # two distinct instants (T0+1, T0+2) for 30 tasks
    await harness.advance(1)
    first = [c[0] for c in tasks.CALLS]
    assert sorted(first) == [f"t{i:02d}" for i in range(1, 30, 2)]
    tasks.CALLS.clear()
    await harness.advance(2)
    at_2 = [c[0] for c in tasks.CALLS if c[2] == T0 + 2]
    at_3 = [c[0] for c in tasks.CALLS if c[2] == T0 + 3]
    assert len(at_2) == 30 and at_3 == first
    assert [n for n in at_2 if n in first] == first


async def test_a_task_paused_while_its_burst_starts_stays_paused(harness: Harness) -> None:
    """Pausing a task from inside its run (before the tick's bookkeeping) does not schedule its next slot."""
    harness.add(name="once", schedule="@every 1s", call="sched_sample_tasks:call_hook")
    harness.add(name="other", schedule="@every 1s", call="sched_sample_tasks:record")
    tasks.HOOKS["once"] = lambda ctx: harness.sched.pause(ctx.task)
    await harness.start()
    await harness.advance(3)
    assert [c for c in tasks.CALLS if c[0] == "once"] == [("once", 1, T0 + 1)]
    assert len([c for c in tasks.CALLS if c[0] == "other"]) == 3
    assert harness.sched.get("once").next_fire is None
    assert harness.metric("cronwatch_task_next_run_timestamp_seconds", task="once") == 0


async def test_a_task_removed_or_changed_while_its_burst_starts_never_runs_a_slot_twice(harness: Harness) -> None:
    """Removing or replacing a task from inside its run leaves no stale schedule and no second run of the slot."""
    harness.add(name="gone", schedule="@every 1s", call="sched_sample_tasks:call_hook")
    harness.add(name="changed", schedule="@every 1s", call="sched_sample_tasks:call_hook")
    new_spec = parse_task({"name": "changed", "schedule": "@every 1s", "call": "sched_sample_tasks:record",
                           "labels": {"v": "2"}})
    tasks.HOOKS["gone"] = lambda ctx: harness.sched.remove(ctx.task, source="config")
    tasks.HOOKS["changed"] = lambda ctx: harness.sched.update(new_spec, source="config")
    await harness.start()
    await harness.advance(3)
    assert [c for c in tasks.CALLS if c[0] == "gone"] == [("gone", 1, T0 + 1)]
    assert [c[2] for c in tasks.CALLS if c[0] == "changed"] == [T0 + 1, T0 + 2, T0 + 3]
    assert "gone" not in harness.sched.tasks


async def test_stopping_right_after_a_burst_keeps_every_record_and_state_row(tmp_path: Path) -> None:
    """A shutdown just after a burst still writes every record, run row and fired slot (nothing batched is lost)."""
    tasks.reset()
    h = Harness(tmp_path)
    for i in range(50):
        h.add(name=f"t{i}", schedule="@every 1s", call="sched_sample_tasks:record")
    await h.start()
    await h.advance(0.5)  # exactly at the slot T0+1
    await h.stop()
    assert len(tasks.CALLS) == 50
    assert len(h.records("task.started")) == len(h.records("task.succeeded")) == 50
    st = StateStore(tmp_path / "state")
    try:
        assert st.last_slots() == {f"t{i}": T0 + 1 for i in range(50)}
        assert all(len(st.runs(f"t{i}")) == 1 for i in range(50))
    finally:
        st.close()


async def test_a_call_that_suspends_after_being_started_by_the_tick_completes(harness: Harness) -> None:
    """A call started by the tick that then waits (here on an event) finishes when released, with one record each."""
    harness.add(name="waits", schedule="@every 1h", call="sched_sample_tasks:gated")
    await harness.start()
    await harness.advance(3598.5, step=1800)
    await harness.advance(1.5, step=0.25)
    assert len(tasks.CALLS) == 1 and not harness.records("task.succeeded", "waits")
    assert harness.metric("cronwatch_task_running", task="waits") == 1
    tasks.GATE["waits"].set()
    await settle()
    assert len(harness.records("task.succeeded", "waits")) == 1
    assert harness.metric("cronwatch_task_running", task="waits") == 0
    await asyncio.sleep(0)
