"""Reading one open file as lines from a byte offset, whatever its size (even a single short line).

``LineReader`` splits bytes on ``\\n`` (dropping a trailing ``\\r``), keeps the bytes after the
last newline until the line is complete, and hands out :class:`~shipper.model.RawLine`s with
exact byte offsets. A final line without a newline is given out only when asked to
(``take_partial``: the file has been idle long enough, or it is being released), and an
over-long line is cut at ``max_line_bytes`` so memory stays bounded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from itertools import accumulate, repeat

from shipper.compiled import speedups
from shipper.model import RawLine

DEFAULT_CHUNK = 64 * 1024  # ~600 lines of 100 bytes: decoded and encoded while still in the CPU cache
DEFAULT_MAX_LINE = 1024 * 1024


class LineReader:
    """Reads lines of the file behind ``fd`` starting at ``offset`` (positional reads only)."""

    def __init__(self, fd: int, offset: int, max_line_bytes: int = DEFAULT_MAX_LINE) -> None:
        self.fd = fd
        self.offset = offset  # next byte to read from the file
        self.line_start = offset  # offset of the first byte of ``partial``
        self.partial = b""
        self.max_line_bytes = max_line_bytes
        self.skipping = False  # inside the rest of an over-long line
        ext = speedups()
        self.split: Callable[[bytes, int, int, float, type[RawLine]], list[RawLine]] | None = (
            ext.split_lines if ext is not None else None)

    @property
    def consumed(self) -> int:
        """Offset just after the last complete line handed out."""
        return self.line_start

    def read(self, now: float, chunk: int = DEFAULT_CHUNK) -> tuple[list[RawLine], int]:
        """Read up to ``chunk`` bytes; return the complete lines and how many bytes were read."""
        data = os.pread(self.fd, chunk, self.offset)
        if not data:
            return [], 0
        self.offset += len(data)
        return self._split(data, now), len(data)

    def _split(self, data: bytes, now: float) -> list[RawLine]:
        out: list[RawLine] = []
        if self.skipping:
            nl = data.find(b"\n")
            if nl < 0:
                self.line_start += len(data)
                return out
            self.line_start += nl + 1
            data = data[nl + 1 :]
            self.skipping = False
        buf = self.partial + data if self.partial else data
        pos = self.line_start
        cut = buf.rfind(b"\n") + 1
        rest = buf[cut:]
        if cut and self.split is not None:  # the compiled loop: what the two branches below do
            out = self.split(buf, cut, pos, now, RawLine)
            pos += cut
        elif cut and buf.isascii() and b"\r" not in buf:  # common case: characters are bytes
            lines = buf[: cut - 1].decode("ascii").split("\n")
            starts = list(accumulate([len(t) + 1 for t in lines], initial=pos))
            out = list(map(RawLine, lines, starts, starts[1:], repeat(now, len(lines))))
            pos = starts[-1]
        elif cut:
            pieces = buf[: cut - 1].split(b"\n")
            starts = list(accumulate([len(p) + 1 for p in pieces], initial=pos))
            if b"\r" in buf:
                pieces = [p[:-1] if p.endswith(b"\r") else p for p in pieces]
            texts = [p.decode("utf-8", "replace") for p in pieces]
            out = list(map(RawLine, texts, starts, starts[1:], repeat(now, len(texts))))
            pos = starts[-1]
        self.line_start = pos
        self.partial = rest
        if len(rest) > self.max_line_bytes:
            out.append(RawLine(rest[: self.max_line_bytes].decode("utf-8", "replace"), pos, pos + len(rest), now))
            self.line_start = pos + len(rest)
            self.partial = b""
            self.skipping = True
        return out

    def take_partial(self, now: float) -> RawLine | None:
        """Hand out the bytes after the last newline as a line (the file's final, unterminated line)."""
        if not self.partial:
            return None
        text = self.partial[:-1] if self.partial.endswith(b"\r") else self.partial
        line = RawLine(text.decode("utf-8", "replace"), self.line_start, self.line_start + len(self.partial), now)
        self.line_start += len(self.partial)
        self.partial = b""
        return line
