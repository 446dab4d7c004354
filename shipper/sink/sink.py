"""Sending a batch until every item is indexed or dead-lettered.

Whole-request failures (store down, 429, 5xx, a malformed answer, bad credentials) are retried
forever with capped exponential backoff — the caller stops reading meanwhile, so memory stays
bounded. Per-item 429/5xx are retried alone; other 4xx items go to the dead-letter file. An item
refused with 429 (the store asks us to slow down) is retried for as long as it takes; one refused
with a 5xx in ``item_attempts`` answers in a row (a document the store keeps failing on) goes to
the dead-letter file with the last reason, so one bad document never stalls the input for good.
A request refused as a whole (400, 413) is split in halves until the
culprit is alone, then dead-lettered.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from cronwatch.clock import SYSTEM_CLOCK, Clock
from cronwatch.retry import Backoff
from shipper.sink.deadletter import DeadLetterFile, dead_letter_record
from shipper.sink.errors import BulkProtocolError, StoreUnavailable
from shipper.sink.response import ACK, classify, read_bulk_response
from shipper.sink.service import StoreService

log = logging.getLogger("cronwatch.shipper.sink")


class SinkMetrics(Protocol):
    """What the sink reports."""

    def bulk_request(self, status: str, seconds: float) -> None:
        """One bulk request finished with ``status`` (HTTP code, or ``error``)."""

    def dead_lettered(self, n: int) -> None:
        """``n`` documents went to the dead-letter file."""


@dataclass
class SendResult:
    """How a batch ended."""

    indexed: int = 0
    dead: int = 0
    retries: int = 0


class BulkSink:
    """Sends encoded bulk items with retries and dead-lettering."""

    def __init__(self, service: StoreService, deadletter: DeadLetterFile, *, backoff: Backoff | None = None,
                 metrics: SinkMetrics | None = None, clock: Clock = SYSTEM_CLOCK, item_attempts: int = 10) -> None:
        if item_attempts < 1:
            raise ValueError("item_attempts must be at least 1")
        self.item_attempts = item_attempts
        self.service = service
        self.deadletter = deadletter
        self.backoff = backoff or Backoff(initial=0.5, maximum=30.0)
        self.metrics = metrics
        self.clock = clock
        self.down_since: float | None = None

    def _count(self, status: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.bulk_request(status, seconds)

    def _dead(self, items: list[tuple[bytes, int, dict[str, object]]], result: SendResult) -> None:
        now = self.clock.time()
        self.deadletter.write([dead_letter_record(item, status, dict(err), now) for item, status, err in items])
        result.dead += len(items)
        if self.metrics is not None and items:
            self.metrics.dead_lettered(len(items))
        for _item, status, err in items[:3]:
            log.error("document refused by the store: written to the dead-letter file",
                      extra={"http.response.status_code": status, "error.type": err.get("type"),
                             "error.message": err.get("reason"), "file.path": str(self.deadletter.path)})

    async def send(self, items: list[bytes]) -> SendResult:
        """Deliver ``items``; returns only when each one is indexed or dead-lettered."""
        result = SendResult()
        await self._send(items, result)
        return result

    async def _send(self, items: list[bytes], result: SendResult) -> None:
        pending = items
        strikes = [0] * len(items)  # per pending item: 5xx answers in a row
        attempt = 0
        while pending:
            if attempt:
                result.retries += 1
                await self.clock.sleep(self.backoff.delay(attempt))
            attempt += 1
            started = time.perf_counter()
            try:
                status, body = await self.service.bulk(pending)
            except StoreUnavailable as exc:
                self._count("error", time.perf_counter() - started)
                self._note_down(str(exc))
                continue
            self._count(str(status), time.perf_counter() - started)
            if status in (400, 413):  # the request as a whole is refused: isolate the culprit(s) by halving
                if len(pending) > 1:  # (5xx strikes start again in the halves: rare, and still bounded)
                    half = len(pending) // 2
                    await self._send(pending[:half], result)
                    await self._send(pending[half:], result)
                    return
                reason = body[:500].decode("utf-8", "replace")
                self._dead([(pending[0], status, {"type": "request_refused", "reason": reason})], result)
                return
            if classify(status) != ACK:  # 429, 5xx, 401/403 (credentials may be fixed), 404: wait and retry
                self._note_down(f"bulk request answered HTTP {status}")
                continue
            try:
                verdict = read_bulk_response(body, len(pending))
            except BulkProtocolError as exc:
                self._note_down(str(exc))
                continue
            self._note_up()
            result.indexed += len(verdict.acked)
            if verdict.dead:
                self._dead([(pending[i], status_, err) for i, status_, err in verdict.dead], result)
            give_up = []
            kept, kept_strikes = [], []
            for i in verdict.retry:
                status_, err = verdict.retry_errors[i]
                n = strikes[i] + 1 if status_ != 429 else 0
                if n >= self.item_attempts:
                    give_up.append((pending[i], status_, {**err, "attempts": n}))
                else:
                    kept.append(pending[i])
                    kept_strikes.append(n)
            if give_up:
                self._dead(give_up, result)
            pending, strikes = kept, kept_strikes

    def _note_down(self, why: str) -> None:
        if self.down_since is None:
            self.down_since = self.clock.monotonic()
            log.warning("store unavailable: retrying with backoff", extra={"error.message": why})

    def _note_up(self) -> None:
        if self.down_since is not None:
            log.info("store available again",
                     extra={"event.duration": int((self.clock.monotonic() - self.down_since) * 1e9)})
            self.down_since = None
