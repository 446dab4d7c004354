"""Multi-line records: tracebacks, Java stacks, Go panics; limits, timeouts and the end of input."""

from __future__ import annotations

from parse_helpers import READ_TIME, docs, events, raw_lines

from shipper.model import RawLine
from shipper.parse import ParseConfig, compile_parser

PY = """2026-11-22 10:15:02,117 ERROR [report] task failed
Traceback (most recent call last):
  File "/app/jobs/report.py", line 88, in run
    rows = fetch_rows(conn)
KeyError: 'rows'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/jobs/report.py", line 90, in run
    raise RuntimeError("report failed")
RuntimeError: report failed
2026-11-22 10:15:03,000 INFO [report] next
"""


def test_chained_python_traceback_is_one_event() -> None:
    """A chained traceback (with blank lines between) is one event; its error is the last one."""
    first, second = docs(PY)
    assert first["error.type"] == "RuntimeError" and first["error.message"] == "report failed"
    assert "During handling of the above exception" in first["error.stack_trace"]
    assert first["error.stack_trace"].count("Traceback") == 2
    assert second["message"] == "next"


def test_event_spans_and_raw_text() -> None:
    """An event's ``end`` is just after its last line, ``offset`` at its first; ``raw`` is the text."""
    evs = events(PY)
    data = PY.encode()
    assert evs[0].offset == 0 and data[evs[0].end :].startswith(b"2026-11-22 10:15:03")
    assert evs[0].meta["raw"] == PY[: PY.index("2026-11-22 10:15:03") - 1]
    assert evs[1].end == len(data)


def test_last_record_flushed_at_end_of_input() -> None:
    """A traceback that ends the file (the usual last words of a failed job) is not lost."""
    text = "2026-11-22 10:00:00,000 ERROR [x] boom\nTraceback (most recent call last):\n  File \"a.py\", line 1\nValueError: bad"
    (doc,) = docs(text)
    assert doc["error.type"] == "ValueError" and doc["error.stack_trace"].endswith("ValueError: bad")


def test_flush_waits_for_the_timeout() -> None:
    """``flush(now)`` keeps a pending record until it has waited longer than the timeout."""
    parser = compile_parser(ParseConfig.model_validate({"multiline": {"timeout": "2s"}, "host": "h"}))
    decoder = parser.decoder("/x.log")
    assert decoder.feed(RawLine("2026-11-22 10:00:00,000 ERROR [x] boom", 0, 40, 100.0)) == []
    assert decoder.feed(RawLine("Traceback (most recent call last):", 40, 75, 101.0)) == []
    assert decoder.pending_offset() == 0
    assert decoder.flush(102.5) == []
    (event,) = decoder.flush(103.5)
    assert event.end == 75 and decoder.pending_offset() is None
    assert decoder.flush(None) == []


def test_java_stack_ends_at_next_record() -> None:
    """``at``/``Caused by:``/``... N more`` continue a Java stack; the next timestamped line does not."""
    text = """2026-11-22 01:00:03.870 ERROR 1 --- [main] c.e.Job : failed
Exception in thread "main" java.lang.RuntimeException: outer
\tat com.example.Job.run(Job.java:10)
Caused by: java.io.IOException: inner
\t... 1 more
2026-11-22 01:00:04.001  WARN 1 --- [main] c.e.Job : after
"""
    first, second = docs(text)
    assert first["error.type"] == "java.lang.RuntimeException" and first["error.message"] == "outer"
    assert first["error.stack_trace"].endswith("\t... 1 more")
    assert second["log.level"] == "warn"


def test_panic_without_previous_record_uses_read_time() -> None:
    """A panic at the very start of a file has no previous time: the read time is used."""
    (doc,) = docs("panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:5 +0x1d\n")
    assert doc["log.level"] == "fatal" and doc["@timestamp"] == "2026-11-22T02:00:00.000Z"
    assert doc["error.type"] == "panic" and doc["error.message"] == "boom"
    assert doc["error.stack_trace"].startswith("goroutine 1 [running]:")


def test_fatal_error_and_json_after_panic() -> None:
    """``fatal error:`` starts a fatal record; a JSON line after a goroutine dump starts the next one."""
    text = ('{"level":"info","ts":1795312800,"msg":"start"}\nfatal error: all goroutines are asleep\n\n'
            'goroutine 1 [chan receive]:\nmain.main()\n{"level":"info","ts":1795312801,"msg":"restarted"}\n')
    start, fatal, again = docs(text)
    assert fatal["log.level"] == "fatal" and fatal["error.type"] == "fatal error"
    assert fatal["@timestamp"] == start["@timestamp"]
    assert again["message"] == "restarted"


