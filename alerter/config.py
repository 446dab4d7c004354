"""``alerter.yml``: a superset of Alertmanager's configuration.

An existing ``alertmanager.yml`` (``global``, ``route``, ``receivers``, ``inhibit_rules``,
``time_intervals``/``mute_time_intervals``) loads unchanged and means the same. cronwatch adds:

- ``tiers:`` — per severity (``critical``/``warning``/``info``) default receivers and timings;
  a route that names no receiver of its own sends to its tier's receivers, and a route's own
  timings override the tier's (see :mod:`alerter.route`);
- ``silences_file:`` — the YAML silences file (single source of truth);
- ``flap_hold`` on routes and tiers — a resolved alert is announced only after it stayed
  resolved that long;
- receiver types ``file_configs`` (and the chat/mail/Sentry ones of the receivers issue);
- ``state_dir``, ``api`` (bearer token, body limit), ``sources`` (Prometheus polling), ``delivery``,
  ``cluster`` (replicas sharing the notification log in Redis).

Relative paths are relative to the config file's directory, as in Alertmanager. Go
``templates:``, unknown keys and receiver types we do not implement are errors with file:line.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from alerter.cluster import ClusterConfig
from alerter.errors import MatcherError
from alerter.httpconfig import HttpConfig
from alerter.matchers import Matcher, legacy_matchers, parse_matchers
from alerter.receivers.dingtalk import DingtalkConfig
from alerter.receivers.email import EmailConfig
from alerter.receivers.file import FileConfig
from alerter.receivers.sentry import SentryConfig
from alerter.receivers.webhook import WebhookConfig
from alerter.receivers.wecom import WecomConfig
from alerter.timeintervals import TimeInterval
from cronwatch.config import Loc, Model, YamlDocument, interpolate_env, read_yaml, validate_document
from cronwatch.durations import Duration
from cronwatch.errors import ConfigError

SEVERITIES = ("critical", "warning", "info")

# Alertmanager receiver types cronwatch does not implement: reported "not implemented" with file:line.
# A type stops being reported as soon as ReceiverConfig has a field of that name.
ALERTMANAGER_RECEIVER_TYPES = (
    "email_configs", "pagerduty_configs", "slack_configs", "opsgenie_configs", "wechat_configs",
    "pushover_configs", "victorops_configs", "sns_configs", "telegram_configs", "webex_configs",
    "discord_configs", "msteams_configs", "msteamsv2_configs", "jira_configs", "rocketchat_configs",
    "incidentio_configs",
)
CRONWATCH_PLANNED_TYPES = ("wecom_configs", "dingtalk_configs", "sentry_configs")


def _matchers(values: list[str]) -> list[Matcher]:
    out: list[Matcher] = []
    for text in values:
        try:
            out += parse_matchers(text)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
    return out


class GlobalConfig(Model):
    """``global:`` — Alertmanager's defaults; the SMTP ones are used by ``email_configs``."""

    resolve_timeout: Duration = timedelta(minutes=5)
    http_config: HttpConfig = Field(default_factory=HttpConfig)
    smtp_from: str | None = None
    smtp_hello: str | None = None
    smtp_smarthost: str | None = None
    smtp_auth_username: str | None = None
    smtp_auth_password: SecretStr | None = None
    smtp_auth_password_file: str | None = None
    smtp_auth_identity: str | None = None
    smtp_auth_secret: SecretStr | None = None
    smtp_require_tls: bool = True
    # accepted so an alertmanager.yml loads; they configure receiver types we do not implement
    slack_api_url: SecretStr | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: str | None = None
    opsgenie_api_key: SecretStr | None = None
    opsgenie_api_key_file: str | None = None
    opsgenie_api_url: str | None = None
    wechat_api_url: str | None = None
    wechat_api_secret: SecretStr | None = None
    wechat_api_corp_id: str | None = None
    victorops_api_key: SecretStr | None = None
    victorops_api_key_file: str | None = None
    victorops_api_url: str | None = None
    telegram_api_url: str | None = None
    webex_api_url: str | None = None


