"""The speed-ups agree with the straightforward code they replace (documents, events, ids, durations)."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parse_helpers import READ_TIME, raw_lines

from cronwatch.durations import parse_duration_ns
from cronwatch.errors import DurationError
from shipper.model import Event
from shipper.parse import ParseConfig, compile_parser
from shipper.parse import normalize as nz
from shipper.parse.decoder import LineDecoder
from shipper.parse.parser import Parser

# patterns whose captures exercise every branch of the generated document code
ODD_PATTERNS = [
    r"^A %{WORD:msg} %{WORD:message} %{WORD:lvl} %{WORD:level} %{WORD:host} %{WORD:hostname}",
    r"^A2 %{WORD:log.level} %{WORD:[task][name]} %{GREEDYDATA:message}",
    r"^B %{NOTSPACE:duration} %{NOTSPACE:elapsed_ms} %{NOTSPACE:trace_id} %{NOTSPACE:span_id} %{WORD:task}",
    r"^C (?:%{TIMESTAMP_ISO8601:time}|-) (?:%{TIMESTAMP_ISO8601:timestamp}|-) (?:%{NOTSPACE:ts}|-) %{GREEDYDATA}",
    r"^D %{NOTSPACE:status} %{NOTSPACE:priority} %{NOTSPACE:outcome} %{NOTSPACE:attempt} %{NOTSPACE:labels}",
    r"^E %{NOTSPACE:log} %{NOTSPACE:error} %{NOTSPACE:tags} %{NOTSPACE:scheduled_at} %{NOTSPACE:service}",
    r"^F (?<n>\d+)? ?%{GREEDYDATA:message}",
    r"^G %{NUMBER:n:int} %{WORD:level}",
]
ODD_LINES = [
    "A one two warn bogus h1 h2", "A  two  info  ", "A x y WARNING ERROR  h", "A a b c WARN  h",
    "A2 info backup rest", "A2 nope x  ",
    "B 1.5s 250 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 backup",
    "B 85.211µs x 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 zz t",
    "B bad 12 0af7651916cd43dd-8448eb211c80319c nope x",
    "C 2026-11-22T02:00:00Z 2026-11-22T03:00:00.5+08:00 1795312800 rest",
    "C - - 1795312800123 rest", "C 2026-13-22T02:00:00Z - - rest", "C - - nonsense rest", "C - - - rest",
    "D 503 11 ok 3 x", "D 404 x failed x1 y", "D 2000 13 weird 2 z",
    "E x some-error a,b 2026-11-22T02:00:00Z svc", "E x - - bad-time -",
    "F 12 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7", "F ", "F 7 TRACEID=x",
    "G 12 INFO", "G x WARN", "panic: boom", "fatal error: x",
]


def reference_document(parser: Parser, text: str, *args: Any) -> dict[str, Any]:
    """What the generic path builds (the first matching grok's fields through DocumentBuilder.build)."""
    return parser.document_generic(text, *args)


def test_generated_document_agrees_with_the_generic_path(corpus_dir: Path) -> None:
    """For odd captures (duplicates, several time stamps, durations, ids, ...) both paths give the same document."""
    corpus = [line for f in sorted(corpus_dir.glob("*.log")) for line in f.read_text().splitlines()]
    for cfg in (ParseConfig(codec="grok", patterns=ODD_PATTERNS, host="h", timezone="Asia/Shanghai"),
                ParseConfig(patterns=ODD_PATTERNS, labels={"env": "x"}, fields={"host.name": "f", "k": "v"}),
                ParseConfig(host="h"), ParseConfig(codec="grok", host="h")):
        parser = compile_parser(cfg)
        for line in ODD_LINES + corpus + ["", " x", "{\"a\": 1}", "a=1 b=2", "zz"]:
            for args in (("/p.log", 7, READ_TIME, None, None, None),
                         ("/p.log", 7, READ_TIME, ["  frame"], ["_truncated"], "t")):
                fast = parser.document(line, *args)
                generic = reference_document(parser, line, *args)
                assert fast == generic, line
                assert list(fast) == list(generic), line  # the same key order: the printed JSON is the same


class _Reference(LineDecoder):
    """The decoder without its one-line fast path."""

    __slots__ = ()

    def feed(self, line: Any) -> list[Event]:
        return self._feed(line, line.text)


def _spans(events: list[Event]) -> list[tuple[Any, ...]]:
    return [(e.doc, list(e.doc), e.offset, e.end, e.meta) for e in events]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([
    "2026-11-22 10:00:00,123 INFO [a] m trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "Nov 22 10:00:01 h cron[1]: x",
    "[GIN] 2026/11/22 - 10:00:00 | 200 |  1.5ms | 1.2.3.4 | GET \"/x\"", "Traceback (most recent call last):",
    '  File "x", line 1', "ValueError: bad", "panic: boom", "goroutine 1 [running]:", "", "   ", "x" * 80,
    "Y" * 300, "2026-11-22 10:00:00 " + "数" * 90, "  " + "z" * 300,
    "ERROR: x", "éclair", "java.lang.IllegalStateException: x", "\tat a.b(C.java:1)", "Caused by: y", "{\"a\": 1}",
    "time=1 level=info msg=x", "Tail", "E", "2026/11/22 10:00:00 plain", "{bad",
]), max_size=30), st.sampled_from([None, "^\\d", "^"]))
def test_decoder_fast_path_gives_the_same_events(lines: list[str], start: str | None) -> None:
    """Any sequence of lines gives the same events, spans and raw text with and without the fast path."""
    cfg = ParseConfig(host="h", max_line_bytes=256, multiline={"start_pattern": start, "max_lines": 4})
    parser = compile_parser(cfg)
    got, want = parser.decoder("/var/log/jobs/x.log"), _Reference(parser, "/var/log/jobs/x.log")
    out_got: list[Event] = []
    out_want: list[Event] = []
    for i, line in enumerate(raw_lines("\n".join(lines))):
        out_got += got.feed(line)
        out_want += want.feed(line)
        if i % 7 == 6:
            out_got += got.flush(line.read_time + 60)
            out_want += want.flush(line.read_time + 60)
        assert got.pending_offset() == want.pending_offset()
    out_got += got.flush()
    out_want += want.flush()
    assert _spans(out_got) == _spans(out_want)


