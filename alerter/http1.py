"""A lean HTTP/1.1 client for plain ``http://`` webhook POSTs: keep-alive pool, no pipelining.

A storm of groups means one POST per group. A general-purpose client spends most of the alerter's
CPU per notification on machinery a webhook POST does not use (URL objects, cookie jars, tracing,
per-request timers, response objects); this one writes a prebuilt request head and lets httptools
(llhttp) parse the answer: status, headers, and a body framed by ``Content-Length``, chunked
encoding or the end of the connection. It sends one request at a time per connection (RFC 7230 §6.3.2: no
pipelining of non-idempotent requests), reuses idle connections (most recent first, idle ones
dropped after ``idle_timeout`` — below the 5 s keep-alive of Node.js servers, the shortest common
default — or when the server closes them) and opens at most ``limit`` connections per host;
callers beyond that wait in line. A request that fails is never re-sent here: the deliverer's
retries with backoff decide, as for any other transport error.

Only plain HTTP without a proxy or credentials in the URL takes this path; TLS, proxies and
redirects stay with aiohttp (see :mod:`alerter.receivers.webhook`).
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

MAX_HEAD = 64 * 1024  # bytes of status line + headers we accept
MAX_BODY = 4 * 1024 * 1024  # a webhook answer larger than this is not read (the connection is dropped)


class ResponseError(ConnectionError):
    """The server's answer is not valid HTTP/1.x (or too large), or the connection ended early."""


@dataclass
class Response:
    """Status, headers (lower-case names, last value wins) and body of one answer."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Target:
    """Where a URL points, and the request head prefix for it."""

    host: str
    port: int
    head: bytes  # "POST /path?query HTTP/1.1\r\nHost: ...\r\n" + fixed headers, without Content-Length


def http_target(url: str, headers: dict[str, str], user_agent: str = "cronwatch-alerter") -> Target | None:
    """The :class:`Target` for POSTs to ``url``, or None when the URL is not plain ``http://`` without credentials."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    try:
        port = parts.port or 80
    except ValueError:
        return None
    host = parts.hostname
    authority = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        authority += f":{port}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if any(c <= " " or c > "~" for c in path):
        return None  # needs percent-encoding: the general client does that
    lines = [f"POST {path} HTTP/1.1", f"Host: {authority}", f"User-Agent: {user_agent}"]
    for name, value in headers.items():
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        lines.append(f"{name}: {value}")
    for line in lines:
        if any(c in line for c in "\r\n\0") or any(ord(c) > 255 for c in line):
            return None  # header injection or non-Latin-1 text: leave it to the general client to refuse
    return Target(host, port, ("\r\n".join(lines) + "\r\n").encode("latin-1"))


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight. Answers are parsed by httptools
    (llhttp, the parser of Node.js): status line, headers, Content-Length and chunked framing."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._waiter: asyncio.Future[Response] | None = None
        self._reset()

    def _reset(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._headers: dict[str, str] = {}
        self._head_bytes = 0
        self._body = bytearray()
        self._complete: Response | None = None  # the final answer, once its last byte arrived
        self._headers_done = False
        self._until_close = False  # no Content-Length, not chunked: the body ends with the connection
        self._out_of_step = False  # bytes after the answer: never reuse the connection
        self._keep_alive = False

    # --- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete is not None:
            self._out_of_step = True
        self._headers = {}
        self._head_bytes = 0
        self._body.clear()
        self._headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEAD:
            raise ResponseError("response head too large")
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        self._headers_done = True
        status = self._parser.get_status_code()
        self._until_close = not (100 <= status < 200 or status in (204, 304)) and \
            "content-length" not in self._headers and "transfer-encoding" not in self._headers

    def on_body(self, body: bytes) -> None:
        if len(self._body) + len(body) > MAX_BODY:
            raise ResponseError("response body too large")
        self._body += body

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return  # an interim answer (100 Continue): the real one follows
        if self._complete is None:
            self._complete = Response(status, self._headers, bytes(self._body))
            self._keep_alive = self._parser.should_keep_alive()

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._fail(cause if isinstance(cause, ResponseError) else ResponseError(f"invalid HTTP answer: {exc}"))
            return
        except httptools.HttpParserError as exc:
            self._fail(ResponseError(f"invalid HTTP answer: {exc}"))
            return
        resp = self._complete
        if resp is not None:
            if self._out_of_step or not self._keep_alive:
                self.close()
            waiter, self._waiter = self._waiter, None
            waiter.set_result(resp)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._headers_done and self._until_close:
                self._waiter.set_result(Response(self._parser.get_status_code(), self._headers, bytes(self._body)))
            else:
                self._waiter.set_exception(ResponseError("connection closed before the whole answer arrived"))
        self._waiter = None

    # --- use -----------------------------------------------------------------------------------

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        self.close()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self._waiter = None

    async def request(self, data: bytes) -> Response:
        """Send one whole request and wait for its answer."""
        assert self.transport is not None and self._waiter is None
        self._reset()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self._waiter


class Http1Pool:
    """Keep-alive connections per (host, port), at most ``limit`` each."""

    def __init__(self, limit: int = 100, idle_timeout: float = 4.0) -> None:
        self.limit = limit
        self.idle_timeout = idle_timeout
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._open: dict[tuple[str, int], int] = {}
        self._waiters: dict[tuple[str, int], collections.deque[asyncio.Future[None]]] = {}
        self._closed = False

    async def _acquire(self, key: tuple[str, int]) -> _Connection:
        while True:
            idle = self._idle.get(key)
            now = time.monotonic()
            while idle:
                conn = idle.pop()  # the most recently used: least likely to have been closed
                if not conn.closed and now - conn.idle_since < self.idle_timeout:
                    return conn
                conn.close()
                self._open[key] -= 1
            if self._open.get(key, 0) < self.limit:
                self._open[key] = self._open.get(key, 0) + 1
                try:
                    _, proto = await asyncio.get_running_loop().create_connection(_Connection, key[0], key[1])
                except BaseException:
                    self._release_slot(key)
                    raise
                return proto
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(key, collections.deque()).append(fut)
            try:
                await fut
            except BaseException:
                if fut.done() and not fut.cancelled():
                    self._wake(key)  # we were woken but leave: pass the turn on
                raise

    def _wake(self, key: tuple[str, int]) -> None:
        waiters = self._waiters.get(key)
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _release_slot(self, key: tuple[str, int]) -> None:
        self._open[key] -= 1
        self._wake(key)

    def _release(self, key: tuple[str, int], conn: _Connection) -> None:
        if conn.closed or self._closed:
            conn.close()
            self._release_slot(key)
            return
        conn.idle_since = time.monotonic()
        self._idle.setdefault(key, []).append(conn)
        self._wake(key)

    async def post(self, target: Target, body: bytes, time_limit: float) -> Response:
        """POST ``body`` to ``target`` within ``time_limit`` s; raises TimeoutError, OSError or :class:`ResponseError`."""
        key = (target.host, target.port)
        data = target.head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        async with asyncio.timeout(time_limit):
            conn = await self._acquire(key)
            try:
                resp = await conn.request(data)
            except BaseException:
                conn.close()  # the answer's state is unknown: never reuse
                self._release(key, conn)
                raise
        self._release(key, conn)
        return resp

    def close(self) -> None:
        """Close every idle connection; connections in use close when their request ends."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
