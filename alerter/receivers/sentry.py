"""Sentry: each alert group becomes an event sent through the envelope endpoint.

The DSN ``https://<public_key>@<host>/<project_id>`` gives the endpoint
``https://<host>/api/<project_id>/envelope/`` and the ``X-Sentry-Auth`` header
(``Sentry sentry_version=7, sentry_key=<public_key>, sentry_client=cronwatch/<version>``).
The event's ``level`` comes from severity, ``tags`` from the labels, and its ``fingerprint``
from the receiver and group key, so every notification of one alert group lands in one Sentry
issue; a resolved group is reported as such (level ``info``, tag ``alert_status: resolved``).

Answers: 200 sent; 429 (``Retry-After`` / ``X-Sentry-Rate-Limits``) and 5xx retried; 401/403
(bad key, wrong project), 400 and 413 permanent. The key never appears in details or logs.
"""

from __future__ import annotations

import re
import ssl
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import Field, SecretStr, field_validator, model_validator

from alerter.httpconfig import HttpConfig
from alerter.model import BuildContext, Notification, Outcome, Result
from alerter.receivers._common import MessageOptions, Preview, dry_run_dir, templates_of, write_dry_run
from alerter.receivers._http import Scrubber, classify_status, post
from alerter.receivers._truncate import cut_lines, fit_alerts, utf8_len
from alerter.templating import GroupView, group_view, message_view
from cronwatch import __version__
from cronwatch.config import read_secret
from cronwatch.errors import ConfigError

MAX_MESSAGE = 8192
LEVELS = {"critical": "fatal", "warning": "warning", "info": "info"}
_TAG_KEY = re.compile(r"[^A-Za-z0-9_.:-]")


@dataclass(frozen=True)
class Dsn:
    """The parts of a Sentry DSN."""

    scheme: str
    public_key: str
    secret_key: str | None
    host: str
    path: str
    project_id: str

    @classmethod
    def parse(cls, text: str) -> Dsn:
        """Parse a DSN; errors never echo the key."""
        try:
            parts = urllib.parse.urlsplit(text.strip())
            port = parts.port
        except ValueError:
            raise ValueError("dsn is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname:
            raise ValueError("dsn must look like https://<public_key>@<host>/<project_id>")
        path, _, project = parts.path.rstrip("/").rpartition("/")
        if not project.isdigit():
            raise ValueError("dsn must end with the numeric project id")
        host = parts.hostname + (f":{port}" if port else "")
        return cls(parts.scheme, parts.username, parts.password, host, path, project)

    @property
    def envelope_url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}/api/{self.project_id}/envelope/"

    def auth_header(self) -> str:
        fields = [("sentry_version", "7"), ("sentry_client", f"cronwatch/{__version__}"),
                  ("sentry_key", self.public_key)]
        if self.secret_key:
            fields.append(("sentry_secret", self.secret_key))
        return "Sentry " + ", ".join(f"{k}={v}" for k, v in fields)


