"""Filters, routing, backpressure, acknowledged-only checkpoints and log-derived metrics, with the real parser."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import generate_latest
from shiphelpers import FAST, append, count, eventually, make_pipeline, running, search

from cronwatch.retry import Backoff
from cronwatch.testing.services import Process, free_port, start_osmem
from shipper.app import open_pipeline
from shipper.config import InputConfig, ShipperConfig, SinkConfig
from shipper.filters import InputRules
from shipper.logmetrics import OTHER, ShipperMetrics, TaskLabels
from shipper.naming import DocIds
from shipper.parse import ParseConfig, compile_parser
from shipper.runner import Limits
from shipper.tail.checkpoint import CheckpointStore

pytestmark = pytest.mark.timeout(60)


def _line(level: str, msg: str, task: str = "t1", **extra: object) -> str:
    return orjson.dumps({"time": "2026-11-22T02:00:00Z", "level": level, "msg": msg, "task": task, **extra}).decode()


def _prefix() -> str:
    return "r" + uuid.uuid4().hex[:10]


async def test_filters_and_error_routing(osmem: Process, tmp_path: Path) -> None:
    """Debug lines and regex matches are dropped; error and fatal records go to the second prefix."""
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "a.log", _line("debug", "noisy"), _line("info", "keep me"), _line("info", "healthcheck ok"),
           _line("error", "boom"), _line("panic", "dead"), _line("warning", "careful"))
    prefix, errors = _prefix(), _prefix()
    rules = InputRules(prefix, drop_levels=["debug"], drop_regex=["healthcheck"], error_prefix=errors)
    pipe = make_pipeline(osmem.url, tmp_path / "state", [str(logs / "*.log")], rules=rules,
                         parser=compile_parser(ParseConfig()))
    async with running(pipe):
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 2 and count(osmem.url, f"{errors}-*") == 2)
    assert sorted(h["_source"]["message"] for h in search(osmem.url, f"{prefix}-*")) == ["careful", "keep me"]
    assert sorted(h["_source"]["log.level"] for h in search(osmem.url, f"{errors}-*")) == ["error", "fatal"]
    assert pipe.stats.filtered == 2


def test_sampling_is_deterministic() -> None:
    """Sampling keeps about the configured share, and always the same documents for the same ids."""
    rules = InputRules("p", sample=0.25)
    ids = [f"{i:032x}" for i in range(0, 2**32, 2**22)]
    kept = [i for i in ids if rules.keep({}, "", f"{int(i, 16):08x}" + "0" * 24)]
    assert 0.2 < len(kept) / len(ids) < 0.3
    assert kept == [i for i in ids if rules.keep({}, "", f"{int(i, 16):08x}" + "0" * 24)]


async def test_checkpoint_waits_for_the_store_and_reading_is_bounded(tmp_path: Path) -> None:
    """While the store is down nothing is checkpointed and reading stops after a bounded number of batches."""
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="unavailable")

    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "big.log", *(f"line {i:05d} " + "x" * 90 for i in range(20000)))  # 2 MB, read 64 KiB at a time
    limits = Limits(batch_events=100, flush_interval=0.01, max_in_flight=2, scan_interval=0.05,
                    checkpoint_interval=0.02, shutdown_timeout=0.2)
    pipe = make_pipeline("http://store.invalid:9200", tmp_path / "state", [str(logs / "*.log")], limits=limits,
                         transport=httpx.MockTransport(down), backoff=Backoff(initial=0.01, maximum=0.02))
    async with running(pipe):
        await asyncio.sleep(1.0)
        read = pipe.stats.lines
        await asyncio.sleep(0.5)
        assert pipe.stats.lines == read  # blocked: not growing memory
        assert read < 100 * (2 + 2 + 1) + 2 * 2600  # in flight + queued + open batch + a read chunk or two
        assert [s.offset for s in CheckpointStore(tmp_path / "state").load()] == [0]
    assert [s.offset for s in CheckpointStore(tmp_path / "state").load()] == [0]
    assert pipe.stats.indexed == 0


async def test_checkpoint_never_passes_a_pending_record(osmem: Process, tmp_path: Path) -> None:
    """A multi-line record still being written holds the checkpoint at its first line."""
    logs = tmp_path / "logs"
    logs.mkdir()
    f = logs / "a.log"
    append(f, "first", "second", "  continued")
    cfg = InputConfig(paths=[str(f)], multiline={"timeout": "1h"})  # type: ignore[arg-type]
    pipe = make_pipeline(osmem.url, tmp_path / "state", [str(f)], prefix=_prefix(), parser=compile_parser(cfg))
    async with running(pipe):
        await eventually(lambda: pipe.stats.indexed == 1)
        await asyncio.sleep(0.2)
        assert [s.offset for s in CheckpointStore(tmp_path / "state").load()] == [len("first\n")]


async def test_store_down_at_start_then_up(tmp_path: Path) -> None:
    """A store that refuses connections at start-up is waited for; once it is up everything arrives once."""
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "a.log", *(_line("info", f"m{i}") for i in range(50)))
    prefix = _prefix()
    cfg = ShipperConfig(inputs=[InputConfig(paths=[str(logs / "*.log")])],
                        sink=SinkConfig(hosts=[f"http://127.0.0.1:{port}"], index_prefix=prefix,
                                        retry_initial="50ms", retry_max="200ms", flush_interval="50ms"),  # type: ignore[arg-type]
                        state_dir=str(tmp_path / "state"))

    async def ship() -> int:
        async with open_pipeline(cfg) as pipe:
            return (await pipe.backfill()).indexed

    task = asyncio.create_task(ship())
    await asyncio.sleep(1.0)
    assert not task.done()
    store = await asyncio.to_thread(start_osmem, port, tmp_path / "osmem.log")
    try:
        assert await asyncio.wait_for(task, 30) == 50
        assert await asyncio.to_thread(count, store.url, f"{prefix}-*") == 50
    finally:
        store.stop()


async def test_read_from_end_skips_existing_lines(osmem: Process, tmp_path: Path) -> None:
    """``read_from: end`` starts files found at start-up at their end and ships only new lines."""
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "a.log", "old 1", "old 2")
    prefix = _prefix()
    pipe = make_pipeline(osmem.url, tmp_path / "state", [str(logs / "*.log")], prefix=prefix)
    pipe.tailer.inputs[0] = type(pipe.tailer.inputs[0])(pipe.tailer.inputs[0].paths, (), True)
    async with running(pipe):
        await asyncio.sleep(0.2)
        append(logs / "a.log", "new 1")
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 1)
    assert search(osmem.url, f"{prefix}-*")[0]["_source"]["message"] == "new 1"


def test_task_label_values_are_bounded() -> None:
    """Past the limit, new task names are counted under task="_other"."""
    metrics = ShipperMetrics(max_tasks=2)
    for task in ("a", "b", "c", "d", "a"):
        metrics.observe([{"task.name": task, "log.level": "info"}, {"task.name": task, "event.action": "task.failed",
                                                                      "log.level": "error"}])
    samples = {(s.labels["task"], s.labels["level"]): s.value for m in metrics.log_events.collect()
               for s in m.samples if s.name.endswith("_total")}
    assert samples == {("a", "info"): 2, ("a", "error"): 2, ("b", "info"): 1, ("b", "error"): 1,
                       (OTHER, "info"): 2, (OTHER, "error"): 2}
    runs = {(s.labels["task"], s.labels["outcome"]): s.value for m in metrics.log_runs.collect()
            for s in m.samples if s.name.endswith("_total")}
    assert runs == {("a", "failure"): 2, ("b", "failure"): 1, (OTHER, "failure"): 2}
    assert TaskLabels(1).label(None) == ""


async def test_index_day_in_configured_zone_end_to_end(osmem: Process, tmp_path: Path) -> None:
    """With tz Asia/Shanghai an event at 17:30 UTC lands in the next day's index."""
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "a.log", orjson.dumps({"@timestamp": "2026-11-22T17:30:00.000Z", "message": "late"}).decode())
    prefix = _prefix()
    cfg = ShipperConfig(inputs=[InputConfig(paths=[str(logs / "*.log")])], tz="Asia/Shanghai",
                        sink=SinkConfig(hosts=[osmem.url], index_prefix=prefix), state_dir=str(tmp_path / "s"))
    async with open_pipeline(cfg) as pipe:
        await pipe.backfill()
    assert [h["_index"] for h in search(osmem.url, f"{prefix}-*")] == [f"{prefix}-2026.11.23"]
    assert FAST.batch_events == 50


