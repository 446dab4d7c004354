"""Reading a bulk response (pure): which items are indexed, which to retry, which to dead-letter.

Per-item status: 2xx (and 409 "already exists" for ``create``) is indexed; 429 and 5xx are
retried with backoff; every other 4xx (mapping conflicts, bad documents) goes to the dead-letter
file with the reason — never retried forever, never dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from shipper.sink.errors import BulkProtocolError

ACK, RETRY, DEAD = "ack", "retry", "dead"
_ALL_OK = re.compile(rb'^\{(?:"took":\s*\d+,\s*)?"errors":\s*false\b')


def classify(status: int) -> str:
    """What to do with an item (or a whole request) that got HTTP ``status``."""
    if 200 <= status < 300 or status == 409:
        return ACK
    if status == 429 or status >= 500:
        return RETRY
    return DEAD


@dataclass
class BulkVerdict:
    """Positions (into the request's items) by outcome; ``dead`` carries status and reason."""

    acked: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    dead: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    # per retried position: its status and reason (what the dead-letter record says if it gives up)
    retry_errors: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)


def _error_of(result: dict[str, Any]) -> dict[str, Any]:
    err = result.get("error")
    if isinstance(err, dict):
        out = {"type": err.get("type"), "reason": err.get("reason")}
        cause = err.get("caused_by")
        if isinstance(cause, dict):
            out["caused_by"] = {"type": cause.get("type"), "reason": cause.get("reason")}
        return out
    return {"type": None, "reason": str(err) if err is not None else None}


def read_bulk_response(body: bytes | dict[str, Any], count: int) -> BulkVerdict:
    """Sort the ``count`` items of a 200 bulk response into indexed / retry / dead-letter."""
    if isinstance(body, bytes | bytearray) and _ALL_OK.search(body, 0, 64) and body.count(b'"status":') == count:
        return BulkVerdict(acked=list(range(count)))  # the common case, without decoding every item
    try:
        doc = orjson.loads(body) if isinstance(body, bytes | bytearray) else body
    except orjson.JSONDecodeError as exc:
        raise BulkProtocolError(f"bulk response is not JSON: {exc}") from None
    verdict = BulkVerdict()
    if not isinstance(doc, dict):
        raise BulkProtocolError("bulk response is not a JSON object")
    items = doc.get("items")
    if not isinstance(items, list) or len(items) != count:
        got = len(items) if isinstance(items, list) else "no"
        raise BulkProtocolError(f"bulk response has {got} items for {count} sent")
    if not doc.get("errors"):
        verdict.acked = list(range(count))
        return verdict
    for i, item in enumerate(items):
        result = next(iter(item.values())) if isinstance(item, dict) and item else {}
        status = result.get("status", 500) if isinstance(result, dict) else 500
        kind = classify(int(status))
        if kind == ACK:
            verdict.acked.append(i)
        elif kind == RETRY:
            verdict.retry.append(i)
            verdict.retry_errors[i] = (int(status), _error_of(result))
        else:
            verdict.dead.append((i, int(status), _error_of(result)))
    return verdict
