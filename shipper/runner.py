"""The shipping pipeline: tail → decode → filter → batch → sink → acknowledge → checkpoint.

One task reads files and fills batches; ``max_in_flight`` workers send them. The queue between
them is bounded, so when the store is slow or down the reader waits instead of growing memory
(backpressure). A batch's spans are marked done only when the sink has indexed or dead-lettered
every item, and checkpoints only ever move to offsets below which everything is done and no
multi-line record is pending. Documents carry deterministic ids, so what is re-sent after a crash
overwrites itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any
from zlib import crc32

from orjson import dumps

from cronwatch.clock import SYSTEM_CLOCK, Clock
from cronwatch.jsonlog import format_ts
from shipper.batch import Batch, Limits, ParserLike, Stats, Stopping
from shipper.compiled import speedups
from shipper.filters import InputRules
from shipper.logmetrics import ShipperMetrics
from shipper.model import Decoder, Event, RawLine
from shipper.naming import ID_FORMAT, OFFSET_SEED, DocIds
from shipper.sink.encoder import ACTION_TAIL, IndexNamer, action_head
from shipper.sink.sink import BulkSink
from shipper.tail.checkpoint import CheckpointStore
from shipper.tail.reader import DEFAULT_CHUNK
from shipper.tail.tailer import InputFiles, Span, Tailer, Tracked

__all__ = ["Batch", "Limits", "ParserLike", "Pipeline", "Stats", "Stopping"]

log = logging.getLogger("cronwatch.shipper")
POLL = 0.1
READ_CHUNK = DEFAULT_CHUNK  # bytes per read (64 KiB): a chunk's lines are decoded and encoded while cache-hot
READS_PER_PASS = 4  # chunks read from one file before visiting the next


class Pipeline:
    """Ships the files of ``inputs`` into the store through ``sink``."""

    def __init__(self, files: Sequence[InputFiles], parsers: Sequence[ParserLike], rules: Sequence[InputRules],
                 sink: BulkSink, checkpoints: CheckpointStore, *, namer: IndexNamer | None = None,
                 limits: Limits | None = None, metrics: ShipperMetrics | None = None,
                 clock: Clock = SYSTEM_CLOCK, max_line_bytes: Sequence[int] | None = None) -> None:
        self.limits = limits or Limits()
        self.parsers = list(parsers)
        self.rules = list(rules)
        self.sink = sink
        self.checkpoints = checkpoints
        self.namer = namer or IndexNamer()
        self.metrics = metrics or ShipperMetrics()
        self.clock = clock
        self.stats = Stats()
        lim = self.limits
        cap = max(max_line_bytes) + 1 if max_line_bytes else 1024 * 1024
        self.tailer = Tailer(files, self._decoder, rotate_wait=lim.rotate_wait,
                             eof_line_timeout=lim.eof_line_timeout, max_line_bytes=cap,
                             close_inactive=lim.close_inactive)
        self.batch = Batch(clock.monotonic())
        self.queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=lim.max_in_flight)
        self.workers: list[asyncio.Task[None]] = []
        self.sending = 0
        self.lag_paths: set[str] = set()
        self.stop_event: asyncio.Event | None = None
        self.prepared = False
        self.on_progress: Callable[[int, int], None] | None = None  # (bytes, lines) read
        ext = speedups()
        # the loop of emit() for runs of events of one index day, compiled (None: Python only)
        self.emit_items: Callable[..., int] | None = ext.emit_items if ext is not None else None

    def _decoder(self, idx: int, path: str, key: str) -> Decoder:
        return self.parsers[idx].decoder(path, key)

    # --- events → batch ------------------------------------------------------------------------

    async def emit(self, t: Tracked, events: list[Event]) -> None:
        """Filter, name, encode and batch the events of file ``t``.

        The hot loop, kept flat on purpose: one pass computes each document's id and encodes its
        bulk item; the items then go into batches in slices (no per-item batch bookkeeping), and
        the log-derived metrics are counted once for the whole list.
        """
        if not events:
            return
        rules = self.rules[t.input]
        ids = t.ids
        if ids is None:
            ids = t.ids = DocIds(t.state.key)
        prefix = ids.prefix
        cut = self.namer.cut
        self.stats.events += len(events)
        self.metrics.stage("parsed", len(events))
        active = rules.active
        kept: list[Event] = [] if active else events
        fixed_prefix = rules.prefix if rules.error_prefix is None else None
        items: list[bytes] = []
        append = items.append
        join = b"".join
        last_key, head = "", b""
        # the compiled loop (what this loop does for an event of the same index day, without filters)
        fast = self.emit_items if not active and fixed_prefix is not None else None
        i, n = 0, len(events)
        while i < n:
            if fast is not None and last_key:
                i = fast(events, i, prefix, head, last_key, cut, ACTION_TAIL, dumps, items)
                if i >= n:
                    break
            ev = events[i]
            i += 1
            doc = ev.doc
            raw = ev.meta["raw"]
            try:
                content = raw.encode()
            except UnicodeEncodeError:  # lone surrogates: as DocIds encodes them
                content = raw.encode("utf-8", "replace")
            offset = ev.offset
            did = ID_FORMAT % (crc32(content, offset & OFFSET_SEED), prefix, offset)  # as DocIds
            if active:
                if not rules.keep(doc, raw, did.decode()):
                    continue
                kept.append(ev)
            ts = doc.get("@timestamp")
            if ts.__class__ is not str or ts[:cut] != last_key or fixed_prefix is None or ts[-1:] != "Z":
                index = self._index(fixed_prefix or rules.prefix_for(doc), doc, ev)
                head = action_head(index)
                last_key = ts[:cut] if fixed_prefix is not None and ts.__class__ is str and ts[-1:] == "Z" else ""
            try:
                source = dumps(doc)
            except TypeError:  # a value orjson cannot encode natively: as text
                source = dumps(doc, default=str)
            append(join((head, did, ACTION_TAIL, source, b"\n")))
        if items:
            await self._add(t, kept, items)
        self.metrics.observe([ev.doc for ev in kept])
        filtered = len(events) - len(kept)
        if filtered:
            self.stats.filtered += filtered
            self.metrics.stage("filtered", filtered)

    async def _add(self, t: Tracked, events: list[Event], items: list[bytes]) -> None:
        """Put ``items`` (those of ``events`` of file ``t``, in order) into batches, submitting each full one.

        A batch is full at ``batch_events`` items or once its size reaches ``batch_bytes`` (the item
        that crosses it included), exactly as if the items were added one by one.
        """
        max_events, max_bytes = self.limits.batch_events, self.limits.batch_bytes
        sizes = list(map(len, items))
        total = len(items)
        pos = 0
        while pos < total:
            b = self.batch
            stop = min(total, pos + max(1, max_events - len(b.items)))
            size = sum(sizes[pos:stop])
            if b.size + size >= max_bytes:  # the item that reaches the byte limit closes the batch
                acc = b.size
                for j in range(pos, stop):
                    acc += sizes[j]
                    if acc >= max_bytes:
                        stop = j + 1
                        break
                size = acc - b.size
            b.items += items[pos:stop] if pos or stop < total else items
            b.size += size
            end = events[stop - 1].end
            span = b.spans.get(t)
            if span is None:
                span = b.spans[t] = Span(events[pos].offset, end)
                t.inflight.append(span)
            else:
                span.end = end
            pos = stop
            if len(b.items) >= max_events or b.size >= max_bytes:
                await self.submit()

    def _index(self, prefix: str, doc: dict[str, Any], ev: Event) -> str:
        try:
            return self.namer.name(prefix, doc)
        except ValueError:  # no usable @timestamp: the day it was read
            return self.namer.name(prefix, {"@timestamp": _read_ts(ev)})

    async def submit(self) -> None:
        """Hand the current batch to the senders (waits while ``max_in_flight`` batches are queued).

        Raises :class:`Stopping` when a stop is requested while waiting: the batch is dropped
        unacknowledged, so its lines are read again at the next start.
        """
        b = self.batch
        self.batch = Batch(self.clock.monotonic())
        if not b.items:
            return
        if not self.queue.full() or self.stop_event is None:
            await self.queue.put(b)
            return
        put = asyncio.ensure_future(self.queue.put(b))
        stop = asyncio.ensure_future(self.stop_event.wait())
        try:
            await asyncio.wait({put, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not put.done():
                put.cancel()
        if not put.done() or put.cancelled():
            raise Stopping

    async def _worker(self) -> None:
        while True:
            b = await self.queue.get()
            if b is None:
                self.queue.task_done()
                return
            self.sending += 1
            try:
                result = await self.sink.send(b.items)
            finally:
                self.sending -= 1
            for span in b.spans.values():
                span.done = True
            self.stats.indexed += result.indexed
            self.stats.dead += result.dead
            self.metrics.stage("indexed", result.indexed)
            self.queue.task_done()

    def start_workers(self) -> None:
        """Start the senders."""
        if not self.workers:
            self.workers = [asyncio.create_task(self._worker(), name=f"bulk-sender-{i}")
                            for i in range(self.limits.max_in_flight)]

    async def stop_workers(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds for queued batches, then stop the senders; True when all were delivered."""
        delivered = True
        try:
            await asyncio.wait_for(self.queue.join(), wait)
        except TimeoutError:
            delivered = False
        for w in self.workers:
            w.cancel()
        for w in self.workers:
            with contextlib.suppress(asyncio.CancelledError):
                await w
        self.workers = []
        return delivered

    # --- reading -------------------------------------------------------------------------------

    def _feed(self, t: Tracked, lines: list[RawLine]) -> list[Event]:
        """The events ``lines`` complete: one ``feed_many`` call when the decoder has it, else ``feed`` per line."""
        self.stats.lines += len(lines)
        self.metrics.stage("read", len(lines))
        decoder = t.decoder
        feed_many = getattr(decoder, "feed_many", None)
        if feed_many is not None:
            events: list[Event] = feed_many(lines)
            return events
        out: list[Event] = []
        extend = out.extend
        for evs in map(decoder.feed, lines):
            if evs:
                extend(evs)
        return out

    async def read_once(self, now: float) -> bool:
        """Read each file (up to ``READS_PER_PASS`` chunks); complete idle records; release finished files.

        True on progress. Chunks are small so that a chunk's lines, events and documents are still
        in the CPU cache when they are encoded; several per pass keep the cost of visiting idle files low.
        """
        progressed = False
        tailer = self.tailer
        for t in list(tailer.files.values()):
            reads = 0
            while reads < READS_PER_PASS:  # a file with data: up to READS_PER_PASS chunks, each decoded and batched at once
                lines, n = tailer.read(t, now, READ_CHUNK)
                if not (n or lines):
                    break
                reads += 1
                self.stats.bytes += n
                if self.on_progress is not None:
                    self.on_progress(n, len(lines))
                await self.emit(t, self._feed(t, lines))
                if n < READ_CHUNK:
                    break
            if reads:
                progressed = True
                continue
            await self.emit(t, t.decoder.flush(now))
            if tailer.release_ready(t, now):
                await self.finish_file(t, now)
            elif tailer.sleep_ready(t, now):
                tailer.sleep(t)
                self._drop_lag(t.state.path)
        return progressed

    async def finish_file(self, t: Tracked, now: float, *, release: bool = True) -> None:
        """Read ``t`` to its very end (unterminated last line included), flush its decoder, release it."""
        line = t.reader.take_partial(now)
        if line is not None:
            await self.emit(t, self._feed(t, [line]))
        await self.emit(t, t.decoder.flush(None))
        if release:
            self.tailer.release(t)
            self._drop_lag(t.state.path)

    def _drop_lag(self, path: str) -> None:
        if path in self.lag_paths:
            self.lag_paths.discard(path)
            self.metrics.lag.remove(path)

    async def scan(self, now: float) -> None:
        """Re-scan the inputs; flush the old generation of truncated files; persist new keys at once."""
        before = len(self.tailer.files)
        superseded = self.tailer.scan(now)
        for old in superseded:
            await self.emit(old, old.decoder.flush(None))
        if superseded or len(self.tailer.files) != before:
            self.save_checkpoint()

    def save_checkpoint(self) -> None:
        """Write committed offsets (and the keys of new files) and update the lag gauge."""
        self.tailer.prune()
        states = self.tailer.states()
        self.checkpoints.save(states)
        for t in self.tailer.files.values():
            self.metrics.lag.labels(t.state.path).set(t.lag())
            self.lag_paths.add(t.state.path)

    # --- run -----------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> Stats:
        """Tail until ``stop`` is set; then send what was read, checkpoint and return."""
        clock = self.clock
        lim = self.limits
        self.tailer.restore(self.checkpoints.load())
        self.stop_event = stop
        self.start_workers()
        next_scan = next_save = clock.monotonic()
        try:
            while not stop.is_set():
                mono = clock.monotonic()
                now = clock.time()
                if mono >= next_scan:
                    await self.scan(now)
                    next_scan = mono + lim.scan_interval
                progressed = await self.read_once(now)
                if self.batch.items and clock.monotonic() - self.batch.created >= lim.flush_interval:
                    await self.submit()
                if clock.monotonic() >= next_save:
                    self.save_checkpoint()
                    next_save = clock.monotonic() + lim.checkpoint_interval
                if progressed:
                    await asyncio.sleep(0)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), POLL)
        except Stopping:
            pass
        finally:
            await self.shutdown()
        return self.stats

    async def shutdown(self) -> None:
        """Send the open batch, wait for deliveries (bounded), write the last checkpoint, close files."""
        with contextlib.suppress(TimeoutError, Stopping):
            await asyncio.wait_for(self.submit(), self.limits.shutdown_timeout)
        delivered = await self.stop_workers(self.limits.shutdown_timeout)
        if not delivered:
            log.warning("store did not acknowledge everything before shutdown: the rest is sent on the next start")
        self.save_checkpoint()
        self.tailer.close()

    async def prepare(self) -> None:
        """Load the checkpoints and find the files (``total_bytes`` is known after this)."""
        self.tailer.restore(self.checkpoints.load())
        await self.scan(self.clock.time())
        self.prepared = True

    async def backfill(self) -> Stats:
        """Ship the inputs' files once, to their end, and return when the store has acknowledged all."""
        clock = self.clock
        if not self.prepared:
            await self.prepare()
        self.start_workers()
        try:
            now = clock.time()
            next_save = clock.monotonic() + self.limits.checkpoint_interval
            while await self.read_once(now):
                now = clock.time()
                if clock.monotonic() >= next_save:
                    self.save_checkpoint()
                    next_save = clock.monotonic() + self.limits.checkpoint_interval
            for t in list(self.tailer.files.values()):
                await self.finish_file(t, now, release=not t.matched)  # kept in the checkpoint at its end
            for old in list(self.tailer.draining):
                await self.emit(old, old.decoder.flush(None))
            await self.submit()
            await self.queue.join()
        finally:
            await self.stop_workers(self.limits.shutdown_timeout)
            self.save_checkpoint()
            self.tailer.close()
        return self.stats

    def total_bytes(self) -> int:
        """Bytes still to read across the matched files (for a progress bar)."""
        total = 0
        for t in self.tailer.files.values():
            with contextlib.suppress(OSError):
                total += max(0, os.fstat(t.fd).st_size - t.reader.offset)
        return total


def _read_ts(ev: Event) -> str:
    return format_ts(float(ev.meta.get("read_time") or 0.0) or SYSTEM_CLOCK.time())