def test_plain_lines_are_not_glued_together() -> None:
    """Lines of a job that prints plain text stay separate events; blank lines are dropped."""
    found = docs("Starting work\n\nError: could not connect\ndone\n")
    assert [d["message"] for d in found] == ["Starting work", "Error: could not connect", "done"]
    assert found[1]["log.level"] == "error" and "log.level" not in found[0]


def test_blank_lines_are_covered_by_the_previous_event() -> None:
    """Blank lines after a record extend its span (the checkpoint can pass them) but not its text."""
    evs = events("one\n\n\ntwo\n")
    assert [e.meta["raw"] for e in evs] == ["one", "two"]
    assert (evs[0].offset, evs[0].end, evs[1].offset, evs[1].end) == (0, 6, 6, 10)


def test_indented_lines_continue_a_record() -> None:
    """Indented lines (wrapped output, frames) belong to the record above them."""
    (doc,) = docs("2026-11-22 10:00:00 INFO summary:\n  copied: 3\n  skipped: 1\n")
    assert doc["message"] == "summary:" and doc["error.stack_trace"] == "  copied: 3\n  skipped: 1"


def test_custom_start_pattern() -> None:
    """With ``start_pattern``, only matching lines start a record; ``^`` makes every line its own."""
    text = "BEGIN one\nmore\nBEGIN two\n"
    assert [d["message"] for d in docs(text, multiline={"start_pattern": "^BEGIN"})] == ["BEGIN one", "BEGIN two"]
    assert len(docs("a\n  b\nTraceback (most recent call last):\n", multiline={"start_pattern": "^"})) == 3
    assert [d["message"] for d in docs("a\n\n   \nb\n", multiline={"start_pattern": "^"})] == ["a", "b"]


def test_max_lines_cuts_without_losing_lines() -> None:
    """A record over ``max_lines`` is cut and tagged; the rest forms the next event, nothing is lost."""
    text = "2026-11-22 10:00:00 ERROR boom\n" + "".join(f"  frame {i}\n" for i in range(7))
    evs = events(text, multiline={"max_lines": 3})
    assert [len(e.meta["raw"].split("\n")) for e in evs] == [3, 3, 2]
    assert evs[0].doc["tags"] == ["multiline_codec_max_lines_reached"]
    assert "".join(e.meta["raw"] + "\n" for e in evs) == text
    assert [e.offset for e in evs[1:]] == [evs[0].end, evs[1].end]


def test_max_bytes_cuts() -> None:
    """A record over ``max_bytes`` is cut and tagged with Logstash's tag name."""
    text = "2026-11-22 10:00:00 ERROR boom\n" + "".join(f"  {'x' * 40} {i}\n" for i in range(4))
    evs = events(text, multiline={"max_bytes": 100})
    assert len(evs) > 1 and evs[0].doc["tags"] == ["multiline_codec_max_bytes_reached"]


def test_long_line_truncated_with_tag() -> None:
    """A line longer than ``max_line_bytes`` is cut on a character boundary and tagged ``_truncated``."""
    line = "2026-11-22 10:00:00 INFO " + "数" * 100
    parser = compile_parser(ParseConfig(max_line_bytes=64, host="h"))
    decoder = parser.decoder("/x.log")
    decoder.feed(RawLine(line, 0, len(line.encode()) + 1, READ_TIME))
    (event,) = decoder.flush()
    assert event.doc["tags"] == ["_truncated"]
    assert len(event.meta["raw"].encode()) <= 64 and event.end == len(line.encode()) + 1
    assert event.doc["message"].startswith("数")


def test_decoders_are_independent_per_file() -> None:
    """Two decoders of one parser keep their own pending records."""
    parser = compile_parser(ParseConfig(host="h"))
    a, b = parser.decoder("/a.log"), parser.decoder("/b.log")
    for line in raw_lines("2026-11-22 10:00:00 ERROR a\nTraceback (most recent call last):\n"):
        a.feed(line)
    b.feed(raw_lines("2026-11-22 10:00:00 INFO b\n")[0])
    (ea,) = a.flush()
    (eb,) = b.flush()
    assert ea.doc["log.file.path"] == "/a.log" and "error.stack_trace" in ea.doc
    assert eb.doc["message"] == "b" and eb.meta["source"] == "/b.log"
