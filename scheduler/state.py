"""Scheduler state in SQLite under ``--state``: API-added tasks, run history, last fired slot.

Writes of the hot path (fired slots, finished runs) are queued and committed by one writer
thread in batches, so thousands of runs a second never block the event loop; ``flush()``
waits until everything queued so far is on disk. Reads use their own connection (WAL mode).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from scheduler.errors import StateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (name TEXT PRIMARY KEY, spec TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS task_state (name TEXT PRIMARY KEY, last_slot REAL, paused INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, task TEXT NOT NULL, trace_id TEXT NOT NULL, scheduled_at REAL NOT NULL,
    started_at REAL NOT NULL, ended_at REAL, outcome TEXT NOT NULL, attempts INTEGER NOT NULL,
    trigger TEXT NOT NULL, error_type TEXT, error_message TEXT, exit_code INTEGER
);
CREATE INDEX IF NOT EXISTS runs_by_task ON runs (task, started_at DESC);
"""


@dataclass
class RunRow:
    """One finished (or running) run, as stored and as the API shows it."""

    run_id: str
    task: str
    trace_id: str
    scheduled_at: float
    started_at: float
    ended_at: float | None
    outcome: str
    attempts: int
    trigger: str
    error_type: str | None = None
    error_message: str | None = None
    exit_code: int | None = None


_STOP = object()


class StateStore:
    """SQLite state; one writer thread, one reader connection (for the event-loop thread)."""

    def __init__(self, directory: str | Path, history_per_task: int = 1000) -> None:
        self.dir = Path(directory)
        self.path = self.dir / "scheduler.sqlite3"
        self.history_per_task = history_per_task
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"{self.path}: cannot open state: {exc}") from exc
        self._q: queue.Queue[Any] = queue.Queue()
        self._pending: list[tuple[Any, ...]] = []
        self._error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_loop, name="cronwatch-state", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    # -- writes (batched, then queued) ------------------------------------------------------------
    # The hot path (slots, runs) appends to a list; push() hands the batch to the writer in one put,
    # so the writer thread wakes once per loop iteration, not once per run.
    def note_slot(self, task: str, slot: float) -> None:
        """Remember that ``task`` fired (or decided about) ``slot``."""
        self._pending.append(("slot", task, slot))

    def record_run(self, row: RunRow) -> None:
        """Store a finished run."""
        self._pending.append(("run", row))

    def set_paused(self, task: str, paused: bool) -> None:
        """Persist a task's paused flag."""
        self._pending.append(("paused", task, paused))
        self.push()

    def save_task(self, name: str, spec: dict[str, Any], now: float) -> None:
        """Store an API-added task."""
        self._pending.append(("task", name, orjson.dumps(spec).decode(), now))
        self.push()

    def delete_task(self, name: str) -> None:
        """Forget an API-added task and its state (its run history stays)."""
        self._pending.append(("delete", name))
        self.push()

    def pending(self) -> int:
        """How many writes wait for :meth:`push`."""
        return len(self._pending)

    def push(self) -> None:
        """Hand what was noted so far to the writer thread."""
        if self._pending:
            batch, self._pending = self._pending, []
            self._q.put(("batch", batch))

    def flush(self, timeout: float = 10.0) -> None:
        """Block until everything queued so far is committed."""
        self.push()
        done = threading.Event()
        self._q.put(("sync", done))
        if not done.wait(timeout):
            raise StateError(f"{self.path}: state writer did not catch up within {timeout:g}s")
        if self._error is not None:
            raise StateError(f"{self.path}: cannot write state: {self._error}")

    def close(self) -> None:
        """Commit what is queued and stop the writer."""
        self.push()
        if self._writer.is_alive():
            self._q.put(_STOP)
            self._writer.join(timeout=30)
        self._db.close()

    def _write_loop(self) -> None:
        db = self._connect()
        pruned = 0
        while True:
            item = self._q.get()
            batch = [item]
            while len(batch) < 1000:
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            stop = any(b is _STOP for b in batch)
            events = [b for b in batch if b is not _STOP and b[0] == "sync"]
            items = [it for b in batch if b is not _STOP and b[0] == "batch" for it in b[1]]
            try:
                self._apply(db, items)
                pruned += sum(1 for it in items if it[0] == "run")
                if pruned >= 5000:
                    self._prune(db)
                    pruned = 0
            except sqlite3.Error as exc:
                self._error = exc
            for ev in events:
                ev[1].set()
            if stop:
                db.close()
                return

    def _apply(self, db: sqlite3.Connection, items: list[Any]) -> None:
        if not items:
            return
        slots: dict[str, float] = {}
        runs = []
        db.execute("BEGIN")
        try:
            for it in items:
                kind = it[0]
                if kind == "slot":
                    slots[it[1]] = max(it[2], slots.get(it[1], it[2]))
                elif kind == "run":
                    r: RunRow = it[1]
                    runs.append((r.run_id, r.task, r.trace_id, r.scheduled_at, r.started_at, r.ended_at,
                                 r.outcome, r.attempts, r.trigger, r.error_type, r.error_message, r.exit_code))
                elif kind == "paused":
                    db.execute("INSERT INTO task_state (name, paused) VALUES (?, ?) "
                               "ON CONFLICT(name) DO UPDATE SET paused = excluded.paused", (it[1], int(it[2])))
                elif kind == "task":
                    db.execute("INSERT INTO tasks (name, spec, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) "
                               "DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
                               (it[1], it[2], it[3]))
                elif kind == "delete":
                    db.execute("DELETE FROM tasks WHERE name = ?", (it[1],))
                    db.execute("DELETE FROM task_state WHERE name = ?", (it[1],))
            if slots:
                db.executemany(
                    "INSERT INTO task_state (name, last_slot) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET "
                    "last_slot = max(coalesce(task_state.last_slot, 0), excluded.last_slot)", list(slots.items()))
            if runs:
                db.executemany("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", runs)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _prune(self, db: sqlite3.Connection) -> None:
        db.execute(
            "DELETE FROM runs WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER "
            "(PARTITION BY task ORDER BY started_at DESC) AS n FROM runs) WHERE n > ?)", (self.history_per_task,))

    # -- reads -------------------------------------------------------------------------------
    def last_slots(self) -> dict[str, float]:
        """The last fired slot of every task that has one."""
        try:
            rows = self._db.execute("SELECT name, last_slot FROM task_state WHERE last_slot IS NOT NULL")
            return {name: slot for name, slot in rows}
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot read state: {exc}") from exc

    def paused(self) -> set[str]:
        """Names of paused tasks."""
        return {r[0] for r in self._db.execute("SELECT name FROM task_state WHERE paused = 1")}

    def api_tasks(self) -> dict[str, dict[str, Any]]:
        """Tasks added through the API, as stored specs."""
        return {name: orjson.loads(spec) for name, spec in self._db.execute("SELECT name, spec FROM tasks")}

    def runs(self, task: str, limit: int = 100) -> list[RunRow]:
        """The latest ``limit`` finished runs of ``task``, newest first."""
        rows = self._db.execute("SELECT * FROM runs WHERE task = ? ORDER BY started_at DESC LIMIT ?", (task, limit))
        return [RunRow(*r) for r in rows]
