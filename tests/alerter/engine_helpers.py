"""Helpers for the alerter tests: configs from YAML text, engines on a fake clock, outbox readers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from alerter.config import AlerterConfig, parse_alerter_config
from alerter.engine import Engine
from alerter.ingest import alerts_from_api
from alerter.model import Alert
from cronwatch.clock import FakeClock
from cronwatch.config import parse_yaml_text

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def config(text: str, base: Path, name: str = "alerter.yml") -> AlerterConfig:
    """Parse alerter.yml text as if it were ``base/name``."""
    path = base / name
    path.write_text(text)
    return parse_alerter_config(parse_yaml_text(text, str(path)), base, text)


def engine(text: str, base: Path, clock: FakeClock | None = None) -> tuple[Engine, FakeClock]:
    """An engine for ``text`` on a fake clock starting at ``T0``, its state under ``base``."""
    clk = clock or FakeClock(T0)
    return Engine(config(text, base), clock=clk, state_dir=base / "state"), clk


def post(e: Engine, *alerts: dict[str, Any]) -> list[Alert]:
    """Ingest alerts given in the ``POST /api/v2/alerts`` shape."""
    parsed = alerts_from_api(list(alerts), e.clock.now(), e.resolve_timeout)
    e.ingest(parsed)
    return parsed


def firing(labels: dict[str, str], clock: FakeClock, starts_ago: float = 0, lasts: float = 240) -> dict[str, Any]:
    """An alert as Prometheus sends it while firing (endsAt = now + ``lasts``)."""
    now = clock.now()
    return {"labels": labels, "annotations": {"summary": f"{labels.get('alertname')} fires"},
            "startsAt": (now - timedelta(seconds=starts_ago)).isoformat(),
            "endsAt": (now + timedelta(seconds=lasts)).isoformat()}


def resolved(labels: dict[str, str], clock: FakeClock, starts_ago: float = 600) -> dict[str, Any]:
    """An alert as Prometheus sends it once resolved (endsAt = now)."""
    now = clock.now()
    return {"labels": labels, "startsAt": (now - timedelta(seconds=starts_ago)).isoformat(),
            "endsAt": now.isoformat()}


def outbox(directory: Path) -> list[dict[str, Any]]:
    """The notifications the file receiver wrote, in delivery order."""
    if not directory.exists():
        return []
    return [orjson.loads(p.read_bytes()) for p in sorted(directory.glob("*.json"))]


def summary(payloads: list[dict[str, Any]]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """``(receiver, status, [(alertname/task, status)...])`` per notification — what tests compare."""
    out = []
    for p in payloads:
        alerts = sorted((a["labels"].get("task") or a["labels"].get("alertname", ""), a["status"])
                        for a in p["alerts"])
        out.append((p["receiver"], p["status"], alerts))
    return out


class RunningAlerter:
    """An engine with its HTTP API served on a free loopback port, inside the test's event loop."""

    def __init__(self, e: Engine, runner: Any, port: int) -> None:
        self.engine = e
        self.runner = runner
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.engine.stop()


async def serve(text: str, base: Path, *, start_loop: bool = True) -> RunningAlerter:
    """Start the real API (and, by default, the dispatch loop) for ``text`` on the system clock."""
    from aiohttp import web

    from alerter.api import make_app
    from cronwatch.clock import SystemClock
    from cronwatch.testing.services import free_port

    cfg = config(text, base)
    e = Engine(cfg, clock=SystemClock(), state_dir=base / "state")
    runner = web.AppRunner(make_app(e, lambda: config((base / "alerter.yml").read_text(), base)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    if start_loop:
        await e.start()
    else:
        e.ready = True
    return RunningAlerter(e, runner, port)