async def test_many_short_per_run_logs_and_idle_files_closed(osmem: Process, tmp_path: Path) -> None:
    """Hundreds of one-line per-run logs under ``**`` are all shipped, then closed when idle, and reopened on change."""
    logs = tmp_path / "logs"
    for i in range(300):
        d = logs / f"task{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        append(d / f"run-{i:04d}.log", f"Starting work {i}")
    prefix = _prefix()
    limits = Limits(batch_events=100, flush_interval=0.05, scan_interval=0.05, checkpoint_interval=0.05,
                    close_inactive=0.3, eof_line_timeout=0.2, rotate_wait=0.2)
    pipe = make_pipeline(osmem.url, tmp_path / "state", [str(logs / "**" / "*.log")], prefix=prefix, limits=limits)
    async with running(pipe):
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 300, 30)
        await eventually(lambda: not pipe.tailer.files, 10)
        assert len(pipe.tailer.dormant) == 300
        append(logs / "task3" / "run-0003.log", "Finished")
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 301, 10)
    assert len(CheckpointStore(tmp_path / "state").load()) == 300


def test_log_metrics_read_nested_ecs_fields_too() -> None:
    """Documents with nested ECS objects count like dotted ones, and parse-failure tags are counted by kind."""
    metrics = ShipperMetrics()
    metrics.observe([{"task": {"name": "x"}, "log": {"level": "warn"}, "event": {"action": "task.succeeded"}},
                     {"task.name": "x", "log.level": "warn", "tags": ["_grokparsefailure", "_dateparsefailure"]}])
    text = generate_latest(metrics.registry).decode()
    assert 'cronwatch_log_events_total{level="warn",task="x"} 2.0' in text
    assert 'cronwatch_log_task_runs_total{outcome="success",task="x"} 1.0' in text
    assert 'cronwatch_shipper_parse_failures_total{kind="grok"} 1.0' in text
    assert 'cronwatch_shipper_parse_failures_total{kind="date"} 1.0' in text


def test_sampling_real_ids_varies_per_record() -> None:
    """Real document ids sample identical lines at successive offsets independently (the id's first
    digits are seeded with the offset), keeping about the configured share."""
    ids = DocIds("dev-ino-fingerprint")
    rules = InputRules("p", sample=0.25)
    line = "2026-11-22 10:00:01,000 INFO [job] heartbeat ok"
    kept = sum(rules.keep({}, line, ids(i * 49, line)) for i in range(4000))
    assert 0.2 < kept / 4000 < 0.3
    assert ids(49, line) != ids(98, line) and ids(49, line) == DocIds("dev-ino-fingerprint")(49, line)
    assert ids(49, line) != ids(49, line + "!") and ids(49, line) != DocIds("other")(49, line)
