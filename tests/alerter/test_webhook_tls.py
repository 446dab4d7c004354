"""The webhook receiver verifies TLS: an unknown CA is refused, the configured ca_file is trusted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from alerter.model import Alert, BuildContext, Notification, Outcome
from alerter.receivers.webhook import WebhookConfig
from alerter.sessions import SessionPool
from cronwatch.testing.services import free_port, make_tls_pair


@pytest.fixture
async def https_hook(tmp_path: Path) -> AsyncIterator[tuple[str, Path, list[bytes]]]:
    """An HTTPS webhook endpoint with a certificate from a fresh test CA (written to ca.pem)."""
    ctx, ca_pem = make_tls_pair("127.0.0.1")
    (tmp_path / "ca.pem").write_bytes(ca_pem)
    got: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        got.append(await request.read())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ctx).start()
    yield f"https://127.0.0.1:{port}/hook", tmp_path / "ca.pem", got
    await runner.cleanup()


def _n() -> Notification:
    now = datetime.now(UTC)
    return Notification("r", "k", {}, [Alert({"alertname": "A"}, starts_at=now)], "firing", now)


async def test_tls_verified_unless_ca_given(tmp_path: Path, https_hook: tuple[str, Path, list[bytes]]) -> None:
    """Without the CA the delivery fails permanently (no silent downgrade); with ca_file it is sent."""
    url, ca, got = https_hook
    sessions = SessionPool()
    ctx = BuildContext(http=None, clock=None, state_dir=tmp_path, extra={"config_dir": tmp_path, "sessions": sessions})
    try:
        plain = WebhookConfig.model_validate({"url": url}).build(ctx)
        result = await plain.notify(_n())
        assert result.outcome is Outcome.PERMANENT and "TLS" in result.detail and got == []
        trusted = WebhookConfig.model_validate({"url": url, "http_config": {"tls_config": {"ca_file": ca.name}}})
        result = await trusted.build(ctx).notify(_n())
        assert result.outcome is Outcome.SENT and len(got) == 1
    finally:
        await sessions.close()
