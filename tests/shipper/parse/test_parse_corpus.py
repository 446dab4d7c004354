"""Every format in shared/corpus parses with no configuration into the DESIGN.md contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from parse_helpers import events

from shipper.parse import ParseConfig

SHANGHAI = ParseConfig(timezone="Asia/Shanghai", host="test-host")


def corpus_docs(corpus_dir: Path, name: str) -> list[dict[str, Any]]:
    """The documents of one corpus file, read as the tailer would (offsets in bytes)."""
    path = corpus_dir / name
    return [e.doc for e in events(path.read_text(encoding="utf-8"), cfg=SHANGHAI, path=str(path))]


CONTRACT_LEVELS = {"trace", "debug", "info", "warn", "error", "fatal"}


@pytest.mark.parametrize("name", ["ecs.json.log", "gin.log", "go-panic.log", "go-std.log", "logrus.json.log",
                                  "logrus.text.log", "python.log", "spring.log", "syslog-cron.log", "zap.json.log"])
def test_every_corpus_file_parses_cleanly(corpus_dir: Path, name: str) -> None:
    """No corpus line gets a failure tag, every time is UTC with ms, and levels are the contract's."""
    found = corpus_docs(corpus_dir, name)
    assert found
    for doc in found:
        assert not any(t.startswith("_") for t in doc.get("tags", [])), doc
        ts = doc["@timestamp"]
        assert len(ts) == 24 and ts.endswith("Z") and ts[19] == ".", ts
        assert ts.startswith("2026-11-2"), ts
        assert doc.get("log.level", "info") in CONTRACT_LEVELS
        assert doc["log.file.path"] == str(corpus_dir / name)
        assert isinstance(doc["log.offset"], int)
        assert doc["message"]


def test_ecs_json_passes_through(corpus_dir: Path) -> None:
    """cronwatch's own ECS records keep every contract field exactly."""
    first, second = corpus_docs(corpus_dir, "ecs.json.log")
    assert first["@timestamp"] == "2026-11-22T02:00:00.001Z"
    assert first["event.action"] == "task.started"
    assert first["task.name"] == "sync_orders" and first["task.attempt"] == 1
    assert first["task.scheduled_at"] == "2026-11-22T02:00:00.000Z"
    assert first["host.name"] == "worker-1" and first["service.name"] == "cronwatch-scheduler"
    assert second["event.duration"] == 3411000000 and second["event.outcome"] == "failure"
    assert second["error.type"] == "CalledProcessError" and "extra" not in second


def test_zap_json(corpus_dir: Path) -> None:
    """zap: float epoch ``ts``, UUID trace ids lose dashes, ``duration`` in seconds, ``stacktrace``."""
    found = corpus_docs(corpus_dir, "zap.json.log")
    assert found[0]["@timestamp"] == "2026-11-22T02:00:00.000Z"
    assert found[0]["trace.id"] == "550e8400e29b41d4a716446655440000"
    assert found[0]["extra"]["caller"] == "cron/main.go:41"
    assert found[1]["@timestamp"] == "2026-11-22T02:00:01.500Z"
    assert found[1]["event.duration"] == 1_499_877_000
    assert found[2]["error.message"].startswith("runtime error: index out of range")
    assert found[2]["error.stack_trace"].startswith("main.doScheduledWork()")
    assert found[3]["@timestamp"] == "2026-11-22T02:02:00.001Z"
    assert found[3]["task.name"] == "sync_orders" and found[3]["task.attempt"] == 2
    assert found[3]["log.level"] == "warn"


def test_logrus_text_and_json(corpus_dir: Path) -> None:
    """logrus: RFC 3339 with offset, ``warning`` → warn, Go durations and ``duration_ms``."""
    text = corpus_docs(corpus_dir, "logrus.text.log")
    assert text[0]["@timestamp"] == "2026-11-22T02:00:00.000Z"
    assert text[0]["task.name"] == "backup" and text[0]["trace.id"] == "0af7651916cd43dd8448eb211c80319c"
    assert text[1]["log.level"] == "warn" and text[1]["event.duration"] == 1_200_000_000
    assert text[1]["extra"] == {"rows": "1043"}
    assert text[2]["error.message"] == "write /data/backup.tar: disk quota exceeded"
    js = corpus_docs(corpus_dir, "logrus.json.log")
    assert js[1]["event.duration"] == 41_022_000_000 and js[1]["extra"] == {"rows": 98211}
    assert js[0]["@timestamp"] == "2026-11-21T18:00:00.000Z"


