"""Fixtures for the receiver tests: a fake clock, a build context, notifications, the fake vendors."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from alerter.model import BuildContext, Notification
from cronwatch.clock import FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/alerter: the ``fakes`` package

from fakes.robots import DingtalkRobot, WecomRobot
from fakes.sentry import SentryServer
from fakes.smtp import ScriptedSmtp, start_scripted_smtp
from rcvhelpers import NOW, make_notification


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


