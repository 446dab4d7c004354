"""A scheduler on a fake clock with its real job log and SQLite state, for the engine tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cronwatch.clock import Clock, FakeClock
from scheduler.engine import Scheduler
from scheduler.joblog import JobLog
from scheduler.model import TaskSpec, parse_task
from scheduler.state import StateStore

T0 = 1_800_000_000.0


async def settle(rounds: int = 30) -> None:
    """Let the event loop run everything that is ready."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait (real time) until ``check()`` is true, e.g. for work done in threads or subprocesses."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Harness:
    """A scheduler + its loop task; ``records()`` reads the job log back."""

    def __init__(self, tmp: Path, clock: Clock | None = None, state: bool = True) -> None:
        self.tmp = tmp
        self.clock = clock if clock is not None else FakeClock(T0 + 0.5)
        self.log_path = tmp / "tasks.log"
        self.state = StateStore(tmp / "state") if state else None
        self.sched = Scheduler(JobLog(self.log_path, host_name="test-host"), state=self.state, clock=self.clock)
        self.loop_task: asyncio.Task[None] | None = None

    def add(self, **spec: Any) -> TaskSpec:
        """Add a task from keyword fields."""
        task = parse_task(spec)
        self.sched.add(task)
        return task

    async def start(self) -> None:
        """Restore state, start the loop and let it schedule."""
        for spec in self.sched.restore():
            self.sched.add(spec, "api")
        self.loop_task = asyncio.ensure_future(self.sched.run())
        await settle()

    async def advance(self, seconds: float, step: float = 0.25) -> None:
        """Move the fake clock forward in small steps, letting the loop react at each."""
        assert isinstance(self.clock, FakeClock)
        left = seconds
        while left > 1e-9:
            d = min(step, left)
            self.clock.advance(d)
            left -= d
            await settle()

    async def stop(self, grace: float = 5.0) -> None:
        """Drain and stop the loop; close the state."""
        await self.sched.drain(grace)
        if self.loop_task is not None:
            await self.loop_task
        self.sched.driver.detach()
        if self.state is not None:
            self.state.close()
        self.sched.joblog.close()

    def records(self, action: str | None = None, task: str | None = None) -> list[dict[str, Any]]:
        """Records in the job log (optionally of one ``event.action`` and task)."""
        self.sched.driver.flush_log()
        if not self.log_path.exists():
            return []
        out = [json.loads(line) for line in self.log_path.read_text().splitlines()]
        return [r for r in out if (action is None or r.get("event.action") == action)
                and (task is None or r.get("task.name") == task)]

    def metric(self, name: str, **labels: str) -> float:
        """A sample value from the scheduler's registry (0 when absent)."""
        value = self.sched.metrics.registry.get_sample_value(name, labels or None)
        return 0.0 if value is None else value
