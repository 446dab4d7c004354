"""The lean HTTP/1.1 client of the webhook receiver: framing, keep-alive, limits, timeouts, fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from engine_helpers import T0

from alerter.http1 import Http1Pool, ResponseError, http_target
from alerter.model import Notification, Outcome
from alerter.receivers.webhook import WebhookConfig
from alerter.sessions import SessionPool
from cronwatch.testing.services import free_port


class Scripted:
    """A raw TCP server answering each request with the next scripted bytes (or a callable's)."""

    def __init__(self) -> None:
        self.answers: list[bytes | Callable[[asyncio.StreamWriter], Any]] = []
        self.requests: list[bytes] = []
        self.connections = 0
        self.port = free_port()
        self.server: asyncio.Server | None = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0)
                if callable(answer):
                    await answer(writer)
                else:
                    writer.write(answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    s = Scripted()
    s.server = await asyncio.start_server(s._client, "127.0.0.1", s.port)
    yield s
    s.server.close()


def _target(url: str, headers: dict[str, str] | None = None) -> Any:
    t = http_target(url, headers or {"Content-Type": "application/json"})
    assert t is not None
    return t


def test_targets() -> None:
    """Only plain http:// without credentials; query kept; IPv6 bracketed; injected headers refused."""
    t = _target("http://example.org:8080/a/b?token=x&y=1")
    assert (t.host, t.port) == ("example.org", 8080)
    assert t.head.startswith(b"POST /a/b?token=x&y=1 HTTP/1.1\r\nHost: example.org:8080\r\n")
    t = _target("http://[::1]/")
    assert (t.host, t.port) == ("::1", 80) and b"\r\nHost: [::1]\r\n" in t.head
    assert _target("http://h").head.startswith(b"POST / HTTP/1.1\r\n")
    assert http_target("https://example.org/", {}) is None
    assert http_target("http://user:pw@example.org/", {}) is None
    assert http_target("http://example.org/", {"X-A": "v\r\nX-Evil: 1"}) is None
    assert http_target("http://example.org:99999/", {}) is None
    assert http_target("http://example.org/a b", {}) is None and http_target("http://example.org/é", {}) is None


async def test_keep_alive_framing_and_interim_answers(scripted: Scripted) -> None:
    """Content-Length, chunked (with trailers) and 100-continue answers all leave the connection reusable."""
    scripted.answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nX-Y: z\r\n\r\n",
        b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\ncontent-length: 0\r\n\r\n",
    ]
    pool = Http1Pool()
    t = _target(scripted.url())
    r1 = await pool.post(t, b'{"a":1}', 5)
    r2 = await pool.post(t, b"{}", 5)
    r3 = await pool.post(t, b"{}", 5)
    r4 = await pool.post(t, b"{}", 5)
    assert (r1.status, r1.body) == (200, b"ok")
    assert (r2.status, r2.body) == (201, b"abcde")
    assert (r3.status, r3.headers["x-y"]) == (204, "z")
    assert (r4.status, r4.headers["retry-after"]) == (429, "3")
    assert scripted.connections == 1
    assert scripted.requests[0].endswith(b'Content-Length: 7\r\n\r\n{"a":1}')
    assert b"\r\nContent-Type: application/json\r\n" in scripted.requests[0]
    pool.close()


