"""The compiled one-line fast path (``shipper._speedups.PlainRun``) gives exactly the events of
the generated Python ``plain_run`` it replaces.

Both loops are built for the same parser and run over the same lines; the documents are compared
with their key order (the order is what gets indexed), and the span and metadata of every event.
"""

from __future__ import annotations

import importlib
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parse_helpers import READ_TIME, raw_lines

from shipper.model import Event, RawLine
from shipper.parse import ParseConfig, compile_parser
from shipper.parse.decoder import STARTS
from shipper.parse.fastpath import OP_EXTRA, OP_FALLBACK, OP_SKIP, compile_plain_run, plan_for
from shipper.parse.grok import PatternLibrary, compile_grok
from shipper.parse.parser import Parser

speedups = importlib.import_module("shipper._speedups")  # built by `pip install -e .` (setup.py)

USER = r"%{TIMESTAMP_ISO8601:timestamp} %{LOGLEVEL:level} \[%{DATA:logger}\] %{GREEDYDATA:message}"
CONFIGS = {
    "auto": ParseConfig(host="h"),
    "auto-berlin-labels-fields": ParseConfig(timezone="Europe/Berlin", labels={"env": "x"},
                                             fields={"k": "v", "service.name": "svc", "host.name": "fixed"}),
    "grok-user": ParseConfig(codec="grok", patterns=[USER], host="h"),
    "auto-user": ParseConfig(patterns=[USER, r"%{WORD:a} (?<n>\d+)? ?%{GREEDYDATA:message}"], host="h"),
    "grok-fields": ParseConfig(codec="grok", host="h", patterns=[
        r"%{TIMESTAMP_ISO8601:time} %{TIMESTAMP_ISO8601:ts}? ?(?<status>\d{3})? ?(?<priority>\S+)? %{GREEDYDATA:msg}",
        r"(?<host>\S*) (?<task>\S*) (?<duration_ms>\S+) (?<elapsed>\S+) (?<trace_id>\S+) %{GREEDYDATA:message}",
        r"(?<level>\S+) (?<level_name>\S+) (?<message>.*)",
    ]),
    "grok-builtin-task": ParseConfig(codec="grok", host="", task_from_path=r"jobs/(?P<task>[a-z_]+)\.log"),
}
PATH = "/var/log/jobs/sync_orders.log"


@pytest.fixture(autouse=True)
def _compiled_paths_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests compare the compiled path with Python's, also in a run with the switch set."""
    monkeypatch.delenv("CRONWATCH_NO_EXTENSIONS", raising=False)


def _loops(cfg: ParseConfig) -> tuple[Parser, Any, Any]:
    parser = compile_parser(cfg)
    python = compile_plain_run(parser.codec, parser.groks, parser.builder, parser.failure_tag, parser.document,
                               STARTS, parser.safe_len, compiled=False)
    return parser, parser.plain_run, python


def _run(loop: Any, lines: list[RawLine], task: str | None) -> tuple[list[Any], list[Any]]:
    """Events of ``loop`` over ``lines``, as plain data. The pending record is always a line that
    starts with a character of STARTS (the decoder hands the loop no other); from the line the loop
    stops at, the next such line becomes the pending record and the loop goes on after it."""
    out: list[Event] = []
    stops = []
    i = 0
    while True:
        while i < len(lines) and lines[i].text[:1] not in STARTS:
            i += 1
        if i >= len(lines):
            break
        first, end = lines[i], lines[i].end
        i, first, end, doc = loop(lines, i + 1, first, end, out, PATH, "dev:ino", task)
        stops.append((i, first, end, doc, list(doc) if doc else None))
    events = [(e.doc, list(e.doc), e.offset, e.end, e.meta) for e in out]
    return events, stops


def _assert_same(cfg: ParseConfig, lines: list[RawLine]) -> None:
    if not lines:
        return
    parser, compiled, python = _loops(cfg)
    assert isinstance(compiled, speedups.PlainRun)
    task = parser.task_for(PATH)
    assert _run(compiled, lines, task) == _run(python, lines, task)


def test_the_extension_runs_for_auto_and_grok() -> None:
    """Built by the install; the parser takes it unless the input has a pattern with a time budget."""
    assert isinstance(compile_parser(ParseConfig()).plain_run, speedups.PlainRun)
    assert isinstance(compile_parser(ParseConfig(codec="grok", patterns=[USER])).plain_run, speedups.PlainRun)
    risky = ParseConfig(codec="grok", patterns=[r"^(?<a>(?:\w+\s?)*)x (?<message>.*)"])
    assert not isinstance(compile_parser(risky).plain_run, speedups.PlainRun)
    assert not isinstance(compile_parser(ParseConfig(codec="json")).plain_run, speedups.PlainRun)