def test_decoder_fast_path_on_many_mixed_lines() -> None:
    """A long shuffled mix of formats, stacks and blank lines: the same events with and without the fast path."""
    rng = random.Random(4)
    pool = ["2026-11-22 10:00:%02d,%03d INFO [a] m", "2026-11-22 10:00:%02d.%03d  WARN 1 --- [ t] c.X : y",
            "Nov 22 10:00:%02d h cron[%d]: x", "  at frame %d %d", "", "Traceback (most recent call last):",
            "ValueError: %d %d", "panic: %d %d", "goroutine %d [running %d]:", "ERROR: %d %d", "trace %d %d"]
    text = "\n".join((p % (rng.randint(0, 59), rng.randint(0, 999)) if "%" in p else p)
                     for p in (rng.choice(pool) for _ in range(3000)))
    parser = compile_parser(ParseConfig(host="h"))
    got, want = parser.decoder("/x.log"), _Reference(parser, "/x.log")
    lines = raw_lines(text)
    assert _spans([e for line in lines for e in got.feed(line)] + got.flush()) == \
        _spans([e for line in lines for e in want.feed(line)] + want.flush())


_OLD_LOWER = re.compile(r"race(?:[-_.]?[iI][dD]|parent)[=:] ?[\"']?" + nz._HEXID)
_OLD_UPPER = re.compile(r"RACE(?:[-_.]?ID|PARENT)[=:] ?[\"']?" + nz._HEXID)


def _old_ids_in_text(text: str) -> tuple[str | None, str | None]:
    """ids_in_text as it was first written (a loop over both spellings)."""
    found = None
    for rx, needle in ((_OLD_LOWER, "race"), (_OLD_UPPER, "RACE")):
        if needle not in text or found is not None:
            continue
        pos = 0
        while found is None:
            m = rx.search(text, pos)
            if m is None:
                break
            t = m.start() - 1
            if t >= 0 and text[t] in "tT" and (t == 0 or not (text[t - 1].isalnum() or text[t - 1] == "_")):
                found = m
            pos = m.start() + 1
    if found is None:
        return None, None
    raw = found.group(1)
    tid = nz.trace_id(raw)
    sid = nz.span_id(raw) if len(raw) == 55 else None
    if sid is None and ("pan" in text or "PAN" in text):
        s = nz._SPAN_IN_TEXT.search(text)
        sid = nz.span_id(s.group(1)) if s else None
    return tid, sid


id_parts = st.sampled_from(["trace_id=", "traceId:", "TRACE_ID=", "xtrace_id=", "_trace_id=", "Trace-Id: ",
                            "traceparent=", "TRACEPARENT=", "tRACE_ID=", "race_id=", "4bf92f3577b34da6a3ce929d0e0e4736",
                            "00000000000000000000000000000000", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "00f067aa0ba902b7", "4BF92F3577B34DA6", "span_id=", "SPAN-ID:", " ", "é", "数", "\"", "-",
                            "traceId=", "Trace_id=", "4BF92F3577B34DA6A3CE929D0E0E4736", "_", "٣", "a",
                            "4bf92f3577b34da6a3ce929d0e0e473g", "4bf92f3577b34da6a3ce929d0e0e4736"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(id_parts, st.text(max_size=5)), max_size=10).map("".join))
