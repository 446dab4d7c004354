"""``webhook_configs``: POST Alertmanager's version 4 payload to a URL.

2xx is sent; 429 and 5xx and network errors are retried later (``Retry-After`` honoured); any
other status is a permanent failure. Details name the host only, never the URL (it may hold a token).
"""

from __future__ import annotations

import email.utils
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from pydantic import Field, SecretStr, model_validator

from alerter.httpconfig import HttpConfig
from alerter.model import BuildContext, Notification, Outcome, Result
from alerter.payload import webhook_payload
from cronwatch.config import Model, read_secret
from cronwatch.durations import Duration


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify_http(status: int, headers: httpx.Headers, host: str) -> Result:
    """The outcome of an HTTP answer for webhook-like receivers."""
    if 200 <= status < 300:
        return Result(Outcome.SENT, f"HTTP {status} from {host}")
    if status == 429 or status >= 500:
        return Result(Outcome.RETRY, f"HTTP {status} from {host}",
                      retry_after=retry_after_seconds(headers.get("Retry-After")))
    return Result(Outcome.PERMANENT, f"HTTP {status} from {host}")


class WebhookConfig(Model):
    """One entry of ``webhook_configs``."""

    url: SecretStr | None = None
    url_file: str | None = None
    send_resolved: bool = True
    http_config: HttpConfig = Field(default_factory=HttpConfig)
    max_alerts: int = Field(default=0, ge=0)
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _url(self) -> WebhookConfig:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("exactly one of url and url_file must be set")
        if self.url is not None:
            scheme = urlsplit(self.url.get_secret_value()).scheme
            if scheme not in ("http", "https"):
                raise ValueError("url must start with http:// or https://")
        return self

    def build(self, ctx: BuildContext) -> WebhookIntegration:
        """The integration for this entry."""
        base = Path(ctx.extra.get("config_dir", "."))
        url = read_secret(self.url, str(base / self.url_file) if self.url_file else None, "webhook url")
        assert url is not None
        http = self.http_config.client(base, self.timeout.total_seconds()) \
            if self.http_config.needs_own_client() else ctx.http
        return WebhookIntegration(url, self.send_resolved, http, self.http_config.headers(),
                                  self.max_alerts, self.timeout.total_seconds())


class WebhookIntegration:
    """Posts notifications to one URL."""

    kind = "webhook"

    def __init__(self, url: str, send_resolved: bool, http: httpx.AsyncClient, headers: dict[str, str],
                 max_alerts: int = 0, timeout: float = 10.0) -> None:
        self.send_resolved = send_resolved
        self._url = url
        self._host = urlsplit(url).hostname or "?"
        self._http = http
        self._headers = {"Content-Type": "application/json", "User-Agent": "cronwatch-alerter", **headers}
        self._max_alerts = max_alerts
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"WebhookIntegration(host={self._host!r})"

    async def notify(self, notification: Notification) -> Result:
        """POST the v4 payload once."""
        body = orjson.dumps(webhook_payload(notification, self._max_alerts))
        try:
            resp = await self._http.post(self._url, content=body, headers=self._headers, timeout=self._timeout)
        except httpx.TimeoutException:
            return Result(Outcome.RETRY, f"timeout talking to {self._host}")
        except httpx.HTTPError as exc:
            return Result(Outcome.RETRY, f"{type(exc).__name__} talking to {self._host}")
        await resp.aclose()
        return classify_http(resp.status_code, resp.headers, self._host)

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for the status API."""
        return {"host": self._host}
