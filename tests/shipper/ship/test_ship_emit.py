"""The pipeline's inlined encoding (``Pipeline.emit``) gives exactly the items of the reference functions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from shipper.filters import InputRules
from shipper.model import Event
from shipper.naming import doc_id, index_name
from shipper.runner import Pipeline
from shipper.sink.encoder import IndexNamer, encode_item
from shipper.tail.checkpoint import CheckpointStore

KEY = "801-2a-0123456789abcdef"


class _State:
    key = KEY
    path = "/var/log/jobs/a.log"


class _Tracked:
    """Just what ``emit`` touches of a tracked file."""

    def __init__(self) -> None:
        self.input = 0
        self.ids: Any = None
        self.state = _State()
        self.inflight: list[Any] = []


def test_emit_items_match_reference_encoding(tmp_path: Path) -> None:
    pipeline = Pipeline([], [], [InputRules("cw")], sink=None, checkpoints=CheckpointStore(tmp_path),  # type: ignore[arg-type]
                        namer=IndexNamer())
    raws = ["plain line", "备份 数据 ünïcode", "lone \udcff surrogate", "x" * 300]
    stamps = ["2026-11-22T02:00:00.000Z", "2026-11-22T23:59:59.999Z", "2026-11-23T00:00:00.000Z",
              "2026-11-23T01:00:00+02:00"]
    events, offset = [], 0
    for raw, ts in zip(raws, stamps, strict=True):
        doc = {"@timestamp": ts, "message": raw.encode("utf-8", "replace").decode(), "log.offset": offset, "n": [1, 2.5, None]}
        events.append(Event(doc, offset, offset + len(raw) + 1, {"raw": raw, "source": KEY}))
        offset += len(raw) + 1
    t = _Tracked()
    asyncio.run(pipeline.emit(t, events))  # type: ignore[arg-type]
    expected = [encode_item(ev.doc, index_name(ev.doc, "cw"), doc_id(KEY, ev.offset, ev.meta["raw"]))
                for ev in events]
    assert pipeline.batch.items == expected
    assert pipeline.batch.size == sum(map(len, expected))
    assert pipeline.stats.events == len(events)
