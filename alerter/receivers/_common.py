"""What the email, WeCom, DingTalk and Sentry receivers share: message options, dry runs, keys.

:class:`MessageOptions` holds the config keys every one of them has (``send_resolved``,
``locale``, ``timezone``, ``kibana_base_url``, custom templates, ``dry_run``, ``timeout``);
custom templates are compiled when the config loads, so a syntax error is reported with the
file and line of the config, and again at render time a failing one falls back to the built-in.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from jinja2 import Template
from pydantic import field_validator, model_validator

from alerter.model import BuildContext, Notification
from alerter.templating import TemplateProblem, Templates, ViewOptions, default_templates
from cronwatch.config import Model, TimeZoneName
from cronwatch.durations import Duration
from cronwatch.errors import ConfigError

_GO_TEMPLATE = re.compile(r"\{\{-?\s*(template\s+\"|\.[A-Za-z]|range\s+\.|define\s+\")")


def reject_go_template(source: str, what: str) -> None:
    """Alertmanager's Go templates are not Jinja2: say so instead of rendering nonsense."""
    if _GO_TEMPLATE.search(source):
        raise ValueError(f"{what} looks like an Alertmanager Go template; cronwatch templates are Jinja2 "
                         "(see `cronwatch alerter render` to preview) — remove it to use the built-in template")


def check_template(source: str | None, what: str, part: str = "text") -> str | None:
    """Compile ``source`` once at load time; errors name the template line."""
    if source is None:
        return None
    reject_go_template(source, what)
    try:
        default_templates().compile(source, part)
    except TemplateProblem as exc:
        line = f" (template line {exc.lineno})" if exc.lineno else ""
        raise ValueError(f"{what}: {exc}{line}") from None
    return source


class MessageOptions(Model):
    """Keys every message-sending receiver has."""

    send_resolved: bool = True
    locale: Literal["en", "zh"] = "en"
    timezone: TimeZoneName = "UTC"
    kibana_base_url: str = ""
    template: str | None = None
    template_file: str | None = None
    dry_run: bool = False
    dry_run_dir: str | None = None
    timeout: Duration = timedelta(seconds=10)

    @field_validator("template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return check_template(v, "template")

    @model_validator(mode="after")
    def _template_file(self) -> MessageOptions:
        if self.template_file and self.template is not None:
            raise ValueError("give template or template_file, not both")
        return self

    def view_options(self) -> ViewOptions:
        """How to show times and links."""
        return ViewOptions(locale=self.locale, timezone=self.timezone, kibana_base_url=self.kibana_base_url)

    def custom_template(self, templates: Templates, ctx: BuildContext | None = None, part: str = "text") -> Template | None:
        """The compiled custom body template, if any; a bad ``template_file`` is a :class:`ConfigError`."""
        source = self.template
        if source is None and self.template_file:
            path = config_path(ctx, self.template_file) if ctx is not None else self.template_file
            try:
                source = Path(path or self.template_file).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"template_file: cannot read {path}: {exc.strerror}") from None
            try:
                check_template(source, f"template_file {path}", part)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if source is None:
            return None
        return templates.compile(source, part)


def config_path(ctx: BuildContext, value: str | None) -> str | None:
    """A ``*_file`` path from the config, relative to the config file's directory."""
    if not value:
        return None
    p = Path(value)
    return str(p if p.is_absolute() else Path(ctx.extra.get("config_dir", ".")) / p)


def global_config(ctx: BuildContext) -> Any:
    """The ``global:`` section (for ``smtp_*`` defaults), if the engine passed the config."""
    return ctx.extra.get("global") or getattr(ctx.extra.get("config"), "global_", None)


def templates_of(ctx: BuildContext) -> Templates:
    """The build context's template environment, or the process-wide one."""
    return ctx.templates if isinstance(ctx.templates, Templates) else default_templates()


def notification_key(n: Notification) -> str:
    """Identity of one notification's content (same group, status and alert set → same key)."""
    h = hashlib.sha256()
    h.update(f"{n.receiver}\0{n.group_key}\0{n.status}\0".encode())
    for a in sorted(n.alerts, key=lambda a: a.fingerprint):
        h.update(f"{a.fingerprint}:{a.status(n.now)};".encode())
    return h.hexdigest()[:32]


@dataclass
class Preview:
    """Exactly what one integration would send (for ``cronwatch alerter render`` and dry runs)."""

    kind: str
    target: str  # where it would go, secrets redacted
    content_type: str
    body: str
    fallback: str | None = None


def dry_run_dir(opts: MessageOptions, ctx: BuildContext) -> Path:
    """Where dry runs write: ``dry_run_dir``; else the directory of the same receiver's ``file_configs``;
    else ``<state_dir>/dry-run``."""
    if opts.dry_run_dir:
        return Path(config_path(ctx, opts.dry_run_dir) or opts.dry_run_dir)
    configured = ctx.extra.get("file_dir") or ctx.extra.get("dry_run_dir")
    if configured:
        return Path(configured)
    cfg = ctx.extra.get("config")
    for rec in getattr(cfg, "receivers", []):
        if any(c is opts for _f, _i, c in rec.integration_configs()) and getattr(rec, "file_configs", None):
            return Path(config_path(ctx, rec.file_configs[0].directory) or rec.file_configs[0].directory)
    return Path(ctx.state_dir) / "dry-run"


_SEQ = itertools.count(1)


def write_dry_run(directory: Path, n: Notification, previews: list[Preview]) -> Path:
    """Write the rendered previews of ``n`` as one JSON file, the file receiver's way (atomic, sortable name)."""
    from alerter.receivers.file import FileIntegration, file_name

    kind = previews[0].kind if previews else "unknown"
    name = file_name(n.receiver, n.now, next(_SEQ)).removesuffix(".json") + f".{kind}.dry-run.json"
    doc: dict[str, Any] = {
        "receiver": n.receiver, "group_key": n.group_key, "status": n.status, "dry_run": True,
        "messages": [p.__dict__ for p in previews],
    }
    return FileIntegration(directory).write(name, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
