"""Every corpus file shipped with the real parser into a real osmem-server, each event in its daily index."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
from shiphelpers import search

from cronwatch.testing.services import Process
from shipper.app import open_pipeline
from shipper.config import InputConfig, ShipperConfig, SinkConfig
from shipper.model import RawLine
from shipper.naming import doc_id, index_name, source_for_path
from shipper.parse import compile_parser

pytestmark = pytest.mark.timeout(60)


def _expected(path: Path, cfg: InputConfig, prefix: str) -> dict[str, tuple[str, dict[str, object]]]:
    """What the parser alone makes of ``path``: id → (index, document)."""
    decoder = compile_parser(cfg).decoder(str(path), source_for_path(str(path)))
    events = []
    offset = 0
    data = path.read_bytes()
    for piece in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        end = offset + len(piece) + 1
        events.extend(decoder.feed(RawLine(piece.decode("utf-8", "replace"), offset, min(end, len(data)), time.time())))
        offset = end
    events.extend(decoder.flush(None))
    key = source_for_path(str(path))
    return {doc_id(key, ev.offset, ev.meta["raw"]): (index_name(ev.doc, prefix), ev.doc) for ev in events}


async def test_every_corpus_file_lands_in_the_right_daily_index(osmem: Process, corpus_dir: Path, tmp_path: Path) -> None:
    """Each corpus event is in the store once, in the index of its own day, with exactly the parsed fields."""
    logs = tmp_path / "logs"
    logs.mkdir()
    for f in sorted(os.listdir(corpus_dir)):
        if f.endswith(".log"):
            shutil.copy(corpus_dir / f, logs / f)
    prefix = "corpus" + uuid.uuid4().hex[:8]
    inp = InputConfig(paths=[str(logs / "*.log")], timezone="Asia/Shanghai", host="test-host")
    cfg = ShipperConfig(inputs=[inp], sink=SinkConfig(hosts=[osmem.url], index_prefix=prefix,
                                                      flush_interval="50ms"),  # type: ignore[arg-type]
                        state_dir=str(tmp_path / "state"))
    expected: dict[str, tuple[str, dict[str, object]]] = {}
    for path in sorted(logs.iterdir()):
        expected.update(_expected(path, inp, prefix))
    async with open_pipeline(cfg) as pipeline:
        stats = await pipeline.backfill()
    assert stats.indexed == len(expected) and stats.dead == 0
    hits = search(osmem.url, f"{prefix}-*")
    got = {h["_id"]: (h["_index"], h["_source"]) for h in hits}
    assert got.keys() == expected.keys()
    for key, (index, doc) in expected.items():
        assert got[key][0] == index
        assert got[key][1] == doc
    days = {index for index, _ in got.values()}
    assert f"{prefix}-2026.11.22" in days
    levels = {doc.get("log.level") for _, doc in got.values()}
    assert {"info", "error", "fatal"} <= levels
    stacks = [doc for _, doc in got.values() if doc.get("error.stack_trace")]
    assert len(stacks) >= 3  # python traceback, java stack trace, go panic
