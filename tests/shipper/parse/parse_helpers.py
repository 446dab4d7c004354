"""Helpers for the parse tests: feed text through a decoder the way the tailer does."""

from __future__ import annotations

from typing import Any

from shipper.model import Event, RawLine
from shipper.parse import ParseConfig, compile_parser

READ_TIME = 1795312800.0  # 2026-11-22T02:00:00Z


def raw_lines(text: str, read_time: float = READ_TIME) -> list[RawLine]:
    """Split ``text`` into RawLines with byte offsets (``\\n`` terminators)."""
    out = []
    offset = 0
    for part in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
        end = offset + len(part.encode("utf-8")) + 1
        out.append(RawLine(part, offset, end, read_time))
        offset = end
    return out


def events(text: str, cfg: ParseConfig | None = None, path: str = "/var/log/jobs/test.log",
           read_time: float = READ_TIME, **settings: Any) -> list[Event]:
    """Every event of ``text`` (flushed at the end, as at end of input)."""
    parser = compile_parser(cfg or ParseConfig(host="test-host", **settings))
    decoder = parser.decoder(path)
    out: list[Event] = []
    for line in raw_lines(text, read_time):
        out.extend(decoder.feed(line))
    out.extend(decoder.flush())
    return out


def docs(text: str, **settings: Any) -> list[dict[str, Any]]:
    """The documents of ``text``."""
    return [e.doc for e in events(text, **settings)]


def one(text: str, **settings: Any) -> dict[str, Any]:
    """The single document ``text`` must produce."""
    found = docs(text, **settings)
    assert len(found) == 1, found
    return found[0]
