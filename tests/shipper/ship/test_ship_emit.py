"""The pipeline's inlined encoding (``Pipeline.emit``) gives exactly the items of the reference functions,
in exactly the batches adding them one by one would make; decoding in bulk; metrics per chunk; the bulk body."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections import deque
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from shipper.batch import Batch, Limits
from shipper.filters import InputRules
from shipper.logmetrics import ShipperMetrics
from shipper.model import Event, RawLine
from shipper.naming import doc_id, index_name
from shipper.runner import Pipeline
from shipper.sink.encoder import IndexNamer, encode_item
from shipper.sink.service import StoreService
from shipper.tail.checkpoint import CheckpointStore

KEY = "801-2a-0123456789abcdef"


class _State:
    key = KEY
    path = "/var/log/jobs/a.log"


class _Tracked:
    """Just what ``emit`` touches of a tracked file."""

    def __init__(self) -> None:
        self.input = 0
        self.ids: Any = None
        self.state = _State()
        self.inflight: deque[Any] = deque()


def test_emit_items_match_reference_encoding(tmp_path: Path) -> None:
    pipeline = Pipeline([], [], [InputRules("cw")], sink=None, checkpoints=CheckpointStore(tmp_path),  # type: ignore[arg-type]
                        namer=IndexNamer())
    raws = ["plain line", "备份 数据 ünïcode", "lone \udcff surrogate", "x" * 300]
    stamps = ["2026-11-22T02:00:00.000Z", "2026-11-22T23:59:59.999Z", "2026-11-23T00:00:00.000Z",
              "2026-11-23T01:00:00+02:00"]
    events, offset = [], 0
    for raw, ts in zip(raws, stamps, strict=True):
        doc = {"@timestamp": ts, "message": raw.encode("utf-8", "replace").decode(), "log.offset": offset, "n": [1, 2.5, None]}
        events.append(Event(doc, offset, offset + len(raw) + 1, {"raw": raw, "source": KEY}))
        offset += len(raw) + 1
    t = _Tracked()
    asyncio.run(pipeline.emit(t, events))  # type: ignore[arg-type]
    expected = [encode_item(ev.doc, index_name(ev.doc, "cw"), doc_id(KEY, ev.offset, ev.meta["raw"]))
                for ev in events]
    assert pipeline.batch.items == expected
    assert pipeline.batch.size == sum(map(len, expected))
    assert pipeline.stats.events == len(events)


# --- batching, filtering, decoding in bulk, metrics per chunk, the request body ------------------------------


class _Opaque:
    """A value orjson cannot encode natively (the encoder writes ``str()`` of it)."""

    def __str__(self) -> str:
        return "opaque!"


def _pipeline(tmp_path: Path, limits: Limits, rules: InputRules | None = None) -> tuple[Pipeline, list[Batch]]:
    """A pipeline whose submitted batches are collected instead of sent."""
    pipeline = Pipeline([], [], [rules or InputRules("cw")], sink=None,  # type: ignore[arg-type]
                        checkpoints=CheckpointStore(tmp_path), namer=IndexNamer(), limits=limits)
    sent: list[Batch] = []

    async def submit() -> None:
        if pipeline.batch.items:
            sent.append(pipeline.batch)
        pipeline.batch = Batch(0.0)

    pipeline.submit = submit  # type: ignore[method-assign]
    return pipeline, sent


def _events(n: int, start: int = 0) -> list[Event]:
    out, offset = [], start
    for i in range(n):
        raw = f"line {i} " + "x" * (i % 7) * 10
        doc = {"@timestamp": f"2026-11-2{2 + i // 5}T02:00:00.000Z", "message": raw,
               "log.level": "debug" if i % 3 == 0 else "info", "task.name": f"t{i % 2}", "opaque": _Opaque()}
        out.append(Event(doc, offset, offset + len(raw) + 1, {"raw": raw, "source": KEY}))
        offset += len(raw) + 1
    return out


def _reference_batches(events: list[Event], max_events: int, max_bytes: int) -> list[tuple[list[bytes], int, int]]:
    """Items added one at a time, a batch closed at max_events items or once max_bytes is reached: (items, start, end)."""
    out: list[tuple[list[bytes], int, int]] = []
    items: list[bytes] = []
    size, start = 0, -1
    for ev in events:
        item = encode_item(ev.doc, index_name(ev.doc, "cw"), doc_id(KEY, ev.offset, ev.meta["raw"]))
        if not items:
            start = ev.offset
        items.append(item)
        size += len(item)
        if len(items) >= max_events or size >= max_bytes:
            out.append((items, start, ev.end))
            items, size = [], 0
    if items:
        out.append((items, start, events[-1].end))
    return out


@pytest.mark.parametrize(("max_events", "max_bytes"), [(7, 1 << 20), (1000, 900), (5, 700), (1, 1 << 20)])
def test_emit_fills_batches_as_if_items_were_added_one_by_one(tmp_path: Path, max_events: int, max_bytes: int) -> None:
    """Items go into batches in slices, yet every batch ends where adding item by item would close it; spans match."""
    pipeline, sent = _pipeline(tmp_path, Limits(batch_events=max_events, batch_bytes=max_bytes))
    events = _events(40)
    t = _Tracked()
    asyncio.run(pipeline.emit(t, events[:13]))  # type: ignore[arg-type]
    asyncio.run(pipeline.emit(t, events[13:]))  # type: ignore[arg-type]
    got = [*sent, pipeline.batch] if pipeline.batch.items else sent
    expected = _reference_batches(events, max_events, max_bytes)
    assert [b.items for b in got] == [items for items, _, _ in expected]
    assert [b.size for b in got] == [sum(map(len, items)) for items, _, _ in expected]
    spans = [b.spans[t] for b in got]  # type: ignore[index]
    assert [(s.start, s.end) for s in spans] == [(start, end) for _, start, end in expected]
    assert list(t.inflight) == spans
    assert b'"opaque":"opaque!"' in got[0].items[0]  # what orjson cannot encode is written as text


def test_emit_filters_before_batching_and_spans_cover_kept_events(tmp_path: Path) -> None:
    """Dropped events make no item; each batch's span runs from its first to its last kept event."""
    rules = InputRules("cw", drop_levels=["debug"])
    pipeline, sent = _pipeline(tmp_path, Limits(batch_events=4), rules)
    events = _events(20)
    t = _Tracked()
    asyncio.run(pipeline.emit(t, events))  # type: ignore[arg-type]
    kept = [ev for ev in events if ev.doc["log.level"] != "debug"]
    expected = _reference_batches(kept, 4, 1 << 30)
    got = [*sent, pipeline.batch]
    assert [b.items for b in got] == [items for items, _, _ in expected]
    assert [(b.spans[t].start, b.spans[t].end) for b in got] == [(s, e) for _, s, e in expected]  # type: ignore[index]
    assert pipeline.stats.filtered == len(events) - len(kept)
    assert pipeline.stats.events == len(events)


