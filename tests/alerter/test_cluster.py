"""Replicas sharing the notification log in a real Redis send each notification once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine_helpers import T0, engine, firing, outbox, post

from cronwatch.clock import FakeClock
from cronwatch.testing.services import Process, free_port

CFG = """
route: {receiver: r, group_by: [alertname], group_wait: 0s, group_interval: 1m, repeat_interval: 1h}
receivers: [{name: r, file_configs: [{directory: ../outbox}]}]
cluster: {redis_url: "redis://127.0.0.1:@PORT@/0", key_prefix: "test:@PREFIX@:"}
"""


async def test_two_replicas_notify_once(tmp_path: Path, redis_server: Process) -> None:
    """Two replicas receiving the same alert and flushing at the same moment produce one notification."""
    cfg = CFG.replace("@PORT@", str(redis_server.port)).replace("@PREFIX@", tmp_path.name)
    clock = FakeClock(T0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, _ = engine(cfg, tmp_path / "a", clock=clock)
    b, _ = engine(cfg, tmp_path / "b", clock=clock)
    try:
        for e in (a, b):
            post(e, firing({"alertname": "TaskFailed", "task": "db_backup"}, clock, lasts=7200))
        await asyncio.gather(a.run_due(), b.run_due())
        assert len(outbox(tmp_path / "outbox")) == 1
        clock.advance(60)
        await asyncio.gather(a.run_due(), b.run_due())
        assert len(outbox(tmp_path / "outbox")) == 1  # nothing new, nobody repeats
        clock.advance(3600)
        await asyncio.gather(a.run_due(), b.run_due())
        assert len(outbox(tmp_path / "outbox")) == 2  # the repeat, once
    finally:
        await a.stop()
        await b.stop()


async def test_redis_down_still_notifies(tmp_path: Path) -> None:
    """When Redis cannot be reached a replica falls back to its local log and still sends."""
    cfg = CFG.replace("@PORT@", str(free_port())).replace("@PREFIX@", "x")
    (tmp_path / "a").mkdir()
    e, clock = engine(cfg, tmp_path / "a")
    try:
        post(e, firing({"alertname": "TaskFailed"}, clock))
        await e.run_due()
        assert len(outbox(tmp_path / "outbox")) == 1
    finally:
        await e.stop()
