"""WeCom (企业微信) group robot: ``markdown`` (≤ 4096 bytes) or ``text`` (≤ 2048 bytes) messages.

``webhook_url`` is ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY``; give the whole
URL, or ``key`` / ``key_file`` (the URL is then built from ``api_url``). The key is a secret: it
never appears in logs, errors, ``Result.detail`` or the status API. The robot answers HTTP 200
with ``errcode``: 0 sent, 45009 over the 20 messages/minute limit (retried; our own bucket keeps
us under it), 93000 invalid webhook URL and 40058 too long (permanent).
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Literal

from pydantic import SecretStr, model_validator

from alerter.model import BuildContext
from alerter.receivers._common import config_path
from alerter.receivers._http import Scrubber, redact_url
from alerter.receivers._robot import RobotIntegration, RobotOptions, check_webhook_url
from alerter.receivers._truncate import utf8_len
from alerter.templating import Rendered
from cronwatch.config import read_secret

DEFAULT_API_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
LIMITS = {"markdown": 4096, "text": 2048}
ERR_RATE_LIMIT = 45009


class WecomConfig(RobotOptions):
    """One entry of ``wecom_configs``."""

    webhook_url: SecretStr | None = None
    webhook_url_file: str | None = None
    key: SecretStr | None = None
    key_file: str | None = None
    api_url: str = DEFAULT_API_URL
    message_type: Literal["markdown", "text"] = "markdown"
    mentioned_list: list[str] = []
    mentioned_mobile_list: list[str] = []
    max_bytes: int | None = None

    @model_validator(mode="after")
    def _one_target(self) -> WecomConfig:
        given = [n for n in ("webhook_url", "webhook_url_file", "key", "key_file") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of webhook_url, webhook_url_file, key, key_file "
                             f"(got {', '.join(given) or 'none'})")
        if self.webhook_url is not None:
            check_webhook_url(self.webhook_url.get_secret_value(), "key")
        if self.max_bytes is not None and not 64 <= self.max_bytes <= LIMITS[self.message_type]:
            raise ValueError(f"max_bytes must be between 64 and {LIMITS[self.message_type]} for {self.message_type}")
        return self

    def url(self, ctx: BuildContext | None = None) -> str:
        """The full webhook URL (a secret)."""
        whole = read_secret(self.webhook_url, _path(ctx, self.webhook_url_file), "wecom_configs.webhook_url_file")
        if whole:
            return whole
        key = read_secret(self.key, _path(ctx, self.key_file), "wecom_configs.key_file") or ""
        return f"{self.api_url}?{urllib.parse.urlencode({'key': key})}"

    def build(self, ctx: BuildContext) -> WecomIntegration:
        """The integration for this entry."""
        return WecomIntegration(self, ctx)


def _path(ctx: BuildContext | None, value: str | None) -> str | None:
    return config_path(ctx, value) if ctx is not None else value


class WecomIntegration(RobotIntegration):
    """Sends to one WeCom group robot."""

    kind = "wecom"
    channel = "wecom"
    rate_limit_codes = frozenset({ERR_RATE_LIMIT})
    retry_codes = frozenset({-1})  # "system busy"

    def __init__(self, cfg: WecomConfig, ctx: BuildContext) -> None:
        self.cfg = cfg
        self._url = cfg.url(ctx).strip()
        key = urllib.parse.parse_qs(urllib.parse.urlsplit(self._url).query).get("key", [""])[0]
        super().__init__(cfg, ctx, Scrubber(self._url, key))
        self.limit = cfg.max_bytes or LIMITS[cfg.message_type]

    def endpoint(self, now: float) -> str:
        return self._url

    def target(self) -> str:
        return redact_url(self._url)

    def payload(self, view_for: Any, storm: bool) -> tuple[dict[str, Any], Rendered]:
        part = self.cfg.message_type
        total = view_for(None).total_alerts
        last: dict[str, Rendered] = {}

        mentions = ""
        if part == "markdown" and self.cfg.mentioned_list:  # markdown mentions are written inline
            mentions = "\n" + " ".join(f"<@{u}>" for u in self.cfg.mentioned_list)

        def render_k(k: int) -> str:
            r = self.templates.render(self.channel, part, view_for(k), self.custom)
            last["r"] = r
            return r.text + mentions

        note = "…" if self.cfg.locale == "en" else "……"
        text, _omitted = self.fit(render_k, total, self.limit, utf8_len, note)
        body: dict[str, Any] = {"content": text}
        if part == "text":
            if self.cfg.mentioned_list:
                body["mentioned_list"] = list(self.cfg.mentioned_list)
            if self.cfg.mentioned_mobile_list:
                body["mentioned_mobile_list"] = list(self.cfg.mentioned_mobile_list)
        return {"msgtype": part, part: body}, Rendered(text, last["r"].fallback if "r" in last else None)
