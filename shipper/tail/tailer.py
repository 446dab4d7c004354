"""The set of files being tailed: discovery, identity, rotation (rename and copytruncate), release.

A file's identity is its device and inode plus a fingerprint of its first bytes (so a reused
inode is a new file). The id source key assigned at discovery is kept for the file's life and
in its checkpoint. Rename-rotation keeps the old file open and reads it to its end; a file whose
size drops below what was read, or whose first bytes change, was truncated in place and starts a
new generation (new key, offset 0). A file renamed while the shipper was down is found again by
its identity in the directory it was last seen in. A file idle for ``close_inactive`` is closed
(so thousands of per-run logs do not hold thousands of descriptors) and reopened when its size or
modification time changes. Only :meth:`Tailer.scan`, the reads and closing touch the disk;
``now`` is always passed in.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shipper.model import Decoder, RawLine
from shipper.naming import FINGERPRINT_BYTES, DocIds, fingerprint, source_key
from shipper.tail.checkpoint import FileState
from shipper.tail.discovery import expand, find_by_identity
from shipper.tail.reader import DEFAULT_CHUNK, DEFAULT_MAX_LINE, LineReader

log = logging.getLogger("cronwatch.shipper.tail")

DecoderFactory = Callable[[int, str, str], Decoder]  # (input index, path, source key) -> Decoder


@dataclass(frozen=True)
class InputFiles:
    """The file-selection part of one input."""

    paths: Sequence[str]
    exclude: Sequence[str] = ()
    read_from_end: bool = False  # files first seen at start-up without a checkpoint


class Span:
    """A run of one file's events in one batch: ``[start, end)`` and whether the store acknowledged it."""

    __slots__ = ("done", "end", "start")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.done = False


@dataclass(eq=False)
class Tracked:
    """One open file."""

    state: FileState
    fd: int
    reader: LineReader
    decoder: Decoder
    input: int
    matched: bool = True  # the path still matches an input glob
    deleted: bool = False
    size: int = 0
    last_data: float = 0.0  # ``now`` when bytes were last read (or the file was opened)
    released: bool = False  # read to its end and closed; kept until every span is acknowledged
    superseded: bool = False  # an older generation of a truncated file
    inflight: deque[Span] = field(default_factory=deque)
    ids: DocIds | None = None  # document ids of this file (set by the pipeline)

    def committed(self) -> int:
        """Offset below which every event is acknowledged and no record is pending."""
        q = self.inflight
        while q and q[0].done:
            q.popleft()
        offset = q[0].start if q else self.reader.consumed
        pending = self.decoder.pending_offset()
        return min(offset, pending) if pending is not None else offset

    def add_span(self, start: int, end: int, batch_spans: dict[Tracked, Span]) -> None:
        """Record an event ``[start, end)`` going into the batch whose spans are ``batch_spans``."""
        span = batch_spans.get(self)
        if span is None:
            span = Span(start, end)
            batch_spans[self] = span
            self.inflight.append(span)
        else:
            span.end = end

    def lag(self) -> int:
        """Bytes of the file not yet acknowledged."""
        return max(0, self.size - self.committed())


@dataclass
class Dormant:
    """A file closed after being idle: its checkpoint and what it looked like when closed."""

    state: FileState
    size: int
    mtime_ns: int


def _head(fd: int, n: int = FINGERPRINT_BYTES) -> bytes:
    return os.pread(fd, n, 0)