class _OneByOne:
    """A decoder with ``feed`` only: every line is an event."""

    def feed(self, line: RawLine) -> list[Event]:
        return [Event({"message": line.text}, line.offset, line.end, {"raw": line.text})] if line.text else []


class _Bulk(_OneByOne):
    """The same decoder with ``feed_many``."""

    calls = 0

    def feed_many(self, lines: list[RawLine]) -> list[Event]:
        self.calls += 1
        return [ev for line in lines for ev in self.feed(line)]


def test_lines_are_decoded_with_feed_many_when_the_decoder_has_it(tmp_path: Path) -> None:
    """One ``feed_many`` call per chunk when available, ``feed`` per line otherwise: the same events, lines counted."""
    pipeline, _ = _pipeline(tmp_path, Limits())
    lines = [RawLine(text, i * 10, i * 10 + 10) for i, text in enumerate(["a", "", "b", "c"])]
    bulk, single = _Bulk(), _OneByOne()
    t_bulk, t_single = _Tracked(), _Tracked()
    t_bulk.decoder, t_single.decoder = bulk, single  # type: ignore[attr-defined]
    a = pipeline._feed(t_bulk, lines)  # type: ignore[arg-type]
    b = pipeline._feed(t_single, lines)  # type: ignore[arg-type]
    assert a == b and [e.doc["message"] for e in a] == ["a", "b", "c"]
    assert bulk.calls == 1
    assert pipeline.stats.lines == 2 * len(lines)


