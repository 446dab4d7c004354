"""Fault tests against a real osmem-server: kill -9 during writes and rotations, store outage, mapping conflicts.

Each ends by counting the documents in the store: exactly the lines written, none twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from shiphelpers import CRONWATCH, count, eventually, make_pipeline, running, search, shipper_yaml

from cronwatch.retry import Backoff
from cronwatch.testing.services import Process, free_port, wait_until
from shipper.parse import ParseConfig, compile_parser

pytestmark = pytest.mark.timeout(240)


class Writer:
    """A job writing unique JSON lines to ``app.log``, rotating it by rename or copytruncate."""

    def __init__(self, logs: Path, rng: random.Random) -> None:
        self.logs = logs
        self.rng = rng
        self.n = 0
        self.rotations = 0
        self.live = logs / "app.log"
        self.fh = open(self.live, "a", encoding="utf-8")  # kept open like a real job

    def write(self, k: int) -> None:
        """Append ``k`` lines."""
        for _ in range(k):
            self.fh.write(orjson.dumps({"@timestamp": "2026-11-22T02:00:00.000Z", "level": "info",
                                        "msg": f"line {self.n}", "seq": self.n}).decode() + "\n")
            self.n += 1
        self.fh.flush()

    def rotate_rename(self) -> None:
        """``mv app.log app.log.N``, a few more lines into the old file, then a new ``app.log``."""
        self.rotations += 1
        os.rename(self.live, self.logs / f"app.log.{self.rotations}")
        self.write(self.rng.randint(0, 5))  # the job still holds the old file for a moment
        self.fh.close()
        self.fh = open(self.live, "a", encoding="utf-8")

    def copytruncate(self) -> None:
        """logrotate's copytruncate: copy the file aside, then truncate it in place."""
        self.rotations += 1
        shutil.copy(self.live, self.logs / f"app.log.{self.rotations}")
        os.truncate(self.live, 0)

    def close(self) -> None:
        """Stop writing."""
        self.fh.close()


def _start(cfg: Path, log: Path, wait: bool = False) -> subprocess.Popen[bytes]:
    started = log.read_text().count('"shipper started"') if log.exists() else 0
    with open(log, "ab") as out:
        proc = subprocess.Popen([CRONWATCH, "shipper", "run", "--config", str(cfg)], stdout=out, stderr=out)
    if wait:
        wait_until(lambda: log.read_text().count('"shipper started"') > started, 30, "shipper start", proc)
    return proc


def _seen(state: Path, path: Path) -> bool:
    """True when the shipper has recorded ``path``'s identity in its checkpoint."""
    try:
        st = path.stat()
        files = orjson.loads((state / "checkpoints.json").read_bytes())["files"]
    except (OSError, orjson.JSONDecodeError):
        return False
    return any(f["dev"] == st.st_dev and f["ino"] == st.st_ino for f in files)


def _messages(url: str, prefix: str) -> list[int]:
    return sorted(int(h["_source"]["extra"]["seq"]) for h in search(url, f"{prefix}-*", size=10000))


@pytest.mark.slow
def test_kill9_while_writing_and_rotating_loses_and_duplicates_nothing(osmem: Process, tmp_path: Path) -> None:
    """Twelve kill -9s at random moments while a job appends and rotates (rename and copytruncate): exactly N documents.

    A file is only rotated once the shipper has recorded its identity (a file created and renamed
    to a name no glob matches before any shipper saw it cannot be attributed by anyone).
    """
    rng = random.Random(5)
    logs = tmp_path / "logs"
    logs.mkdir()
    state = tmp_path / "state"
    prefix = "kill" + uuid.uuid4().hex[:8]
    cfg = tmp_path / "shipper.yml"
    cfg.write_text(shipper_yaml(osmem.url, str(logs / "*.log"), state, prefix))
    writer = Writer(logs, rng)
    writer.write(1)
    kills = renamed_while_down = 0
    try:
        for round_ in range(12):
            proc = _start(cfg, tmp_path / "shipper.log", wait=True)
            try:
                wait_until(lambda: _seen(state, writer.live), 20, "live file recorded", proc)
                if round_ % 4 == 3:  # copytruncate loses what was not read before it: let the shipper catch up first
                    writer.write(rng.randint(1, 50))
                    wait_until(lambda: count(osmem.url, f"{prefix}-*") == writer.n, 30, "catch-up", proc)
                    writer.copytruncate()
                deadline = time.monotonic() + rng.uniform(0.2, 1.2)
                while time.monotonic() < deadline:
                    writer.write(rng.randint(1, 40))
                    if rng.random() < 0.08:
                        writer.rotate_rename()
                        writer.write(1)
                        wait_until(lambda: _seen(state, writer.live), 20, "new file recorded", proc)
                    time.sleep(rng.uniform(0.0, 0.05))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
            writer.write(rng.randint(0, 20))  # the job goes on while the shipper is down
            if rng.random() < 0.4 and _seen(state, writer.live):
                writer.rotate_rename()  # renamed while the shipper is down: found again by identity
                renamed_while_down += 1
        proc = _start(cfg, tmp_path / "shipper.log")
        try:
            wait_until(lambda: count(osmem.url, f"{prefix}-*") >= writer.n, 60, "all documents", proc)
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        writer.close()
    assert kills >= 10 and renamed_while_down >= 2 and writer.rotations >= 6
    assert count(osmem.url, f"{prefix}-*") == writer.n
    assert _messages(osmem.url, prefix) == list(range(writer.n))


