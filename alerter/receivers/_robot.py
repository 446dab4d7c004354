"""The JSON chat robots (WeCom, DingTalk): rate limiting with storm summaries, size limits, delivery.

Per robot, a :class:`TokenBucket` keeps us under the vendor's 20 messages per minute. When a
notification finds no token, it is not dropped and not queued for an hour: it joins the *storm
buffer* (newest state per alert group) and the next token sends **one summary message** with
every buffered group. The waiting notification gets ``RETRY`` with ``retry_after`` set to when
that token comes; when the engine retries it after the summary went out, it is answered
``SENT`` ("delivered in storm summary") without sending again. A timer sends the summary even if
nobody retries.

Subclasses say how a message becomes a payload (:meth:`RobotIntegration.payload`) and where it
goes (:meth:`RobotIntegration.endpoint`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import urllib.parse
from pathlib import Path
from typing import Any

from jinja2 import Template
from pydantic import Field

from alerter.httpconfig import HttpConfig
from alerter.model import BuildContext, Notification, Outcome, Result
from alerter.receivers._common import (
    MessageOptions,
    Preview,
    dry_run_dir,
    notification_key,
    templates_of,
    write_dry_run,
)
from alerter.receivers._http import (
    RATE_LIMITED,
    HttpAnswer,
    Scrubber,
    classify_errcode,
    classify_status,
    dumps,
    post,
)
from alerter.receivers._ratelimit import TokenBucket
from alerter.receivers._truncate import cut_lines, fit_alerts
from alerter.templating import GroupView, MessageView, Rendered, Templates, group_view, message_view
from cronwatch.errors import ConfigError

log = logging.getLogger("cronwatch.alerter.receivers")
SAFETY_MARGIN = 1.0
DELIVERED_MEMORY = 600.0  # seconds a "delivered in summary" answer is kept for the engine's retry


def check_webhook_url(url: str, param: str) -> None:
    """A robot webhook URL must be http(s) and carry its ``param=`` (the token); the error never echoes it."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("webhook_url must be an http(s) URL")
    if not urllib.parse.parse_qs(parts.query).get(param):
        raise ValueError(f"webhook_url has no {param}= parameter")


class RobotOptions(MessageOptions):
    """Keys the chat robots share."""

    rate_limit: int = Field(default=20, ge=1)
    rate_window: float = Field(default=60.0, gt=0)
    http_config: HttpConfig = Field(default_factory=HttpConfig)