def _samples(metrics: ShipperMetrics) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for counter in (metrics.log_events, metrics.log_runs, metrics.parse_failures):
        for m in counter.collect():
            for s in m.samples:
                if s.name.endswith("_total"):
                    out[(s.name, *sorted(s.labels.items()))] = s.value  # type: ignore[arg-type]
    return out


def test_log_metrics_of_a_chunk_equal_those_of_its_documents_one_by_one() -> None:
    """Counting a whole chunk at once (one task or several, dotted or nested fields, tags) gives the same values."""
    docs: list[dict[str, Any]] = [
        {"task.name": "a", "log.level": "info"}, {"task.name": "a", "log.level": "error", "tags": ["_grokparsefailure"]},
        {"task": {"name": "b"}, "log": {"level": "warn"}, "event": {"action": "task.failed"}},
        {"task.name": "a", "event.action": "task.succeeded", "log.level": "info", "tags": ["_truncated", "other"]},
        {"message": "no task, no level"}, {"task.name": "c", "log.level": None},
    ]
    for chunk in (docs, docs[:2], [docs[0]] * 3, docs[4:5]):
        whole, single = ShipperMetrics(), ShipperMetrics()
        whole.observe(chunk)
        for doc in chunk:
            single.observe_doc(doc)
        assert _samples(whole) == _samples(single)
    whole.observe([])


def test_bulk_body_is_joined_where_it_is_compressed() -> None:
    """Encoded items (a list) or one NDJSON body: the store receives the same bytes, gzipped or not, big or small."""
    received: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = request.content
        received.append(gzip.decompress(body) if request.headers.get("content-encoding") == "gzip" else body)
        return httpx.Response(200, json={"errors": False, "items": []})

    async def go(items: list[bytes], gz: bool) -> None:
        service = StoreService(["http://store.invalid:9200"], gzip=gz, transport=httpx.MockTransport(handler))
        await service.bulk(items)
        await service.bulk(b"".join(items))
        await service.close()

    small = [b'{"index":{}}\n{"n":%d}\n' % i for i in range(10)]
    big = [b'{"index":{}}\n{"n":%d,"pad":"%s"}\n' % (i, b"x" * 200) for i in range(1000)]  # 230 KB
    for items in (small, big):
        for gz in (True, False):
            received.clear()
            asyncio.run(go(items, gz))
            assert received == [b"".join(items)] * 2


def test_a_pass_reads_several_small_chunks_of_a_busy_file(tmp_path: Path) -> None:
    """One pass reads up to READS_PER_PASS chunks of a file, each decoded and batched at once; lines stay contiguous."""
    from shiphelpers import LineParser

    from shipper.runner import READ_CHUNK, READS_PER_PASS
    from shipper.tail.tailer import InputFiles

    logs = tmp_path / "logs"
    logs.mkdir()
    line = "y" * 99
    n = (READ_CHUNK * READS_PER_PASS * 2) // 100 + 37
    (logs / "a.log").write_text("".join(f"{line}\n" for _ in range(n)))
    pipeline = Pipeline([InputFiles([str(logs / "*.log")])], [LineParser()], [InputRules("cw")], sink=None,  # type: ignore[arg-type]
                        checkpoints=CheckpointStore(tmp_path / "state"), namer=IndexNamer(), limits=Limits())
    spans: list[tuple[int, int]] = []
    chunks: list[int] = []
    emit = pipeline.emit

    async def recording(t: Any, events: list[Event]) -> None:
        chunks.append(len(events))
        spans.extend((ev.offset, ev.end) for ev in events)
        await emit(t, events)

    pipeline.emit = recording  # type: ignore[method-assign]

    async def go() -> list[int]:
        await pipeline.prepare()
        passes = []
        while await pipeline.read_once(0.0):
            passes.append(pipeline.stats.bytes)
        for t in list(pipeline.tailer.files.values()):
            await pipeline.finish_file(t, 0.0)
        pipeline.tailer.close()
        return passes

    passes = asyncio.run(go())
    assert passes[0] == READ_CHUNK * READS_PER_PASS and passes[-1] == n * 100
    assert len(passes) == 3
    assert sum(1 for c in chunks if c) >= 2 * READS_PER_PASS  # decoded and batched chunk by chunk
    assert spans == [(i * 100, i * 100 + 100) for i in range(n)]
    queued = [pipeline.queue.get_nowait() for _ in range(pipeline.queue.qsize())]
    assert pipeline.stats.lines == n and sum(len(b.items) for b in [*queued, pipeline.batch] if b) == n