class RouteConfig(Model):
    """One node of the routing tree (Alertmanager's ``route``)."""

    receiver: str | None = None
    group_by: list[str] | None = None
    continue_: bool = Field(default=False, alias="continue")
    matchers: list[str] = Field(default_factory=list)
    match: dict[str, str] | None = None
    match_re: dict[str, str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    flap_hold: Duration | None = None
    routes: list[RouteConfig] = Field(default_factory=list)

    @field_validator("matchers")
    @classmethod
    def _m(cls, v: list[str]) -> list[str]:
        _matchers(v)
        return v

    @field_validator("match_re")
    @classmethod
    def _mre(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        try:
            legacy_matchers(None, v)
        except MatcherError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("group_by")
    @classmethod
    def _gb(cls, v: list[str] | None) -> list[str] | None:
        if v and "..." in v and len(v) > 1:
            raise ValueError("'...' must be the only element of group_by")
        return v

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _positive(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v <= timedelta(0):
            raise ValueError("must be positive")
        return v

    def all_matchers(self) -> list[Matcher]:
        """``matchers`` plus the deprecated ``match``/``match_re``."""
        return _matchers(self.matchers) + legacy_matchers(self.match, self.match_re)


class ReceiverConfig(Model):
    """One named receiver with its integrations (each a list, the Alertmanager way)."""

    name: str
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    file_configs: list[FileConfig] = Field(default_factory=list)
    # --- receivers issue (#7): add email_configs, wecom_configs, dingtalk_configs, sentry_configs here,
    # --- each a list of a Model with build(ctx) -> Integration. Until a field exists, the key is
    # --- reported "not implemented" with file:line by load_alerter_config.
    email_configs: list[EmailConfig] = Field(default_factory=list)
    wecom_configs: list[WecomConfig] = Field(default_factory=list)
    dingtalk_configs: list[DingtalkConfig] = Field(default_factory=list)
    sentry_configs: list[SentryConfig] = Field(default_factory=list)

    def integration_configs(self) -> list[tuple[str, int, Any]]:
        """``(field name, index, config)`` of every integration, in field order."""
        out: list[tuple[str, int, Any]] = []
        for fname in type(self).model_fields:
            if fname.endswith("_configs"):
                out += [(fname, i, c) for i, c in enumerate(getattr(self, fname))]
        return out


class InhibitRuleConfig(Model):
    """``inhibit_rules[]``: a firing source alert mutes targets with the same ``equal`` labels."""

    source_matchers: list[str] = Field(default_factory=list)
    target_matchers: list[str] = Field(default_factory=list)
    source_match: dict[str, str] | None = None
    source_match_re: dict[str, str] | None = None
    target_match: dict[str, str] | None = None
    target_match_re: dict[str, str] | None = None
    equal: list[str] = Field(default_factory=list)

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _m(cls, v: list[str]) -> list[str]:
        _matchers(v)
        return v

    def sources(self) -> list[Matcher]:
        return _matchers(self.source_matchers) + legacy_matchers(self.source_match, self.source_match_re)

    def targets(self) -> list[Matcher]:
        return _matchers(self.target_matchers) + legacy_matchers(self.target_match, self.target_match_re)


class TierConfig(Model):
    """``tiers.<severity>``: default receivers and timings for alerts of that severity."""

    receivers: list[str] = Field(default_factory=list)
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    flap_hold: Duration | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)


class ApiConfig(Model):
    """``api:`` — the HTTP API's bearer token (for mutating endpoints) and body limit."""

    token: SecretStr | None = None
    token_file: str | None = None
    max_body_bytes: int = Field(default=4 << 20, ge=1024)


class PrometheusSource(Model):
    """``sources.prometheus[]``: poll a Prometheus ``/api/v1/alerts`` for firing alerts."""

    url: str
    interval: Duration = timedelta(seconds=30)
    http_config: HttpConfig = Field(default_factory=HttpConfig)


class SourcesConfig(Model):
    """``sources:`` — alert sources the alerter pulls from, and how long webhook alerts stay open.

    An Alertmanager in front of us repeats a firing group only every ``repeat_interval`` (hours),
    so a firing alert received on ``/webhook`` stays open for ``webhook_resolve_timeout`` unless a
    resolved notification (or a repeat) arrives first.
    """

    prometheus: list[PrometheusSource] = Field(default_factory=list)
    webhook_resolve_timeout: Duration = timedelta(hours=25)


class DeliveryConfig(Model):
    """``delivery:`` — retry backoff for RETRY results (retries stop at the group's next flush)."""

    backoff_initial: Duration = timedelta(seconds=1)
    backoff_max: Duration = timedelta(seconds=60)
    nflog_retention: Duration = timedelta(hours=120)


class AlerterConfig(Model):
    """The whole ``alerter.yml``."""

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: RouteConfig
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    time_intervals: list[TimeInterval] = Field(default_factory=list)
    mute_time_intervals: list[TimeInterval] = Field(default_factory=list)
    tiers: dict[Literal["critical", "warning", "info"], TierConfig] = Field(default_factory=dict)
    silences_file: str | None = None
    state_dir: str = "alerter-data"
    external_url: str = ""
    api: ApiConfig = Field(default_factory=ApiConfig)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    cluster: ClusterConfig | None = None

    # where the file was loaded from (not a YAML key)
    base_dir: Path = Field(default=Path("."), exclude=True)
    source_text: str = Field(default="", exclude=True, repr=False)
    source_path: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _root(self) -> AlerterConfig:
        if not self.route.receiver:
            raise ValueError("route.receiver is required on the root route")
        return self

    def intervals(self) -> dict[str, TimeInterval]:
        """Every named time interval."""
        return {t.name: t for t in [*self.time_intervals, *self.mute_time_intervals]}

    def path(self, value: str) -> Path:
        """A config path resolved against the config file's directory."""
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p


def _receiver_type_problems(doc: YamlDocument) -> list[str]:
    problems = []
    data = doc.data if isinstance(doc.data, dict) else {}
    if "templates" in data:
        problems.append(f"{doc.where(('templates',))}: templates: Go templates are not supported; cronwatch "
                        "uses Jinja2 templates configured per receiver (see the receivers documentation)")
        data.pop("templates")
    implemented = set(ReceiverConfig.model_fields)
    for i, rec in enumerate(data.get("receivers") or []):
        if not isinstance(rec, dict):
            continue
        for key in list(rec):
            if key in implemented:
                continue
            if key in ALERTMANAGER_RECEIVER_TYPES or key in CRONWATCH_PLANNED_TYPES:
                problems.append(f"{doc.where(('receivers', i, key))}: receivers[{i}].{key}: receiver type "
                                f"{key.removesuffix('_configs')} is not implemented by cronwatch")
                rec.pop(key)
    return problems


def _cross_problems(doc: YamlDocument, cfg: AlerterConfig) -> list[str]:
    names = [r.name for r in cfg.receivers]
    problems = []
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            problems.append(f"{doc.where(('receivers', i, 'name'))}: receivers[{i}].name: duplicate receiver {n!r}")
        seen.add(n)
    intervals = cfg.intervals()

    def walk(route: RouteConfig, loc: Loc) -> None:
        if route.receiver is not None and route.receiver not in seen:
            where = doc.where((*loc, "receiver"))
            problems.append(f"{where}: {_fmt(loc)}.receiver: undefined receiver {route.receiver!r}")
        for key in ("mute_time_intervals", "active_time_intervals"):
            for j, name in enumerate(getattr(route, key)):
                if name not in intervals:
                    problems.append(f"{doc.where((*loc, key, j))}: {_fmt(loc)}.{key}[{j}]: undefined time "
                                    f"interval {name!r}")
        for j, child in enumerate(route.routes):
            walk(child, (*loc, "routes", j))

    walk(cfg.route, ("route",))
    for sev, tier in cfg.tiers.items():
        for j, name in enumerate(tier.receivers):
            if name not in seen:
                problems.append(f"{doc.where(('tiers', sev, 'receivers', j))}: tiers.{sev}.receivers[{j}]: "
                                f"undefined receiver {name!r}")
        for key in ("mute_time_intervals", "active_time_intervals"):
            for j, name in enumerate(getattr(tier, key)):
                if name not in intervals:
                    problems.append(f"{doc.where(('tiers', sev, key, j))}: tiers.{sev}.{key}[{j}]: undefined "
                                    f"time interval {name!r}")
    return problems


def _fmt(loc: Loc) -> str:
    from cronwatch.config import format_loc

    return format_loc(loc)


def parse_alerter_config(doc: YamlDocument, base_dir: Path, text: str = "") -> AlerterConfig:
    """Validate a parsed document; every problem is reported at once with file:line."""
    interpolate_env(doc)
    problems = _receiver_type_problems(doc)
    try:
        cfg = validate_document(doc, AlerterConfig)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    problems += _cross_problems(doc, cfg)
    if problems:
        raise ConfigError(problems)
    cfg.base_dir = base_dir
    cfg.source_text = text
    cfg.source_path = doc.path
    return cfg


def load_alerter_config(path: str | Path) -> AlerterConfig:
    """Read and validate ``alerter.yml`` (or an ``alertmanager.yml``)."""
    p = Path(path)
    doc = read_yaml(p)
    return parse_alerter_config(doc, p.resolve().parent, p.read_text(encoding="utf-8"))
