"""The run loop on a fake clock: retries/backoff, misses, overlap policies, restart with state, pause."""

from __future__ import annotations

from pathlib import Path

import sched_sample_tasks as tasks
from sched_helpers import T0, Harness, eventually, settle

from cronwatch.clock import FakeClock


async def test_runs_on_schedule_with_records_and_metrics(harness: Harness) -> None:
    """An @every 5s task runs at each slot; records carry trace id, run id and scheduled time."""
    harness.add(name="tick", schedule="@every 5s", call="sched_sample_tasks:record", labels={"team": "ops"})
    await harness.start()
    await harness.advance(10.6)
    assert [c[2] for c in tasks.CALLS] == [T0 + 5, T0 + 10]
    started = harness.records("task.started", "tick")
    done = harness.records("task.succeeded", "tick")
    assert len(started) == len(done) == 2
    assert started[0]["task.scheduled_at"] == "2027-01-15T08:00:05.000Z"
    assert len(started[0]["trace.id"]) == 32 and started[0]["trace.id"] == done[0]["trace.id"]
    assert started[0]["task.run_id"] != started[1]["task.run_id"] and started[0]["labels"] == {"team": "ops"}
    assert done[0]["event.outcome"] == "success" and isinstance(done[0]["event.duration"], int)
    assert harness.metric("cronwatch_task_runs_total", task="tick", outcome="success") == 2
    assert harness.metric("cronwatch_task_next_run_timestamp_seconds", task="tick") == T0 + 15
    assert harness.metric("cronwatch_task_lateness_seconds_count") == 2


async def test_retries_with_backoff_wait_on_the_injected_clock(harness: Harness) -> None:
    """A failing attempt is retried only after its backoff delay has passed on the (fake) clock."""
    tasks.FAILS_LEFT["flaky"] = 2
    harness.add(name="flaky", schedule="@every 1h", call="sched_sample_tasks:flaky",
                retries={"attempts": 3, "initial": "10s", "max": "20s"})
    await harness.start()
    harness.sched.run_now("flaky")
    await settle()
    retry = harness.records("task.retrying", "flaky")
    assert len(retry) == 1 and retry[0]["error.type"] == "ConnectionError"
    delay = retry[0]["extra"]["retry_in_s"]
    assert 0 <= delay <= 10
    await harness.advance(max(delay - 0.3, 0), step=0.1)
    assert len(tasks.CALLS) == 1  # not yet
    await harness.advance(0.4 + 20, step=0.1)
    assert [c[1] for c in tasks.CALLS] == [1, 2, 3]
    assert len(harness.records("task.retrying", "flaky")) == 2
    (ok,) = harness.records("task.succeeded", "flaky")
    assert ok["task.attempt"] == 3
    assert harness.metric("cronwatch_task_retries_total", task="flaky") == 2
    assert harness.metric("cronwatch_task_runs_total", task="flaky", outcome="success") == 1


async def test_exceptions_are_logged_with_stack_and_the_loop_goes_on(harness: Harness) -> None:
    """An exception (even SystemExit) in a call task is a failed run with its stack; later slots still run."""
    harness.add(name="boom", schedule="@every 2s", call="sched_sample_tasks:boom")
    harness.add(name="exit", schedule="@every 2s", call="sched_sample_tasks:exits")
    await harness.start()
    await harness.advance(4.1)
    failed = harness.records("task.failed", "boom")
    assert len(failed) == 2
    assert failed[0]["error.type"] == "ValueError" and failed[0]["error.message"] == "bad value"
    assert "raise ValueError" in failed[0]["error.stack_trace"] and failed[0]["log.level"] == "error"
    await eventually(lambda: len(harness.records("task.failed", "exit")) == 2)
    assert [r["error.type"] for r in harness.records("task.failed", "exit")] == ["SystemExit", "SystemExit"]
    assert harness.metric("cronwatch_task_runs_total", task="boom", outcome="failure") == 2


async def test_clock_jump_logs_missed_slots_and_runs_the_latest(harness: Harness) -> None:
    """After the wall clock jumps 1 h (suspend, NTP), missed slots are logged and counted; one run follows."""
    harness.add(name="tick", schedule="@every 10s", call="sched_sample_tasks:record")
    await harness.start()
    await harness.advance(10)
    assert len(tasks.CALLS) == 1
    assert isinstance(harness.clock, FakeClock)
    harness.clock.set(T0 + 3600 + 10.5)  # suspended for an hour; the loop notices at its next wake-up
    await harness.advance(30.5, step=0.5)
    (missed,) = harness.records("task.missed", "tick")
    # woke at T0+3620: slots 20 .. 3610 are missed, 3620 (the latest, within the grace) runs
    assert missed["extra"]["missed_count"] == 360 and missed["log.level"] == "warn"
    assert harness.metric("cronwatch_task_missed_total", task="tick") == 360
    assert [c[2] - T0 for c in tasks.CALLS] == [10, 3620, 3630, 3640]


async def test_forbid_skips_an_overlapping_run(harness: Harness) -> None:
    """With concurrency forbid a slot that comes while the previous run goes on is skipped and logged."""
    harness.add(name="slow", schedule="@every 2s", call="sched_sample_tasks:gated")
    await harness.start()
    await harness.advance(4)
    (skipped,) = harness.records("task.skipped", "slow")
    assert "still running" in skipped["message"] and skipped["event.outcome"] == "unknown"
    assert harness.metric("cronwatch_task_runs_total", task="slow", outcome="skipped") == 1
    tasks.GATE["slow"].set()
    await settle()
    assert len(harness.records("task.succeeded", "slow")) == 1