def test_turned_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRONWATCH_NO_EXTENSIONS", "1")
    assert not isinstance(compile_parser(ParseConfig()).plain_run, speedups.PlainRun)
    monkeypatch.setenv("CRONWATCH_NO_EXTENSIONS", "0")
    assert isinstance(compile_parser(ParseConfig()).plain_run, speedups.PlainRun)


def test_plans_follow_the_generator() -> None:
    """Time stamps are skipped (converted first), unknown names go under extra, what ``take`` would
    normalise (a trace id, a second duration) sends the line to the generated document function."""
    lib = PatternLibrary.builtin()
    grok = compile_grok(r"(?<timestamp>\S+) (?<pid>\d+) (?<trace_id>\S+) (?<duration_ms>\d+) (?<elapsed>\S+)", lib,
                        "t")
    plan = plan_for(grok, compile_parser(ParseConfig()).builder)
    assert plan is not None
    ops, ts, status_priority, _checks = plan
    assert [op[0] for op in ops][:3] == [OP_SKIP, OP_EXTRA, OP_FALLBACK]
    assert ops[4][0] == OP_FALLBACK  # the second duration field: take() decides
    assert ts == ((0, "timestamp"),) and not status_priority
    typed = compile_grok(r"%{NUMBER:n:int} %{GREEDYDATA:message}", lib, "typed")
    assert plan_for(typed, compile_parser(ParseConfig()).builder) is None  # converted captures: every match goes to the document function


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_same_events_on_the_corpus(corpus_dir: Path, name: str) -> None:
    files = sorted(corpus_dir.glob("*.log"))
    assert files
    for path in files:
        _assert_same(CONFIGS[name], raw_lines(path.read_text()))


def test_same_events_when_the_time_cache_is_cleared_and_read_times_change() -> None:
    """fast_seconds cleared between batches, and a syslog time (its year depends on the read time)."""
    rows = ["Dec 31 23:59:59 web-1 CRON[1]: (root) CMD (/bin/true)", "2026-11-22 10:00:00,001 INFO [a] x",
            "Jan  1 00:00:01 web-1 CRON[2]: (root) CMD (/bin/true)", "2026-11-22 10:00:00,002 INFO [a] y"]
    for cfg in (CONFIGS["auto"], CONFIGS["auto-berlin-labels-fields"]):
        parser, compiled, python = _loops(cfg)
        for loop in (compiled, python):
            parser.timestamps.fast_seconds.clear()
            got = []
            for k, read_time in enumerate((1798761600.0, 1767225600.0, 1798761600.0)):  # 2027-01-01, 2026-01-01
                lines = raw_lines("\n".join(rows * 3), read_time)
                got.append(_run(loop, lines, None))
                if k == 1:
                    parser.timestamps.fast_seconds.clear()
            if loop is compiled:
                want = got
            else:
                assert got == want


def test_lines_that_are_not_raw_lines() -> None:
    """Any object with the four attributes works (read by attribute instead of by slot)."""

    class Line:
        def __init__(self, text: str, offset: int, end: int) -> None:
            self.text, self.offset, self.end, self.read_time = text, offset, end, READ_TIME

    rows = [Line("2026-11-22 10:00:00,001 INFO [a] x", 0, 35), Line("2026-11-22 10:00:00,002 INFO [a] y", 35, 70),
            Line("Nothing matches this", 70, 91)]
    _, compiled, python = _loops(CONFIGS["grok-user"])
    assert _run(compiled, rows, None) == _run(python, rows, None)  # type: ignore[arg-type]


def test_an_error_in_the_document_function_propagates() -> None:
    parser = compile_parser(CONFIGS["auto"])

    def broken(*args: Any) -> dict[str, Any]:
        raise RuntimeError("from the general path")

    compiled = compile_plain_run(parser.codec, parser.groks, parser.builder, parser.failure_tag, broken, STARTS,
                                 parser.safe_len)
    lines = raw_lines("2026-11-22 10:00:00,001 INFO [a] x\n{\"msg\": \"json goes the general way\"}\nZ end")
    out: list[Event] = []
    assert compiled(lines[:2], 1, lines[0], lines[0].end, out, PATH, "s", None)[0] == 2  # no general path needed
    assert [e.doc["message"] for e in out] == ["x"]
    with pytest.raises(RuntimeError, match="general path"):  # the JSON line's document
        compiled(lines, 2, lines[1], lines[1].end, out, PATH, "s", None)
    assert len(out) == 1
    with pytest.raises(TypeError):
        compiled(lines, 1, lines[0], lines[0].end, (), PATH, "s", None)  # out must be a list


