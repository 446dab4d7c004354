"""DingTalk (钉钉) custom robot: ``markdown`` or ``actionCard`` (with a "view logs" button).

``webhook_url`` is ``https://oapi.dingtalk.com/robot/send?access_token=TOKEN`` (or give
``access_token``). With the robot's "sign" security setting, ``secret`` (``SEC…``) signs every
request: ``sign = urlencode(base64(HMAC-SHA256(secret, "<timestamp_ms>\\n<secret>")))``, sent as
``&timestamp=…&sign=…``; DingTalk rejects a timestamp more than an hour off. With the "keyword"
setting, list ``keywords``: a message that contains none gets the first one appended.

The robot answers HTTP 200 with ``errcode``: 0 sent; 130101 over 20 messages/minute (retried;
our own bucket keeps us under it); 310000 signature, timestamp or keyword rejected, 300001 token
does not exist, 460101 message longer than 20000 bytes (all permanent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from typing import Any, Literal

from pydantic import SecretStr, model_validator

from alerter.model import BuildContext
from alerter.receivers._common import config_path
from alerter.receivers._http import Scrubber, dumps, redact_url
from alerter.receivers._robot import RobotIntegration, RobotOptions, check_webhook_url
from alerter.templating import Rendered
from cronwatch.config import read_secret

DEFAULT_API_URL = "https://oapi.dingtalk.com/robot/send"
MAX_BODY_BYTES = 20000
ERR_RATE_LIMIT = 130101
BUTTON = {"en": "View logs", "zh": "查看日志"}


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's request signature for ``timestamp_ms`` (already URL-encoded)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


class DingtalkConfig(RobotOptions):
    """One entry of ``dingtalk_configs``."""

    webhook_url: SecretStr | None = None
    webhook_url_file: str | None = None
    access_token: SecretStr | None = None
    access_token_file: str | None = None
    api_url: str = DEFAULT_API_URL
    secret: SecretStr | None = None
    secret_file: str | None = None
    message_type: Literal["markdown", "actionCard"] = "markdown"
    at_mobiles: list[str] = []
    at_user_ids: list[str] = []
    at_all: bool = False
    keywords: list[str] = []
    max_bytes: int = MAX_BODY_BYTES

    @model_validator(mode="after")
    def _one_target(self) -> DingtalkConfig:
        given = [n for n in ("webhook_url", "webhook_url_file", "access_token", "access_token_file") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of webhook_url, webhook_url_file, access_token, access_token_file "
                             f"(got {', '.join(given) or 'none'})")
        if self.secret is not None and self.secret_file:
            raise ValueError("give secret or secret_file, not both")
        if self.secret is not None and not self.secret.get_secret_value().strip().startswith("SEC"):
            raise ValueError("secret: a DingTalk signing secret starts with SEC (copy it from the robot's "
                             "security settings, 加签); the access token goes in webhook_url/access_token")
        if self.webhook_url is not None:
            check_webhook_url(self.webhook_url.get_secret_value(), "access_token")
        if not 256 <= self.max_bytes <= MAX_BODY_BYTES:
            raise ValueError(f"max_bytes must be between 256 and {MAX_BODY_BYTES}")
        return self

    def url(self, ctx: BuildContext | None = None) -> str:
        """The webhook URL without signature (a secret)."""
        whole = read_secret(self.webhook_url, _path(ctx, self.webhook_url_file), "dingtalk_configs.webhook_url_file")
        if whole:
            return whole
        token = read_secret(self.access_token, _path(ctx, self.access_token_file),
                            "dingtalk_configs.access_token_file") or ""
        return f"{self.api_url}?{urllib.parse.urlencode({'access_token': token})}"

    def build(self, ctx: BuildContext) -> DingtalkIntegration:
        """The integration for this entry."""
        return DingtalkIntegration(self, ctx)


def _without_signature(url: str) -> str:
    """Drop a ``timestamp``/``sign`` pasted along with the URL: they are computed per request."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("timestamp", "sign")]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _path(ctx: BuildContext | None, value: str | None) -> str | None:
    return config_path(ctx, value) if ctx is not None else value


class DingtalkIntegration(RobotIntegration):
    """Sends to one DingTalk custom robot."""

    kind = "dingtalk"
    channel = "dingtalk"
    rate_limit_codes = frozenset({ERR_RATE_LIMIT})
    retry_codes = frozenset({-1})  # "system busy"

    def __init__(self, cfg: DingtalkConfig, ctx: BuildContext) -> None:
        self.cfg = cfg
        self._url = _without_signature(cfg.url(ctx).strip())
        secret = read_secret(cfg.secret, _path(ctx, cfg.secret_file), "dingtalk_configs.secret_file")
        self._secret = secret.strip() if secret else None  # a stray newline or space gives 310000
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(self._url).query).get("access_token", [""])[0]
        super().__init__(cfg, ctx, Scrubber(self._url, token, self._secret))

    def endpoint(self, now: float) -> str:
        if not self._secret:
            return self._url
        ts = int(now * 1000)
        sep = "&" if "?" in self._url else "?"
        return f"{self._url}{sep}timestamp={ts}&sign={sign(self._secret, ts)}"

    def target(self) -> str:
        return redact_url(self._url)

    def _mentions(self) -> str:
        names = [f"@{m}" for m in self.cfg.at_mobiles] + [f"@{u}" for u in self.cfg.at_user_ids]
        return ("\n\n" + " ".join(names)) if names else ""

    def _with_keyword(self, text: str) -> str:
        if self.cfg.keywords and not any(k in text for k in self.cfg.keywords):
            return f"{text}\n\n{self.cfg.keywords[0]}"
        return text

    def payload(self, view_for: Any, storm: bool) -> tuple[dict[str, Any], Rendered]:
        full = view_for(None)
        title_r = self.templates.render(self.channel, "title", full)
        title = title_r.text.splitlines()[0][:64] if title_r.text else "cronwatch"
        link = full.kibana_url
        kind = "actionCard" if self.cfg.message_type == "actionCard" and link else "markdown"
        at: dict[str, Any] = {"atMobiles": list(self.cfg.at_mobiles), "atUserIds": list(self.cfg.at_user_ids),
                              "isAtAll": self.cfg.at_all}
        last: dict[str, Rendered] = {}
        mentions = self._mentions()

        def body(text: str) -> dict[str, Any]:
            if kind == "actionCard":
                return {"msgtype": "actionCard", "actionCard": {
                    "title": title, "text": text, "btnOrientation": "0",
                    "singleTitle": BUTTON.get(self.cfg.locale, BUTTON["en"]), "singleURL": link}, "at": at}
            return {"msgtype": "markdown", "markdown": {"title": title, "text": text}, "at": at}

        def render_k(k: int) -> str:
            r = self.templates.render(self.channel, "markdown", view_for(k), self.custom)
            last["r"] = r
            return self._with_keyword(r.text + mentions)

        def measure(text: str) -> int:
            return len(dumps(body(text)))

        note = "…" if self.cfg.locale == "en" else "……"
        text, _omitted = self.fit(render_k, full.total_alerts, self.cfg.max_bytes, measure, note)
        return body(text), Rendered(text, last["r"].fallback if "r" in last else None)