@pytest.mark.slow
def test_store_outage_mid_stream_is_retried_without_loss(osmem_fresh: Process, tmp_path: Path) -> None:
    """The store frozen for 30 s mid-stream (requests time out): reading waits, then everything arrives once."""
    url = osmem_fresh.url
    logs = tmp_path / "logs"
    logs.mkdir()
    prefix = "outage" + uuid.uuid4().hex[:8]
    cfg = tmp_path / "shipper.yml"
    cfg.write_text(shipper_yaml(url, str(logs / "*.log"), tmp_path / "state", prefix))
    writer = Writer(logs, random.Random(7))
    proc = _start(cfg, tmp_path / "shipper.log")
    try:
        writer.write(200)
        wait_until(lambda: count(url, f"{prefix}-*") == 200, 30, "first documents", proc)
        os.kill(osmem_fresh.proc.pid, signal.SIGSTOP)
        try:
            for _ in range(60):  # 30 s of the job writing while the store answers nothing
                writer.write(70)
                time.sleep(0.5)
            assert proc.poll() is None  # still running, waiting for the store
        finally:
            os.kill(osmem_fresh.proc.pid, signal.SIGCONT)
        wait_until(lambda: count(url, f"{prefix}-*") >= writer.n, 60, "all documents", proc)
        metrics_ok = True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        writer.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert metrics_ok
    assert count(url, f"{prefix}-*") == writer.n == 4400
    assert _messages(url, prefix) == list(range(writer.n))
    log = (tmp_path / "shipper.log").read_text()
    assert "store unavailable" in log and "store available again" in log


def test_mapping_conflict_goes_to_dead_letter_file(osmem: Process, tmp_path: Path) -> None:
    """Documents that conflict with an existing index mapping land in the dead-letter file; the rest are indexed."""
    prefix = "conflict" + uuid.uuid4().hex[:8]
    index = f"{prefix}-2026.11.22"
    httpx.put(f"{osmem.url}/{index}", json={"mappings": {"properties": {"message": {"type": "long"}}}}).raise_for_status()
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = [orjson.dumps({"@timestamp": "2026-11-22T02:00:00.000Z", "msg": str(i) if i % 3 else f"text {i}"}).decode()
             for i in range(30)]
    (logs / "app.log").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "shipper.yml"
    cfg.write_text(shipper_yaml(osmem.url, str(logs / "*.log"), tmp_path / "state", prefix))
    proc = _start(cfg, tmp_path / "shipper.log")
    dead_file = tmp_path / "state" / "dead-letter.ndjson"
    try:
        wait_until(lambda: count(osmem.url, f"{prefix}-*") == 20 and dead_file.exists()
                   and len(dead_file.read_text().splitlines()) == 10, 30, "indexed and dead-lettered", proc)
        time.sleep(0.5)  # nothing is retried: the dead-letter file does not grow
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    dead = [orjson.loads(x) for x in dead_file.read_text().splitlines()]
    assert len(dead) == 10
    assert {d["document"]["message"] for d in dead} == {f"text {i}" for i in range(0, 30, 3)}
    assert all(d["status"] == 400 and d["error"]["type"] == "mapper_parsing_exception" for d in dead)
    assert all(d["_index"] == index and d["_id"] for d in dead)
    assert "dead-letter" in (tmp_path / "shipper.log").read_text()
    checkpoint = orjson.loads((tmp_path / "state" / "checkpoints.json").read_bytes())
    assert checkpoint["files"][0]["offset"] == (logs / "app.log").stat().st_size


class Proxy:
    """A TCP proxy in front of the store that can refuse connections (the store "down") and come back."""

    def __init__(self, upstream_port: int, port: int) -> None:
        self.upstream_port = upstream_port
        self.port = port
        self.server: asyncio.AbstractServer | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[object]] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self.writers.update((writer, up_writer))
        for coro in (self._pipe(reader, up_writer), self._pipe(up_reader, writer)):
            task: asyncio.Task[object] = asyncio.ensure_future(coro)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def up(self) -> None:
        """Accept connections."""
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def down(self) -> None:
        """Refuse new connections and cut the open ones."""
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    async def close(self) -> None:
        """Stop everything."""
        if self.server is not None and self.server.is_serving():
            await self.down()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def test_store_refusing_connections_mid_stream(osmem: Process, tmp_path: Path) -> None:
    """Connections refused for 4 s mid-stream (and open ones cut): reading waits, then every line arrives once."""
    proxy = Proxy(osmem.port, free_port())
    await proxy.up()
    logs = tmp_path / "logs"
    logs.mkdir()
    prefix = "refused" + uuid.uuid4().hex[:8]
    url = f"http://127.0.0.1:{proxy.port}"
    pipe = make_pipeline(url, tmp_path / "state", [str(logs / "*.log")], prefix=prefix,
                         backoff=Backoff(initial=0.05, maximum=0.5), parser=compile_parser(ParseConfig()))
    writer = Writer(logs, random.Random(3))
    try:
        async with running(pipe):
            writer.write(300)
            await eventually(lambda: count(osmem.url, f"{prefix}-*") == 300, 30)
            await proxy.down()
            for _ in range(8):
                writer.write(200)
                await asyncio.sleep(0.5)
            assert count(osmem.url, f"{prefix}-*") < writer.n  # nothing got through meanwhile
            await proxy.up()
            await eventually(lambda: count(osmem.url, f"{prefix}-*") >= writer.n, 30)
    finally:
        writer.close()
        await proxy.close()
    assert count(osmem.url, f"{prefix}-*") == writer.n == 1900
    assert _messages(osmem.url, prefix) == list(range(writer.n))
    assert pipe.sink.down_since is None  # it noticed the store came back
