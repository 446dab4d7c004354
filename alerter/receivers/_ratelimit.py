"""A per-robot token bucket that never exceeds "N messages per window" in *any* window.

The chat robots count messages in a sliding minute (WeCom 45009, DingTalk 130101 after 20). A
classic bucket refilling continuously would allow a burst of 20 plus refills inside one minute,
so here every token spent comes back exactly ``window`` seconds later: at most ``capacity``
messages in any ``window``. All methods are pure given ``now`` (monotonic seconds).
"""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """``capacity`` tokens; a token spent at time t is available again at t + ``window``."""

    def __init__(self, capacity: int = 20, window: float = 60.0) -> None:
        if capacity < 1 or window <= 0:
            raise ValueError("a token bucket needs capacity >= 1 and a positive window")
        self.capacity = capacity
        self.window = window
        self._spent: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._spent and self._spent[0] + self.window <= now:
            self._spent.popleft()

    def available(self, now: float) -> int:
        """Tokens that may be spent at ``now``."""
        self._expire(now)
        return self.capacity - len(self._spent)

    def take(self, now: float) -> bool:
        """Spend one token if there is one; True when it was spent."""
        if self.available(now) <= 0:
            return False
        self._spent.append(now)
        return True

    def wait_time(self, now: float) -> float:
        """Seconds until a token is available (0 when one is available now)."""
        if self.available(now) > 0:
            return 0.0
        return max(0.0, self._spent[0] + self.window - now)

    def exhaust(self, now: float) -> None:
        """The server said we are over its limit: treat the whole window as used from ``now``."""
        self._expire(now)
        while len(self._spent) < self.capacity:
            self._spent.append(now)