def test_no_memory_is_kept() -> None:
    """Rounds over the same lines leave no objects behind (reference counts in the C code): once the
    caches have filled (the first rounds), 60 more rounds of 900 lines grow memory by less than 5
    bytes per line (an object kept per line would be 32 bytes or more)."""
    lines = raw_lines("\n".join(POOL * 20))
    _, compiled, _ = _loops(CONFIGS["auto-berlin-labels-fields"])
    tracemalloc.start()
    try:
        for _ in range(60):
            _run(compiled, lines, "task")
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(60):
            _run(compiled, lines, "task")
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 5 * 60 * 900, grown


POOL = [
    "2026-11-22 10:00:00,123 INFO [a] m trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
    "2026-11-22 10:00:00,123 INFO [a] 同步 trace_id=4BF92F3577B34DA6A3CE929D0E0E4736 done",
    "2026-11-22 10:00:00,124 INFO [a] trace_id=00000000000000000000000000000000",
    "2026-11-22 10:00:00,124 INFO [a] traceId=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
    "2026-11-22 10:00:00,124 INFO [a] trace_id=4bf92f3577b34da6a3ce929d0e0e4736x and not an id",
    "2026-11-22 10:00:00,124 INFO [a] trace_id=4bf92f3577b34da6a3ce929d0e0e473 short",
    "2026-11-22 10:00:00,124 INFO [a] embrace race, then trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
    "2026-11-22 10:00:00,124 INFO [a] TRACE_ID=4BF92F3577B34DA6A3CE929D0E0E4736 upper",
    "2026-11-22 10:00:00,124 INFO [a] 🙂 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 emoji",
    "2026-11-22 10:00:00,125 FOO [a] unknown level",
    "2026-11-22 10:00:00.125 WARNING [b] w", "2026-11-22 10:00:00,1 INFO [a] short fraction",
    "2026-11-22 10:00:00,12٣ INFO [a] arabic-indic digit", "2026-11-22T10:00:00Z INFO [a] zulu",
    "2026-11-22 10:00:01 ERROR [a] no fraction", "2026-02-30 10:00:00,000 INFO [x] impossible day",
    "2026-03-29 02:30:00,000 INFO [a] skipped by DST", "2026-10-25 02:30:00,000 INFO [a] repeated by DST",
    "Nov 22 10:00:01 web-1 CRON[1]: (root) CMD (/usr/bin/x)", "<13>Nov 22 10:00:01 web-1 app[1]: hi",
    "<²>Nov 22 10:00:01 web-1 app[1]: superscript priority", "<1234567>Nov 22 10:00:01 web-1 app[1]: huge",
    "[GIN] 2026/11/22 - 10:00:00 | 200 |  1.5ms | 1.2.3.4 | GET \"/x\"",
    "[GIN] 2026/11/22 - 10:00:00 | 503 | 12.3µs | 1.2.3.4 | POST \"/y\"",
    "[GIN] 2026/11/22 - 10:00:00 | 404 | bogus | 1.2.3.4 | GET \"/z\"",
    "2026-11-22 10:00:00.123  INFO 4242 --- [   scheduling-1] c.e.jobs.ReportJob   : report done",
    "2026/11/22 10:00:00 plain go log", "2026/11/22 10:00:00 main.go:12: with caller",
    "{\"level\":\"info\",\"msg\":\"json\"}", "{not json", "time=1 level=info msg=x", "Tail of something",
    "ERROR: x", "E", "Z no pattern", "2026-11-22 10:00:00,000 INFO [x] " + "y" * 400,
    "2026-11-22 10:00:00 2026-11-22 10:00:01 503 7 two times, status and priority",
    "2026-11-22 10:00:00 204 ٣ status wins over an arabic-indic priority",
    "2026-11-22 10:00:00 ٣ arabic-indic priority", "2026-11-22 10:00:00 45 x",
    "H T 15 1.5s 4bf92f3577b34da6a3ce929d0e0e4736 host task duration elapsed trace",
    "  h2 12 7 4bf92f3577b34da6a3ce929d0e0e4736 empty host and task",
    "INFO DEBUG two levels", "NOPE INFO unknown first level",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(POOL), st.text(min_size=1, max_size=60)), min_size=1, max_size=40),
       st.sampled_from(sorted(CONFIGS)))
def test_same_events_for_any_lines(rows: list[str], name: str) -> None:
    lines = [RawLine(text, 100 * k, 100 * k + 99, READ_TIME + k) for k, text in enumerate(rows)]
    _assert_same(CONFIGS[name], lines)
