"""Decoded fields → the ECS document to index (the DESIGN.md contract).

``DocumentBuilder`` is made once per input. ``build`` maps the decoder's fields onto contract
names (``log.level``, ``trace.id``, ``task.name``, ``event.duration`` ...), normalises them,
and puts every other field — and every known field whose value does not normalise — under
``extra`` with its original name and value, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cronwatch.jsonlog import format_ts
from shipper.parse import normalize as nz
from shipper.parse.timestamps import TimestampParser

(TS, LEVEL, MSG, TRACE, SPAN, STR, ATTEMPT, DURATION, OUTCOME, ERROR, LABELS, TAGS, TASK, HOST, SERVICE,
 TIME) = range(16)

# field name as written → (slot, contract name)
KNOWN: dict[str, tuple[int, str]] = {}
for _slot, _target, _names in (
    (TS, "@timestamp", ("@timestamp", "timestamp", "time", "ts", "datetime", "date", "asctime", "eventTime",
                        "logtime", "log_time", "time_local")),
    (LEVEL, "log.level", ("log.level", "level", "lvl", "severity", "levelname", "loglevel", "log_level",
                          "levelName", "level_name")),
    (MSG, "message", ("message", "msg", "event", "text")),
    (TRACE, "trace.id", ("trace.id", "trace_id", "traceId", "traceID", "traceid", "trace-id", "TraceId",
                         "otelTraceID", "traceparent", "trace")),
    (SPAN, "span.id", ("span.id", "span_id", "spanId", "spanID", "spanid", "span-id", "otelSpanID", "span")),
    (TASK, "task.name", ("task.name", "task", "task_name", "taskName", "job", "job_name", "jobName")),
    (STR, "task.run_id", ("task.run_id", "run_id", "runId", "runID")),
    (ATTEMPT, "task.attempt", ("task.attempt", "attempt")),
    (STR, "task.schedule", ("task.schedule", "schedule")),
    (TIME, "task.scheduled_at", ("task.scheduled_at", "scheduled_at")),
    (STR, "log.logger", ("log.logger", "logger", "logger_name", "loggerName")),
    (STR, "event.action", ("event.action",)),
    (OUTCOME, "event.outcome", ("event.outcome", "outcome")),
    (STR, "error.type", ("error.type", "exc_type", "error_type")),
    (STR, "error.message", ("error.message", "error_message")),
    (STR, "error.stack_trace", ("error.stack_trace", "stacktrace", "stack_trace", "stack", "exception",
                                "exc_info", "traceback")),
    (ERROR, "error.message", ("error", "err")),
    (HOST, "host.name", ("host.name", "hostname", "host")),
    (SERVICE, "service.name", ("service.name", "service")),
    (LABELS, "labels", ("labels",)),
    (TAGS, "tags", ("tags",)),
):
    for _n in _names:
        KNOWN[_n] = (_slot, _target)
TS_RANK = {name: i for i, name in enumerate(n for n, (slot, _) in KNOWN.items() if slot == TS)}
for _n in nz.DURATION_FIELDS:
    KNOWN[_n] = (DURATION, "event.duration")

# objects whose members are looked up as dotted names (ECS written nested)
NESTED_ROOTS = frozenset({"log", "trace", "span", "event", "error", "task", "host", "service"})
CONTRACT_FIELDS = frozenset({
    "@timestamp", "log.level", "message", "event.action", "event.outcome", "event.duration", "trace.id",
    "span.id", "task.name", "task.run_id", "task.attempt", "task.schedule", "task.scheduled_at", "error.type",
    "error.message", "error.stack_trace", "host.name", "service.name", "log.file.path", "log.offset", "log.logger",
})


class DocumentBuilder:
    """Builds ECS documents for one input (zone, host, static labels and fields fixed)."""

    def __init__(self, timestamps: TimestampParser, host: str | None, labels: Mapping[str, str],
                 fields: Mapping[str, Any]) -> None:
        self.timestamps = timestamps
        self.host = host
        self.labels = dict(labels)
        self.static_top = {k: v for k, v in fields.items() if k in CONTRACT_FIELDS}
        self.static_extra = {k: v for k, v in fields.items() if k not in CONTRACT_FIELDS}

    def _take(self, key: str, value: Any, out: dict[str, Any], extra: dict[str, Any],
              tags: list[str]) -> None:
        """Put one decoded field where it belongs (``out``: contract names; ``extra``: the rest)."""
        known = KNOWN.get(key)
        if known is None:
            if key in NESTED_ROOTS and isinstance(value, dict):
                self._nested(key, value, out, extra, tags)
            else:
                extra[key] = value
            return
        slot, target = known
        if isinstance(value, dict) and key in NESTED_ROOTS:
            self._nested(key, value, out, extra, tags)
            return
        if target in out and slot != TAGS:
            extra[key] = value
            return
        norm: Any = None
        if slot == MSG or slot == STR:
            norm = value if isinstance(value, str) else None
        elif slot == LEVEL:
            norm = nz.level(value)
        elif slot == TRACE:
            norm = nz.trace_id(value)
            if norm is not None and isinstance(value, str) and len(value) == 55 and "span.id" not in out:
                sid = nz.span_id(value)
                if sid:
                    out["span.id"] = sid
        elif slot == SPAN:
            norm = nz.span_id(value)
        elif slot == TIME:
            norm = self.timestamps.parse(value) if isinstance(value, str | int | float) else None
        elif slot == TASK or slot == HOST or slot == SERVICE:
            norm = value if isinstance(value, str) and value else None
        elif slot == DURATION:
            norm = nz.duration_ns(value, nz.DURATION_FIELDS[key])
        elif slot == ATTEMPT:
            if isinstance(value, int) and not isinstance(value, bool):
                norm = value
            elif isinstance(value, str) and value.isdigit():
                norm = int(value)
        elif slot == OUTCOME:
            norm = nz.outcome(value)
        elif slot == ERROR:
            norm = value if isinstance(value, str) else None
        elif slot == LABELS:
            if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                norm = value
        elif slot == TAGS:
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                tags.extend(value)
                return
        if norm is None:
            extra[key] = value
        else:
            out[target] = norm

    def _nested(self, root: str, obj: dict[str, Any], out: dict[str, Any], extra: dict[str, Any],
                tags: list[str]) -> None:
        rest: dict[str, Any] = {}
        for sub, value in obj.items():
            dotted = f"{root}.{sub}"
            if dotted in KNOWN:
                sub_extra: dict[str, Any] = {}
                self._take(dotted, value, out, sub_extra, tags)
                if sub_extra:
                    rest[sub] = value
            else:
                rest[sub] = value
        if rest:
            prev = extra.get(root)
            extra[root] = {**prev, **rest} if isinstance(prev, dict) else rest

    def build(self, fields: Mapping[str, Any] | None, line: str, path: str, offset: int, read_time: float,
              fallback_ts: str | None = None, stack: list[str] | None = None, tags: list[str] | None = None,
              task: str | None = None, from_text: bool = True) -> dict[str, Any]:
        """The ECS document for one record (``line``: its first line; ``stack``: the lines after it).

        ``from_text``: the fields were captured from text (grok): a None value is a group that did
        not take part, and the message defaults to the line. Otherwise (JSON, logfmt) None is data.
        """
        doc: dict[str, Any] = {"@timestamp": None}  # first key; filled in below
        extra: dict[str, Any] = {}
        tag_list: list[str] = list(tags) if tags else []  # never the caller's list
        ts_raw: Any = None
        ts_key = "@timestamp"
        ts_rank = len(TS_RANK)
        if fields:
            known_get = KNOWN.get
            levels_get = nz.LEVELS.get
            take = self._take
            for key, value in fields.items():
                if value is None:
                    if not from_text:
                        extra[key] = None
                    continue
                known = known_get(key)
                if known is None:
                    if key not in NESTED_ROOTS:
                        extra[key] = value
                        continue
                else:
                    slot = known[0]
                    if slot == TS:
                        rank = TS_RANK[key]  # "@timestamp" beats "time" beats ... "date"
                        if rank < ts_rank and (type(value) is str or type(value) is int or type(value) is float):
                            if ts_raw is not None:
                                extra[ts_key] = ts_raw
                            ts_raw, ts_key, ts_rank = value, key, rank
                        else:
                            extra[key] = value
                        continue
                    if slot == MSG and type(value) is str:
                        if "message" in doc:
                            extra[key] = value
                        else:
                            doc["message"] = value
                        continue
                    if slot == LEVEL and type(value) is str and "log.level" not in doc:
                        lv = levels_get(value)
                        if lv is not None:
                            doc["log.level"] = lv
                            continue
                take(key, value, doc, extra, tag_list)

        ts = None
        if ts_raw is not None:
            ts = self.timestamps.parse(ts_raw, read_time)
            if ts is None:
                tag_list.append("_dateparsefailure")
                extra[ts_key] = ts_raw
        if ts is None:
            ts = fallback_ts if (fallback_ts and ts_raw is None) else format_ts(read_time)
        doc["@timestamp"] = ts

        return self.finish(doc, extra, tag_list, line, path, offset, stack, task, from_text)

    def finish(self, doc: dict[str, Any], extra: dict[str, Any], tag_list: list[str], line: str, path: str,
               offset: int, stack: list[str] | None, task: str | None, from_text: bool) -> dict[str, Any]:
        """Everything after the decoded fields: message default, ids in text, stack, host, labels, ..."""
        message = doc.get("message")
        if not message and from_text:
            message = doc["message"] = line
        if "trace.id" not in doc and message and ("race" in message or "RACE" in message):
            tid, sid = nz.ids_in_text(message)
            if tid:
                doc["trace.id"] = tid
                if sid and "span.id" not in doc:
                    doc["span.id"] = sid
        if extra and "log.level" not in doc:
            status = extra.get("status")
            pri = extra.get("priority")
            if isinstance(status, str) and len(status) == 3 and status.isdigit():
                doc["log.level"] = "error" if status[0] == "5" else "warn" if status[0] == "4" else "info"
            elif isinstance(pri, str) and pri.isdigit():
                doc["log.level"] = nz.SYSLOG_SEVERITY[int(pri) % 8]
        if task and "task.name" not in doc:
            doc["task.name"] = task
        if stack or line[:1] in "pf":
            self._stack(doc, extra, line, stack)
        if self.static_top:
            for key, value in self.static_top.items():
                doc.setdefault(key, value)
        if "host.name" not in doc and self.host:
            doc["host.name"] = self.host
        doc["log.file.path"] = path
        doc["log.offset"] = offset
        if self.labels:
            labels = doc.get("labels")
            doc["labels"] = {**labels, **self.labels} if labels else self.labels.copy()
        if self.static_extra:
            for key, value in self.static_extra.items():
                extra.setdefault(key, value)
        if extra:
            doc["extra"] = extra
        if tag_list:
            doc["tags"] = tag_list
        return doc

    def _stack(self, doc: dict[str, Any], extra: dict[str, Any], line: str, stack: list[str] | None) -> None:
        """Multi-line records: the stack trace, the error type and message, ``fatal`` for Go panics."""
        panic = line.startswith(("panic: ", "fatal error: "))
        if panic:
            doc["log.level"] = "fatal"
        if stack:
            trace_text = "\n".join(stack).rstrip().lstrip("\n")
            if "error.stack_trace" in doc:
                extra.setdefault("stack", trace_text)
            else:
                doc["error.stack_trace"] = trace_text
        if (stack or panic) and "error.type" not in doc:
            etype, emsg = nz.error_from_stack(line, stack or [])
            if etype:
                doc["error.type"] = etype
                if "error.message" not in doc and emsg is not None:
                    doc["error.message"] = emsg
