"""The notification log: what was last sent for each (group, receiver, integration), in SQLite.

Dedup reads it to decide whether a flush must notify (see :func:`alerter.notify.needs_update`),
so it survives restarts: no repeat within ``repeat_interval`` and resolved sent once. Entries
older than the retention are dropped.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nflog (
    key TEXT PRIMARY KEY,
    firing TEXT NOT NULL,
    resolved TEXT NOT NULL,
    ts REAL NOT NULL,
    expires REAL NOT NULL
)
"""


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
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            for key, firing, resolved, ts in self._db.execute("SELECT key, firing, resolved, ts FROM nflog"):
                self._entries[key] = Entry(_split(firing), _split(resolved), datetime.fromtimestamp(ts, UTC))

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def log(self, key: str, firing: frozenset[str], resolved: frozenset[str], now: datetime) -> None:
        """Record a notification; it reaches the disk in the same event-loop iteration (one transaction)."""
        self._entries[key] = Entry(firing, resolved, now)
        if self._db is None:
            return
        ts = now.timestamp()
        self._pending.append((key, ",".join(sorted(firing)), ",".join(sorted(resolved)), ts,
                              ts + self.retention.total_seconds()))
        if len(self._pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.persist)
            except RuntimeError:
                self.persist()

    def persist(self) -> None:
        """Write pending entries in one transaction."""
        if self._db is None or not self._pending:
            return
        rows, self._pending = self._pending, []
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO nflog VALUES (?, ?, ?, ?, ?)", rows)

    def gc(self, now: datetime) -> int:
        """Drop entries older than the retention; returns how many."""
        cutoff = now - self.retention
        old = [k for k, e in self._entries.items() if e.timestamp < cutoff]
        for k in old:
            del self._entries[k]
        if self._db is not None:
            self._db.execute("DELETE FROM nflog WHERE expires < ?", (now.timestamp(),))
        return len(old)

    def close(self) -> None:
        """Write what is pending and close the database."""
        self.persist()
        if self._db is not None:
            self._db.close()
            self._db = None

    def __len__(self) -> int:
        return len(self._entries)


def _split(text: str) -> frozenset[str]:
    return frozenset(t for t in text.split(",") if t)
