"""Delivery through the webhook receiver to a real HTTP server: retries, Retry-After, permanent failures, status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from engine_helpers import engine, firing, post

from cronwatch.clock import SystemClock
from cronwatch.testing.services import free_port


class Hook:
    """A real webhook endpoint that answers with scripted statuses and records bodies."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.bodies: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook/SECRET-TOKEN?key=SECRET-KEY"

    async def handle(self, request: web.Request) -> web.Response:
        import time

        self.bodies.append(await request.json())
        self.times.append(time.monotonic())
        status, headers = self.script.pop(0) if self.script else (200, {})
        return web.Response(status=status, headers=headers, text="ok")


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    """A webhook server on a free loopback port."""
    h = Hook()
    app = web.Application()
    app.router.add_post("/hook/{token}", h.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", h.port).start()
    yield h
    await runner.cleanup()


def _cfg(url: str) -> str:
    return f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 5s}}
receivers:
  - name: hook
    webhook_configs: [{{url: "{url}", max_alerts: 1}}]
delivery: {{backoff_initial: 50ms, backoff_max: 200ms}}
"""


async def test_retry_then_success(tmp_path: Path, hook: Hook) -> None:
    """5xx answers are retried with backoff until the receiver accepts; the v4 payload arrives intact."""
    hook.script = [(500, {}), (503, {})]
    e, _ = engine(_cfg(hook.url), tmp_path)
    e.clock = SystemClock()
    e.deliverer.clock = e.clock
    post(e, firing({"alertname": "A", "task": "t1"}, e.clock), firing({"alertname": "A", "task": "t2"}, e.clock))
    await e.run_due()
    assert len(hook.bodies) == 3
    body = hook.bodies[-1]
    assert body["version"] == "4" and body["status"] == "firing" and body["truncatedAlerts"] == 1
    assert body["groupLabels"] == {"alertname": "A"} and body["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    st = e.slots["hook"][0].status
    assert st.last_outcome == "sent" and st.failures == 2 and st.last_success is not None
    metrics = e.metrics.registry.get_sample_value
    assert metrics("cronwatch_alerter_notifications_total",
                   {"receiver": "hook", "integration": "webhook", "outcome": "retry"}) == 2
    await e.stop()


async def test_retry_after_is_honoured(tmp_path: Path, hook: Hook) -> None:
    """A 429 with Retry-After: 1 delays the next attempt by at least a second."""
    hook.script = [(429, {"Retry-After": "1"})]
    e, _ = engine(_cfg(hook.url), tmp_path)
    e.clock = e.deliverer.clock = SystemClock()
    post(e, firing({"alertname": "A"}, e.clock))
    await e.run_due()
    assert len(hook.times) == 2 and hook.times[1] - hook.times[0] >= 0.95
    await e.stop()


async def test_permanent_failure_not_retried_and_no_secret(tmp_path: Path, hook: Hook) -> None:
    """A 400 is permanent: one attempt, recorded in the status without the URL's secrets."""
    hook.script = [(400, {})]
    e, _ = engine(_cfg(hook.url), tmp_path)
    e.clock = e.deliverer.clock = SystemClock()
    post(e, firing({"alertname": "A"}, e.clock))
    await e.run_due()
    assert len(hook.bodies) == 1
    st = e.slots["hook"][0].status.to_json()
    assert st["last_outcome"] == "permanent" and st["last_success"] is None
    assert "SECRET" not in repr(st) and "SECRET" not in repr(e.slots["hook"][0].integration)
    assert e.groups  # not delivered: the group stays and will be tried at its next flush
    await e.stop()


async def test_unreachable_gives_up_at_next_flush(tmp_path: Path) -> None:
    """A receiver that never answers is retried only until the group's next flush is due."""
    import time

    e, _ = engine(_cfg(f"http://127.0.0.1:{free_port()}/hook/x").replace("group_interval: 5s",
                                                                        "group_interval: 1s"), tmp_path)
    e.clock = e.deliverer.clock = SystemClock()
    post(e, firing({"alertname": "A"}, e.clock))
    t0 = time.monotonic()
    await e.run_due()
    assert time.monotonic() - t0 < 1.5
    st = e.slots["hook"][0].status
    assert st.last_outcome == "retry" and st.attempts >= 2 and "127.0.0.1" in st.last_detail
    await e.stop()
