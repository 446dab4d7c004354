"""Several replicas on a real redis-server: each (task, slot) runs exactly once, also after a kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis
import sched_sample_tasks as tasks
from sched_helpers import Harness, eventually

from cronwatch.clock import SystemClock
from cronwatch.testing.services import Process, free_port, wait_until
from scheduler.engine import Scheduler
from scheduler.joblog import JobLog
from scheduler.locks import RedisLocks, slot_key
from scheduler.model import parse_task

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]
N_TASKS = 20


def _config(redis_url: str) -> str:
    lines = [f"redis_url: {redis_url}", "shutdown_grace: 2s", "tasks:"]
    for i in range(N_TASKS):
        lines += [f"  - name: r{i:02d}", '    schedule: "@every 1s"', "    call: sched_sample_tasks:append_slot",
                  "    timeout: 1s", "    misfire_grace: 10s"]
    return "\n".join(lines) + "\n"


def _healthy(url: str) -> Callable[[], bool]:
    """A check that the replica at ``url`` answers /healthz."""
    return lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200


def _start_replica(tmp: Path, i: int, config: Path, slot_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{Path(__file__).parent}", "SLOT_FILE": str(slot_file),
           "CRONWATCH_LOG_LEVEL": "warn"}
    err = open(tmp / f"replica{i}.err", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run", "--config", str(config), "--state", str(tmp / f"state{i}"),
         "--listen", f"127.0.0.1:{port}", "--log-file", str(tmp / f"replica{i}.log")],
        stdout=err, stderr=err, env=env)
    err.close()
    return proc, f"http://127.0.0.1:{port}"


def test_three_replicas_run_each_of_200_slots_exactly_once_despite_a_kill_9(
        tmp_path: Path, redis_server: Process) -> None:
    """3 replicas × 20 tasks @every 1s for 10 s: every slot once, none twice, though one replica is SIGKILLed."""
    config = tmp_path / "tasks.yml"
    config.write_text(_config(f"redis://127.0.0.1:{redis_server.port}/0"))
    slot_file = tmp_path / "slots.txt"
    replicas = [_start_replica(tmp_path, i, config, slot_file) for i in range(3)]
    try:
        for proc, url in replicas:
            wait_until(_healthy(url), 30, "replica", proc)
        first = int(time.time()) + 1  # every replica is up from this slot on
        while time.time() < first + 4.5:  # kill between slots, while replica 0 may hold locks of past slots
            time.sleep(0.05)
        replicas[0][0].send_signal(signal.SIGKILL)
        replicas[0][0].wait(10)
        last = first + 9  # 10 slots × 20 tasks = 200 (task, slot) pairs
        while time.time() < last + 1.5:
            time.sleep(0.05)
        for proc, _url in replicas[1:]:
            proc.send_signal(signal.SIGTERM)
        for proc, _url in replicas[1:]:
            assert proc.wait(30) == 0
    finally:
        for proc, _url in replicas:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    rows = [line.split() for line in slot_file.read_text().splitlines()]
    counts = Counter((task, int(slot)) for task, slot, _pid in rows)
    dupes = {k: v for k, v in counts.items() if v > 1}
    assert dupes == {}, f"slots run more than once: {dupes}"
    window = {(f"r{i:02d}", s * 1000) for i in range(N_TASKS) for s in range(first, last + 1)}
    assert len(window) == 200
    missing = window - set(counts)
    assert missing == set(), f"slots never run: {sorted(missing)[:10]}"
    pids = {pid for _t, _s, pid in rows}
    assert len(pids) >= 2  # the work was shared


async def test_a_slot_locked_by_a_dead_owner_is_taken_over_after_its_ttl(tmp_path: Path,
                                                                          redis_server: Process) -> None:
    """A (task, slot) lock left by a killed replica expires and another replica runs the slot (takeover)."""
    tasks.reset()
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    locks = RedisLocks(url, "t")
    h = Harness(tmp_path, clock=SystemClock())
    h.sched = Scheduler(JobLog(h.log_path, host_name="b"), state=h.state, locks=locks, clock=h.clock)
    h.sched.add(parse_task({"name": "tk", "schedule": "@every 1h", "call": "sched_sample_tasks:record",
                            "misfire_grace": "30s"}))
    await h.start()
    slot = float(int(time.time()))
    r = redis.Redis(port=redis_server.port)
    r.set(slot_key("t", "tk", slot), "dead-owner-token", px=1500)  # the dead replica's lock
    from scheduler.context import RunContext, new_run_id, new_trace_id
    entry = h.sched.tasks["tk"]
    ctx = RunContext("tk", new_run_id(), new_trace_id(), slot)
    t0 = time.monotonic()
    await h.sched.driver.run(entry, ctx, "schedule")
    assert 1.0 < time.monotonic() - t0 < 5
    assert [c[2] for c in tasks.CALLS] == [slot]
    (started,) = h.records("task.started", "tk")
    assert started["extra"]["takeover"] is True
    assert r.get(slot_key("t", "tk", slot)).startswith(b"done:")  # type: ignore[union-attr]
    # a late replica asking again sees "done" and does not run it
    await h.sched.driver.run(entry, RunContext("tk", new_run_id(), new_trace_id(), slot), "schedule")
    assert len(tasks.CALLS) == 1
    await h.stop()
    await locks.close()
    r.close()


async def test_lock_backend_down_means_missed_not_duplicated(tmp_path: Path) -> None:
    """With Redis unreachable a slot is not run (it could run twice elsewhere): task.missed + metric."""
    tasks.reset()
    locks = RedisLocks(f"redis://127.0.0.1:{free_port()}/0", "t")
    h = Harness(tmp_path, clock=SystemClock())
    h.sched = Scheduler(JobLog(h.log_path, host_name="b"), state=h.state, locks=locks, clock=h.clock)
    h.sched.add(parse_task({"name": "tk", "schedule": "@every 1h", "call": "sched_sample_tasks:record"}))
    await h.start()
    h.sched.run_now("tk")
    await eventually(lambda: bool(h.records("task.missed", "tk")))
    (missed,) = h.records("task.missed", "tk")
    assert "lock backend unavailable" in missed["message"] and tasks.CALLS == []
    assert h.metric("cronwatch_task_missed_total", task="tk") == 1
    await h.stop()
    await locks.close()
    await asyncio.sleep(0)


async def test_lock_is_renewed_while_a_run_outlives_its_ttl(tmp_path: Path, redis_server: Process) -> None:
    """A run longer than the lock TTL (3 attempts × 1 s timeout vs 3 s TTL) keeps its lock, then marks it done."""
    tasks.reset()
    locks = RedisLocks(f"redis://127.0.0.1:{redis_server.port}/0", "t")
    h = Harness(tmp_path, clock=SystemClock())
    h.sched = Scheduler(JobLog(h.log_path, host_name="b"), state=h.state, locks=locks, clock=h.clock)
    h.sched.add(parse_task({"name": "long", "schedule": "@every 1h", "call": "sched_sample_tasks:gated",
                            "timeout": "1s", "retries": {"attempts": 4, "initial": "10ms", "max": "10ms"}}))
    await h.start()
    ctx = h.sched.run_now("long")
    key = slot_key("t", "long", ctx.scheduled_at)
    r = redis.Redis(port=redis_server.port)
    await asyncio.sleep(3.5)  # past the 3 s TTL: only renewal keeps the key
    assert r.get(key) is not None and not r.get(key).startswith(b"done:")  # type: ignore[union-attr]
    await eventually(lambda: (r.get(key) or b"").startswith(b"done:"), within=10)
    (final,) = h.records("task.timed_out", "long")  # one terminal record per run
    assert final["task.attempt"] == 4 and final["event.outcome"] == "failure"
    retries = h.records("task.retrying", "long")
    assert [x["error.type"] for x in retries] == ["TimeoutError"] * 3
    await h.stop()
    await locks.close()
    r.close()
