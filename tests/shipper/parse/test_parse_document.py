"""The ECS document: levels, trace ids, durations, task, host, labels, static fields, ``extra``."""

from __future__ import annotations

import pytest
from parse_helpers import docs, events, one

from cronwatch.config import parse_yaml_text, validate_document
from cronwatch.errors import ConfigError
from shipper.parse import ParseConfig
from shipper.parse import normalize as nz


@pytest.mark.parametrize(("raw", "level"), [
    ("WARNING", "warn"), ("warning", "warn"), ("Warn", "warn"), ("CRITICAL", "fatal"), ("PANIC", "fatal"),
    ("DPANIC", "fatal"), ("dpanic", "fatal"), ("emerg", "fatal"), ("ERR", "error"), ("severe", "error"),
    ("notice", "info"), ("INFO", "info"), ("fine", "debug"), ("TRACE", "trace"), (" debug ", "debug"),
    (30, "info"), (50, "error"), (60, "fatal"),
])
def test_levels_normalised(raw: object, level: str) -> None:
    """Level words and pino numbers map to the six contract levels."""
    assert nz.level(raw) == level


def test_unknown_level_is_kept_in_extra() -> None:
    """A level that does not normalise is not invented: it stays in ``extra`` under its name."""
    doc = one('{"level": "chatty", "msg": "x"}')
    assert "log.level" not in doc and doc["extra"] == {"level": "chatty"}


@pytest.mark.parametrize(("raw", "expected"), [
    ("4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736"),
    ("550e8400-e29b-41d4-a716-446655440000", "550e8400e29b41d4a716446655440000"),
    ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"),
    ("463ac35c9f6413ad", "0000000000000000463ac35c9f6413ad"),
    ("00000000000000000000000000000000", None), ("xyz", None), (12345, None),
])
def test_trace_ids(raw: object, expected: str | None) -> None:
    """Trace ids become 32 lowercase hex; invalid ones are refused."""
    assert nz.trace_id(raw) == expected


