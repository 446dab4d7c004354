"""What tasks print becomes records: JSON lines, levels, tracebacks, Go panics, truncation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scheduler.output import OutputRecords, detect_level


def collect(lines: list[bytes], stream: str = "stderr", max_bytes: int = 4096) -> list[dict[str, Any]]:
    """Feed lines to an OutputRecords and return what it emitted (flushed at EOF)."""
    out: list[dict[str, Any]] = []
    rec = OutputRecords(out.append, "info", max_bytes, stream)
    for line in lines:
        rec.feed(line)
    rec.flush()
    return out


def test_plain_lines_keep_text_and_detect_level() -> None:
    """A plain line keeps its text in ``message``; a level word sets ``log.level``."""
    recs = collect([b"2026/11/22 10:00:00 starting\n", b"2026-11-22 10:15:02,117 ERROR [report] task failed\n"])
    assert [r["message"] for r in recs] == ["2026/11/22 10:00:00 starting", "2026-11-22 10:15:02,117 ERROR [report] task failed"]
    assert [r["log.level"] for r in recs] == ["info", "error"]
    assert recs[0]["extra"]["stream"] == "stderr"


def test_json_line_keeps_fields_under_extra(corpus_dir: Path) -> None:
    """A logrus JSON line keeps its fields under ``extra``, its level lifted, its text in ``message``."""
    line = (corpus_dir / "logrus.json.log").read_bytes().splitlines()[0]
    (rec,) = collect([line])
    assert rec["message"] == line.decode()
    assert rec["extra"]["task"] == "data_sync" and rec["log.level"] == "info"


def test_logrus_text_levels(corpus_dir: Path) -> None:
    """logrus text lines (``level=warning``) get their level."""
    lines = (corpus_dir / "logrus.text.log").read_bytes().splitlines()
    levels = [r["log.level"] for r in collect(lines)]
    assert levels[:3] == ["info", "warn", "error"]


def test_python_traceback_joins_its_log_line(corpus_dir: Path) -> None:
    """A Python logging ERROR line and its traceback become one record with error.* set."""
    lines = (corpus_dir / "python.log").read_bytes().splitlines(keepends=True)
    recs = collect(lines)
    failed = next(r for r in recs if "task failed" in r["message"])
    assert failed["error.type"] == "sqlite3.OperationalError"
    assert failed["error.message"] == "database is locked"
    assert failed["error.stack_trace"].startswith("Traceback (most recent call last):")
    assert failed["log.level"] == "error"
    # the line after the traceback is a record of its own
    assert any(r["message"].startswith("2026-11-22 10:15:32,120 WARNING") for r in recs)


def test_go_panic_goes_to_stack_trace(corpus_dir: Path) -> None:
    """A Go panic and its goroutine dump are one fatal record with the dump in error.stack_trace."""
    lines = (corpus_dir / "go-panic.log").read_bytes().splitlines(keepends=True)
    recs = collect(lines)
    panic = next(r for r in recs if r["message"].startswith("panic: "))
    assert panic["log.level"] == "fatal" and panic["error.type"] == "panic"
    assert "goroutine 18 [running]:" in panic["error.stack_trace"]
    assert recs[-1] is panic  # everything after the panic belongs to it


def test_overlong_line_is_cut_and_tagged() -> None:
    """A line over the limit is cut to the limit and tagged ``_truncated``; nothing else is lost."""
    recs = collect([b"x" * 5000 + b"\n", b"next\n"], max_bytes=1000)
    assert len(recs[0]["message"]) == 1000 and recs[0]["tags"] == ["_truncated"]
    assert recs[1]["message"] == "next"


def test_detect_level_defaults() -> None:
    """Without a level word the default is used; words deep in the message are ignored."""
    assert detect_level("hello world", "info") == "info"
    assert detect_level("WARN disk almost full", "info") == "warn"
    assert detect_level("level=debug msg=x", "info") == "debug"
