"""Event → bulk NDJSON (pure): the action line with daily index and deterministic ``_id``, then the document.

One encoded item is ``{"index":{...}}\\n{document}\\n``; the sink re-sends single items on
per-item retries, and the dead-letter writer splits an item back into its two lines.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import orjson

from shipper.naming import index_day

ACTION_TAIL = b'"}}\n'  # what follows the id in an action line


def action_head(index: str) -> bytes:
    """An action line up to its ``_id`` value: ``{"index":{"_index":...,"_id":"``."""
    return b'{"index":{"_index":"' + index.encode() + b'","_id":"'


def action_line(index: str, doc_id: str) -> bytes:
    """``{"index":{"_index":...,"_id":...}}\\n`` (index names and ids never need JSON escaping here)."""
    return action_head(index) + doc_id.encode() + ACTION_TAIL


def encode_item(doc: dict[str, Any], index: str, doc_id: str) -> bytes:
    """One bulk item: action line and document line."""
    return action_line(index, doc_id) + orjson.dumps(doc, default=str) + b"\n"


def split_item(item: bytes) -> tuple[dict[str, Any], Any]:
    """An encoded item back into ``(action metadata, document)``."""
    action, _, source = item.partition(b"\n")
    meta = orjson.loads(action)
    op = next(iter(meta.values()))
    return op, orjson.loads(source)


class IndexNamer:
    """Daily index names for documents; the day of each ``@timestamp`` date (or minute, with a zone) is cached."""

    def __init__(self, tz: tzinfo | None = None) -> None:
        self.tz = tz
        self.cut = 10 if tz is None else 16  # a zone's offset may be a whole number of minutes
        self._cache: dict[tuple[str, str], str] = {}

    def day(self, doc: dict[str, Any]) -> str:
        """``YYYY.MM.DD`` of the document's ``@timestamp`` (UTC or the configured zone)."""
        ts = doc.get("@timestamp")
        if not isinstance(ts, str):
            raise ValueError("document has no @timestamp")
        return index_day(ts, self.tz)

    def name(self, prefix: str, doc: dict[str, Any]) -> str:
        """``<prefix>-YYYY.MM.DD``."""
        ts = doc.get("@timestamp")
        if isinstance(ts, str) and ts.endswith("Z") and len(ts) > self.cut:
            key = (prefix, ts[: self.cut])
            name = self._cache.get(key)
            if name is None:
                if len(self._cache) > 4096:
                    self._cache.clear()
                name = self._cache[key] = f"{prefix}-{self.day(doc)}"
            return name
        return f"{prefix}-{self.day(doc)}"
