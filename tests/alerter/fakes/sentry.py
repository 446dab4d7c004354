"""A local Sentry ingest endpoint: ``POST /api/<project_id>/envelope/`` as Sentry documents it.

It checks ``X-Sentry-Auth`` (``Sentry sentry_version=7, sentry_key=<public key>, ...``) and the
project id, parses the body with ``sentry_sdk``'s own envelope parser
(``sentry_sdk.envelope.Envelope.deserialize``) and keeps the events. Wrong key → 401, unknown
project → 403 (what Sentry answers), unparsable envelope → 400; faults (429 with
``Retry-After``, 5xx) can be injected.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web
from sentry_sdk.envelope import Envelope


def parse_auth(header: str) -> dict[str, str]:
    """``Sentry a=b, c=d`` → ``{"a": "b", "c": "d"}``."""
    if not header.startswith("Sentry "):
        return {}
    out = {}
    for part in header[len("Sentry "):].split(","):
        k, _, v = part.strip().partition("=")
        out[k] = v
    return out


@dataclass
class SentryServer:
    """One Sentry project (``project_id``) with public key ``public_key``."""

    public_key: str = "b7f1c0de5e1a4f2e9a6c3d2b1a0f9e8d"
    project_id: str = "42"
    events: list[dict[str, Any]] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    faults: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def dsn(self) -> str:
        return f"http://{self.public_key}@127.0.0.1:{self.port}/{self.project_id}"

    def fail_next(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next request with ``status`` (e.g. 429 with Retry-After, 503)."""
        self.faults.append((status, headers or {}))

    async def start(self) -> Self:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/api/{project}/envelope/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _reject(self, status: int, detail: str) -> web.Response:
        self.rejected.append((status, detail))
        return web.json_response({"detail": detail}, status=status)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.faults:
            status, headers = self.faults.popleft()
            self.rejected.append((status, "injected"))
            return web.json_response({"detail": "injected"}, status=status, headers=headers)
        auth = parse_auth(request.headers.get("X-Sentry-Auth", ""))
        if auth.get("sentry_version") != "7" or auth.get("sentry_key") != self.public_key:
            return self._reject(401, "bad sentry_key or sentry_version in X-Sentry-Auth")
        if request.match_info["project"] != self.project_id:
            return self._reject(403, "event submission rejected with_reason: ProjectId")
        try:
            envelope = Envelope.deserialize(body)
        except Exception as exc:
            return self._reject(400, f"invalid envelope: {exc}")
        events = [item.payload.json for item in envelope.items if item.type == "event" and item.payload.json]
        if not events:
            return self._reject(400, "envelope has no event item")
        self.envelopes.append(envelope)
        self.events.extend(events)
        return web.json_response({"id": envelope.headers.get("event_id")})