# --- the compiled loop (shipper._speedups.emit_items) gives exactly the items of the Python loop ---------------


def _varied_events(n: int, seed: int) -> list[Event]:
    """Runs of one day broken by others, times that are not UTC strings, lone surrogates, values orjson
    refuses, non-ASCII and long texts, offsets past 4 GiB."""
    import random

    rng = random.Random(seed)
    stamps: list[Any] = ["2026-11-22T02:00:00.000Z", "2026-11-22T23:59:59.999Z", "2026-11-23T00:00:00.000Z",
                         "2026-11-23T01:00:00+02:00", "2026-11-22T02:00:00.000z", "", None, 1795312800, "Z",
                         "2026-11-22T0٢:00:00.000Z", "2026-11-22"]
    raws = ["plain line", "备份 数据 ünïcode", "lone \udcff surrogate", "x" * 3000, "", "emoji 🙂", "tab\tquote\""]
    out, offset = [], rng.choice((0, 5, 1 << 32, (1 << 40) + 3))
    for i in range(n):
        raw = rng.choice(raws) + f" {i}"
        ts = stamps[0] if rng.random() < 0.6 else rng.choice(stamps)
        doc: dict[str, Any] = {"@timestamp": ts, "message": raw.encode("utf-8", "replace").decode(), "n": i}
        if rng.random() < 0.05:
            doc["opaque"] = _Opaque()
        if rng.random() < 0.05:
            del doc["@timestamp"]
        out.append(Event(doc, offset, offset + 10, {"raw": raw, "source": KEY}))
        offset += rng.choice((1, 10, 4096))
    return out


@pytest.mark.parametrize("tz", [None, "Asia/Shanghai"])
@pytest.mark.parametrize("seed", range(6))
def test_compiled_emit_equals_the_python_loop(tmp_path: Path, tz: str | None, seed: int) -> None:
    from shipper._speedups import emit_items

    events = _varied_events(300, seed)
    results = []
    for fast in (emit_items, None):
        pipeline, sent = _pipeline(tmp_path, Limits(batch_events=64))
        pipeline.namer = IndexNamer(tz=ZoneInfo(tz) if tz else None)
        pipeline.emit_items = fast
        t = _Tracked()
        for part in (events[:1], events[1:120], events[120:]):
            asyncio.run(pipeline.emit(t, part))  # type: ignore[arg-type]
        results.append([b.items for b in [*sent, pipeline.batch]])
    assert results[0] == results[1]
    assert sum(map(len, results[0])) == len(events)


def test_compiled_emit_stops_where_the_python_loop_must_decide() -> None:
    """Another day, a time that is not a str ending in "Z", a lone surrogate, a TypeError from dumps,
    an offset that is not a non-negative int: the index of that event; other errors propagate."""
    import orjson
    from shipper._speedups import emit_items

    from shipper.sink.encoder import ACTION_TAIL

    def ev(ts: Any, raw: str = "r", offset: Any = 0, **extra: Any) -> Event:
        return Event({"@timestamp": ts, **extra}, offset, 1, {"raw": raw})

    good = ev("2026-11-22T02:00:00.000Z")
    for bad in (ev("2026-11-23T00:00:00.000Z"), ev("2026-11-22T02:00:00+00:00"), ev(None), ev(5),
                ev("2026-11-22T02:00:00.000Z", raw="\udcff"), ev("2026-11-22T02:00:00.000Z", x=_Opaque()),
                ev("2026-11-22T02:00:00.000Z", offset=-1), ev("2026-11-22T02:00:00.000Z", offset=1 << 70)):
        items: list[bytes] = []
        assert emit_items([good, good, bad, good], 0, b"p", b"H", "2026-11-22", 10, ACTION_TAIL, orjson.dumps,
                          items) == 2
        assert items == [b'H%08xp0"}}\n{"@timestamp":"2026-11-22T02:00:00.000Z"}\n' % zlib.crc32(b"r", 0)] * 2

    def boom(_doc: Any) -> bytes:
        raise ValueError("not a TypeError")

    with pytest.raises(ValueError, match="not a TypeError"):
        emit_items([good], 0, b"p", b"H", "2026-11-22", 10, ACTION_TAIL, boom, [])
