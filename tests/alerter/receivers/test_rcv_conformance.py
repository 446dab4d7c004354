"""One conformance suite every receiver passes: payload, retry vs permanent, rate limits, truncation, secrets.

Each receiver is driven against its local vendor (fake robots, Sentry endpoint, real aiosmtpd)
through a :class:`Harness` that knows how to make it fail in the ways the vendor fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fakes.blackhole import Blackhole
from rcvhelpers import make_alert, make_notification, write_ca

from alerter.model import BuildContext, Outcome, Result
from alerter.receivers.dingtalk import DingtalkConfig
from alerter.receivers.email import EmailConfig
from alerter.receivers.sentry import SentryConfig
from alerter.receivers.wecom import WecomConfig

KINDS = ["email", "wecom", "dingtalk", "sentry"]


@dataclass
class Harness:
    """How to configure, break and observe one receiver."""

    kind: str
    config: Callable[..., Any]  # (**overrides) -> config model
    secrets: list[str]
    delivered: Callable[[], list[str]]  # the texts the vendor accepted
    transient: Callable[[], None]  # the next delivery fails transiently (5xx / 4xx SMTP)
    rate_limited: Callable[[], None]  # the next delivery hits the vendor's rate limit
    bad_credentials: dict[str, Any]  # overrides that make the vendor refuse us
    endpoint: Callable[[int], dict[str, Any]]  # overrides that point at another port
    size: Callable[[], int]  # size of the last accepted message, as the vendor limits it
    limit: int
    rate_limit_has_wait: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(params=KINDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    """A harness per receiver kind, its vendor running."""
    kind = request.param
    if kind == "wecom":
        robot = request.getfixturevalue("wecom")
        url = f"{robot.url}/cgi-bin/webhook/send?key={robot.key}"
        return Harness(
            kind, lambda **kw: WecomConfig.model_validate({"webhook_url": url, **kw}), [robot.key],
            lambda: [p["markdown"]["content"] for p in robot.accepted()],
            lambda: robot.fail_next(503), lambda: robot.errcode_next(45009, "api freq out of limit"),
            {"webhook_url": url.replace(robot.key, "0bad-key-0000-1111")},
            lambda port: {"webhook_url": f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={robot.key}"},
            lambda: len(robot.accepted()[-1]["markdown"]["content"].encode()), 4096)
    if kind == "dingtalk":
        robot = request.getfixturevalue("dingtalk")
        base = {"webhook_url": f"{robot.url}/robot/send?access_token={robot.token}", "secret": robot.secret}
        return Harness(
            kind, lambda **kw: DingtalkConfig.model_validate({**base, **kw}), [robot.token, robot.secret],
            lambda: [p["markdown"]["text"] for p in robot.accepted()],
            lambda: robot.fail_next(502), lambda: robot.errcode_next(130101, "send too fast, exceed 20 times per minute"),
            {"secret": "SECnot-the-right-secret-000"},
            lambda port: {"webhook_url": f"http://127.0.0.1:{port}/robot/send?access_token={robot.token}"},
            lambda: len(robot.received[-1].body), 20000)
    if kind == "sentry":
        server = request.getfixturevalue("sentry")
        return Harness(
            kind, lambda **kw: SentryConfig.model_validate({"dsn": server.dsn, **kw}), [server.public_key],
            lambda: [e["message"]["formatted"] for e in server.events],
            lambda: server.fail_next(503), lambda: server.fail_next(429, {"Retry-After": "30"}),
            {"dsn": server.dsn.replace(server.public_key, "ffffffffffffffffffffffffffffffff")},
            lambda port: {"dsn": server.dsn.replace(str(server.port), str(port))},
            lambda: len(server.events[-1]["message"]["formatted"].encode()), 8192)
    smtp = request.getfixturevalue("smtp_tls")
    base = {"to": "oncall@example.com", "from": "cronwatch@example.com", "smarthost": f"127.0.0.1:{smtp.port}",
            "auth_username": "cronwatch", "auth_password": "s3cret-pass", "send_resolved": True,
            "tls_config": {"ca_file": write_ca(tmp_path, smtp.ca_pem)}, "max_bytes": 6000}

    def html_parts() -> list[str]:
        return [m.get_payload()[1].get_payload(decode=True).decode() for m in smtp.parsed()]

    return Harness(
        kind, lambda **kw: EmailConfig.model_validate({**base, **kw}), ["s3cret-pass"], html_parts,
        lambda: smtp.answer_next_data("451 4.3.0 Temporary local problem"),
        lambda: smtp.answer_next_data("421 4.7.0 Too many messages, slow down"),
        {"auth_password": "wrong-password-77"},
        lambda port: {"smarthost": f"127.0.0.1:{port}"},
        lambda: len(html_parts()[-1].encode()), 6000, rate_limit_has_wait=False)


def all_results_text(results: list[Result]) -> str:
    """Every detail as one string."""
    return " ".join(repr(r) for r in results)


async def test_payload_shows_what_matters(harness: Harness, ctx: BuildContext) -> None:
    """The delivered message names severity, alert, task, summary, start time, duration and runbook."""
    result = await harness.config().build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT, result.detail
    [text] = harness.delivered()
    for needle in ("critical", "TaskFailed", "db_backup", "db_backup failed", "2026-11-23 01:00:00", "1h",
                   "runbooks.example"):
        assert needle in text, f"{harness.kind}: {needle!r} missing"


async def test_preview_matches_delivery(harness: Harness, ctx: BuildContext) -> None:
    """``preview`` (what `alerter render` prints) contains exactly the text that is delivered."""
    integration = harness.config().build(ctx)
    n = make_notification()
    [preview] = integration.preview(n)
    await integration.notify(n)
    [text] = harness.delivered()
    body = preview.body
    if preview.content_type == "application/json":
        body = orjson.dumps(orjson.loads(body)).decode()
        text = orjson.dumps(text).decode()[1:-1]
    elif preview.content_type == "message/rfc822":
        import email

        msg: Any = email.message_from_string(body)
        body = msg.get_payload()[1].get_payload(decode=True).decode().replace("\r\n", "\n")
        text = text.replace("\r\n", "\n")
    else:
        text = orjson.dumps(text).decode()[1:-1]
    assert text in body


async def test_transient_failure_is_retry(harness: Harness, ctx: BuildContext) -> None:
    """5xx (HTTP) or a 4xx SMTP reply is RETRY, and the next attempt is delivered."""
    integration = harness.config().build(ctx)
    harness.transient()
    assert (await integration.notify(make_notification())).outcome is Outcome.RETRY
    assert (await integration.notify(make_notification())).outcome is Outcome.SENT


async def test_bad_credentials_are_permanent(harness: Harness, ctx: BuildContext) -> None:
    """A bad key, signature or password is PERMANENT — never retried forever."""
    result = await harness.config(**harness.bad_credentials).build(ctx).notify(make_notification())
    assert result.outcome is Outcome.PERMANENT, result.detail
    assert harness.delivered() == []


async def test_rate_limit_is_retry_with_wait(harness: Harness, ctx: BuildContext) -> None:
    """The vendor's rate limit (45009, 130101, 429, SMTP 421) is RETRY, with a wait when the vendor gives one."""
    harness.rate_limited()
    result = await harness.config().build(ctx).notify(make_notification())
    assert result.outcome is Outcome.RETRY, result.detail
    if harness.rate_limit_has_wait:
        assert result.retry_after and result.retry_after > 0


