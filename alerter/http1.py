"""A lean HTTP/1.1 client for plain ``http://`` webhook POSTs: keep-alive pool, no pipelining.

A storm of groups means one POST per group. A general-purpose client spends most of the alerter's
CPU per notification on machinery a webhook POST does not use (URL objects, cookie jars, tracing,
per-request timers, response objects); this one writes a prebuilt request head and parses just
enough of the answer: status, headers, and a body framed by ``Content-Length``, chunked encoding or
the end of the connection. It sends one request at a time per connection (RFC 7230 §6.3.2: no
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
    """One keep-alive connection; at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._waiter: asyncio.Future[Response] | None = None
        self._buf = bytearray()
        self._reset()

    def _reset(self) -> None:
        self._buf.clear()
        self._resp: Response | None = None
        self._keep_alive = True
        self._length: int | None = None  # Content-Length of the body being read
        self._chunked = False
        self._until_close = False
        self._pos = 0  # parse position in _buf after the head (chunked bodies)
        self._chunks = bytearray()

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection is out of step
            return
        self._buf += data
        try:
            done = self._parse()
        except ResponseError as exc:
            self._fail(exc)
            return
        if done:
            resp, self._resp = self._resp, None
            assert resp is not None
            if not self._keep_alive:
                self.close()
            waiter, self._waiter = self._waiter, None
            waiter.set_result(resp)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._resp is not None and self._until_close:
                self._resp.body = bytes(self._buf)
                self._waiter.set_result(self._resp)
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

    # --- parsing -----------------------------------------------------------------------------

    def _parse(self) -> bool:
        """Parse what arrived; True when the whole answer is in."""
        buf = self._buf
        while self._resp is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ResponseError("response head too large")
                return False
            resp = self._head(bytes(buf[:end]))
            del buf[:end + 4]
            if 100 <= resp.status < 200:
                continue  # an interim answer (100 Continue): the real one follows
            self._resp = resp
        resp = self._resp
        if self._until_close:
            if len(buf) > MAX_BODY:
                raise ResponseError("response body too large")
            return False
        if self._chunked:
            return self._parse_chunks()
        assert self._length is not None
        if len(buf) < self._length:
            return False
        if len(buf) > self._length:
            raise ResponseError("more bytes than Content-Length")
        resp.body = bytes(buf)
        return True

    def _head(self, head: bytes) -> Response:
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit():
            raise ResponseError("not an HTTP/1.x answer")
        status = int(status_line[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ResponseError("malformed header line")
            headers[name.strip().lower()] = value.strip()
        resp = Response(status, headers)
        if 100 <= status < 200:
            return resp
        conn = headers.get("connection", "").lower()
        self._keep_alive = status_line[0] == "HTTP/1.1" and "close" not in conn
        te = headers.get("transfer-encoding", "").lower()
        if status in (204, 304):
            self._length = 0
        elif te:
            if te.rsplit(",", 1)[-1].strip() != "chunked":
                self._until_close, self._keep_alive = True, False
            else:
                self._chunked = True
        elif "content-length" in headers:
            cl = headers["content-length"]
            if not cl.isdigit():
                raise ResponseError("invalid Content-Length")
            self._length = int(cl)
            if self._length > MAX_BODY:
                raise ResponseError("response body too large")
        else:
            self._until_close, self._keep_alive = True, False
        return resp

    def _parse_chunks(self) -> bool:
        buf = self._buf
        while True:
            eol = buf.find(b"\r\n", self._pos)
            if eol < 0:
                if len(buf) - self._pos > 1024:
                    raise ResponseError("malformed chunk size line")
                return False
            size_text = bytes(buf[self._pos:eol]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ResponseError("malformed chunk size") from None
            if size == 0:
                # trailers (usually none) end with an empty line
                rest = buf.find(b"\r\n\r\n", eol) if buf[eol + 2:eol + 4] != b"\r\n" else eol
                if rest < 0:
                    return False
                if len(buf) > rest + 4:
                    raise ResponseError("bytes after the last chunk")
                assert self._resp is not None
                self._resp.body = bytes(self._chunks)
                return True
            if len(self._chunks) + size > MAX_BODY:
                raise ResponseError("response body too large")
            if len(buf) < eol + 2 + size + 2:
                return False
            self._chunks += buf[eol + 2:eol + 2 + size]
            self._pos = eol + 2 + size + 2


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
