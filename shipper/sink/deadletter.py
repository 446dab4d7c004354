"""The dead-letter file: documents the store refused for good, one JSON line each with the reason.

Written and fsynced before the batch counts as done, so a refused document is never lost.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from cronwatch.jsonlog import format_ts
from shipper.sink.encoder import split_item


def dead_letter_record(item: bytes, status: int, error: dict[str, Any], now: float) -> dict[str, Any]:
    """The dead-letter line for one encoded bulk item (pure)."""
    try:
        op, doc = split_item(item)
    except (orjson.JSONDecodeError, StopIteration, AttributeError):
        op, doc = {}, item.decode("utf-8", "replace")
    return {"@timestamp": format_ts(now), "status": status, "error": error,
            "_index": op.get("_index"), "_id": op.get("_id"), "document": doc}


class DeadLetterFile:
    """Appends dead-letter records to ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append ``records`` and fsync."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(orjson.dumps(r, default=str) + b"\n" for r in records)
        with open(self.path, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> list[dict[str, Any]]:
        """Every record written so far (for tests and ``check``)."""
        try:
            return [orjson.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]
        except FileNotFoundError:
            return []
