"""Sentry: envelopes parsed by sentry_sdk's own parser, auth header, level/tags/fingerprint, outcomes."""

from __future__ import annotations

import pytest
from fakes.sentry import SentryServer
from rcvhelpers import make_alert, make_notification

from alerter.model import BuildContext, Outcome
from alerter.receivers.sentry import Dsn, SentryConfig, sentry_rate_limit
from cronwatch.config import parse_yaml_text, validate_document
from cronwatch.errors import ConfigError


def config(server: SentryServer, **kw: object) -> SentryConfig:
    """A config with the fake project's DSN."""
    return SentryConfig.model_validate({"dsn": server.dsn, **kw})


def test_dsn_parsing_and_endpoint() -> None:
    """A DSN gives the envelope URL and an X-Sentry-Auth header with sentry_version=7."""
    dsn = Dsn.parse("https://abc123@o1.ingest.sentry.io/sub/4506")
    assert dsn.envelope_url == "https://o1.ingest.sentry.io/sub/api/4506/envelope/"
    assert dsn.auth_header().startswith("Sentry sentry_version=7") and "sentry_key=abc123" in dsn.auth_header()


def test_bad_dsn_is_a_config_error_without_the_key() -> None:
    """A DSN without a project id is rejected at load, and the message does not echo the key."""
    doc = parse_yaml_text("environment: prod\ndsn: https://supersecretkey@sentry.example/\n", "alerter.yml")
    with pytest.raises(ConfigError) as err:
        validate_document(doc, SentryConfig)
    [line] = err.value.problems
    assert line.startswith("alerter.yml:2: dsn:") and "project id" in line and "supersecretkey" not in line


async def test_event_shape(sentry: SentryServer, ctx: BuildContext) -> None:
    """The event has level from severity, tags from labels and a fingerprint per alert group."""
    result = await config(sentry, environment="prod").build(ctx).notify(make_notification())
    assert result.outcome is Outcome.SENT, result.detail
    [event] = sentry.events
    assert event["level"] == "fatal" and event["environment"] == "prod"
    assert event["tags"]["task"] == "db_backup" and event["tags"]["alert_status"] == "firing"
    assert event["fingerprint"] == ["cronwatch", "ops", make_notification().group_key]
    assert "db_backup failed" in event["message"]["formatted"]


async def test_same_group_same_fingerprint_and_resolved(sentry: SentryServer, ctx: BuildContext) -> None:
    """Firing then resolved notifications of one group share a fingerprint; resolved is reported as such."""
    integration = config(sentry).build(ctx)
    await integration.notify(make_notification([make_alert(severity="warning")]))
    await integration.notify(make_notification([make_alert(severity="warning", resolved=True)]))
    firing, resolved = sentry.events
    assert firing["fingerprint"] == resolved["fingerprint"]
    assert firing["level"] == "warning" and resolved["level"] == "info"
    assert resolved["tags"]["alert_status"] == "resolved" and "RESOLVED" in resolved["message"]["formatted"]


async def test_wrong_key_is_permanent(sentry: SentryServer, ctx: BuildContext) -> None:
    """401 for a wrong public key is permanent and the key is not in the detail."""
    dsn = sentry.dsn.replace(sentry.public_key, "0000wrongkey0000")
    result = await SentryConfig.model_validate({"dsn": dsn}).build(ctx).notify(make_notification())
    assert result.outcome is Outcome.PERMANENT and "401" in result.detail and "0000wrongkey0000" not in result.detail


async def test_429_uses_sentry_rate_limits(sentry: SentryServer, ctx: BuildContext) -> None:
    """429 is RETRY with retry_after from X-Sentry-Rate-Limits (which wins over Retry-After)."""
    sentry.fail_next(429, {"Retry-After": "5", "X-Sentry-Rate-Limits": "120:error;default:key"})
    result = await config(sentry).build(ctx).notify(make_notification())
    assert result.outcome is Outcome.RETRY and result.retry_after == 120


def test_rate_limit_header_ignores_other_categories() -> None:
    """Limits on transactions only do not delay error events."""
    assert sentry_rate_limit({"x-sentry-rate-limits": "60:transaction:key"}) is None
    assert sentry_rate_limit({"x-sentry-rate-limits": "30::organization"}) == 30


async def test_5xx_and_connection_refused_are_retry(sentry: SentryServer, ctx: BuildContext) -> None:
    """503 and a closed port are RETRY."""
    sentry.fail_next(503)
    integration = config(sentry).build(ctx)
    assert (await integration.notify(make_notification())).outcome is Outcome.RETRY
    await sentry.stop()
    result = await integration.notify(make_notification())
    assert result.outcome is Outcome.RETRY and sentry.public_key not in result.detail
