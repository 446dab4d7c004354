"""Command tasks as real processes: run identity in the env, output records, timeouts killing the group."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from sched_helpers import Harness, eventually

from cronwatch.clock import SystemClock

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def real(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A scheduler on the system clock (subprocess timeouts are real time)."""
    h = Harness(tmp_path, clock=SystemClock())
    await h.start()
    yield h
    await h.stop()


def _resolved(path: Path) -> str:
    """The path with symlinks resolved."""
    return str(path.resolve())


def _alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_run_identity_reaches_the_process_and_its_output(real: Harness) -> None:
    """TRACEPARENT, CRONWATCH_TRACE_ID and CRONWATCH_RUN_ID are set; each output line carries the trace id."""
    script = 'echo "$TRACEPARENT"; echo "$CRONWATCH_TRACE_ID $CRONWATCH_RUN_ID $GREETING"'
    real.add(name="env", schedule="@yearly", command=script, env={"GREETING": "hi"})
    ctx = real.sched.run_now("env")
    await eventually(lambda: bool(real.records("task.succeeded", "env")))
    lines = [r for r in real.records(task="env") if "event.action" not in r]
    assert lines[0]["message"] == f"00-{ctx.trace_id}-{lines[0]['span.id']}-01"
    assert lines[1]["message"] == f"{ctx.trace_id} {ctx.run_id} hi"
    assert all(r["trace.id"] == ctx.trace_id and r["task.run_id"] == ctx.run_id for r in lines)


async def test_json_output_and_failure_with_traceback(real: Harness) -> None:
    """A JSON line keeps its fields under extra; a Python traceback on stderr lands in the failure record."""
    code = ("import json, sys; print(json.dumps({'level': 'warn', 'msg': 'slow query', 'rows': 3}), flush=True);"
            "raise RuntimeError('disk quota exceeded')")
    real.add(name="py", schedule="@yearly", command=[sys.executable, "-c", code])
    real.sched.run_now("py")
    await eventually(lambda: bool(real.records("task.failed", "py")))
    out = [r for r in real.records(task="py") if "event.action" not in r]
    js = next(r for r in out if r["extra"].get("msg") == "slow query")
    assert js["log.level"] == "warn" and js["extra"]["rows"] == 3
    tb = next(r for r in out if r["extra"]["stream"] == "stderr")
    assert tb["error.type"] == "RuntimeError" and tb["error.message"] == "disk quota exceeded"
    (failed,) = real.records("task.failed", "py")
    assert failed["error.type"] == "CalledProcessError" and failed["error.message"] == "exit status 1"
    assert "RuntimeError: disk quota exceeded" in failed["error.stack_trace"]
    assert failed["extra"]["exit_code"] == 1


async def test_timeout_kills_the_whole_process_tree(real: Harness, tmp_path: Path) -> None:
    """On timeout the process group is killed: the shell and its background grandchild are gone."""
    pidfile = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pidfile}; wait"
    real.add(name="slow", schedule="@yearly", command=script, timeout="0.5s", kill_grace="0.5s")
    real.sched.run_now("slow")
    await eventually(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    child = int(pidfile.read_text())
    assert _alive(child)
    await eventually(lambda: bool(real.records("task.timed_out", "slow")))
    (rec,) = real.records("task.timed_out", "slow")
    assert rec["error.type"] == "TimeoutError" and rec["event.outcome"] == "failure"
    await eventually(lambda: not _alive(child), within=5)
    assert real.metric("cronwatch_task_runs_total", task="slow", outcome="failure") == 1


async def test_process_ignoring_sigterm_is_killed_after_the_grace(real: Harness) -> None:
    """A process that ignores SIGTERM is SIGKILLed once ``kill_grace`` has passed."""
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    real.add(name="stubborn", schedule="@yearly", command=[sys.executable, "-c", code], timeout="1s",
             kill_grace="0.5s")
    t0 = time.monotonic()
    real.sched.run_now("stubborn")
    await eventually(lambda: bool(real.records("task.timed_out", "stubborn")), within=20)
    assert time.monotonic() - t0 < 10
    (rec,) = real.records("task.timed_out", "stubborn")
    assert rec["extra"]["exit_code"] == -9


async def test_missing_executable_is_a_failed_run(real: Harness) -> None:
    """A command that cannot start fails with a message naming it; the scheduler carries on."""
    real.add(name="nope", schedule="@yearly", command=["/no/such/binary"])
    real.sched.run_now("nope")
    await eventually(lambda: bool(real.records("task.failed", "nope")))
    (rec,) = real.records("task.failed", "nope")
    assert "/no/such/binary" in rec["error.message"]


async def test_cwd_is_used(real: Harness, tmp_path: Path) -> None:
    """``cwd`` sets the working directory of the process."""
    real.add(name="pwd", schedule="@yearly", command=["pwd"], cwd=str(tmp_path))
    real.sched.run_now("pwd")
    await eventually(lambda: bool(real.records("task.succeeded", "pwd")))
    out = [r for r in real.records(task="pwd") if "event.action" not in r]
    assert out[0]["message"] == _resolved(tmp_path)