def test_ids_in_text_matches_the_first_implementation(text: str) -> None:
    """The inlined search finds the same trace and span id as the original loop over both spellings."""
    assert nz.ids_in_text(text) == _old_ids_in_text(text)
    assert nz.ids_at(text, text.find("race")) == _old_ids_in_text(text)


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"\A(?:\d{1,9}(?:\.\d{0,6})?|\.\d{1,6})(?:ns|us|µs|μs|ms|s|m|h|d|w)\Z"))
def test_one_unit_durations_match_the_go_parser(text: str) -> None:
    """``85.211µs``: the shortcut gives what the general Go-duration parser gives."""
    try:
        expected = parse_duration_ns(text)
    except DurationError:
        expected = None
    assert nz.duration_ns(text, 1e9) == expected


FIRST_PATTERNS = [
    r"^(?:<(?<pri>\d{1,3})>)?(?<m>[A-Z][a-z]{2}) x", r"^\[?%{TIMESTAMP_ISO8601:t}\]? %{GREEDYDATA:message}",
    r"^(?=\[?x)(?<message>.*)", r"^(?i:abc)d", r"^\w+ x", r"^(?:a|b?)c", r"^(?:a|b)?c", r"^(?>ab|cd)e",
    r"^[^a]b", r"^.x", r"^\s*x", r"^x*", r"^(?:ab)*+c", r"^(?:\d|é)z", r"^[a-cx-z0-9_]", r"%{WORD:w} x",
    r"^\bfoo", r"^(?!q)[p-r]", r"^x?",
]


def test_first_chars_of_some_constructs() -> None:
    """What the generated code checks before calling a pattern (None: always call it)."""
    from shipper.parse.fastpath import first_chars

    parser = compile_parser(ParseConfig(codec="grok", patterns=FIRST_PATTERNS, host="h"))
    got = {pattern: first_chars(g) for pattern, g in zip(FIRST_PATTERNS, parser.groks, strict=True)}
    upper = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert got[FIRST_PATTERNS[0]] == (upper | {"<"}, False)
    assert got[FIRST_PATTERNS[1]] == (frozenset("["), True)
    for unknown in (r"^(?=\[?x)(?<message>.*)", r"^(?i:abc)d", r"^\w+ x", r"^[^a]b", r"^.x", r"^\s*x", r"^x*",
                    r"%{WORD:w} x", r"^x?"):
        assert got[unknown] is None, unknown
    assert got[r"^(?:a|b?)c"] == (frozenset("abc"), False)
    assert got[r"^(?:a|b)?c"] == (frozenset("abc"), False)
    assert got[r"^(?>ab|cd)e"] == (frozenset("ac"), False)
    assert got[r"^(?:ab)*+c"] == (frozenset("ac"), False)
    assert got[r"^(?:\d|é)z"] == (frozenset("é"), True)
    assert got[r"^[a-cx-z0-9_]"] == (frozenset("abcxyz0123456789_"), False)
    assert got[r"^\bfoo"] == (frozenset("f"), False)
    assert got[r"^(?!q)[p-r]"] == (frozenset("pqr"), False)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["", "[", "<", "2", "٣", "N", "a", "é", "C", "x", "{", " ", "\t", "W"]), st.text(max_size=30))
def test_first_chars_never_skip_a_match(head: str, rest: str) -> None:
    """A line the first-character check skips is one the pattern does not match."""
    from shipper.parse.fastpath import first_chars
    from shipper.parse.parser import builtin_formats

    parser = compile_parser(ParseConfig(codec="grok", patterns=FIRST_PATTERNS, host="h"))
    line = head + rest
    for grok in (*builtin_formats(), *parser.groks):
        first = first_chars(grok)
        if first is not None and not (line[:1] in first[0] or (first[1] and line[:1].isdecimal())):
            assert grok.rx.match(line) is None, (grok.pattern, line)


def test_first_chars_never_skip_a_corpus_line(corpus_dir: Path) -> None:
    """Every corpus line and odd line against every built-in format and test pattern."""
    from shipper.parse.fastpath import first_chars
    from shipper.parse.parser import builtin_formats

    parser = compile_parser(ParseConfig(codec="grok", patterns=FIRST_PATTERNS + ODD_PATTERNS, host="h"))
    corpus = [line for f in sorted(corpus_dir.glob("*.log")) for line in f.read_text().splitlines()]
    for grok in (*builtin_formats(), *parser.groks):
        first = first_chars(grok)
        for line in corpus + ODD_LINES:
            if first is not None and not (line[:1] in first[0] or (first[1] and line[:1].isdecimal())):
                assert grok.rx.match(line) is None, (grok.pattern, line)
