"""Durations, backoff, the fake clock, JSON logging and the CLI surface."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
from datetime import timedelta

import pytest
from click.testing import CliRunner

from cronwatch.cli import cli
from cronwatch.clock import FakeClock
from cronwatch.durations import format_duration, parse_duration, parse_duration_ns
from cronwatch.errors import DurationError
from cronwatch.jsonlog import setup_logging
from cronwatch.metrics import parse_listen
from cronwatch.retry import Backoff, retry_async


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h30m", timedelta(hours=1, minutes=30)),
    ("250ms", timedelta(milliseconds=250)), ("1.5s", timedelta(seconds=1.5)), ("2d", timedelta(days=2)),
    (45, timedelta(seconds=45)), ("10", timedelta(seconds=10)), ("0", timedelta(0)),
])
def test_parse_duration(text: object, expected: timedelta) -> None:
    """Go-style duration strings and plain seconds parse."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["5 minutes", "m", "", "1x", "1h 30m", True])
def test_parse_duration_rejects(bad: object) -> None:
    """Anything else is a DurationError quoting the input."""
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(bad)


def test_go_duration_units() -> None:
    """Microsecond spellings used by Go's time.Duration print in nanoseconds."""
    assert parse_duration_ns("85.211µs") == 85_211
    assert parse_duration_ns("1.482913ms") == 1_482_913
    assert parse_duration_ns("-2s") == -2_000_000_000


def test_format_duration_round_trips() -> None:
    """format_duration writes what parse_duration reads back."""
    for td in (timedelta(hours=1, minutes=30), timedelta(seconds=45), timedelta(milliseconds=250)):
        assert parse_duration(format_duration(td)) == td


def test_backoff_full_jitter_bounds() -> None:
    """Delays stay within [0, min(max, initial*2^(n-1))] and grow with the attempt."""
    b = Backoff(initial=1, maximum=30, rng=random.Random(7))
    assert [b.ceiling(n) for n in (1, 2, 3, 6, 20)] == [1, 2, 4, 30, 30]
    for n in range(1, 12):
        assert 0 <= b.delay(n) <= b.ceiling(n)
    assert Backoff(initial=2, maximum=5, jitter=False).delay(3) == 5


async def test_retry_async_with_fake_clock() -> None:
    """retry_async sleeps on the injected clock between attempts and stops at the limit."""
    clock = FakeClock()
    calls: list[float] = []

    async def flaky() -> str:
        calls.append(clock.monotonic())
        if len(calls) < 3:
            raise ConnectionError("down")
        return "ok"

    task = asyncio.create_task(retry_async(flaky, attempts=5, backoff=Backoff(1, 10, jitter=False), clock=clock))
    for _ in range(10):
        await asyncio.sleep(0)
        clock.advance(1)
    assert await task == "ok"
    assert len(calls) == 3 and calls[1] - calls[0] >= 1 and calls[2] - calls[1] >= 2

    async def always() -> None:
        raise ValueError("permanent")

    with pytest.raises(ValueError):
        await retry_async(always, attempts=5, backoff=Backoff(), retryable=lambda e: not isinstance(e, ValueError))


def test_json_logging_ecs_fields_and_redaction() -> None:
    """Our own logs are ECS JSON lines; secret-looking fields are redacted."""
    buf = io.StringIO()
    setup_logging("debug", service="cronwatch-test", stream=buf)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("cronwatch.x").exception("it failed", extra={"task.name": "t1", "api_token": "xyz"})
    doc = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert doc["log.level"] == "error" and doc["message"] == "it failed"
    assert doc["task.name"] == "t1" and doc["api_token"] == "[REDACTED]"
    assert doc["error.type"] == "RuntimeError" and "boom" in doc["error.stack_trace"]
    assert doc["@timestamp"].endswith("Z") and doc["service.name"] == "cronwatch-test"
    setup_logging("warn")


def test_parse_listen() -> None:
    """HOST:PORT parsing for --listen."""
    assert parse_listen("127.0.0.1:9093", 1) == ("127.0.0.1", 9093)
    assert parse_listen(":8080", 1) == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:90", 1) == ("::1", 90)
    assert parse_listen("0.0.0.0", 7) == ("0.0.0.0", 7)


def test_cli_help_everywhere() -> None:
    """Every command group answers --help, and version prints the version."""
    runner = CliRunner()
    for args in ([], ["shipper"], ["alerter"], ["scheduler"], ["demo"], ["logs"]):
        result = runner.invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
    result = runner.invoke(cli, ["version"])
    assert result.exit_code == 0 and result.output.startswith("cronwatch ")