@pytest.mark.parametrize("key", ["trace_id", "traceId", "traceID", "trace.id", "otelTraceID", "traceparent"])
def test_trace_id_from_fields(key: str) -> None:
    """Every common trace field name lands in ``trace.id``; a traceparent also gives ``span.id``."""
    value = ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" if key == "traceparent"
             else "4bf92f3577b34da6a3ce929d0e0e4736")
    doc = one(f'{{"msg": "x", "{key}": "{value}", "span_id": "00F067AA0BA902B7"}}')
    assert doc["trace.id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert doc["span.id"] == "00f067aa0ba902b7"


def test_trace_id_from_text_and_nested_ecs() -> None:
    """``traceId=`` in a message and nested ECS objects (``{"trace": {"id": ...}}``) both work."""
    assert one("2026-11-22 10:00:00 INFO done traceId=550e8400-e29b-41d4-a716-446655440000")["trace.id"] == (
        "550e8400e29b41d4a716446655440000")
    doc = one('{"log": {"level": "WARN", "logger": "x"}, "trace": {"id": "4bf92f3577b34da6a3ce929d0e0e4736"},'
              ' "event": {"action": "task.failed", "kind": "event"}, "message": "m"}')
    assert doc["log.level"] == "warn" and doc["trace.id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert doc["event.action"] == "task.failed"
    assert doc["log.logger"] == "x" and doc["extra"] == {"event": {"kind": "event"}}


@pytest.mark.parametrize(("line", "ns"), [
    ('{"msg": "x", "duration": "1.5s"}', 1_500_000_000),
    ('{"msg": "x", "duration": 2.5}', 2_500_000_000),
    ('{"msg": "x", "duration_ms": 41022}', 41_022_000_000),
    ('{"msg": "x", "elapsed": "85.211µs"}', 85_211),
    ('{"msg": "x", "elapsed_ms": "12.5"}', 12_500_000),
    ('{"msg": "x", "event.duration": 3411000000}', 3_411_000_000),
    ("time=2026-11-22T10:00:00Z level=info msg=x latency=1m30s", 90_000_000_000),
])
def test_durations_in_ns(line: str, ns: int) -> None:
    """Durations in any unit or as Go strings become ``event.duration`` in nanoseconds."""
    assert one(line)["event.duration"] == ns


def test_bad_duration_kept_in_extra() -> None:
    """A duration that does not parse stays as it was, under ``extra``."""
    doc = one('{"msg": "x", "duration": "about a minute"}')
    assert "event.duration" not in doc and doc["extra"] == {"duration": "about a minute"}


def test_task_from_fields_and_path() -> None:
    """``task.name`` comes from a field, else from the configured regex on the file path."""
    rx = r"/jobs/(?P<task>[\w-]+)\.log$"
    found = [e.doc for e in events("plain line\n", path="/var/log/jobs/nightly-backup.log", task_from_path=rx)]
    assert found[0]["task.name"] == "nightly-backup"
    assert one('{"msg": "x", "task": "sync"}', task_from_path=rx)["task.name"] == "sync"


def test_task_from_path_needs_named_group() -> None:
    """A ``task_from_path`` without ``(?P<task>...)`` is a config error naming file, line and field."""
    doc = parse_yaml_text("codec: auto\ntask_from_path: '/jobs/(.*)'\n", "input.yml")
    with pytest.raises(ConfigError) as err:
        validate_document(doc, ParseConfig)
    assert err.value.problems == ["input.yml:2: task_from_path: the regular expression needs a named group (?P<task>...)"]


def test_unknown_timezone_is_a_config_error() -> None:
    """An unknown zone is reported with file:line and the field."""
    doc = parse_yaml_text("timezone: Mars/Olympus\n", "input.yml")
    with pytest.raises(ConfigError) as err:
        validate_document(doc, ParseConfig)
    assert err.value.problems[0].startswith('input.yml:1: timezone: unknown time zone "Mars/Olympus"')


def test_bad_settings_are_reported_together() -> None:
    """Every bad parse setting is named with its line: codec, budget, start pattern, limits."""
    doc = parse_yaml_text("codec: xml\ngrok_timeout: 0s\nmultiline:\n  start_pattern: '(['\n  max_lines: 0\n",
                          "input.yml")
    with pytest.raises(ConfigError) as err:
        validate_document(doc, ParseConfig)
    text = "\n".join(err.value.problems)
    assert "input.yml:1: codec:" in text and "input.yml:2: grok_timeout: must be positive" in text
    assert "input.yml:4: multiline.start_pattern: invalid regular expression at position 1" in text
    assert "input.yml:5: multiline.max_lines:" in text


def test_host_labels_static_fields() -> None:
    """Configured host, labels and static fields are added; the record's own host wins."""
    cfg = ParseConfig(host="box-1", labels={"env": "prod", "team": "data"},
                      fields={"service.name": "billing", "datacenter": "sh-1"})
    (plain,) = [e.doc for e in events("hello\n", cfg=cfg)]
    assert plain["host.name"] == "box-1" and plain["labels"] == {"env": "prod", "team": "data"}
    assert plain["service.name"] == "billing" and plain["extra"] == {"datacenter": "sh-1"}
    (own,) = [e.doc for e in events('{"msg": "x", "host": "worker-9", "labels": {"env": "dev", "k": "v"}}\n',
                                    cfg=cfg)]
    assert own["host.name"] == "worker-9"
    assert own["labels"] == {"env": "prod", "team": "data", "k": "v"}


def test_everything_else_lands_in_extra() -> None:
    """Unknown fields keep their names and types under ``extra``; nothing is dropped."""
    doc = one('{"msg": "x", "rows": 5, "ok": true, "nested": {"a": [1, 2]}, "time": "2026-11-22T02:00:00Z",'
              ' "ts": 1795312800}')
    assert doc["extra"] == {"rows": 5, "ok": True, "nested": {"a": [1, 2]}, "ts": 1795312800}
    assert doc["@timestamp"] == "2026-11-22T02:00:00.000Z"


def test_invalid_contract_values_are_not_indexed_as_contract() -> None:
    """Wrong-typed values of contract fields (``task.attempt`` as text) go to ``extra`` instead."""
    doc = one('{"msg": "x", "task.attempt": "second", "event.outcome": "meh", "trace.id": 5,'
              ' "task.scheduled_at": "soon"}')
    assert doc["extra"] == {"task.attempt": "second", "event.outcome": "meh", "trace.id": 5,
                            "task.scheduled_at": "soon"}


def test_scheduled_at_is_normalised_like_timestamps() -> None:
    """``task.scheduled_at`` is a date in the index, so it is normalised to UTC milliseconds too."""
    doc = one('{"msg": "x", "scheduled_at": "2026-11-22T10:00:00+08:00"}')
    assert doc["task.scheduled_at"] == "2026-11-22T02:00:00.000Z"


def test_json_codec_and_logfmt_codec_failures() -> None:
    """Forced codecs tag lines that are not theirs and keep the text as the message."""
    doc = one("not json", codec="json")
    assert doc["tags"] == ["_jsonparsefailure"] and doc["message"] == "not json"
    kv = one("a=1 b", codec="logfmt")
    assert kv["extra"] == {"a": "1", "b": True}
    assert one("plain text", codec="plain")["message"] == "plain text"


def test_logfmt_quoting() -> None:
    """logfmt quoted values keep spaces, escaped quotes and ``=`` signs."""
    doc = one(r'level=error msg="say \"hi\" a=b" path=/x task=t1')
    assert doc["message"] == 'say "hi" a=b' and doc["task.name"] == "t1"
    assert doc["extra"] == {"path": "/x"}


def test_json_beyond_orjson_limits() -> None:
    """Huge integers, NaN and lone surrogates are accepted and made indexable, never fatal."""
    doc = one('{"msg": "x", "big": 123456789012345678901234567890, "n": NaN, "s": "\\ud800"}')
    assert doc["extra"] == {"big": "123456789012345678901234567890", "n": "NaN", "s": "?"}


def test_non_object_json_is_plain() -> None:
    """A JSON array or string on a line is just text."""
    assert [d["message"] for d in docs('[1, 2]\n"str"\n')] == ["[1, 2]", '"str"']


def test_syslog_priority_gives_level() -> None:
    """An RFC 5424 line's priority gives the level; its host and program are kept."""
    doc = one("<11>1 2026-11-22T02:00:00.123Z web-1 backup 42 - - disk full")
    assert doc["log.level"] == "error" and doc["host.name"] == "web-1"
    assert doc["@timestamp"] == "2026-11-22T02:00:00.123Z" and doc["message"] == "disk full"