class RobotIntegration:
    """Base of the WeCom and DingTalk integrations."""

    kind = "robot"
    channel = "robot"
    rate_limit_codes: frozenset[int] = frozenset()
    retry_codes: frozenset[int] = frozenset({-1})

    def __init__(self, opts: RobotOptions, ctx: BuildContext, scrub: Scrubber) -> None:
        self.opts = opts
        self.send_resolved = opts.send_resolved
        self.http = ctx.http
        self._own_http = opts.http_config.needs_own_client()
        if self._own_http:  # a private CA or a proxy; TLS is always verified
            try:
                self.http = opts.http_config.client(Path(ctx.extra.get("config_dir", ".")),
                                                    opts.timeout.total_seconds())
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"http_config.tls_config: cannot load the CA or certificate: {exc}") from None
        self.clock = ctx.clock
        self.templates: Templates = templates_of(ctx)
        self.custom: Template | None = opts.custom_template(self.templates, ctx)
        self.scrub = scrub
        # one second of margin: the robot starts its minute when the request arrives, after ours
        self.bucket = TokenBucket(opts.rate_limit, opts.rate_window + SAFETY_MARGIN)
        self.dry_dir = dry_run_dir(opts, ctx) if opts.dry_run else None
        self._lock = asyncio.Lock()
        self._pending: dict[str, tuple[str, Notification]] = {}  # group_key → (key, newest notification)
        self._answers: dict[str, tuple[float, Result]] = {}  # key → (expires, answer for the engine's retry)
        self._timer: asyncio.Task[None] | None = None
        self.sent_messages = 0
        self.storm_summaries = 0

    # --- to be provided by the channel -------------------------------------------------------------

    def payload(self, view_for: Any, storm: bool) -> tuple[dict[str, Any], Rendered]:
        """The JSON payload for a message (``view_for(k)`` gives the view with the first k alerts)."""
        raise NotImplementedError

    def endpoint(self, now: float) -> str:
        """The URL to POST to at wall time ``now`` (may carry a signature)."""
        raise NotImplementedError

    def target(self) -> str:
        """The endpoint with every secret redacted (for previews and logs)."""
        raise NotImplementedError

    # --- rendering -----------------------------------------------------------------------------------

    def _groups(self, notifications: list[Notification]) -> list[GroupView]:
        opts = self.opts.view_options()
        return [group_view(n, opts) for n in notifications]

    def render(self, notifications: list[Notification]) -> tuple[dict[str, Any], Rendered]:
        """The payload for ``notifications`` (several → one storm summary), cut to the channel's limit."""
        groups = self._groups(notifications)
        now = max(n.now for n in notifications)
        storm = len(notifications) > 1
        opts = self.opts.view_options()

        def view_for(k: int | None) -> MessageView:
            return message_view(groups, now, opts, shown=k, storm=storm, keyword=self.keyword())

        return self.payload(view_for, storm)

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for the status API."""
        return {"endpoint": self.target(), "storm_buffered": len(self._pending),
                "storm_summaries": self.storm_summaries, "messages_sent": self.sent_messages}

    def keyword(self) -> str:
        """A keyword the message must contain (DingTalk's keyword security setting)."""
        return ""

    def fit(self, render_k: Any, total: int, limit: int, measure: Any, note: str) -> tuple[str, int]:
        """Fit a rendering to ``limit`` by alert count, then by lines as the last resort."""
        text, omitted = fit_alerts(render_k, total, limit, measure)
        budget = limit - measure("")
        while measure(text) > limit and budget > 0:  # JSON escaping may add bytes: shrink until it fits
            text = cut_lines(text, budget, note)
            budget -= max(measure(text) - limit, 1)
        return text, omitted

    def preview(self, n: Notification) -> list[Preview]:
        """What :meth:`notify` would send for ``n``."""
        payload, rendered = self.render([n])
        return [Preview(self.kind, self.target(), "application/json", dumps(payload).decode(), rendered.fallback)]

    # --- delivery ------------------------------------------------------------------------------------

    def _forget_old(self, now: float) -> None:
        for key in [k for k, (exp, _r) in self._answers.items() if exp <= now]:
            del self._answers[key]

    async def notify(self, notification: Notification) -> Result:
        """Deliver one notification, merging into a storm summary when the robot's limit is reached."""
        key = notification_key(notification)
        if self.dry_dir is not None:
            path = write_dry_run(self.dry_dir, notification, self.preview(notification))
            return Result(Outcome.SENT, f"dry run: rendered to {path.name}")
        async with self._lock:
            mono = self.clock.monotonic()
            self._forget_old(mono)
            answer = self._answers.pop(key, None)
            if answer is not None:
                return answer[1]
            if not self._pending and self.bucket.take(mono):
                result = await self._send([notification])
                if result.outcome is Outcome.RETRY and self._rate_limited(result):
                    self._pending[notification.group_key] = (key, notification)
                    self._arm_timer()
                return result
            self._supersede(notification, key, mono)
            if self.bucket.available(mono) > 0:
                await self._flush()
                answer = self._answers.pop(key, None)
                if answer is not None:
                    return answer[1]
            self._arm_timer()
            wait = self.bucket.wait_time(self.clock.monotonic())
            return Result(Outcome.RETRY, f"robot limit of {self.opts.rate_limit} messages per "
                          f"{self.opts.rate_window:g}s reached; merged into the next storm summary",
                          retry_after=max(wait, 0.5))

    def _rate_limited(self, result: Result) -> bool:
        return RATE_LIMITED in result.detail

    def _supersede(self, n: Notification, key: str, mono: float) -> None:
        old = self._pending.get(n.group_key)
        if old is not None and old[0] != key:
            self._answers[old[0]] = (mono + DELIVERED_MEMORY,
                                     Result(Outcome.SENT, "superseded by a newer notification of the same group"))
        self._pending[n.group_key] = (key, n)

    async def _flush(self) -> None:
        """Send every buffered notification as one message (lock held, a token available)."""
        if not self._pending:
            return
        mono = self.clock.monotonic()
        if not self.bucket.take(mono):
            return
        batch = list(self._pending.values())
        result = await self._send([n for _k, n in batch])
        if result.outcome is Outcome.RETRY:
            return  # stays buffered; the timer or the next retry tries again
        self._pending.clear()
        if len(batch) > 1:
            self.storm_summaries += 1
        expires = self.clock.monotonic() + DELIVERED_MEMORY
        for key, _n in batch:
            if result.outcome is Outcome.SENT:
                detail = "delivered in storm summary" if len(batch) > 1 else result.detail
                self._answers[key] = (expires, Result(Outcome.SENT, detail))
            else:
                self._answers[key] = (expires, result)

    def _arm_timer(self) -> None:
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            async with self._lock:
                if not self._pending:
                    return
                wait = self.bucket.wait_time(self.clock.monotonic())
                if wait <= 0:
                    await self._flush()
                    continue
            await self.clock.sleep(wait)

    async def aclose(self) -> None:
        """Stop the summary timer (buffered notifications stay with the engine's retries); close our own client."""
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
            try:
                await self._timer
            except asyncio.CancelledError:
                pass
        if self._own_http:
            await self.http.aclose()

    async def _send(self, notifications: list[Notification]) -> Result:
        try:
            payload, rendered = self.render(notifications)
        except Exception as exc:  # a bug in a built-in template must not lose the alert silently
            log.exception("rendering failed", extra={"alerter.integration": self.kind})
            return Result(Outcome.PERMANENT, self.scrub(f"rendering failed: {type(exc).__name__}: {exc}"))
        if rendered.fallback:
            log.warning("custom template failed; sent with the built-in template",
                        extra={"alerter.integration": self.kind, "error.message": self.scrub(rendered.fallback)})
        answer = await post(self.http, self.endpoint(self.clock.time()), dumps(payload),
                            timeout_s=self.opts.timeout.total_seconds(), scrub=self.scrub)
        if isinstance(answer, Result):
            return answer
        result = self.classify(answer)
        if result.outcome is Outcome.SENT:
            self.sent_messages += 1
            if rendered.fallback:
                result = Result(Outcome.SENT, f"sent with the built-in template (custom template failed: "
                                              f"{self.scrub(rendered.fallback)})")
        elif result.outcome is Outcome.RETRY and self._rate_limited(result):
            self.bucket.exhaust(self.clock.monotonic())
        return result

    def classify(self, answer: HttpAnswer) -> Result:
        """HTTP status first, then the errcode in the body."""
        by_status = classify_status(answer, self.clock.time(), self.scrub)
        if by_status is not None:
            return by_status
        return classify_errcode(answer.data, retry_codes=self.retry_codes, rate_limit_codes=self.rate_limit_codes,
                                scrub=self.scrub, rate_limit_wait=self.opts.rate_window)