def test_python_logging_with_traceback(corpus_dir: Path) -> None:
    """The traceback joins its ERROR line; the zone-less time is read in the input's zone."""
    found = corpus_docs(corpus_dir, "python.log")
    assert len(found) == 3
    err = found[1]
    assert err["@timestamp"] == "2026-11-22T02:15:02.117Z"
    assert err["log.level"] == "error" and err["message"].startswith("task failed")
    assert err["trace.id"] == "e0a1b2c3d4e5f60718293a4b5c6d7e8f"
    assert err["error.type"] == "sqlite3.OperationalError" and err["error.message"] == "database is locked"
    assert err["error.stack_trace"].startswith("Traceback (most recent call last):")
    assert err["error.stack_trace"].endswith("database is locked")
    assert found[2]["log.level"] == "warn" and found[2]["log.logger"] == "report" and "extra" not in found[2]


def test_spring_with_java_stack(corpus_dir: Path) -> None:
    """Spring Boot: padded level, thread and logger; the stack with ``Caused by:`` is one event."""
    found = corpus_docs(corpus_dir, "spring.log")
    assert len(found) == 3
    assert found[0]["extra"] == {"pid": "4242", "thread": "scheduling-1"}
    assert found[0]["log.logger"] == "c.example.jobs.ReportJob"
    assert found[0]["trace.id"] == "5b8aa5a2d2c872e8321cf37308d69df2"
    err = found[1]
    assert err["error.type"] == "java.lang.IllegalStateException"
    assert "Caused by: java.io.FileNotFoundException" in err["error.stack_trace"]
    assert err["error.stack_trace"].endswith("... 3 common frames omitted")
    assert found[2]["message"] == "will retry at 01:05"


def test_go_panic_is_its_own_fatal_record(corpus_dir: Path) -> None:
    """``panic:`` starts a fatal record with the previous record's time and the goroutine dump."""
    first, panic = corpus_docs(corpus_dir, "go-panic.log")
    assert first["trace.id"] == "1f2e3d4c5b6a79881f2e3d4c5b6a7988"
    assert panic["log.level"] == "fatal"
    assert panic["@timestamp"] == first["@timestamp"] == "2026-11-21T19:00:00.000Z"
    assert panic["error.type"] == "panic"
    assert panic["error.message"].startswith("runtime error: invalid memory address")
    assert "goroutine 18 [running]:" in panic["error.stack_trace"]
    assert panic["error.stack_trace"].endswith("cron.go:312 +0x6a")