async def test_refused_and_silent_endpoints_are_retry(harness: Harness, ctx: BuildContext) -> None:
    """A closed port and a server that never answers (timeout) are RETRY."""
    from cronwatch.testing.services import free_port

    closed = await harness.config(**harness.endpoint(free_port())).build(ctx).notify(make_notification())
    assert closed.outcome is Outcome.RETRY, closed.detail
    hole = await Blackhole().start()
    try:
        silent = harness.config(**harness.endpoint(hole.port), timeout=timedelta(milliseconds=300))
        result = await silent.build(ctx).notify(make_notification())
        assert result.outcome is Outcome.RETRY, result.detail
    finally:
        await hole.stop()


async def test_truncation_to_the_channel_limit(harness: Harness, ctx: BuildContext) -> None:
    """500 alerts are cut to the channel's byte limit, saying how many were left out."""
    alerts = [make_alert(task=f"任务_{i:03d}", summary="每日备份失败 " * 6) for i in range(500)]
    result = await harness.config().build(ctx).notify(make_notification(alerts))
    assert result.outcome is Outcome.SENT, result.detail
    assert harness.size() <= harness.limit
    text = harness.delivered()[-1]
    shown = sum(1 for i in range(500) if f"任务_{i:03d}" in text)
    omitted = int(text.split("… ")[1].split(" more")[0])
    assert 0 < shown and shown + omitted == 500


async def test_send_resolved_defaults(harness: Harness, ctx: BuildContext) -> None:
    """``send_resolved`` follows Alertmanager: false for email unless set, true for the others; it is configurable."""
    integration = harness.config().build(ctx)
    assert integration.send_resolved is True  # the harness sets it for email
    assert harness.config(send_resolved=False).build(ctx).send_resolved is False
    assert EmailConfig.model_validate({"to": "a@b.c"}).send_resolved is False


async def test_dry_run_renders_to_a_file_and_sends_nothing(harness: Harness, ctx: BuildContext, tmp_path: Path) -> None:
    """``dry_run`` writes the rendered message to the file receiver's directory and delivers nothing."""
    ctx.extra["file_dir"] = str(tmp_path / "out")
    result = await harness.config(dry_run=True).build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT and "dry run" in result.detail
    [path] = list((tmp_path / "out").glob("*.json"))
    content = path.read_text()
    assert "db_backup" in content and harness.delivered() == []
    assert not any(s in content for s in harness.secrets)


async def test_no_secret_leaks(harness: Harness, ctx: BuildContext, caplog: pytest.LogCaptureFixture) -> None:
    """No key, signature, secret or password in logs, errors, Result.detail, previews or status facts."""
    caplog.set_level(logging.DEBUG)
    from cronwatch.testing.services import free_port

    results: list[Result] = []
    good = harness.config(template="{{ m.nope.boom() }}") if harness.kind != "email" else \
        harness.config(html="{{ m.nope.boom() }}")
    integration = good.build(ctx)
    results.append(await integration.notify(make_notification()))
    harness.transient()
    results.append(await integration.notify(make_notification()))
    harness.rate_limited()
    results.append(await integration.notify(make_notification()))
    results.append(await harness.config(**harness.bad_credentials).build(ctx).notify(make_notification()))
    results.append(await harness.config(**harness.endpoint(free_port())).build(ctx).notify(make_notification()))
    seen = all_results_text(results) + caplog.text + repr(integration.describe()) + repr(integration.preview(make_notification())[0].target)
    secrets = harness.secrets + [v for v in harness.bad_credentials.values() if isinstance(v, str)]
    for secret in secrets:
        assert secret not in seen, f"{harness.kind} leaked a secret"
    assert "custom template failed" in results[0].detail
