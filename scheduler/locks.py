"""Locks per (task, scheduled slot) so that several replicas run each slot once.

:class:`LocalLocks` (one process) always grants. :class:`RedisLocks` uses ``SET key token NX PX``;
renewal and release are Lua scripts that act only when the key still holds our token. A finished
slot's key is rewritten to ``done:<token>`` and kept for a day, so a replica that comes late
never runs it again. When the owner dies (kill -9) its key expires after the TTL and another
replica may take the slot over while it is still within its misfire grace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from scheduler.errors import LockError

Verdict = Literal["acquired", "held", "done"]
DONE_TTL_MS = 86_400_000

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_COMPLETE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
             "return redis.call('set', KEYS[1], 'done:' .. ARGV[1], 'PX', ARGV[2]) else return 0 end")


@dataclass
class Lease:
    """A held lock; ``retry_in`` is set when someone else holds it (ms until it may expire)."""

    key: str
    token: str
    verdict: Verdict
    retry_in_ms: int = 0


class Locks(Protocol):
    """The lock backend the run loop uses."""

    async def acquire(self, task: str, slot: float, ttl_ms: int) -> Lease:
        """Try to take the slot."""

    async def renew(self, lease: Lease, ttl_ms: int) -> bool:
        """Extend a held lock; False when it was lost."""

    async def complete(self, lease: Lease) -> None:
        """Mark the slot done (kept for a day) — it will not run again anywhere."""

    async def release(self, lease: Lease) -> None:
        """Give the slot back without running it."""

    async def close(self) -> None:
        """Close connections."""


def slot_key(prefix: str, task: str, slot: float) -> str:
    """The lock key of a (task, slot): the slot in integer milliseconds."""
    return f"{prefix}:slot:{task}:{round(slot * 1000)}"


class LocalLocks:
    """Single process: every slot is granted (the run loop fires each slot once)."""

    async def acquire(self, task: str, slot: float, ttl_ms: int) -> Lease:
        return Lease(slot_key("local", task, slot), "", "acquired")

    async def renew(self, lease: Lease, ttl_ms: int) -> bool:
        return True

    async def complete(self, lease: Lease) -> None:
        return None

    async def release(self, lease: Lease) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisLocks:
    """Locks in Redis shared by every replica."""

    def __init__(self, url: str, prefix: str = "cronwatch:scheduler", client: Any = None) -> None:
        import redis.asyncio as aredis

        self.prefix = prefix
        self.client: Any = client or aredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)
        self._complete = self.client.register_script(_COMPLETE)

    async def acquire(self, task: str, slot: float, ttl_ms: int) -> Lease:
        import redis

        key = slot_key(self.prefix, task, slot)
        token = os.urandom(12).hex()
        try:
            if await self.client.set(key, token, nx=True, px=ttl_ms):
                return Lease(key, token, "acquired")
            value = await self.client.get(key)
            if value is None:  # expired between the two calls: try once more
                if await self.client.set(key, token, nx=True, px=ttl_ms):
                    return Lease(key, token, "acquired")
                return Lease(key, "", "held", 100)
            if bytes(value).startswith(b"done:"):
                return Lease(key, "", "done")
            pttl = await self.client.pttl(key)
            return Lease(key, "", "held", max(int(pttl), 50))
        except redis.RedisError as exc:
            raise LockError(f"lock backend unavailable: {type(exc).__name__}: {exc}") from exc

    async def renew(self, lease: Lease, ttl_ms: int) -> bool:
        import redis

        try:
            return bool(await self._renew(keys=[lease.key], args=[lease.token, ttl_ms]))
        except redis.RedisError as exc:
            raise LockError(f"cannot renew lock: {type(exc).__name__}: {exc}") from exc

    async def complete(self, lease: Lease) -> None:
        import redis

        try:
            await self._complete(keys=[lease.key], args=[lease.token, DONE_TTL_MS])
        except redis.RedisError as exc:
            raise LockError(f"cannot mark slot done: {type(exc).__name__}: {exc}") from exc

    async def release(self, lease: Lease) -> None:
        import redis

        try:
            await self._release(keys=[lease.key], args=[lease.token])
        except redis.RedisError as exc:
            raise LockError(f"cannot release lock: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        await self.client.aclose()
