"""Lateness of no-op in-process tasks firing every second: cronwatch vs APScheduler 3.x, same run.

Lateness = when the task function starts minus its scheduled time. For each N (10, 1000, 5000
tasks, all due at every whole second) each scheduler runs in a fresh subprocess:

* ``cronwatch``       — the service ``cronwatch scheduler run`` starts (``scheduler.service.Service`` from a
                        generated tasks.yml: job log, SQLite state, metrics, HTTP API, config watch),
                        ``async`` no-op ``call`` tasks;
* ``aps-background``  — APScheduler's default ``BackgroundScheduler`` (thread pool), sync no-op jobs;
* ``aps-asyncio``     — APScheduler's ``AsyncIOScheduler``, async no-op jobs (its fastest setup).

Both schedulers are measured the same way: ``time.time()`` on entry to the job function minus the slot
it was scheduled for. The first second is a warm-up and is not counted. Each case runs ``--rounds``
times (interleaved: every scheduler once per round); the table shows the median over rounds of each
round's p50/p99, the ratio of APScheduler's median p99 to cronwatch's, and the process CPU time per
run (``time.process_time`` over the measured seconds / runs: less sensitive to other load on the
machine than lateness). The load average is printed before and after. ``--quick``: 3 s per case, 2 rounds.

    python benchmarks/scheduler_lateness.py [--quick] [--n 10,1000,5000] [--seconds S] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
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
    """Run N @every 1s no-op tasks in the scheduler service (as `cronwatch scheduler run` does) for ``seconds``."""
    global STARTED_AT
    from scheduler.service import Service

    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    config = tmp / "tasks.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "state_dir": str(tmp / "state"), "listen": "127.0.0.1:0", "host_name": "bench",
        "tasks": [{"name": f"t{i}", "schedule": "@every 1s", "call": "__main__:noop"} for i in range(n)],
    }))
    cpu = [0.0, 0.0]

    async def main() -> int:
        global STARTED_AT
        service = Service(str(config))
        await service.start()
        STARTED_AT = float(int(time.time()) + 2)  # the first second is a warm-up
        await asyncio.sleep(STARTED_AT - time.time() - 0.5)
        cpu[0] = time.process_time()
        await asyncio.sleep(STARTED_AT - time.time() + seconds - 0.5)
        cpu[1] = time.process_time()
        service.request_stop()
        await service.stop()
        missed = service.sched.metrics.missed  # summed over every task, in one pass over the family
        return int(sum(s.value for fam in missed.collect() for s in fam.samples if s.name.endswith("_total")))

    missed = asyncio.run(main())
    return {"samples": SAMPLES, "missed": missed, "expected": n * int(seconds - 0.5), "cpu": cpu[1] - cpu[0]}


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
    cpu = [0.0, 0.0]

    def mark(i: int) -> None:
        cpu[i] = time.process_time()
    if mode == "background":
        from apscheduler.schedulers.background import BackgroundScheduler

        bs = BackgroundScheduler(timezone="UTC")
        bs.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        for i in range(n):
            bs.add_job(make_sync(str(i)), "interval", seconds=1, start_date=start_date, id=str(i))
        bs.start()
        time.sleep(warm - time.time() - 0.5)
        mark(0)
        time.sleep(warm - time.time() + seconds - 0.5)
        mark(1)
        bs.shutdown(wait=True)
    else:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        async def main() -> None:
            s = AsyncIOScheduler(timezone="UTC")
            s.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
            for i in range(n):
                s.add_job(make_async(str(i)), "interval", seconds=1, start_date=start_date, id=str(i))
            s.start()
            await asyncio.sleep(warm - time.time() - 0.5)
            mark(0)
            await asyncio.sleep(warm - time.time() + seconds - 0.5)
            mark(1)
            s.shutdown(wait=False)

        asyncio.run(main())
    return {"samples": samples, "missed": missed[0], "expected": n * int(seconds - 0.5), "cpu": cpu[1] - cpu[0]}


def worker(kind: str, n: int, seconds: float) -> None:
    """Run one case and print its result as JSON."""
    if kind == "cronwatch":
        res = run_cronwatch(n, seconds)
    else:
        res = run_aps(n, seconds, kind.removeprefix("aps-"))
    samples = res["samples"]
    assert isinstance(samples, list)
    cpu = res["cpu"]
    assert isinstance(cpu, float)
    print(json.dumps({"kind": kind, "n": n, "count": len(samples), "p50": pct(samples, 50),
                      "p99": pct(samples, 99), "missed": res["missed"], "expected": res["expected"],
                      "cpu_us_per_run": cpu / max(1, len(samples)) * 1e6}))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    """Run every case in subprocesses, round after round, and print the table of medians."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 s per case and 2 rounds instead of 6 s and 3")
    ap.add_argument("--n", default="10,1000,5000", help="comma-separated task counts")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per case")
    ap.add_argument("--rounds", type=int, default=None, help="rounds per case (the table shows medians)")
    ap.add_argument("--kinds", default="cronwatch,aps-background,aps-asyncio")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 6.0)
    rounds = args.rounds or (2 if args.quick else 3)
    if args.worker:
        worker(args.worker, int(args.n), seconds)
        return
    kinds = args.kinds.split(",")
    print(f"no-op in-process tasks every second; {seconds:g} s measured per case, median of {rounds} round(s); "
          f"lateness = start - scheduled; {os.cpu_count()} CPU(s), load average {_load()}")
    print(f"{'N':>6} {'scheduler':<16} {'runs':>7} {'missed':>7} {'p50 ms':>9} {'p99 ms':>9} {'p99 min-max':>13} "
          f"{'CPU us/run':>10} {'p99 ratio':>10}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for n in [int(x) for x in args.n.split(",")]:
        results: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
        for _ in range(rounds):
            for kind in kinds:
                out = subprocess.run([sys.executable, __file__, "--worker", kind, "--n", str(n),
                                      "--seconds", str(seconds)],
                                     capture_output=True, text=True, env=env, timeout=seconds * 10 + 120)
                if out.returncode != 0:
                    print(f"{n:>6} {kind:<16} failed: {out.stderr.strip().splitlines()[-1:]}")
                    continue
                results[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = {kind: {key: statistics.median(r[key] for r in rs) for key in ("p50", "p99", "cpu_us_per_run")}
               for kind, rs in results.items() if rs}
        base = med.get("cronwatch", {}).get("p99")
        for kind, rs in results.items():
            if not rs:
                continue
            m = med[kind]
            ratio = "" if kind == "cronwatch" or not base else f"{m['p99'] / base:9.1f}x"
            p99s = sorted(r["p99"] * 1e3 for r in rs)
            spread = f"{p99s[0]:.1f}-{p99s[-1]:.1f}"
            print(f"{n:>6} {kind:<16} {sum(r['count'] for r in rs):>7} {sum(r['missed'] for r in rs):>7} "
                  f"{m['p50'] * 1e3:>9.2f} {m['p99'] * 1e3:>9.2f} {spread:>13} {m['cpu_us_per_run']:>10.1f} {ratio:>10}")
        sys.stdout.flush()
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
