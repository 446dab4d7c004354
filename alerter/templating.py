"""Message templates: Jinja2 in a sandbox, built-in per channel in Chinese and English.

A template sees ``m`` (a :class:`MessageView`): ``m.groups`` (each with ``alerts``), ``m.omitted``
(alerts left out to fit the channel's limit), ``m.storm`` (several groups merged into one
summary by the rate limiter), ``m.locale``, ``m.timezone``. Each alert shows severity, task,
summary, start time in the receiver's time zone, how long it has been firing, a Kibana link and
the runbook.

A custom template that fails (syntax, sandbox violation, any error while rendering) never drops
a notification: :meth:`Templates.render` falls back to the built-in one and says so in the
message and in :attr:`Rendered.fallback`.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import ChainableUndefined, FileSystemLoader, Template, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from alerter.model import Alert, Notification

log = logging.getLogger("cronwatch.alerter.templating")

BUILTIN_DIR = Path(__file__).resolve().parent / "templates"
LOCALES = ("en", "zh")
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
_ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
_FALLBACK_NOTE = {
    "en": "⚠ The custom template failed ({error}); the built-in template was used.",
    "zh": "⚠ 自定义模板渲染失败（{error}），已改用内置模板。",
}


class TemplateProblem(Exception):
    """A custom template does not compile; ``lineno`` is its line, when known."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno


# --- the view the templates see -------------------------------------------------------------------

@dataclass
class AlertView:
    """One alert, ready to print."""

    status: str
    severity: str
    icon: str
    alertname: str
    task: str
    summary: str
    description: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str
    firing_for: str
    kibana_url: str
    runbook_url: str
    generator_url: str
    fingerprint: str
    trace_id: str


@dataclass
class GroupView:
    """One alert group (one notification)."""

    receiver: str
    status: str
    severity: str
    icon: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    alerts: list[AlertView]
    firing: int
    resolved: int
    title: str
    external_url: str
    kibana_url: str = ""


@dataclass
class MessageView:
    """Everything one message shows: usually one group; several in a storm summary."""

    groups: list[GroupView]
    locale: str
    timezone: str
    now: str
    total_alerts: int
    omitted: int = 0
    storm: bool = False
    group_count: int = 1
    status: str = "firing"
    severity: str = "info"
    icon: str = ""
    title: str = ""
    keyword: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def alerts(self) -> list[AlertView]:
        """All alerts shown, across groups."""
        return [a for g in self.groups for a in g.alerts]

    @property
    def kibana_url(self) -> str:
        """The first Kibana link among the alerts (for a "view logs" button)."""
        for g in self.groups:
            for a in g.alerts:
                if a.kibana_url:
                    return a.kibana_url
        return ""


