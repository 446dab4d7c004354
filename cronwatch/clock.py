"""An injectable clock: decisions take ``now`` from a :class:`Clock`, never from the OS directly.

:class:`SystemClock` is the real one; :class:`FakeClock` is for tests: time moves only when
``advance`` is called, and ``sleep`` returns as soon as the fake time reaches the deadline.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the core needs to know about time."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals)."""

    def now(self) -> datetime:
        """The wall clock as an aware UTC datetime."""

    async def sleep(self, seconds: float) -> None:
        """Wait for ``seconds``."""


class SystemClock:
    """The operating system's clocks."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock for tests that moves only when told to."""

    def __init__(self, start: float | datetime = 1_800_000_000.0) -> None:
        self._t = start.timestamp() if isinstance(start, datetime) else float(start)
        self._mono = 1000.0
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self._t

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._t, UTC)

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come."""
        self._t += seconds
        self._mono += seconds
        still = []
        for deadline, fut in self._waiters:
            if deadline <= self._mono:
                if not fut.done():
                    fut.set_result(None)
            else:
                still.append((deadline, fut))
        self._waiters = still

    def set(self, when: float | datetime) -> None:
        """Jump the wall clock to ``when`` (may go backwards, like an NTP step)."""
        target = when.timestamp() if isinstance(when, datetime) else float(when)
        delta = target - self._t
        self._t = target
        if delta > 0:
            self.advance(0)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._mono + seconds, fut))
        await fut


SYSTEM_CLOCK = SystemClock()
