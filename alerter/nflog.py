"""The notification log: what was last sent for each (group, receiver, integration), in SQLite.

Dedup reads it to decide whether a flush must notify (see :func:`alerter.notify.needs_update`),
so it survives restarts: no repeat within ``repeat_interval`` and resolved sent once. Entries
older than the retention are dropped.

Reads come from the in-memory copy. Inside a running event loop, the entries logged within
``WRITE_DELAY`` are written in one transaction, as one statement, by a single writer thread:
SQLite works with the GIL released, on the other core, and a commit or a WAL checkpoint (the
fsyncs; run from :meth:`NotificationLog.gc`) never stalls the loop. Statements reach SQLite in the
order they were made; ``persist``/``close`` wait for the writer. (Alertmanager itself snapshots
its log every 15 minutes.)
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nflog (
    key TEXT PRIMARY KEY,
    firing TEXT NOT NULL,
    resolved TEXT NOT NULL,
    ts REAL NOT NULL,
    expires REAL NOT NULL
)
"""
WRITE_DELAY = 0.05  # seconds: entries logged within this are written in one transaction
_INSERT_JSON = ("INSERT OR REPLACE INTO nflog SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                "json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]') "
                "FROM json_each(?)")


@dataclass(frozen=True)
class Entry:
    """The last notification sent for one key."""

    firing: frozenset[str]
    resolved: frozenset[str]
    timestamp: datetime


def entry_key(group_key: str, receiver: str, kind: str, index: int) -> str:
    """The log key of one integration of one receiver for one group."""
    return f"{group_key}\x1f{receiver}\x1f{kind}\x1f{index}"


class NotificationLog:
    """SQLite-backed log with an in-memory copy for fast reads."""

    def __init__(self, path: Path | None, retention: timedelta = timedelta(hours=120)) -> None:
        self.retention = retention
        self._db: sqlite3.Connection | None = None
        self._entries: dict[str, Entry] = {}
        self._pending: list[tuple[str, str, str, float, float]] = []
        self._writer: ThreadPoolExecutor | None = None
        self._checkpointing: Future[None] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # commits never checkpoint (a checkpoint fsyncs); gc() asks for one every sweep,
            # and closing the last connection checkpoints too
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.execute(_SCHEMA)
            for key, firing, resolved, ts in self._db.execute("SELECT key, firing, resolved, ts FROM nflog"):
                self._entries[key] = Entry(_split(firing), _split(resolved), datetime.fromtimestamp(ts, UTC))

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def log(self, key: str, firing: frozenset[str], resolved: frozenset[str], now: datetime) -> None:
        """Record a notification; it is written within ``WRITE_DELAY`` (one transaction per batch)."""
        self._entries[key] = Entry(firing, resolved, now)
        if self._db is None:
            return
        ts = now.timestamp()
        self._pending.append((key, ",".join(sorted(firing)), ",".join(sorted(resolved)), ts,
                              ts + self.retention.total_seconds()))
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_later(WRITE_DELAY, self._hand_over)
            except RuntimeError:
                self.persist()

    # --- the writer thread: every statement runs there, in the order it was asked for --------

    def _run(self, fn: Callable[..., None], *args: Any) -> Future[None]:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="nflog-writer")
        return self._writer.submit(fn, *args)

    def _hand_over(self) -> None:
        if self._db is None or not self._pending:
            return
        rows, self._pending = self._pending, []
        self._run(self._write, orjson.dumps(rows))

    def _write(self, rows_json: bytes) -> None:
        # one statement for all rows — in autocommit mode its own transaction — so the thread
        # gives the GIL up (and has to win it back from the loop) once per batch
        assert self._db is not None
        self._db.execute(_INSERT_JSON, (rows_json,))

    def _delete_expired(self, now: float) -> None:
        assert self._db is not None
        self._db.execute("DELETE FROM nflog WHERE expires < ?", (now,))

    def _checkpoint(self) -> None:
        assert self._db is not None
        try:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # the next sweep tries again

    # --- callers ------------------------------------------------------------------------

    def persist(self) -> None:
        """Write pending entries now and wait until everything asked of the writer is done."""
        if self._db is None:
            return
        self._hand_over()
        if self._writer is not None:  # one writer thread, first in first out: this waits for all before it
            self._run(lambda: None).result()

    def gc(self, now: datetime) -> int:
        """Drop entries older than the retention and checkpoint the WAL (on the writer); returns how many."""
        cutoff = now - self.retention
        old = [k for k, e in self._entries.items() if e.timestamp < cutoff]
        for k in old:
            del self._entries[k]
        if self._db is not None:
            self._run(self._delete_expired, now.timestamp())
            self.checkpoint(wait=False)
        return len(old)

    def checkpoint(self, *, wait: bool = True) -> None:
        """Copy the WAL into the database file (this is where the fsyncs are), on the writer thread."""
        if self._db is None:
            return
        if self._checkpointing is None or self._checkpointing.done():
            self._checkpointing = self._run(self._checkpoint)
        if wait:
            self._checkpointing.result()

    def close(self) -> None:
        """Write what is pending, stop the writer and close the database."""
        self.persist()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def __len__(self) -> int:
        return len(self._entries)


def _split(text: str) -> frozenset[str]:
    return frozenset(t for t in text.split(",") if t)
