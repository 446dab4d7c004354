"""The pipeline end to end against a real osmem-server: files into daily indices, acknowledged checkpoints."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from shiphelpers import append, count, eventually, make_pipeline, running, search

from cronwatch.testing.services import Process
from shipper.tail.checkpoint import CheckpointStore

pytestmark = pytest.mark.timeout(60)


def _prefix() -> str:
    return "p" + uuid.uuid4().hex[:10]


async def test_short_file_is_shipped_at_once(osmem: Process, tmp_path: Path) -> None:
    """A file with one short line is read and indexed without waiting for more bytes."""
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "job.log", "Starting work")
    prefix = _prefix()
    pipe = make_pipeline(osmem.url, tmp_path / "state", [str(logs / "*.log")], prefix=prefix)
    async with running(pipe):
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 1)
    hits = search(osmem.url, f"{prefix}-*")
    assert hits[0]["_index"] == f"{prefix}-2026.11.22"
    assert hits[0]["_source"]["message"] == "Starting work"


async def test_events_land_in_the_day_of_their_timestamp(osmem: Process, tmp_path: Path) -> None:
    """Each event goes to the daily index of its own @timestamp, not the day it was read."""
    logs = tmp_path / "logs"
    logs.mkdir()
    days = ["2024-02-29T23:59:59.999Z", "2025-01-01T00:00:00.000Z", "2026-11-22T12:00:00.000Z"]
    append(logs / "a.log", *(orjson.dumps({"@timestamp": d, "message": d}).decode() for d in days))
    prefix = _prefix()
    pipe = make_pipeline(osmem.url, tmp_path / "state", [str(logs / "*.log")], prefix=prefix)
    async with running(pipe):
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 3)
    got = {h["_source"]["message"]: h["_index"] for h in search(osmem.url, f"{prefix}-*")}
    assert got == {days[0]: f"{prefix}-2024.02.29", days[1]: f"{prefix}-2025.01.01", days[2]: f"{prefix}-2026.11.22"}


async def test_restart_resumes_without_duplicates(osmem: Process, tmp_path: Path) -> None:
    """After a clean stop and restart only new lines are read, and the store holds each event once."""
    logs = tmp_path / "logs"
    logs.mkdir()
    f = logs / "job.log"
    append(f, *(f"line {i}" for i in range(100)))
    prefix = _prefix()
    state = tmp_path / "state"
    pipe = make_pipeline(osmem.url, state, [str(logs / "*.log")], prefix=prefix)
    async with running(pipe):
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 100)
    saved = CheckpointStore(state).load()
    assert [s.offset for s in saved] == [f.stat().st_size]
    append(f, *(f"line {i}" for i in range(100, 150)))
    pipe2 = make_pipeline(osmem.url, state, [str(logs / "*.log")], prefix=prefix)
    async with running(pipe2):
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 150)
    assert pipe2.stats.lines == 50
    assert saved[0].key == CheckpointStore(state).load()[0].key


async def test_multiline_record_is_flushed_at_idle(osmem: Process, tmp_path: Path) -> None:
    """A traceback at the end of a file is one event, shipped after the multi-line timeout."""
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "job.log", "task failed", "  Traceback (most recent call last):", "  ValueError: boom")
    prefix = _prefix()
    pipe = make_pipeline(osmem.url, tmp_path / "state", [str(logs / "*.log")], prefix=prefix)
    async with running(pipe):
        await eventually(lambda: count(osmem.url, f"{prefix}-*") == 1)
    assert search(osmem.url, f"{prefix}-*")[0]["_source"]["message"].endswith("ValueError: boom")