async def test_replace_cancels_the_running_run(harness: Harness) -> None:
    """With concurrency replace the running run is cancelled (logged as failed) and the new one starts."""
    harness.add(name="rep", schedule="@every 2s", call="sched_sample_tasks:gated", concurrency="replace")
    await harness.start()
    await harness.advance(4)
    (failed,) = harness.records("task.failed", "rep")
    assert failed["error.type"] == "Cancelled" and "replaced" in failed["error.message"]
    assert len(harness.records("task.started", "rep")) == 2
    assert len(harness.sched.tasks["rep"].running) == 1
    tasks.GATE["rep"].set()


async def test_allow_runs_overlapping(harness: Harness) -> None:
    """With concurrency allow runs overlap."""
    harness.add(name="par", schedule="@every 2s", call="sched_sample_tasks:gated", concurrency="allow")
    await harness.start()
    await harness.advance(6)
    assert len(harness.sched.tasks["par"].running) == 3
    assert harness.metric("cronwatch_task_running", task="par") == 3
    tasks.GATE["par"].set()
    await settle()
    assert harness.metric("cronwatch_task_running", task="par") == 0


async def test_pause_and_resume(harness: Harness) -> None:
    """A paused task does not fire and its paused slots are not 'missed'; resume fires from now on."""
    harness.add(name="p", schedule="@every 2s", call="sched_sample_tasks:record")
    await harness.start()
    harness.sched.pause("p")
    assert harness.metric("cronwatch_task_next_run_timestamp_seconds", task="p") == 0
    await harness.advance(10)
    assert tasks.CALLS == []
    harness.sched.resume("p")
    await harness.advance(2)
    assert len(tasks.CALLS) == 1 and harness.records("task.missed") == []


async def test_sync_call_runs_in_a_thread_and_its_logging_carries_the_trace(harness: Harness) -> None:
    """A sync call runs in a worker thread; what it logs lands in the job log with the run's trace id."""
    harness.add(name="sync", schedule="@every 1h", call="sched_sample_tasks:sync_logging")
    await harness.start()
    harness.sched.run_now("sync")
    await eventually(lambda: bool(harness.records("task.succeeded", "sync")))
    assert tasks.THREADS and tasks.THREADS[0].startswith("cronwatch-call")
    (started,) = harness.records("task.started", "sync")
    logged = [r for r in harness.records() if r.get("log.logger") == "sample.sync"]
    assert logged and logged[0]["trace.id"] == started["trace.id"] and logged[0]["log.level"] == "warn"
    assert logged[0]["message"] == "working on sync"


async def test_restart_never_reruns_a_slot_and_knows_what_it_missed(tmp_path: Path) -> None:
    """After a restart the last fired slot is not run again; slots lost to downtime are logged as missed."""
    tasks.reset()
    clock = FakeClock(T0 + 0.5)
    first = Harness(tmp_path, clock=clock)
    first.add(name="t", schedule="@every 10s", call="sched_sample_tasks:record", misfire_grace="3s")
    await first.start()
    await first.advance(20)
    await first.stop()
    assert [c[2] for c in tasks.CALLS] == [T0 + 10, T0 + 20]

    clock.advance(45)  # down for 45 s: slots 30, 40, 50, 60 pass; now is T0 + 65.5
    second = Harness(tmp_path, clock=clock)
    second.add(name="t", schedule="@every 10s", call="sched_sample_tasks:record", misfire_grace="3s")
    await second.start()
    await second.advance(5)
    (missed,) = second.records("task.missed", "t")
    assert missed["extra"]["missed_count"] == 4 and missed["task.scheduled_at"] == "2027-01-15T08:00:30.000Z"
    assert [c[2] for c in tasks.CALLS] == [T0 + 10, T0 + 20, T0 + 70]
    await second.stop()


async def test_restart_with_catch_up_latest_runs_the_latest_missed_slot_once(tmp_path: Path) -> None:
    """With catch_up latest, the latest slot missed during downtime runs once at start-up."""
    tasks.reset()
    clock = FakeClock(T0 + 0.5)
    first = Harness(tmp_path, clock=clock)
    first.add(name="d", schedule="0 * * * *", call="sched_sample_tasks:record", catch_up="latest")
    await first.start()
    await first.stop()
    first.state = None
    # pretend it ran the 08:00 slot, then was down for 3 hours
    from scheduler.state import StateStore
    st = StateStore(tmp_path / "state")
    st.note_slot("d", T0)
    st.close()
    clock.advance(3 * 3600 + 600)  # back 10 min after the hour: beyond the 5 min grace
    second = Harness(tmp_path, clock=clock)
    second.add(name="d", schedule="0 * * * *", call="sched_sample_tasks:record", catch_up="latest")
    await second.start()
    await settle()
    assert [c[2] for c in tasks.CALLS] == [T0 + 3 * 3600]
    (missed,) = second.records("task.missed", "d")
    assert missed["extra"]["missed_count"] == 2
    (started,) = second.records("task.started", "d")
    assert started["extra"]["trigger"] == "catch_up"
    await second.stop()


async def test_wall_clock_stepping_back_does_not_fire_a_slot_twice(harness: Harness) -> None:
    """After an NTP step backwards the next slot is still the one after the last fired: nothing runs twice."""
    harness.add(name="tick", schedule="@every 5s", call="sched_sample_tasks:record")
    await harness.start()
    await harness.advance(5)
    assert isinstance(harness.clock, FakeClock)
    harness.clock.set(T0 - 20)  # the wall clock jumps 25 s back
    await harness.advance(40, step=0.5)
    slots = [c[2] for c in tasks.CALLS]
    assert len(slots) == len(set(slots)) and slots[0] == T0 + 5 and slots[1] == T0 + 10
