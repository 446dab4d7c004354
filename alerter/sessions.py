"""Shared HTTP clients for webhook-style deliveries, created on first use; the engine closes them.

aiohttp's client is about ten times cheaper per request than httpx's pool under a storm of
notifications; TLS settings and proxies are given per request, so one session serves all.
Plain ``http://`` POSTs go through the leaner :class:`~alerter.http1.Http1Pool` (about half
the CPU per request again).
"""

from __future__ import annotations

import aiohttp

from alerter.http1 import Http1Pool


class SessionPool:
    """Creates the session lazily (inside the running loop) and closes it once."""

    def __init__(self, limit: int = 100) -> None:
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        self._http1: Http1Pool | None = None

    def get(self) -> aiohttp.ClientSession:
        """The shared session (must be called from a coroutine)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                                  headers={"User-Agent": "cronwatch-alerter"})
        return self._session

    def http1(self) -> Http1Pool:
        """The shared keep-alive pool for plain HTTP POSTs."""
        if self._http1 is None:
            self._http1 = Http1Pool(limit=self._limit)
        return self._http1

    async def close(self) -> None:
        """Close the session and the pool if they were ever opened."""
        if self._http1 is not None:
            self._http1.close()
            self._http1 = None
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