async def test_close_delimited_and_connection_close(scripted: Scripted) -> None:
    """An answer without length ends with the connection; ``Connection: close`` is honoured."""

    async def until_close(w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        await w.drain()
        w.close()

    scripted.answers = [until_close, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    pool = Http1Pool()
    t = _target(scripted.url())
    assert (await pool.post(t, b"{}", 5)).body == b"all of it"
    await pool.post(t, b"{}", 5)
    await pool.post(t, b"{}", 5)
    await pool.post(t, b"{}", 5)
    assert scripted.connections == 4
    pool.close()


async def test_bad_answers_are_errors_and_not_reused(scripted: Scripted) -> None:
    """Garbage, early EOF and extra bytes raise ResponseError; the next request uses a new connection."""

    async def half(w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await w.drain()
        w.close()

    scripted.answers = [b"SMTP ready\r\n\r\n", half, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy",
                        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    pool = Http1Pool()
    t = _target(scripted.url())
    for _ in range(3):
        with pytest.raises(ResponseError):
            await pool.post(t, b"{}", 5)
    assert (await pool.post(t, b"{}", 5)).status == 200
    assert scripted.connections == 4
    pool.close()


async def test_oversized_answers_are_refused(scripted: Scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    """A head or a body above the limits is a ResponseError naming the limit, and the connection is dropped."""
    import alerter.http1 as http1

    monkeypatch.setattr(http1, "MAX_BODY", 8)
    monkeypatch.setattr(http1, "MAX_HEAD", 64)
    scripted.answers = [b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789",
                        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100 + b"\r\nContent-Length: 0\r\n\r\n",
                        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n12345678"]
    pool = Http1Pool()
    t = _target(scripted.url())
    with pytest.raises(ResponseError, match="body too large"):
        await pool.post(t, b"{}", 5)
    with pytest.raises(ResponseError, match="head too large"):
        await pool.post(t, b"{}", 5)
    assert (await pool.post(t, b"{}", 5)).body == b"12345678"
    assert scripted.connections == 3
    pool.close()


async def test_timeout_and_idle_close(scripted: Scripted) -> None:
    """A slow answer times out (the connection is dropped); a connection the server closed is not reused."""

    async def slow(w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1)

    async def then_close(w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await w.drain()
        await asyncio.sleep(0.05)
        w.close()

    scripted.answers = [slow, then_close, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]
    pool = Http1Pool()
    t = _target(scripted.url())
    with pytest.raises(TimeoutError):
        await pool.post(t, b"{}", 0.2)
    await pool.post(t, b"{}", 5)
    await asyncio.sleep(0.3)  # the server closes that connection while it is idle
    assert (await pool.post(t, b"{}", 5)).status == 200
    assert scripted.connections == 3
    pool.close()


async def test_connection_limit_queues_requests() -> None:
    """With ``limit`` 2, twenty concurrent POSTs use at most two connections, one request at a time each."""
    seen: set[Any] = set()
    in_flight = 0
    most = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        seen.add(request.transport)
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return web.Response(text=(await request.read()).decode())

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pool = Http1Pool(limit=2)
    t = _target(f"http://127.0.0.1:{port}/")
    answers = await asyncio.gather(*(pool.post(t, str(i).encode(), 5) for i in range(20)))
    assert [a.body for a in answers] == [str(i).encode() for i in range(20)]
    assert len(seen) <= 2 and most <= 2
    pool.close()
    await runner.cleanup()


def _notification() -> Notification:
    return Notification(receiver="r", group_key="{}:{}", group_labels={}, alerts=[], status="firing", now=T0)


async def test_webhook_redirect_is_followed_through_aiohttp(tmp_path: Path) -> None:
    """A 307 on the lean path is re-sent through aiohttp, which follows it; without redirects it is permanent."""
    got: list[str] = []

    async def old(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/new")

    async def new(request: web.Request) -> web.Response:
        got.append((await request.json())["version"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/old", old)
    app.router.add_post("/new", new)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    sessions = SessionPool()
    ctx: Any = type("Ctx", (), {"extra": {"sessions": sessions, "config_dir": str(tmp_path)}})()
    follow = WebhookConfig.model_validate({"url": f"http://127.0.0.1:{port}/old"}).build(ctx)
    assert (await follow.notify(_notification())).outcome is Outcome.SENT and got == ["4"]
    stay = WebhookConfig.model_validate({"url": f"http://127.0.0.1:{port}/old",
                                         "http_config": {"follow_redirects": False}}).build(ctx)
    assert (await stay.notify(_notification())).outcome is Outcome.PERMANENT
    await sessions.close()
    await runner.cleanup()
