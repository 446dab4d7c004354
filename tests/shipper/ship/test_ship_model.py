"""A Hypothesis state machine: write / rotate / truncate / delete / restart / crash against a model of what must be indexed.

The real pipeline runs in a background thread against a real osmem-server. The model is the
set of lines written; after every ``settle`` the store must hold exactly those lines, each once.
Rotations and deletions happen after a settle (a file renamed to a name no glob matches before
the shipper ever saw it cannot be shipped by anyone), but writes, restarts and crashes happen
with data in flight.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from shiphelpers import make_pipeline, search

from cronwatch.testing.services import Process
from shipper.runner import Limits, Pipeline

pytestmark = pytest.mark.timeout(240)

LIMITS = Limits(batch_events=20, flush_interval=0.02, max_in_flight=2, scan_interval=0.03, checkpoint_interval=0.03,
                shutdown_timeout=5.0, rotate_wait=0.1, eof_line_timeout=0.2, close_inactive=0.15)


class Background:
    """One pipeline running in its own thread and event loop."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.task: asyncio.Task[object] | None = None
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)

            async def go() -> None:
                self.stop_event = asyncio.Event()
                self.task = asyncio.ensure_future(pipeline.run(self.stop_event))
                ready.set()
                try:
                    await self.task
                except asyncio.CancelledError:
                    pass
                await pipeline.sink.service.close()

            self.loop.run_until_complete(go())
            self.loop.close()

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()
        ready.wait(10)

    def stop(self) -> None:
        """Graceful stop: flush, wait for acknowledgements, checkpoint."""
        assert self.stop_event is not None
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)
        assert not self.thread.is_alive()

    def crash(self) -> None:
        """Like kill -9: whatever was not checkpointed is forgotten (no final flush or checkpoint)."""
        p = self.pipeline

        async def abandon() -> None:
            p.tailer.close()
            for w in p.workers:
                w.cancel()

        p.shutdown = abandon  # type: ignore[method-assign]
        self.stop()


@pytest.fixture(scope="module")
def store_url(osmem: Process) -> str:
    """The session's osmem-server."""
    return str(osmem.url)


class TailerModel(RuleBasedStateMachine):
    """Files written, rotated, truncated and deleted while the shipper restarts and crashes."""

    url = ""

    @initialize()
    def setup(self) -> None:
        """A fresh directory, index prefix and running shipper."""
        self.dir = Path(tempfile.mkdtemp(prefix="cw-model-"))
        self.logs = self.dir / "logs"
        self.logs.mkdir()
        self.prefix = "model" + uuid.uuid4().hex[:10]
        self.written: list[int] = []
        self.n = 0
        self.rotated: list[Path] = []
        self.rotations = 0
        self.bg = self._start()

    def _start(self) -> Background:
        pipe = make_pipeline(self.url, self.dir / "state", [str(self.logs / "*.log")], prefix=self.prefix,
                             limits=LIMITS)
        return Background(pipe)

    def teardown(self) -> None:
        """Settle, check exactly-once, stop and clean up."""
        if hasattr(self, "bg"):
            try:
                self.settle()
            finally:
                self.bg.stop()
                shutil.rmtree(self.dir, ignore_errors=True)

    def _append(self, name: str, k: int) -> None:
        with open(self.logs / name, "a", encoding="utf-8") as fh:
            for _ in range(k):
                fh.write(orjson.dumps({"@timestamp": "2026-11-22T02:00:00.000Z", "n": self.n}).decode() + "\n")
                self.written.append(self.n)
                self.n += 1

    def _stored(self) -> list[int]:
        return sorted(h["_source"]["n"] for h in search(self.url, f"{self.prefix}-*", size=10000))

    def settle(self) -> None:
        """Wait until the store holds every line written, then check it holds each exactly once."""
        deadline = time.monotonic() + 20
        want = sorted(self.written)
        got: list[int] = []
        while time.monotonic() < deadline:
            httpx.post(f"{self.url}/{self.prefix}-*/_refresh")
            got = self._stored()
            if len(got) >= len(want):
                break
            time.sleep(0.03)
        assert got == want

    @rule(name=st.sampled_from(["a.log", "b.log"]), k=st.integers(1, 60))
    def write(self, name: str, k: int) -> None:
        """Append lines to a live file."""
        self._append(name, k)

    @rule(name=st.sampled_from(["a.log", "b.log"]), more=st.integers(0, 5))
    def rotate_rename(self, name: str, more: int) -> None:
        """``mv x.log x.log.N``; the writer adds a few lines to the old file after the rename."""
        if not (self.logs / name).exists():
            return
        self.settle()
        self.rotations += 1
        target = self.logs / f"{name}.{self.rotations}"
        os.rename(self.logs / name, target)
        self.rotated.append(target)
        self._append(target.name, more)

    @rule(name=st.sampled_from(["a.log", "b.log"]))
    def copytruncate(self, name: str) -> None:
        """logrotate's copytruncate."""
        if not (self.logs / name).exists():
            return
        self.settle()
        self.rotations += 1
        shutil.copy(self.logs / name, self.logs / f"{name}.{self.rotations}")
        os.truncate(self.logs / name, 0)

    @rule(name=st.sampled_from(["a.log", "b.log"]), k=st.integers(0, 3))
    def truncate_and_write(self, name: str, k: int) -> None:
        """The job empties its own log and writes again (possibly growing past the old size before a scan)."""
        if not (self.logs / name).exists():
            return
        self.settle()
        os.truncate(self.logs / name, 0)
        self._append(name, k)

    @rule(name=st.sampled_from(["a.log", "b.log"]))
    def delete_live(self, name: str) -> None:
        """Delete a live file; the next write creates a new one (its inode may be reused)."""
        if not (self.logs / name).exists():
            return
        self.settle()
        (self.logs / name).unlink()

    @precondition(lambda self: bool(self.rotated))
    @rule()
    def delete_rotated(self) -> None:
        """Delete the oldest rotated file."""
        self.settle()
        self.rotated.pop(0).unlink()

    @rule()
    def restart(self) -> None:
        """Stop the shipper gracefully and start it again."""
        self.bg.stop()
        self.bg = self._start()

    @rule()
    def crash(self) -> None:
        """Kill the shipper without a final flush or checkpoint, and start it again."""
        self.bg.crash()
        self.bg = self._start()

    @rule()
    def check(self) -> None:
        """Everything written so far is in the store, once."""
        self.settle()

    @invariant()
    def never_more_than_written(self) -> None:
        """The store never holds a line twice or a line nobody wrote."""
        if hasattr(self, "prefix"):
            got = self._stored()
            assert len(got) == len(set(got)) and set(got) <= set(self.written)


@pytest.mark.slow
def test_tailer_state_machine(store_url: str) -> None:
    """Random sequences of file operations and shipper restarts index every line exactly once."""
    TailerModel.url = store_url
    run = TailerModel.TestCase
    run.settings = settings(max_examples=6, stateful_step_count=14, deadline=None,
                            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    run().runTest()
