"""The pipeline's plain data: limits, batches, run counts, and the parser protocol it consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from shipper.model import Decoder
from shipper.tail.tailer import Span, Tracked


class Stopping(Exception):
    """A stop was requested while the reader waited for room in the send queue."""


class ParserLike(Protocol):
    """What the runner needs from a compiled parser: a decoder per file."""

    def decoder(self, path: str, source: str) -> Decoder:
        """A new decoder for the file at ``path`` whose id source is ``source``."""


@dataclass
class Limits:
    """Batching, timing and shutdown settings (seconds and counts)."""

    batch_events: int = 10000
    batch_bytes: int = 5 * 1024 * 1024
    flush_interval: float = 1.0
    max_in_flight: int = 2
    scan_interval: float = 1.0
    checkpoint_interval: float = 1.0
    shutdown_timeout: float = 10.0
    rotate_wait: float = 5.0
    eof_line_timeout: float = 5.0
    close_inactive: float | None = 300.0


@dataclass(eq=False)
class Batch:
    """Encoded items on their way to the store and the file spans they cover."""

    created: float
    items: list[bytes] = field(default_factory=list)
    size: int = 0
    spans: dict[Tracked, Span] = field(default_factory=dict)


@dataclass
class Stats:
    """Counts of one run (also in the metrics)."""

    lines: int = 0
    bytes: int = 0
    events: int = 0
    filtered: int = 0
    indexed: int = 0
    dead: int = 0
