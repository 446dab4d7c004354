"""The scheduler's Prometheus metrics, named exactly as in shared/DESIGN.md (label ``task``).

``cronwatch_task_runs_total{outcome}`` counts finished runs by final outcome: ``success``,
``failure`` (timeouts included; the job log says ``task.timed_out``) and ``skipped`` (overlap).
Every family is registered up front, so ``/metrics`` shows them all (with help) before any run;
a task's series are created at zero when the task is added and removed with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OUTCOMES = ("success", "failure", "skipped")
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass
class TaskMetrics:
    """The series of one task, looked up once (``labels()`` is too slow for the hot path)."""

    success: Any
    failure: Any
    skipped: Any
    duration: Any
    last_success: Any
    last_run: Any
    next_run: Any
    running: Any
    retries: Any
    missed: Any


class SchedulerMetrics:
    """Metric families in a registry of their own (one per scheduler)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs = Counter("cronwatch_task_runs_total", "Finished task runs by final outcome.",
                            ["task", "outcome"], registry=r)
        self.duration = Histogram("cronwatch_task_run_duration_seconds", "Duration of task runs, all attempts.",
                                  ["task"], buckets=DURATION_BUCKETS, registry=r)
        self.last_success = Gauge("cronwatch_task_last_success_timestamp_seconds",
                                  "When the task last finished successfully (Unix time).", ["task"], registry=r)
        self.last_run = Gauge("cronwatch_task_last_run_timestamp_seconds",
                              "When the task last started a run (Unix time).", ["task"], registry=r)
        self.next_run = Gauge("cronwatch_task_next_run_timestamp_seconds",
                              "When the task is next due (Unix time); stale when the scheduler stops.",
                              ["task"], registry=r)
        self.running = Gauge("cronwatch_task_running", "Runs of the task in progress.", ["task"], registry=r)
        self.retries = Counter("cronwatch_task_retries_total", "Attempts retried after a failure.",
                               ["task"], registry=r)
        self.missed = Counter("cronwatch_task_missed_total",
                              "Scheduled slots that never ran (downtime, misfire, lock backend down).",
                              ["task"], registry=r)
        self.lateness = Histogram("cronwatch_task_lateness_seconds",
                                  "Actual start minus scheduled time of task runs.", buckets=LATENESS_BUCKETS,
                                  registry=r)

    def add_task(self, task: str, next_run: Callable[[], float] | None = None,
                 running: Callable[[], float] | None = None) -> TaskMetrics:
        """Create the task's series at zero and return them.

        ``next_run`` and ``running`` are read at scrape time (nothing to update on the hot path).
        """
        tm = TaskMetrics(
            success=self.runs.labels(task, "success"), failure=self.runs.labels(task, "failure"),
            skipped=self.runs.labels(task, "skipped"), duration=self.duration.labels(task),
            last_success=self.last_success.labels(task), last_run=self.last_run.labels(task),
            next_run=self.next_run.labels(task), running=self.running.labels(task),
            retries=self.retries.labels(task), missed=self.missed.labels(task),
        )
        tm.running.set(0)
        if next_run is not None:
            tm.next_run.set_function(next_run)
        if running is not None:
            tm.running.set_function(running)
        return tm

    def remove_task(self, task: str) -> None:
        """Drop every series of a removed task."""
        for outcome in OUTCOMES:
            self._drop(self.runs, task, outcome)
        for fam in (self.duration, self.last_success, self.last_run, self.next_run, self.running,
                    self.retries, self.missed):
            self._drop(fam, task)

    @staticmethod
    def _drop(family: Counter | Gauge | Histogram, *labels: str) -> None:
        try:
            family.remove(*labels)
        except KeyError:
            pass
