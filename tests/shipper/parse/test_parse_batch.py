"""``feed_many`` (the tailer's batched entry point) gives exactly what ``feed`` line by line gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parse_helpers import raw_lines

from shipper.model import Event, RawLine
from shipper.parse import ParseConfig, compile_parser

USER = r"%{TIMESTAMP_ISO8601:timestamp} %{LOGLEVEL:level} \[%{DATA:logger}\] %{GREEDYDATA:message}"
CONFIGS = {
    "auto": ParseConfig(host="h"),
    "auto-zone-labels": ParseConfig(timezone="Europe/Berlin", labels={"env": "x"}, fields={"k": "v"}),
    "grok-user": ParseConfig(codec="grok", patterns=[USER], host="h"),
    "auto-user": ParseConfig(patterns=[USER, r"^%{WORD:a} (?<n>\d+)? ?%{GREEDYDATA:message}"], host="h"),
    "grok-builtin": ParseConfig(codec="grok", host="h"),
    "json": ParseConfig(codec="json", host="h"),
    "logfmt": ParseConfig(codec="logfmt", host="h"),
    "plain": ParseConfig(codec="plain", host="h"),
    "start-pattern": ParseConfig(host="h", multiline={"start_pattern": r"^\d{4}"}),
    "small-limits": ParseConfig(host="h", max_line_bytes=200, multiline={"max_lines": 3, "max_bytes": 300}),
    "risky": ParseConfig(codec="grok", patterns=[r"^(?<a>(?:\w+\s?)*)x (?<message>.*)", USER], host="h"),
}


def _spans(events: list[Event]) -> list[tuple[Any, ...]]:
    return [(e.doc, list(e.doc), e.offset, e.end, e.meta) for e in events]


def _decode(cfg: ParseConfig, batches: list[list[RawLine]], flush_at: set[int] | frozenset[int], many: bool
            ) -> tuple[list[Event], list[int | None]]:
    """Events and pending offsets after each batch, fed with ``feed_many`` (``many``) or ``feed`` per line."""
    decoder = compile_parser(cfg).decoder("/var/log/jobs/sync_orders.log", "dev:ino")
    out: list[Event] = []
    pending = []
    for k, batch in enumerate(batches):
        if many:
            out += decoder.feed_many(batch)
        else:
            for line in batch:
                out += decoder.feed(line)
        if k in flush_at and batch:
            out += decoder.flush(batch[-1].read_time + 3600)
        pending.append(decoder.pending_offset())
    return out + decoder.flush(), pending


def _split(lines: list[RawLine], size: int) -> list[list[RawLine]]:
    return [lines[i:i + size] for i in range(0, len(lines), size)] or [[]]


def _assert_same(cfg: ParseConfig, batches: list[list[RawLine]], flush_at: set[int] | frozenset[int] = frozenset()
                 ) -> None:
    want, want_pending = _decode(cfg, batches, flush_at, many=False)
    got, got_pending = _decode(cfg, batches, flush_at, many=True)
    assert _spans(got) == _spans(want)
    assert got_pending == want_pending


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_feed_many_on_the_corpus(corpus_dir: Path, name: str) -> None:
    """Every corpus file, cut into batches of several sizes (so batches split multi-line records)."""
    files = sorted(corpus_dir.glob("*.log"))
    assert files
    for path in files:
        lines = raw_lines(path.read_text())
        for size in (1, 2, 3, 5, 17, len(lines) or 1):
            _assert_same(CONFIGS[name], _split(lines, size))


def test_feed_many_splits_a_traceback_and_a_panic() -> None:
    """A record cut by the batch boundary at every position is completed by the next batch."""
    text = "\n".join([
        "2026-11-22 10:00:00,001 INFO [a] starting trace_id=4bf92f3577b34da6a3ce929d0e0e4736",
        "2026-11-22 10:00:00,002 ERROR [a] failed",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "ValueError: bad",
        "",
        "2026-11-22 10:00:01,003 INFO [a] after",
        "panic: boom",
        "",
        "goroutine 1 [running]:",
        "main.main()",
        "\t/x/main.go:5 +0x1d",
        "2026/11/22 10:00:02 next",
        "   ",
        "2026-11-22 10:00:03,004 WARNING [b] last",
    ])
    lines = raw_lines(text)
    for cfg in (CONFIGS["auto"], CONFIGS["grok-user"], CONFIGS["small-limits"]):
        for cut in range(len(lines) + 1):
            _assert_same(cfg, [lines[:cut], lines[cut:]])
            _assert_same(cfg, [lines[:cut], [], lines[cut:]], {0})


def test_feed_many_on_python_lines_with_failures() -> None:
    """Long runs of the fast path with lines no pattern matches, too-long lines and bad times between them."""
    rows = []
    for i in range(400):
        rows.append(f"2026-11-22 10:{i // 60 % 60:02d}:{i % 60:02d},{i:03d} INFO [jobs.sync] row {i} trace_id="
                    f"{i + 1:032x}")
        if i % 37 == 0:
            rows.append("Z no pattern here")
        if i % 53 == 0:
            rows.append("2026-11-22 10:00:00,000 INFO [x] " + "y" * 400)
        if i % 61 == 0:
            rows.append("2026-02-30 10:00:00,000 INFO [x] impossible day")
    lines = raw_lines("\n".join(rows))
    for name in ("grok-user", "auto", "auto-user", "small-limits"):
        for size in (1, 64, 1000):
            _assert_same(CONFIGS[name], _split(lines, size))


POOL = [
    "2026-11-22 10:00:00,123 INFO [a] m trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "Nov 22 10:00:01 h cron[1]: x",
    "[GIN] 2026/11/22 - 10:00:00 | 200 |  1.5ms | 1.2.3.4 | GET \"/x\"", "Traceback (most recent call last):",
    '  File "x", line 1', "ValueError: bad", "panic: boom", "goroutine 1 [running]:", "", "   ", "x" * 80,
    "Y" * 300, "2026-11-22 10:00:00 " + "数" * 90, "  " + "z" * 300, "2026-11-22 10:00:00.5 WARN [b] w",
    "ERROR: x", "éclair", "java.lang.IllegalStateException: x", "\tat a.b(C.java:1)", "Caused by: y", "{\"a\": 1}",
    "time=1 level=info msg=x", "Tail", "E", "2026/11/22 10:00:00 plain", "{bad", "During handling of the above",
    "2026-11-22 10:00:00,999 CRITICAL [c] TRACEPARENT=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "2026-11-22 10:00:00,1 INFO [a] short fraction", "2026-11-22T10:00:00Z INFO [a] zulu",
    "2026-03-29 02:30:00,000 INFO [a] skipped by DST", "2026-10-25 02:30:00,000 INFO [a] repeated by DST",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(POOL), max_size=40), st.lists(st.integers(0, 40), max_size=5),
       st.sampled_from(sorted(CONFIGS)), st.sets(st.integers(0, 5), max_size=2))
def test_feed_many_equals_feed(rows: list[str], cuts: list[int], name: str, flush_at: set[int]) -> None:
    """Any lines, any batch boundaries, flushes by timeout between batches: the same events and pending offsets."""
    lines = raw_lines("\n".join(rows)) if rows else []
    bounds = sorted({min(c, len(lines)) for c in cuts})
    batches = [lines[a:b] for a, b in zip([0, *bounds], [*bounds, len(lines)], strict=True)]
    _assert_same(CONFIGS[name], batches, flush_at)
