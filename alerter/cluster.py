"""Several alerter replicas sharing one notification log in Redis, so a notification goes out once.

Each replica receives the same alerts (Prometheus sends to all of them) and flushes on its own.
Before sending, a replica reads the shared log (dedup as usual) and claims the log key with
``SET NX PX`` (TTL = the group interval); the claim is released with a token check. Whoever
holds the claim sends and writes the log; the others see the entry, or the claim, and stay quiet.
If Redis is unreachable, replicas fall back to their local log and may send twice rather than
not at all (a missed page is worse than a duplicate).
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from alerter.nflog import Entry
from cronwatch.config import Model

log = logging.getLogger("cronwatch.alerter.cluster")
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class ClusterConfig(Model):
    """``cluster:`` — share the notification log between replicas through Redis."""

    redis_url: SecretStr
    key_prefix: str = "cronwatch:alerter:"


class SharedLog:
    """The notification log in Redis (hash per key) plus per-key send claims."""

    def __init__(self, cfg: ClusterConfig, retention: timedelta) -> None:
        import redis.asyncio as aredis

        self._redis: Any = aredis.from_url(cfg.redis_url.get_secret_value(), decode_responses=True)
        self._prefix = cfg.key_prefix
        self._retention_ms = int(retention.total_seconds() * 1000)
        self._tokens: dict[str, str] = {}

    def _k(self, key: str) -> str:
        return f"{self._prefix}nflog:{key}"

    async def get(self, key: str) -> Entry | None:
        """The shared entry for ``key``."""
        data = await self._redis.hgetall(self._k(key))
        if not data:
            return None
        return Entry(_split(data.get("firing", "")), _split(data.get("resolved", "")),
                     datetime.fromtimestamp(float(data["ts"]), UTC))

    async def log(self, key: str, firing: frozenset[str], resolved: frozenset[str], now: datetime) -> None:
        """Record a sent notification for every replica to see."""
        k = self._k(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(k, mapping={"firing": ",".join(sorted(firing)), "resolved": ",".join(sorted(resolved)),
                                  "ts": repr(now.timestamp())})
            pipe.pexpire(k, self._retention_ms)
            await pipe.execute()

    async def claim(self, key: str, ttl: timedelta) -> bool:
        """Try to become the replica that sends for ``key`` now."""
        token = secrets.token_hex(16)
        ok = await self._redis.set(self._k(key) + ":claim", token, nx=True,
                                   px=max(1000, int(ttl.total_seconds() * 1000)))
        if ok:
            self._tokens[key] = token
        return bool(ok)

    async def release(self, key: str) -> None:
        """Give the claim back (only if it is still ours)."""
        token = self._tokens.pop(key, None)
        if token is not None:
            await self._redis.eval(_RELEASE, 1, self._k(key) + ":claim", token)

    async def aclose(self) -> None:
        await self._redis.aclose()


def _split(text: str) -> frozenset[str]:
    return frozenset(t for t in text.split(",") if t)
