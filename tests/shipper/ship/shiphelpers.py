"""Helpers for the shipping tests: a tiny line decoder, pipelines wired to a real store, store queries."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from cronwatch.retry import Backoff
from shipper.filters import InputRules
from shipper.logmetrics import ShipperMetrics
from shipper.model import Event, RawLine
from shipper.runner import Limits, Pipeline
from shipper.sink.deadletter import DeadLetterFile
from shipper.sink.encoder import IndexNamer
from shipper.sink.service import StoreService
from shipper.sink.sink import BulkSink
from shipper.tail.checkpoint import CheckpointStore
from shipper.tail.tailer import InputFiles

TS = "2026-11-22T02:00:00.000Z"


class LineDecoder:
    """Test decoder: a JSON object line is the document; other lines become ``message``; indented lines continue."""

    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self.lines: list[RawLine] = []

    def _complete(self) -> list[Event]:
        if not self.lines:
            return []
        first, last = self.lines[0], self.lines[-1]
        raw = "\n".join(line.text for line in self.lines)
        self.lines = []
        try:
            doc = orjson.loads(first.text) if first.text.startswith("{") else None
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            doc = {"@timestamp": TS, "message": raw}
        doc.setdefault("@timestamp", TS)
        doc["log.file.path"] = self.path
        doc["log.offset"] = first.offset
        return [Event(doc, first.offset, last.end, {"raw": raw, "source": self.source})]

    def feed(self, line: RawLine) -> list[Event]:
        """Take one line."""
        if line.text.startswith((" ", "\t")) and self.lines:
            self.lines.append(line)
            return []
        out = self._complete()
        self.lines.append(line)
        return out

    def flush(self, now: float | None = None) -> list[Event]:
        """Complete the pending record (at once: tests pass ``None`` or wait)."""
        if now is not None and self.lines and now - self.lines[-1].read_time < 0.3:
            return []
        return self._complete()

    def pending_offset(self) -> int | None:
        """Offset of the pending record."""
        return self.lines[0].offset if self.lines else None


class LineParser:
    """Builds :class:`LineDecoder`s."""

    def decoder(self, path: str, source: str) -> LineDecoder:
        """A decoder for one file."""
        return LineDecoder(path, source)


FAST = Limits(batch_events=50, flush_interval=0.05, max_in_flight=2, scan_interval=0.05, checkpoint_interval=0.05,
              shutdown_timeout=5.0, rotate_wait=0.3, eof_line_timeout=0.3)


def make_pipeline(url: str, state: Path, patterns: list[str], *, prefix: str = "t", parser: Any = None,
                  rules: InputRules | None = None, limits: Limits = FAST, metrics: ShipperMetrics | None = None,
                  transport: httpx.AsyncBaseTransport | None = None, gzip: bool = True,
                  backoff: Backoff | None = None, exclude: list[str] | None = None) -> Pipeline:
    """A pipeline over ``patterns`` into the store at ``url`` with state under ``state``."""
    service = StoreService([url], gzip=gzip, transport=transport, timeout=5.0)
    sink = BulkSink(service, DeadLetterFile(state / "dead-letter.ndjson"),
                    backoff=backoff or Backoff(initial=0.05, maximum=0.2), metrics=metrics)
    return Pipeline([InputFiles(patterns, exclude or [])], [parser or LineParser()], [rules or InputRules(prefix)],
                    sink, CheckpointStore(state), namer=IndexNamer(), limits=limits, metrics=metrics)


@contextlib.asynccontextmanager
async def running(pipeline: Pipeline) -> AsyncIterator[asyncio.Event]:
    """Run ``pipeline`` in the background; stop it (flush, checkpoint) on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await task
        await pipeline.sink.service.close()


def search(url: str, index: str, size: int = 10000) -> list[dict[str, Any]]:
    """Every hit (``_index``, ``_id``, ``_source``) in ``index`` after a refresh."""
    httpx.post(f"{url}/{index}/_refresh")
    resp = httpx.post(f"{url}/{index}/_search", json={"size": size, "query": {"match_all": {}}})
    if resp.status_code == 404:
        return []
    resp.raise_for_status()
    return list(resp.json()["hits"]["hits"])


def count(url: str, index: str) -> int:
    """Number of documents in ``index``."""
    httpx.post(f"{url}/{index}/_refresh")
    resp = httpx.get(f"{url}/{index}/_count")
    return 0 if resp.status_code == 404 else int(resp.json()["count"])


async def eventually(check: Any, within: float = 10.0, interval: float = 0.05) -> None:
    """Wait until ``check()`` is true (in a thread, since it may block) or fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await asyncio.to_thread(check)
        if last:
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within} s (last: {last!r})")


def append(path: Path, *lines: str) -> None:
    """Append lines (each with a newline) to ``path``."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())


REPO = Path(__file__).resolve().parents[3]
CRONWATCH = str(REPO / ".venv" / "bin" / "cronwatch")


def shipper_yaml(url: str, logs_glob: str, state: Path, prefix: str, **extra: str) -> str:
    """A shipper.yml with fast timings for tests."""
    lines = [
        "inputs:",
        f"  - paths: ['{logs_glob}']",
        "    multiline: {timeout: 200ms}",
        "sink:",
        f"  hosts: ['{url}']",
        f"  index_prefix: {prefix}",
        "  flush_interval: 100ms",
        "  batch_events: 200",
        "  retry_initial: 50ms",
        "  retry_max: 500ms",
        "  timeout: 2s",
        f"state_dir: {state}",
        "scan_interval: 100ms",
        "checkpoint_interval: 100ms",
        "rotate_wait: 500ms",
        "eof_line_timeout: 500ms",
        "close_inactive: 300ms",
    ]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"
