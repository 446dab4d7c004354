"""Local servers that behave like the WeCom and DingTalk group robots, as their docs describe.

Both answer HTTP 200 with ``{"errcode": .., "errmsg": ..}``, count messages in a sliding minute
(20 allowed) and record everything they receive. ``time`` is injectable so a test's fake clock
drives the robots' windows and DingTalk's timestamp check.

DingTalk (``POST /robot/send?access_token=T[&timestamp=ms&sign=S]``):
300001 unknown token; 310000 bad/missing signature, timestamp more than an hour off, or no
configured keyword in the content; 130101 more than 20 messages a minute; 460101 body over 20000 bytes.

WeCom (``POST /cgi-bin/webhook/send?key=K``): 93000 unknown key; 40058 ``markdown.content``
over 4096 bytes or ``text.content`` over 2048 bytes; 45009 more than 20 messages a minute.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time as _time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import orjson
from aiohttp import web


@dataclass
class Received:
    """One request as the robot saw it."""

    query: dict[str, str]
    body: bytes
    payload: Any
    errcode: int
    status: int = 200

    @property
    def accepted(self) -> bool:
        return self.status == 200 and self.errcode == 0


@dataclass
class RobotServer:
    """Common machinery: an aiohttp app on a free loopback port, a request log, injected faults."""

    time: Callable[[], float] = _time.time
    per_minute: int = 20
    received: list[Received] = field(default_factory=list)
    faults: deque[tuple[int, dict[str, str], bytes]] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    port: int = 0
    _window: dict[str, deque[float]] = field(default_factory=dict)

    path = "/"

    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def errcode_next(self, code: int, msg: str) -> None:
        """Answer the next request with HTTP 200 and this errcode (e.g. another sender hit the limit)."""
        self.faults.append((200, {"Content-Type": "application/json"},
                            orjson.dumps({"errcode": code, "errmsg": msg})))

    def fail_next(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Answer the next request with HTTP ``status`` (e.g. 500, 429) instead of handling it."""
        self.faults.append((status, headers or {}, body))

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> Self:
        """Listen on a free loopback port (HTTPS with ``ssl_context``)."""
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.scheme = "https" if ssl_context is not None else "http"
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def over_limit(self, robot: str) -> bool:
        """Sliding-minute frequency check; counts this message when allowed."""
        now = self.time()
        win = self._window.setdefault(robot, deque())
        while win and win[0] <= now - 60:
            win.popleft()
        if len(win) >= self.per_minute:
            return True
        win.append(now)
        return False

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        query = dict(request.query)
        if self.faults:
            status, headers, fbody = self.faults.popleft()
            self.received.append(Received(query, body, None, -1, status))
            return web.Response(status=status, body=fbody, headers=headers)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        code, msg = self.check(query, body, payload)
        self.received.append(Received(query, body, payload, code))
        return web.json_response({"errcode": code, "errmsg": msg})

    def check(self, query: dict[str, str], body: bytes, payload: Any) -> tuple[int, str]:
        raise NotImplementedError

    def accepted(self) -> list[Any]:
        """Payloads the robot accepted (errcode 0)."""
        return [r.payload for r in self.received if r.accepted]


@dataclass
class DingtalkRobot(RobotServer):
    """A DingTalk custom robot with token ``token``, optional ``secret`` and ``keywords``."""

    token: str = "dt-token-0123456789abcdef"
    secret: str | None = None
    keywords: list[str] = field(default_factory=list)
    path = "/robot/send"

    def check(self, query: dict[str, str], body: bytes, payload: Any) -> tuple[int, str]:
        if query.get("access_token") != self.token:
            return 300001, "token is not exist"
        if self.secret is not None:
            ts, sign = query.get("timestamp", ""), query.get("sign", "")
            if not ts.isdigit() or abs(int(ts) - self.time() * 1000) > 3600 * 1000:
                return 310000, "invalid timestamp"
            digest = hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(base64.b64encode(digest).decode(), sign):  # aiohttp already url-decoded
                return 310000, "sign not match"
        if len(body) > 20000:
            return 460101, "message too long, exceed 20000 bytes"
        if not isinstance(payload, dict) or payload.get("msgtype") not in ("text", "markdown", "actionCard", "link"):
            return 40035, "缺少参数 json"
        kind = payload["msgtype"]
        content = payload.get(kind) or {}
        text = str(content.get("content", "")) + str(content.get("title", "")) + str(content.get("text", ""))
        if kind in ("markdown", "actionCard") and not (content.get("title") and content.get("text")):
            return 40035, "缺少参数 title/text"
        if self.keywords and not any(k in text for k in self.keywords):
            return 310000, "keywords not in content"
        if self.over_limit(self.token):
            return 130101, "send too fast, exceed 20 times per minute"
        return 0, "ok"


@dataclass
class WecomRobot(RobotServer):
    """A WeCom group robot with webhook key ``key``."""

    key: str = "693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa"
    path = "/cgi-bin/webhook/send"

    def check(self, query: dict[str, str], body: bytes, payload: Any) -> tuple[int, str]:
        if query.get("key") != self.key:
            return 93000, "invalid webhook url"
        if not isinstance(payload, dict) or payload.get("msgtype") not in ("text", "markdown"):
            return 40008, "invalid message type"
        kind = payload["msgtype"]
        content = (payload.get(kind) or {}).get("content")
        if not isinstance(content, str) or not content:
            return 44004, "empty content"
        limit = 4096 if kind == "markdown" else 2048
        if len(content.encode("utf-8")) > limit:
            return 40058, f"{kind}.content exceed max length {limit}"
        if self.over_limit(self.key):
            return 45009, "api freq out of limit"
        return 0, "ok"