def test_go_std_and_gin(corpus_dir: Path) -> None:
    """Go ``log`` lines keep their message; Gin lines give status, latency in ns and a level."""
    go = corpus_docs(corpus_dir, "go-std.log")
    assert [d["@timestamp"][11:19] for d in go] == ["02:00:00", "02:00:00", "02:00:05", "02:00:07"]
    assert go[1]["trace.id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert go[3]["message"] == "定时任务已取消"
    gin = corpus_docs(corpus_dir, "gin.log")
    assert [d["event.duration"] for d in gin] == [1_482_913, 85_211, 4_020]
    assert [d["log.level"] for d in gin] == ["info", "info", "warn"]
    assert gin[2]["extra"]["method"] == "DELETE" and gin[2]["extra"]["path"] == "/tasks/42"


def test_syslog_cron(corpus_dir: Path) -> None:
    """System cron lines: the year is inferred, the host is the syslog host, program and pid kept;
    a ``(user) CMD (command)`` line also gives the user and the command, its message stays whole."""
    found = corpus_docs(corpus_dir, "syslog-cron.log")
    assert found[0]["@timestamp"] == "2026-11-22T02:00:01.000Z"
    assert found[0]["host.name"] == "web-1"
    assert found[0]["extra"] == {"program": "CRON", "pid": "23456", "user": "root",
                                 "command": "/usr/local/bin/backup.sh >> /var/log/backup.log 2>&1"}
    assert found[1]["message"] == "(www-data) CMD (php /var/www/artisan schedule:run)"
    assert found[1]["extra"]["user"] == "www-data"
    assert found[1]["extra"]["command"] == "php /var/www/artisan schedule:run"
    assert found[2]["extra"] == {"program": "CRON", "pid": "23510"}  # "(CRON) info (...)": not a command


def test_offsets_are_bytes_of_first_line(corpus_dir: Path) -> None:
    """``log.offset`` is the byte offset of each record's first line (multi-byte text included)."""
    path = corpus_dir / "spring.log"
    data = path.read_bytes()
    for doc in corpus_docs(corpus_dir, "spring.log"):
        off = doc["log.offset"]
        assert off == 0 or data[off - 1 : off] == b"\n"
        assert data[off:].startswith(b"2026-11-22")


FORMATS = [
    ('time=2026-11-22T10:00:00.000+08:00 level=INFO msg="sync started" task=sync duration=1.5s',
     {"@timestamp": "2026-11-22T02:00:00.000Z", "log.level": "info", "message": "sync started", "task.name": "sync",
      "event.duration": 1_500_000_000}),
    ('{"time":"2026-11-22T10:00:00.5+08:00","level":"WARN","msg":"slow","task":"sync"}',
     {"@timestamp": "2026-11-22T02:00:00.500Z", "log.level": "warn", "message": "slow"}),
    ('{"event": "job done", "level": "info", "timestamp": "2026-11-22T02:00:00.123456Z", "logger": "jobs"}',
     {"@timestamp": "2026-11-22T02:00:00.123Z", "message": "job done", "log.logger": "jobs"}),
    ("2026-11-22T10:00:01.123456+08:00 web-1 CRON[23456]: (root) CMD (backup.sh (nightly))",
     {"@timestamp": "2026-11-22T02:00:01.123Z", "host.name": "web-1", "message": "(root) CMD (backup.sh (nightly))",
      "extra": {"program": "CRON", "pid": "23456", "user": "root", "command": "backup.sh (nightly)"}}),
    ("<78>Nov 22 10:00:01 web-1 CRON[23456]: (root) CMD (backup.sh)",
     {"@timestamp": "2026-11-22T10:00:01.000Z", "log.level": "info", "host.name": "web-1"}),
    ("ERROR:root:could not connect", {"log.level": "error", "message": "could not connect", "log.logger": "root"}),
    ("[2026-11-22 10:00:00,001] ERROR in app: failed", {"log.level": "error", "message": "failed"}),
    ("2026-11-22 10:00:00,001 - jobs.sync - WARNING - late", {"log.level": "warn", "log.logger": "jobs.sync"}),
    ("2026/11/22 10:00:00.123456 main.go:41: started", {"@timestamp": "2026-11-22T10:00:00.123Z",
                                                        "message": "started", "extra": {"caller": "main.go:41"}}),
    ("[GIN-debug] GET /tasks --> main.list (3 handlers)", {"log.level": "debug", "message": "GET /tasks --> main.list (3 handlers)"}),
    ("2026-11-22T01:00:00.012+08:00  INFO 4242 --- [reports] [   scheduling-1] c.e.ReportJob : done",
     {"@timestamp": "2026-11-21T17:00:00.012Z", "log.level": "info", "message": "done",
      "extra": {"pid": "4242", "application": "reports", "thread": "scheduling-1"}}),
]


@pytest.mark.parametrize(("line", "expected"), FORMATS)
def test_more_formats_with_no_configuration(line: str, expected: dict[str, Any]) -> None:
    """Go slog (text and JSON), structlog, rsyslog RFC 3339, PRI-prefixed syslog, Python's other
    logging formats, Go ``log`` with file:line, Gin debug lines and Spring Boot 3 parse unaided."""
    (event,) = events(line + "\n", cfg=ParseConfig(timezone="UTC", host="h"))
    doc = event.doc
    assert "tags" not in doc
    for key, value in expected.items():
        assert doc[key] == value, (key, doc)
