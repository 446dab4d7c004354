"""The notification log's batched writes and off-loop checkpoints; the server's garbage-collection policy."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from datetime import timedelta
from pathlib import Path

from engine_helpers import T0

from alerter.nflog import WRITE_DELAY, NotificationLog, entry_key
from alerter.server import GcPolicy


def _rows(path: Path) -> dict[str, tuple[str, str, float]]:
    db = sqlite3.connect(str(path))
    try:
        return {k: (f, r, ts) for k, f, r, ts in db.execute("SELECT key, firing, resolved, ts FROM nflog")}
    finally:
        db.close()


async def test_entries_reach_sqlite_in_one_batch_and_survive_a_restart(tmp_path: Path) -> None:
    """Entries logged inside the loop are committed within WRITE_DELAY (visible to another connection),
    keys with odd characters round-trip, expired ones are swept, and a reopened log has the same entries."""
    path = tmp_path / "nflog.sqlite"
    log = NotificationLog(path, retention=timedelta(hours=1))
    keys = [entry_key(f'{{}}:{{task="t{i}", note="a,b\\"c"}}', "hook", "webhook", 0) for i in range(500)]
    for k in keys:
        log.log(k, frozenset({"fp2", "fp1"}), frozenset({"fp3"}), T0)
    assert _rows(path) == {}  # not yet: one transaction for the whole batch
    await asyncio.sleep(WRITE_DELAY * 3)
    rows = _rows(path)
    assert len(rows) == 500 and rows[keys[7]] == ("fp1,fp2", "fp3", T0.timestamp())
    log.log("old", frozenset({"x"}), frozenset(), T0 - timedelta(hours=2))
    log.persist()
    assert log.gc(T0) == 1
    log.checkpoint()  # what gc() started in the background, here waited for
    log.close()
    again = NotificationLog(path, retention=timedelta(hours=1))
    assert len(again) == 500 and again.get("old") is None
    entry = again.get(keys[3])
    assert entry is not None and entry.firing == {"fp1", "fp2"} and entry.resolved == {"fp3"} and entry.timestamp == T0
    again.close()


def test_outside_a_loop_writes_at_once(tmp_path: Path) -> None:
    """Without a running loop (CLI, tests) an entry is written immediately."""
    path = tmp_path / "nflog.sqlite"
    log = NotificationLog(path)
    log.log("k", frozenset({"a"}), frozenset(), T0)
    assert _rows(path) == {"k": ("a", "", T0.timestamp())}
    log.close()


def test_gc_policy_defers_full_collections() -> None:
    """Installed: start-up objects frozen, no automatic full collections, one every ``every`` seconds;
    uninstalled: CPython's defaults again."""
    saved = gc.get_threshold()
    policy = GcPolicy(every=0.0)
    try:
        policy.install()
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[2] >= 1_000_000
        before = gc.get_stats()[2]["collections"]
        policy.tick()
        assert gc.get_stats()[2]["collections"] == before + 1
        policy.every = 3600.0
        policy.tick()
        assert gc.get_stats()[2]["collections"] == before + 1
        policy.refreeze()
        assert gc.get_freeze_count() > 0
    finally:
        policy.uninstall()
    assert gc.get_threshold() == saved and gc.get_freeze_count() == 0