def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` (IANA), or ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown time zone "{name}" (use an IANA name such as Asia/Shanghai or UTC)') from None


def human_duration(delta: timedelta, locale: str) -> str:
    """``2h 5m`` / ``2小时5分`` (coarse: the two largest units)."""
    secs = max(0, int(delta.total_seconds()))
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    units = ([("d", "天", days), ("h", "小时", hours), ("m", "分", minutes), ("s", "秒", seconds)])
    parts = [(en, zh, n) for en, zh, n in units if n]
    if not parts:
        return "0秒" if locale == "zh" else "0s"
    parts = parts[:2]
    if locale == "zh":
        return "".join(f"{n}{zh}" for _en, zh, n in parts)
    return " ".join(f"{n}{en}" for en, _zh, n in parts)


def _rison_string(value: str) -> str:
    return "'" + value.replace("!", "!!").replace("'", "!'") + "'"


def kibana_discover_url(base: str, query: str, start: datetime, end: datetime | None) -> str:
    """A Kibana Discover link for a KQL ``query`` from 15 minutes before ``start`` to ``end`` (or now)."""
    frm = (start - timedelta(minutes=15)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    to = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z") if end else "now"
    to_r = _rison_string(to) if end else "now"
    g = f"(time:(from:{_rison_string(frm)},to:{to_r}))"
    a = f"(query:(language:kuery,query:{_rison_string(query)}))"
    return (f"{base.rstrip('/')}/app/discover#/?_g={urllib.parse.quote(g, safe='():,')}"
            f"&_a={urllib.parse.quote(a, safe='():,')}")


def _kql_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class ViewOptions:
    """How a receiver wants its messages shown."""

    locale: str = "en"
    timezone: str = "UTC"
    kibana_base_url: str = ""
    time_format: str = "%Y-%m-%d %H:%M:%S %Z"


def alert_view(a: Alert, now: datetime, opts: ViewOptions) -> AlertView:
    """Turn an :class:`Alert` into what a template prints."""
    tz = zone(opts.timezone)
    resolved = a.resolved_at(now)
    severity = a.labels.get("severity", "") or "info"
    start = a.starts_at or now
    end = a.ends_at if resolved else None
    trace_id = (a.labels.get("trace_id") or a.annotations.get("trace_id") or a.labels.get("trace.id")
                or a.annotations.get("trace.id") or "")
    task = a.labels.get("task", "")
    kibana = a.annotations.get("kibana_url", "")
    if not kibana and opts.kibana_base_url and (trace_id or task):
        query = f"trace.id:{_kql_quote(trace_id)}" if trace_id else f"task.name:{_kql_quote(task)}"
        kibana = kibana_discover_url(opts.kibana_base_url, query, start, end)
    return AlertView(
        status="resolved" if resolved else "firing",
        severity=severity,
        icon="✅" if resolved else _ICON.get(severity, "⚪"),
        alertname=a.labels.get("alertname", ""),
        task=task,
        summary=a.annotations.get("summary", "") or a.annotations.get("description", "") or a.labels.get("alertname", ""),
        description=a.annotations.get("description", ""),
        labels=dict(a.labels),
        annotations=dict(a.annotations),
        starts_at=start.astimezone(tz).strftime(opts.time_format),
        ends_at=end.astimezone(tz).strftime(opts.time_format) if end else "",
        firing_for=human_duration((end or now) - start, opts.locale),
        kibana_url=kibana,
        runbook_url=a.annotations.get("runbook_url", "") or a.annotations.get("runbook", ""),
        generator_url=a.generator_url,
        fingerprint=a.fingerprint,
        trace_id=trace_id,
    )


def _top_severity(severities: list[str]) -> str:
    return min(severities or ["info"], key=lambda s: SEVERITY_ORDER.get(s, 3))


def group_view(n: Notification, opts: ViewOptions) -> GroupView:
    """Turn a :class:`Notification` into a group view (alerts firing first, then resolved)."""
    alerts = [alert_view(a, n.now, opts) for a in n.alerts]
    alerts.sort(key=lambda v: (v.status != "firing", SEVERITY_ORDER.get(v.severity, 3)))
    firing = sum(1 for v in alerts if v.status == "firing")
    severity = _top_severity([v.severity for v in alerts if v.status == "firing"] or [v.severity for v in alerts])
    labels = n.common_labels or n.group_labels
    name = labels.get("alertname") or (alerts[0].alertname if alerts else "") or "alert"
    task = labels.get("task") or (alerts[0].task if len({v.task for v in alerts}) == 1 and alerts else "")
    title = f"{name} {task}".strip()
    resolved = n.status == "resolved" or firing == 0
    return GroupView(
        receiver=n.receiver, status="resolved" if resolved else "firing", severity=severity,
        icon="✅" if resolved else _ICON.get(severity, "⚪"), group_labels=dict(n.group_labels),
        common_labels=dict(n.common_labels), common_annotations=dict(n.common_annotations), alerts=alerts,
        firing=firing, resolved=len(alerts) - firing, title=title, external_url=n.external_url,
        kibana_url=next((v.kibana_url for v in alerts if v.kibana_url), ""),
    )


def message_view(groups: list[GroupView], now: datetime, opts: ViewOptions, *, shown: int | None = None,
                 storm: bool = False, keyword: str = "") -> MessageView:
    """A message with the first ``shown`` alerts of ``groups`` (all when None)."""
    total = sum(len(g.alerts) for g in groups)
    limit = total if shown is None else shown
    kept: list[GroupView] = []
    left = limit
    for g in groups:
        if left <= 0 and kept:
            break
        take = g.alerts[: max(left, 0)]
        left -= len(take)
        kept.append(GroupView(**{**g.__dict__, "alerts": take}))
    status = "firing" if any(g.status == "firing" for g in groups) else "resolved"
    severity = _top_severity([g.severity for g in groups if g.status == "firing"] or [g.severity for g in groups])
    title = groups[0].title if len(groups) == 1 else ""
    return MessageView(
        groups=kept, locale=opts.locale, timezone=opts.timezone,
        now=now.astimezone(zone(opts.timezone)).strftime(opts.time_format), total_alerts=total,
        omitted=total - min(limit, total), storm=storm, group_count=len(groups), status=status, severity=severity,
        icon="✅" if status == "resolved" else _ICON.get(severity, "⚪"), title=title, keyword=keyword,
    )


# --- the environment ------------------------------------------------------------------------------

@dataclass
class Rendered:
    """A rendered text and, when the custom template failed, why (the built-in one was used)."""

    text: str
    fallback: str | None = None


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, strict about unsafe attributes (an error, not a silent empty value)."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed in templates")


def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        loader=FileSystemLoader(str(BUILTIN_DIR)), autoescape=autoescape, undefined=ChainableUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    env.filters["truncate_bytes"] = _truncate_bytes_filter
    return env


def _truncate_bytes_filter(value: Any, limit: int = 200) -> str:
    raw = str(value).encode("utf-8")
    return value if len(raw) <= limit else raw[: max(limit - 3, 0)].decode("utf-8", errors="ignore") + "…"


class Templates:
    """The sandboxed Jinja2 environments (text and HTML) and the built-in templates."""

    def __init__(self) -> None:
        self.text_env = _env(autoescape=False)
        self.html_env = _env(autoescape=True)

    def _env_for(self, part: str) -> ImmutableSandboxedEnvironment:
        return self.html_env if part == "html" else self.text_env

    def compile(self, source: str, part: str = "text") -> Template:
        """Compile a custom template; a syntax error is a :class:`TemplateProblem` with its line."""
        try:
            return self._env_for(part).from_string(source)
        except TemplateError as exc:
            raise TemplateProblem(f"template syntax error: {exc.message or exc}", getattr(exc, "lineno", None)) from None

    def builtin(self, channel: str, part: str, locale: str) -> Template:
        """The built-in template ``<channel>.<part>.<locale>.j2``."""
        return self._env_for(part).get_template(f"{channel}.{part}.{locale}.j2")

    def render(self, channel: str, part: str, view: MessageView, custom: Template | None = None,
               extra: Mapping[str, Any] | None = None) -> Rendered:
        """Render ``custom`` (or the built-in template); a failing custom template falls back, saying so."""
        ctx = {"m": view, **(extra or {})}
        if custom is not None:
            try:
                text = _clean(custom.render(ctx))
                if not text:
                    raise ValueError("the custom template rendered an empty message")
                return Rendered(text)
            except Exception as exc:  # any failure of user code: fall back, never drop
                reason = f"{type(exc).__name__}: {str(exc)[:160]}"
                log.warning("custom template failed; built-in template used",
                            extra={"alerter.channel": channel, "alerter.template_part": part,
                                   "error.message": reason})
                text = _clean(self.builtin(channel, part, view.locale).render(ctx))
                note = _FALLBACK_NOTE.get(view.locale, _FALLBACK_NOTE["en"]).format(error=reason)
                if part in ("title", "subject"):
                    return Rendered(text, reason)
                sep = "<br>\n" if part == "html" else "\n\n"
                return Rendered(f"{note}{sep}{text}", reason)
        return Rendered(_clean(self.builtin(channel, part, view.locale).render(ctx)))


def _clean(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:  # at most one blank line in a row
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out)


@lru_cache(maxsize=1)
def default_templates() -> Templates:
    """The process-wide template environments (built once)."""
    return Templates()
