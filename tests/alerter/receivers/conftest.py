"""Fixtures for the receiver tests: a fake clock, a build context, notifications, the fake vendors."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerter.model import Alert, BuildContext, Notification
from cronwatch.clock import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/alerter: the ``fakes`` package

from fakes.robots import DingtalkRobot, WecomRobot
from fakes.sentry import SentryServer
from fakes.smtp import ScriptedSmtp, start_scripted_smtp

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 2026-11-23T02:00Z shared by integrations and fake robots."""
    return FakeClock(NOW)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The shared HTTP client (TLS verified, as the engine builds it)."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def ctx(http: httpx.AsyncClient, clock: FakeClock, tmp_path: Path) -> BuildContext:
    """A build context like the engine's."""
    return BuildContext(http=http, clock=clock, state_dir=tmp_path / "state", extra={"config_dir": str(tmp_path)})


def make_alert(name: str = "TaskFailed", task: str = "db_backup", severity: str = "critical", *,
               start: datetime | None = None, resolved: bool = False, summary: str | None = None,
               **labels: str) -> Alert:
    """An alert that started an hour before NOW (resolved a minute ago when ``resolved``)."""
    start = start or NOW - timedelta(hours=1)
    return Alert(
        labels={"alertname": name, "task": task, "severity": severity, **labels},
        annotations={"summary": summary or f"{task} failed", "runbook_url": "https://runbooks.example/task-failed"},
        starts_at=start,
        ends_at=NOW - timedelta(minutes=1) if resolved else NOW + timedelta(minutes=4),
    )


def make_notification(alerts: list[Alert] | None = None, receiver: str = "ops", group: str = "g1",
                      now: datetime = NOW) -> Notification:
    """A notification of one alert group."""
    alerts = alerts if alerts is not None else [make_alert()]
    status = "firing" if any(not a.resolved_at(now) for a in alerts) else "resolved"
    common = {k: v for k, v in alerts[0].labels.items() if all(a.labels.get(k) == v for a in alerts)}
    return Notification(receiver=receiver, group_key=f'{{}}:{{group="{group}"}}', group_labels={"group": group},
                        alerts=alerts, status=status, now=now, common_labels=common)


@pytest.fixture
def notification() -> Callable[..., Notification]:
    """Factory for notifications."""
    return make_notification


@pytest.fixture
async def dingtalk(clock: FakeClock) -> AsyncIterator[DingtalkRobot]:
    """A DingTalk robot with the "sign" security setting, on the fake clock."""
    robot = DingtalkRobot(time=clock.time, secret="SECb0c4a1f2e3d4c5b6a7980123456789abcdef0123456789abcdef012345678")
    await robot.start()
    yield robot
    await robot.stop()


@pytest.fixture
async def wecom(clock: FakeClock) -> AsyncIterator[WecomRobot]:
    """A WeCom group robot on the fake clock."""
    robot = WecomRobot(time=clock.time)
    await robot.start()
    yield robot
    await robot.stop()


@pytest.fixture
async def sentry() -> AsyncIterator[SentryServer]:
    """A Sentry envelope endpoint."""
    server = SentryServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def smtp_tls() -> Iterator[ScriptedSmtp]:
    """A real aiosmtpd server requiring STARTTLS and AUTH (user cronwatch / s3cret-pass)."""
    server = start_scripted_smtp(starttls=True, users={"cronwatch": "s3cret-pass"})
    yield server
    server.stop()


def write_ca(tmp_path: Path, pem: bytes | None) -> str:
    """Write a CA certificate to a file and return its path."""
    assert pem is not None
    path = tmp_path / "ca.pem"
    path.write_bytes(pem)
    return str(path)


def any_text(obj: Any) -> str:
    """Everything in ``obj`` as one string (to look for leaked secrets)."""
    return repr(obj)
