"""The shipper's metrics (names exactly as in DESIGN.md), including those derived from the logs themselves.

``cronwatch_log_events_total{task,level}`` and ``cronwatch_log_task_runs_total{task,outcome}``
let rules alert on tasks that only write logs. The number of distinct ``task`` label values is
bounded: once ``max_tasks`` are known, further tasks are counted under ``task="_other"``.
"""

from __future__ import annotations

from collections import Counter as Tally
from itertools import repeat
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OTHER = "_other"
NO_TASK = ""
# event.action → outcome of a finished run, the values the scheduler's cronwatch_task_runs_total uses
RUN_OUTCOMES = {"task.succeeded": "success", "task.failed": "failure", "task.timed_out": "timeout"}
TAG_KINDS = {"_grokparsefailure": "grok", "_dateparsefailure": "date", "_jsonparsefailure": "json",
             "_truncated": "truncated", "_groktimeout": "grok_timeout"}


def field(doc: dict[str, Any], name: str) -> Any:
    """``doc[name]`` for a dotted ECS name, whether the document keeps it dotted or nested."""
    value = doc.get(name)
    if value is not None or "." not in name:
        return value
    node: Any = doc
    for part in name.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


class TaskLabels:
    """Bounds the ``task`` label: the first ``max_tasks`` names keep their value, later ones become ``_other``."""

    def __init__(self, max_tasks: int = 500) -> None:
        self.max_tasks = max_tasks
        self.known: set[str] = set()

    def label(self, task: Any) -> str:
        """The label value for ``task`` (pure apart from remembering the names it has seen)."""
        name = NO_TASK if task is None else str(task)
        if name in self.known:
            return name
        if len(self.known) >= self.max_tasks:
            return OTHER
        self.known.add(name)
        return name


class ShipperMetrics:
    """Every metric the shipper exposes, in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None, max_tasks: int = 500) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter("cronwatch_shipper_events_total", "Events by pipeline stage.", ["stage"], registry=r)
        self.parse_failures = Counter("cronwatch_shipper_parse_failures_total", "Parse failures by kind.",
                                      ["kind"], registry=r)
        self.bulk_requests = Counter("cronwatch_shipper_bulk_requests_total", "Bulk requests by HTTP status.",
                                     ["status"], registry=r)
        self.bulk_duration = Histogram("cronwatch_shipper_bulk_duration_seconds", "Duration of bulk requests.",
                                       registry=r, buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.lag = Gauge("cronwatch_shipper_lag_bytes", "Bytes of a file not yet acknowledged by the store.",
                         ["path"], registry=r)
        self.log_events = Counter("cronwatch_log_events_total", "Log records shipped, by task and level.",
                                  ["task", "level"], registry=r)
        self.log_runs = Counter("cronwatch_log_task_runs_total", "Task runs seen in the logs, by outcome.",
                                ["task", "outcome"], registry=r)
        self.tasks = TaskLabels(max_tasks)
        self._stage = {s: self.events.labels(s) for s in ("read", "parsed", "filtered", "indexed", "dead_lettered")}
        self._log_children: dict[tuple[str, str], Any] = {}

    def stage(self, stage: str, n: int = 1) -> None:
        """Count ``n`` events at ``stage``."""
        if n:
            self._stage[stage].inc(n)

    def bulk_request(self, status: str, seconds: float) -> None:
        """One bulk request with its HTTP status (or ``error``) and duration."""
        self.bulk_requests.labels(status).inc()
        self.bulk_duration.observe(seconds)

    def dead_lettered(self, n: int) -> None:
        """``n`` documents went to the dead-letter file."""
        self.stage("dead_lettered", n)

    def observe(self, docs: list[dict[str, Any]]) -> None:
        """Count shipped documents in the log-derived metrics and their parse-failure tags.

        Called once per chunk of documents: the per-document work is done by C-level ``map`` and
        ``Counter`` over the dotted fields; nested ECS objects are looked up only when a document has them.
        """
        if not docs:
            return
        n = len(docs)
        keys = set().union(*docs)  # every top-level key of the chunk: one pass instead of one per key
        tasks: list[Any] = list(map(dict.get, docs, repeat("task.name", n))) if "task.name" in keys else [None] * n
        levels: list[Any] = list(map(dict.get, docs, repeat("log.level", n))) if "log.level" in keys else [None] * n
        if "task" in keys and None in tasks:  # ECS fields as nested objects
            tasks = [field(d, "task.name") if t is None and "task" in d else t for d, t in zip(docs, tasks, strict=True)]
        if "log" in keys and None in levels:
            levels = [field(d, "log.level") if lv is None and "log" in d else lv
                      for d, lv in zip(docs, levels, strict=True)]
        if "event.action" in keys or "event" in keys:
            for d, task in zip(docs, tasks, strict=True):
                if "event.action" in d or "event" in d:
                    self._run(task, field(d, "event.action"))
        if "tags" in keys:
            tagged = [tags for tags in map(dict.get, docs, repeat("tags", n)) if tags]
            kinds = Tally(kind for tags in tagged for tag in tags if (kind := TAG_KINDS.get(tag)) is not None)
            for kind, k in kinds.items():
                self.parse_failures.labels(kind).inc(k)
        first = tasks[0]
        if tasks.count(first) == n:  # usually one task per file: count the levels alone
            counts: dict[tuple[Any, Any], int] = {(first, level): k for level, k in Tally(levels).items()}
        else:
            counts = Tally(zip(tasks, levels, strict=True))
        for (task, level), k in counts.items():
            label = self.tasks.label(task)
            key = (label, str(level or "unknown"))
            child = self._log_children.get(key)
            if child is None:
                child = self._log_children[key] = self.log_events.labels(*key)
            child.inc(k)

    def observe_doc(self, doc: dict[str, Any]) -> None:
        """Count one shipped document (see :meth:`observe`)."""
        self.observe([doc])

    def _run(self, task: Any, action: Any) -> None:
        outcome = RUN_OUTCOMES.get(str(action)) if action is not None else None
        if outcome is not None:
            self.log_runs.labels(self.tasks.label(task), outcome).inc()
