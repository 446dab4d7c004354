"""``webhook_configs``: POST Alertmanager's version 4 payload to a URL.

2xx is sent; 429 and 5xx and network errors are retried later (``Retry-After`` honoured); any
other status is a permanent failure. Details name the host only, never the URL (it may hold a token).
Requests go through the engine's shared clients (``ctx.extra["sessions"]``): plain ``http://`` URLs
without a proxy use the lean keep-alive pool of :mod:`alerter.http1` (a redirect answer is re-sent
through aiohttp, which follows it); everything else uses the aiohttp session. TLS is verified.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from pydantic import Field, SecretStr, model_validator

from alerter.http1 import ResponseError, http_target
from alerter.httpconfig import HttpConfig
from alerter.model import BuildContext, Notification, Outcome, Result
from alerter.payload import webhook_payload
from alerter.sessions import SessionPool
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


def classify_http(status: int, headers: Mapping[str, str], host: str) -> Result:
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
        """The integration for this entry (files are relative to the config's directory)."""
        base = Path(ctx.extra.get("config_dir", "."))
        url = read_secret(self.url, str(base / self.url_file) if self.url_file else None, "webhook url")
        assert url is not None
        sessions = ctx.extra.get("sessions")
        if not isinstance(sessions, SessionPool):
            sessions = SessionPool()
            ctx.extra["sessions"] = sessions
        return WebhookIntegration(url, self.send_resolved, sessions, self.http_config.headers(),
                                  max_alerts=self.max_alerts, timeout=self.timeout.total_seconds(),
                                  ssl_context=self.http_config.ssl_context(base),
                                  proxy=self.http_config.proxy_url,
                                  follow_redirects=self.http_config.follow_redirects)


class WebhookIntegration:
    """Posts notifications to one URL."""

    kind = "webhook"

    def __init__(self, url: str, send_resolved: bool, sessions: SessionPool, headers: dict[str, str], *,
                 max_alerts: int = 0, timeout: float = 10.0, ssl_context: ssl.SSLContext | bool = True,
                 proxy: str | None = None, follow_redirects: bool = True) -> None:
        self.send_resolved = send_resolved
        self._url = url
        self._host = urlsplit(url).hostname or "?"
        self._sessions = sessions
        self._headers = {"Content-Type": "application/json", **headers}
        self._max_alerts = max_alerts
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._ssl = ssl_context
        self._proxy = proxy
        self._redirects = follow_redirects
        self._fast = http_target(url, self._headers) if proxy is None else None
        self._timeout_s = timeout

    def __repr__(self) -> str:
        return f"WebhookIntegration(host={self._host!r})"

    async def notify(self, notification: Notification) -> Result:
        """POST the v4 payload once."""
        body = orjson.dumps(webhook_payload(notification, self._max_alerts))
        if self._fast is not None:
            try:
                answer = await self._sessions.http1().post(self._fast, body, self._timeout_s)
            except TimeoutError:
                return Result(Outcome.RETRY, f"timeout talking to {self._host}")
            except ResponseError as exc:
                return Result(Outcome.RETRY, f"bad answer from {self._host}: {exc}")
            except OSError as exc:
                return Result(Outcome.RETRY, f"{type(exc).__name__} talking to {self._host}")
            if not (self._redirects and 300 <= answer.status < 400 and "location" in answer.headers):
                return classify_http(answer.status, {"Retry-After": answer.headers.get("retry-after", "")},
                                     self._host)
        try:
            async with self._sessions.get().post(self._url, data=body, headers=self._headers,
                                                 timeout=self._timeout, ssl=self._ssl, proxy=self._proxy,
                                                 allow_redirects=self._redirects) as resp:
                await resp.read()
                return classify_http(resp.status, resp.headers, self._host)
        except TimeoutError:
            return Result(Outcome.RETRY, f"timeout talking to {self._host}")
        except aiohttp.ClientSSLError as exc:
            return Result(Outcome.PERMANENT, f"TLS error talking to {self._host}: {type(exc).__name__}")
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            return Result(Outcome.RETRY, f"{type(exc).__name__} talking to {self._host}")

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for the status API."""
        return {"host": self._host}