class SentryConfig(MessageOptions):
    """One entry of ``sentry_configs``."""

    dsn: SecretStr | None = None
    dsn_file: str | None = None
    environment: str | None = None
    http_config: HttpConfig = Field(default_factory=HttpConfig)
    max_bytes: int = MAX_MESSAGE

    @field_validator("dsn")
    @classmethod
    def _parse(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            Dsn.parse(v.get_secret_value())
        return v

    @model_validator(mode="after")
    def _dsn(self) -> SentryConfig:
        if (self.dsn is None) == (self.dsn_file is None):
            raise ValueError("exactly one of dsn and dsn_file must be set")
        if not 256 <= self.max_bytes <= MAX_MESSAGE:
            raise ValueError(f"max_bytes must be between 256 and {MAX_MESSAGE}")
        return self

    def build(self, ctx: BuildContext) -> SentryIntegration:
        """The integration for this entry."""
        return SentryIntegration(self, ctx)


def sentry_rate_limit(headers: dict[str, str]) -> float | None:
    """Seconds to wait from ``X-Sentry-Rate-Limits`` for error events (``60:error;default:key, ...``)."""
    value = headers.get("x-sentry-rate-limits")
    if not value:
        return None
    waits = []
    for group in value.split(","):
        fields = group.strip().split(":")
        try:
            wait = float(fields[0])
        except ValueError:
            continue
        cats = fields[1].split(";") if len(fields) > 1 and fields[1] else []
        if not cats or "error" in cats or "default" in cats:
            waits.append(wait)
    return max(waits) if waits else None


def _tags(labels: dict[str, str], status: str) -> dict[str, str]:
    tags = {_TAG_KEY.sub("_", k)[:32]: v[:200] for k, v in labels.items() if v}
    tags["alert_status"] = status
    return tags


class SentryIntegration:
    """Sends alert groups to one Sentry project."""

    kind = "sentry"

    def __init__(self, cfg: SentryConfig, ctx: BuildContext) -> None:
        self.cfg = cfg
        self.send_resolved = cfg.send_resolved
        self.clock = ctx.clock
        base = Path(ctx.extra.get("config_dir", "."))
        dsn_file = str(base / cfg.dsn_file) if cfg.dsn_file else None
        text = read_secret(cfg.dsn, dsn_file, "sentry_configs.dsn_file") or ""
        try:
            self.dsn = Dsn.parse(text)
        except ValueError as exc:
            raise ConfigError(f"sentry_configs.dsn_file {cfg.dsn_file}: {exc}") from None
        self.scrub = Scrubber(text, self.dsn.public_key, self.dsn.secret_key)
        self._shared_http = ctx.http
        try:
            self.http = cfg.http_config.client(base, cfg.timeout.total_seconds()) \
                if cfg.http_config.needs_own_client() else ctx.http
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"sentry_configs.http_config.tls_config: cannot load the CA or certificate: {exc}") from None
        self.templates = templates_of(ctx)
        self.custom = cfg.custom_template(self.templates, ctx)
        self.dry_dir = dry_run_dir(cfg, ctx) if cfg.dry_run else None

    async def aclose(self) -> None:
        """Close the HTTP client of our own (when ``http_config`` needed one)."""
        if self.http is not None and self.http is not self._shared_http:
            await self.http.aclose()

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for the status API."""
        return {"endpoint": f"{self.dsn.scheme}://{self.dsn.host}/api/{self.dsn.project_id}/envelope/"}

    def event(self, n: Notification) -> tuple[dict[str, Any], str | None]:
        """The Sentry event for ``n`` and, if the custom template failed, why."""
        opts = self.cfg.view_options()
        group: GroupView = group_view(n, opts)

        def view(k: int | None) -> Any:
            return message_view([group], n.now, opts, shown=k)

        fallback: list[str | None] = [None]

        def render_k(k: int) -> str:
            r = self.templates.render("sentry", "message", view(k), self.custom)
            fallback[0] = r.fallback
            return r.text

        text, _omitted = fit_alerts(render_k, len(group.alerts), self.cfg.max_bytes)
        if utf8_len(text) > self.cfg.max_bytes:
            text = cut_lines(text, self.cfg.max_bytes, "…")
        title = self.templates.render("sentry", "title", view(None)).text.splitlines()[0]
        labels = dict(n.common_labels or n.group_labels)
        resolved = group.status == "resolved"
        event: dict[str, Any] = {
            "event_id": uuid.uuid4().hex,
            "timestamp": n.now.timestamp(),
            "platform": "other",
            "logger": "cronwatch.alerter",
            "level": "info" if resolved else LEVELS.get(group.severity, "error"),
            "message": {"formatted": f"{title}\n\n{text}" if not text.startswith(title) else text},
            "transaction": group.title,
            "tags": _tags(labels, group.status),
            "fingerprint": ["cronwatch", n.receiver, n.group_key],
            "extra": {
                "group_key": n.group_key, "status": group.status, "external_url": n.external_url,
                "alerts": [{"status": a.status, "labels": a.labels, "annotations": a.annotations,
                            "starts_at": a.starts_at, "ends_at": a.ends_at, "kibana_url": a.kibana_url,
                            "runbook_url": a.runbook_url} for a in group.alerts],
            },
        }
        env = self.cfg.environment or labels.get("env")
        if env:
            event["environment"] = env
        return event, fallback[0]

    def envelope(self, event: dict[str, Any]) -> bytes:
        """The envelope carrying one event item."""
        payload = orjson.dumps(event)
        header = orjson.dumps({"event_id": event["event_id"], "sent_at": self.clock.now().isoformat()})
        item = orjson.dumps({"type": "event", "length": len(payload), "content_type": "application/json"})
        return header + b"\n" + item + b"\n" + payload + b"\n"

    def preview(self, n: Notification) -> list[Preview]:
        """What :meth:`notify` would send for ``n``."""
        event, fallback = self.event(n)
        return [Preview(self.kind, self.describe()["endpoint"], "application/x-sentry-envelope",
                        self.envelope(event).decode(), fallback)]

    async def notify(self, notification: Notification) -> Result:
        """Send one event; never raises for delivery problems."""
        if self.dry_dir is not None:
            path = write_dry_run(self.dry_dir, notification, self.preview(notification))
            return Result(Outcome.SENT, f"dry run: rendered to {path.name}")
        event, fallback = self.event(notification)
        answer = await post(self.http, self.dsn.envelope_url, self.envelope(event),
                            headers={"X-Sentry-Auth": self.dsn.auth_header(),
                                     "Content-Type": "application/x-sentry-envelope"},
                            timeout_s=self.cfg.timeout.total_seconds(), scrub=self.scrub)
        if isinstance(answer, Result):
            return answer
        result = classify_status(answer, self.clock.time(), self.scrub)
        if result is not None:
            if answer.status == 429:  # X-Sentry-Rate-Limits takes precedence over Retry-After
                result.retry_after = sentry_rate_limit(answer.headers) or result.retry_after or 60.0
            return result
        detail = f"event {event['event_id']} accepted"
        if fallback:
            detail += f" (custom template failed, built-in used: {self.scrub(fallback)})"
        return Result(Outcome.SENT, detail)
