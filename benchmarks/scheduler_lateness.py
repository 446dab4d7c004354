"""Lateness of no-op in-process tasks firing every second: cronwatch vs APScheduler 3.x, same run.

Lateness = when the task function starts minus its scheduled time. For each N (10, 1000, 5000
tasks, all due at every whole second) each scheduler runs in a fresh subprocess:

* ``cronwatch``       — scheduler.engine with its real job log and SQLite state, ``async`` no-op ``call`` tasks;
* ``aps-background``  — APScheduler's default ``BackgroundScheduler`` (thread pool), sync no-op jobs;
* ``aps-asyncio``     — APScheduler's ``AsyncIOScheduler``, async no-op jobs (its fastest setup).

The first second is a warm-up and is not counted. Prints p50/p99 per scheduler and the ratio of
APScheduler's p99 to cronwatch's. ``--quick`` runs 3 s per case instead of 6 s.

    python benchmarks/scheduler_lateness.py [--quick] [--n 10,1000,5000] [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLES: list[float] = []
STARTED_AT = 0.0


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def noop(ctx: object) -> None:
    """The cronwatch task: record lateness at entry."""
    sched = ctx.scheduled_at  # type: ignore[attr-defined]
    if sched >= STARTED_AT:
        SAMPLES.append(time.time() - sched)


def run_cronwatch(n: int, seconds: float) -> dict[str, object]:
    """Run N @every 1s no-op tasks on cronwatch's scheduler for ``seconds``."""
    global STARTED_AT
    from scheduler.engine import Scheduler
    from scheduler.joblog import JobLog
    from scheduler.model import parse_task
    from scheduler.state import StateStore

    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-"))

    async def main() -> int:
        global STARTED_AT
        state = StateStore(tmp / "state")
        # as `cronwatch scheduler run` does: the process is the scheduler's (GC in idle time)
        sched = Scheduler(JobLog(tmp / "tasks.log", host_name="bench"), state=state, manage_gc=True)
        for i in range(n):
            sched.add(parse_task({"name": f"t{i}", "schedule": "@every 1s", "call": "__main__:noop"}))
        STARTED_AT = float(int(time.time()) + 2)  # the first second is a warm-up
        loop_task = asyncio.ensure_future(sched.run())
        await asyncio.sleep(STARTED_AT - time.time() + seconds - 0.5)
        await sched.drain(5)
        await loop_task
        sched.driver.detach()
        state.close()
        missed = sched.metrics.registry.get_sample_value("cronwatch_task_missed_total", {"task": "t0"}) or 0
        return int(missed)

    missed = asyncio.run(main())
    return {"samples": SAMPLES, "missed": missed, "expected": n * int(seconds - 0.5)}


def run_aps(n: int, seconds: float, mode: str) -> dict[str, object]:
    """Run N interval-1s no-op jobs on APScheduler 3 (background thread pool or asyncio) for ``seconds``."""
    from datetime import UTC, datetime

    from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

    starts: dict[str, deque[float]] = defaultdict(deque)
    lock = threading.Lock()
    samples: list[float] = []
    missed = [0]
    first = float(int(time.time()) + 3)
    warm = first + 1

    def on_event(ev: object) -> None:
        code = ev.code  # type: ignore[attr-defined]
        if code == EVENT_JOB_EXECUTED:
            with lock:
                t = starts[ev.job_id].popleft()  # type: ignore[attr-defined]
            sched_ts = ev.scheduled_run_time.timestamp()  # type: ignore[attr-defined]
            if sched_ts >= warm:
                samples.append(t - sched_ts)
        elif code in (EVENT_JOB_MISSED, EVENT_JOB_MAX_INSTANCES):
            missed[0] += 1

    def make_sync(job_id: str):  # type: ignore[no-untyped-def]
        def job() -> None:
            t = time.time()
            with lock:
                starts[job_id].append(t)
        return job

    def make_async(job_id: str):  # type: ignore[no-untyped-def]
        async def job() -> None:
            t = time.time()
            with lock:
                starts[job_id].append(t)
        return job

    start_date = datetime.fromtimestamp(first, UTC)
    if mode == "background":
        from apscheduler.schedulers.background import BackgroundScheduler

        bs = BackgroundScheduler(timezone="UTC")
        bs.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        for i in range(n):
            bs.add_job(make_sync(str(i)), "interval", seconds=1, start_date=start_date, id=str(i))
        bs.start()
        time.sleep(warm - time.time() + seconds - 0.5)
        bs.shutdown(wait=True)
    else:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        async def main() -> None:
            s = AsyncIOScheduler(timezone="UTC")
            s.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
            for i in range(n):
                s.add_job(make_async(str(i)), "interval", seconds=1, start_date=start_date, id=str(i))
            s.start()
            await asyncio.sleep(warm - time.time() + seconds - 0.5)
            s.shutdown(wait=False)

        asyncio.run(main())
    return {"samples": samples, "missed": missed[0], "expected": n * int(seconds - 0.5)}


def worker(kind: str, n: int, seconds: float) -> None:
    """Run one case and print its result as JSON."""
    if kind == "cronwatch":
        res = run_cronwatch(n, seconds)
    else:
        res = run_aps(n, seconds, kind.removeprefix("aps-"))
    samples = res["samples"]
    assert isinstance(samples, list)
    print(json.dumps({"kind": kind, "n": n, "count": len(samples), "p50": pct(samples, 50),
                      "p99": pct(samples, 99), "missed": res["missed"], "expected": res["expected"]}))


def main() -> None:
    """Run every case in a subprocess and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 s per case instead of 6 s")
    ap.add_argument("--n", default="10,1000,5000", help="comma-separated task counts")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per case")
    ap.add_argument("--kinds", default="cronwatch,aps-background,aps-asyncio")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 6.0)
    if args.worker:
        worker(args.worker, int(args.n), seconds)
        return
    kinds = args.kinds.split(",")
    print(f"no-op in-process tasks every second; {seconds:g} s measured per case; lateness = start - scheduled")
    print(f"{'N':>6} {'scheduler':<16} {'runs':>7} {'missed':>7} {'p50 ms':>9} {'p99 ms':>9} {'p99 ratio':>10}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for n in [int(x) for x in args.n.split(",")]:
        results = {}
        for kind in kinds:
            out = subprocess.run([sys.executable, __file__, "--worker", kind, "--n", str(n), "--seconds", str(seconds)],
                                 capture_output=True, text=True, env=env, timeout=seconds * 10 + 120)
            if out.returncode != 0:
                print(f"{n:>6} {kind:<16} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        base = results.get("cronwatch", {}).get("p99")
        for kind, r in results.items():
            ratio = "" if kind == "cronwatch" or not base else f"{r['p99'] / base:9.1f}x"
            print(f"{n:>6} {kind:<16} {r['count']:>7} {r['missed']:>7} {r['p50'] * 1e3:>9.2f} {r['p99'] * 1e3:>9.2f} {ratio:>10}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
