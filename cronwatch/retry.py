"""Retry with exponential backoff and full jitter (the AWS architecture blog's "full jitter").

``Backoff.delay(attempt)`` is pure given its random source; :func:`retry_async` runs a coroutine
function until it succeeds, the error is not retryable, or attempts run out.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cronwatch.clock import SYSTEM_CLOCK, Clock

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: attempt n (1-based) waits up to ``initial * multiplier**(n-1)``, capped."""

    initial: float = 1.0
    maximum: float = 60.0
    multiplier: float = 2.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt ``attempt`` may wait."""
        exp = min(max(attempt - 1, 0), 64)
        return min(self.maximum, self.initial * self.multiplier**exp)

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt``: uniform in [0, ceiling] with full jitter."""
        cap = self.ceiling(attempt)
        return self.rng.uniform(0, cap) if self.jitter else cap


async def retry_async(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int | None,
    backoff: Backoff,
    retryable: Callable[[BaseException], bool] = lambda _e: True,
    clock: Clock = SYSTEM_CLOCK,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Call ``fn`` until it returns; ``attempts=None`` retries retryable errors forever."""
    attempt = 1
    while True:
        try:
            return await fn()
        except Exception as exc:
            if not retryable(exc) or (attempts is not None and attempt >= attempts):
                raise
            wait = backoff.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, exc, wait)
            await clock.sleep(wait)
            attempt += 1