class Tailer:
    """Discovers, opens, reads and releases the files of a list of inputs."""

    def __init__(self, inputs: Sequence[InputFiles], make_decoder: DecoderFactory, *,
                 rotate_wait: float = 5.0, eof_line_timeout: float = 5.0,
                 max_line_bytes: int = DEFAULT_MAX_LINE, close_inactive: float | None = 300.0) -> None:
        self.inputs = list(inputs)
        self.make_decoder = make_decoder
        self.rotate_wait = rotate_wait
        self.eof_line_timeout = eof_line_timeout
        self.max_line_bytes = max_line_bytes
        self.close_inactive = close_inactive
        self.files: dict[tuple[int, int], Tracked] = {}
        self.dormant: dict[tuple[int, int], Dormant] = {}  # idle files closed to save descriptors
        self.draining: list[Tracked] = []  # released files and old generations with unacknowledged spans
        self.saved: dict[tuple[int, int], FileState] = {}
        self.first_scan = True
        self.keys: set[str] = set()
        self.unreadable: set[str] = set()

    # --- state ---------------------------------------------------------------------------------

    def restore(self, states: Sequence[FileState]) -> None:
        """Remember checkpoints from the last run; files are matched to them at the next scan."""
        for st in states:
            self.saved[(st.dev, st.ino)] = st
            self.keys.add(st.key)

    def states(self) -> list[FileState]:
        """Checkpoint entries for every file still owed to the store, committed offsets filled in."""
        out = []
        for t in [*self.files.values(), *self.draining]:
            if t.superseded:
                continue
            t.state.offset = t.committed()
            if t.state.fp_len < FINGERPRINT_BYTES and not t.released and t.size > t.state.fp_len:
                with contextlib.suppress(OSError):
                    head = _head(t.fd)
                    t.state.fp, t.state.fp_len = fingerprint(head), len(head)
            out.append(t.state)
        out.extend(d.state for d in self.dormant.values())
        out.extend(self.saved.values())  # not found yet (e.g. a directory not mounted); keep them
        return out

    def all_files(self) -> list[Tracked]:
        """Open files first, then those draining."""
        return [*self.files.values(), *self.draining]

    # --- discovery -----------------------------------------------------------------------------

    def scan(self, now: float) -> list[Tracked]:
        """Re-run the globs, open new files, notice renames, deletions and truncations.

        Returns the superseded generations of truncated files: the caller flushes their decoders.
        """
        seen: dict[tuple[int, int], tuple[str, int, os.stat_result]] = {}
        for idx, inp in enumerate(self.inputs):
            for path in expand(inp.paths, inp.exclude):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                seen.setdefault((st.st_dev, st.st_ino), (path, idx, st))
        superseded: list[Tracked] = []
        for ident, t in list(self.files.items()):
            hit = seen.pop(ident, None)
            if hit is not None:
                t.matched = True
                if t.state.path != hit[0]:
                    log.info("file renamed", extra={"log.file.path": hit[0], "from": t.state.path})
                    t.state.path = hit[0]
            elif t.matched:
                t.matched = False
                moved = find_by_identity(os.path.dirname(t.state.path) or ".", t.state.dev, t.state.ino)
                if moved is not None and moved != t.state.path:
                    log.info("file rotated away", extra={"log.file.path": moved, "from": t.state.path})
                    t.state.path = moved
            old = self._check_truncated(t, now)
            if old is not None:
                superseded.append(old)
        self._wake_dormant(seen, now)
        for ident, (path, idx, _st) in seen.items():
            self._open(path, idx, ident, now)
        if self.first_scan:
            self._recover_renamed(now)
        self.first_scan = False
        return superseded

    def _wake_dormant(self, seen: dict[tuple[int, int], tuple[str, int, os.stat_result]], now: float) -> None:
        """Reopen dormant files that changed; forget those that are gone; leave the rest closed."""
        for ident, d in list(self.dormant.items()):
            hit = seen.pop(ident, None)
            if hit is not None:
                path, idx, st = hit
                d.state.path = path
                if st.st_size != d.size or st.st_mtime_ns != d.mtime_ns:
                    del self.dormant[ident]
                    self.saved[ident] = d.state
                    self._open(path, idx, ident, now)
                continue
            del self.dormant[ident]  # renamed away or deleted: read what it gained, if anything
            moved = find_by_identity(os.path.dirname(d.state.path) or ".", d.state.dev, d.state.ino)
            if moved is not None:
                try:
                    st = os.stat(moved)
                except OSError:
                    continue
                if st.st_size != d.size or st.st_mtime_ns != d.mtime_ns:
                    self.saved[ident] = d.state
                    self._open(moved, d.state.input, ident, now, matched=False)

    def sleep_ready(self, t: Tracked, now: float) -> bool:
        """True when a matched file has been idle for ``close_inactive`` with everything acknowledged."""
        return (self.close_inactive is not None and t.matched and not t.deleted and not t.released
                and not t.reader.partial and t.reader.offset >= t.size and now - t.last_data >= self.close_inactive
                and t.decoder.pending_offset() is None and t.committed() >= t.reader.offset)

    def sleep(self, t: Tracked) -> None:
        """Close an idle file; the next scan reopens it when its size or modification time changes."""
        ident = (t.state.dev, t.state.ino)
        try:
            st = os.fstat(t.fd)
        except OSError:
            return
        t.state.offset = t.committed()
        self.dormant[ident] = Dormant(t.state, st.st_size, st.st_mtime_ns)
        self._close(t)
        if self.files.get(ident) is t:
            del self.files[ident]

    def _open(self, path: str, idx: int, ident: tuple[int, int], now: float, *, matched: bool = True) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if exc.errno != errno.ENOENT and path not in self.unreadable:
                self.unreadable.add(path)  # warn once, not at every scan
                log.warning("cannot open log file", extra={"log.file.path": path, "error.message": exc.strerror})
            return
        self.unreadable.discard(path)
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != ident:  # replaced between stat and open: next scan
                os.close(fd)
                return
            head = _head(fd)
        except OSError:
            os.close(fd)
            return
        saved = self.saved.pop(ident, None)
        state: FileState | None = None
        if saved is not None:
            n = min(saved.fp_len, len(head))
            if n == saved.fp_len and fingerprint(head[:n]) == saved.fp and st.st_size >= saved.offset:
                state = saved
                state.path = path
            else:
                log.info("inode reused or file rewritten: reading it as a new file", extra={"log.file.path": path})
        if state is None:
            start = st.st_size if (self.first_scan and self.inputs[idx].read_from_end and matched) else 0
            state = FileState(self._new_key(st.st_dev, st.st_ino, head), path, st.st_dev, st.st_ino, start,
                              fingerprint(head), len(head), idx)
        self.files[ident] = self._track(state, fd, idx, st.st_size, now, matched=matched)

    def _track(self, state: FileState, fd: int, idx: int, size: int, now: float, *, matched: bool) -> Tracked:
        reader = LineReader(fd, state.offset, self.max_line_bytes)
        decoder = self.make_decoder(idx, state.path, state.key)
        return Tracked(state, fd, reader, decoder, idx, matched=matched, size=size, last_data=now)

    def _new_key(self, dev: int, ino: int, head: bytes) -> str:
        key = base = source_key(dev, ino, head)
        n = 1
        while key in self.keys:
            n += 1
            key = f"{base}~{n}"
        self.keys.add(key)
        return key

    def _recover_renamed(self, now: float) -> None:
        """Checkpointed files no glob matched: look for them by identity where they were last seen."""
        for ident, st in list(self.saved.items()):
            path = find_by_identity(os.path.dirname(st.path) or ".", st.dev, st.ino)
            if path is None:
                log.info("checkpointed file is gone", extra={"log.file.path": st.path})
                del self.saved[ident]
                continue
            log.info("found a file renamed while stopped", extra={"log.file.path": path, "from": st.path})
            self._open(path, min(st.input, len(self.inputs) - 1), ident, now, matched=False)
            self.saved.pop(ident, None)

    def _check_truncated(self, t: Tracked, now: float) -> Tracked | None:
        try:
            st = os.fstat(t.fd)
        except OSError:
            return None
        t.size = st.st_size
        t.deleted = st.st_nlink == 0
        truncated = st.st_size < t.reader.offset
        if not truncated and t.state.fp_len:
            try:
                head = _head(t.fd, t.state.fp_len)
            except OSError:
                return None
            truncated = fingerprint(head) != t.state.fp
        if not truncated:
            return None
        log.info("file truncated: reading it again from the start", extra={"log.file.path": t.state.path})
        t.superseded = True
        self.draining.append(t)
        head = _head(t.fd)
        state = FileState(self._new_key(t.state.dev, t.state.ino, head), t.state.path, t.state.dev, t.state.ino, 0,
                          fingerprint(head), len(head), t.input)
        fd = os.dup(t.fd)
        new = self._track(state, fd, t.input, st.st_size, now, matched=t.matched)
        self.files[(t.state.dev, t.state.ino)] = new
        self._close(t)
        return t

    # --- reading -------------------------------------------------------------------------------

    def read(self, t: Tracked, now: float, chunk: int = DEFAULT_CHUNK) -> tuple[list[RawLine], int]:
        """Read the next lines of ``t`` (and its last unterminated line once it has been idle long enough)."""
        if t.released:
            return [], 0
        try:
            lines, n = t.reader.read(now, chunk)
        except OSError as exc:
            log.warning("read failed", extra={"log.file.path": t.state.path, "error.message": exc.strerror})
            return [], 0
        if n:
            t.last_data = now
            if t.reader.offset > t.size:
                t.size = t.reader.offset
        elif t.reader.partial and now - t.last_data >= self.eof_line_timeout:
            line = t.reader.take_partial(now)
            if line is not None:
                lines.append(line)
        return lines, n

    def idle(self, t: Tracked, now: float) -> bool:
        """True when ``t`` is at its end and nothing arrived for ``rotate_wait``."""
        return t.reader.offset >= t.size and now - t.last_data >= self.rotate_wait

    def release_ready(self, t: Tracked, now: float) -> bool:
        """True when a rotated-away or deleted file has been read to its end and may be closed."""
        return not t.released and (not t.matched or t.deleted) and self.idle(t, now)

    def release(self, t: Tracked) -> None:
        """Close a file that was read to its end; it stays in the checkpoint until acknowledged."""
        t.released = True
        self._close(t)
        ident = (t.state.dev, t.state.ino)
        if self.files.get(ident) is t:
            del self.files[ident]
            self.draining.append(t)
        log.info("file released", extra={"log.file.path": t.state.path})

    def prune(self) -> list[Tracked]:
        """Forget draining files whose every span is acknowledged; returns them."""
        done = [t for t in self.draining if t.committed() >= t.reader.consumed and not t.inflight]
        if done:
            self.draining = [t for t in self.draining if t not in done]
        return done

    def _close(self, t: Tracked) -> None:
        if t.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(t.fd)
            t.fd = -1

    def close(self) -> None:
        """Close every file."""
        for t in self.all_files():
            self._close(t)
