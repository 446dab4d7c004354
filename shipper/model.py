"""The seam between the shipper's halves: what the tailer hands the parser, what comes back.

The tailer reads a file as lines (``RawLine``: decoded text plus byte offsets); a ``Decoder``
(one per file, built by ``shipper.parse.make_decoder``) turns lines into ``Event``s — one event may
span several lines (a traceback). ``Event.end`` is the byte offset just after the event's last
line: once the store has acknowledged every event up to it, the checkpoint may move there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class RawLine:
    """One line of a file, without its line terminator."""

    text: str
    offset: int  # byte offset of the line's first byte
    end: int  # byte offset just after the line terminator (or the line, at EOF without one)
    read_time: float = 0.0  # epoch seconds when the line was read


@dataclass(slots=True)
class Event:
    """One document to index, and the span of the file it came from."""

    doc: dict[str, Any]
    offset: int
    end: int
    meta: dict[str, Any] = field(default_factory=dict)  # not indexed (e.g. the source identity)


class Decoder(Protocol):
    """Turns the lines of one file into events; holds a pending multi-line record between calls."""

    def feed(self, line: RawLine) -> list[Event]:
        """Take one line; return the events it completed (often the previous record)."""

    def feed_many(self, lines: Sequence[RawLine]) -> list[Event]:
        """Take consecutive lines of the file; the same events as ``feed`` called on each in turn
        (``[e for line in lines for e in decoder.feed(line)]``), in order, with less overhead."""

    def flush(self, now: float | None = None) -> list[Event]:
        """Complete the pending record: when ``now`` is None (end of input) always, otherwise only
        when it has waited longer than the multi-line timeout."""

    def pending_offset(self) -> int | None:
        """Offset of the first line of the pending record, if any (the checkpoint must not pass it)."""
