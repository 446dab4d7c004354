"""``cronwatch alerter render`` (print exactly what a receiver would send) and ``cronwatch alerter status``.

``render`` loads ``alerter.yml``, builds the receiver's integrations without sending anything and
prints, per integration, the exact payload: the robot JSON, the e-mail MIME message, the Sentry
envelope, the webhook body. Alerts come from ``--alerts FILE`` (a ``POST /api/v2/alerts`` list or
an Alertmanager webhook payload, JSON or YAML) or a built-in sample.

``status`` reads ``GET /api/cronwatch/v1/receivers`` of a running alerter and shows each
integration's last result (sent / retry / permanent, with the reason), so a bad key or a refused
signature is visible without reading logs.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from alerter.model import Alert, Notification

SAMPLE_ALERTS: list[dict[str, Any]] = [{
    "labels": {"alertname": "CronTaskFailed", "severity": "critical", "task": "db_backup", "team": "dba",
               "env": "prod"},
    "annotations": {"summary": "Task db_backup failed 3 times in a row",
                    "description": "The last run exited with status 1 (pg_dump: connection refused).",
                    "runbook_url": "https://runbooks.example.com/cron/task-failed"},
}]


def load_alerts(path: Path | None, now: datetime) -> list[Alert]:
    """Alerts from a file (v2 list or webhook payload; JSON or YAML) or the sample."""
    from alerter.errors import AlertInputError
    from alerter.ingest import alerts_from_api, alerts_from_webhook
    from cronwatch.config import read_yaml
    from cronwatch.errors import ConfigError

    if path is None:
        body: Any = [dict(a, startsAt=(now - timedelta(minutes=42)).isoformat()) for a in SAMPLE_ALERTS]
    else:
        body = read_yaml(path).data  # YAML is a superset of JSON; errors name file:line
    try:
        if isinstance(body, dict):
            return alerts_from_webhook(body, now, timedelta(minutes=5))
        return alerts_from_api(body, now, timedelta(minutes=5))
    except AlertInputError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def notification_for(receiver: str, alerts: list[Alert], now: datetime, external_url: str) -> Notification:
    """One notification of all ``alerts`` as a single group (common labels as the group labels)."""
    from alerter.engine import common

    labels = common([a.labels for a in alerts])
    status = "firing" if any(not a.resolved_at(now) for a in alerts) else "resolved"
    key = "{}:{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return Notification(receiver=receiver, group_key=key, group_labels=labels, alerts=alerts, status=status,
                        now=now, external_url=external_url, common_labels=labels,
                        common_annotations=common([a.annotations for a in alerts]))


def previews(config_path: Path, receiver: str, alerts_path: Path | None) -> list[tuple[str, Any]]:
    """``(heading, body)`` per integration of ``receiver`` — nothing is sent."""
    import httpx
    import orjson

    from alerter.config import load_alerter_config
    from alerter.model import BuildContext
    from alerter.payload import webhook_payload
    from cronwatch.clock import SYSTEM_CLOCK
    from cronwatch.errors import ConfigError

    cfg = load_alerter_config(config_path)
    names = [r.name for r in cfg.receivers]
    if receiver not in names:
        raise ConfigError(f"{config_path}: no receiver named {receiver!r} (receivers: {', '.join(names) or 'none'})")
    rec = cfg.receivers[names.index(receiver)]
    now = SYSTEM_CLOCK.now().astimezone(UTC)
    n = notification_for(receiver, load_alerts(alerts_path, now), now, cfg.external_url)
    ctx = BuildContext(http=httpx.AsyncClient(), clock=SYSTEM_CLOCK, state_dir=cfg.path(cfg.state_dir),
                       external_url=cfg.external_url, extra={"config_dir": cfg.base_dir, "config": cfg})
    out: list[tuple[str, Any]] = []
    for fname, idx, icfg in rec.integration_configs():
        integration = icfg.build(ctx)
        where = f"{receiver}: {fname}[{idx}]"
        if hasattr(integration, "preview"):
            for p in integration.preview(n):
                body = p.body
                if p.content_type == "application/json":
                    body = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
                out.append((f"{where} ({p.kind}) → {p.target} [{p.content_type}]", body))
                if p.fallback:
                    out.append((f"{where}: warning", f"custom template failed, built-in used: {p.fallback}"))
        else:
            body = orjson.dumps(webhook_payload(n), option=orjson.OPT_INDENT_2).decode()
            out.append((f"{where} ({integration.kind}) [application/json]", body))
    return out


@click.command("render")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="alerter.yml")
@click.option("--receiver", required=True, help="Name of the receiver to render for.")
@click.option("--alerts", "alerts_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Alerts as a /api/v2/alerts list or a webhook payload (JSON or YAML); default: a sample.")
def render(config_path: Path, receiver: str, alerts_path: Path | None) -> None:
    """Print exactly what RECEIVER would send for the alerts (nothing is sent)."""
    items = previews(config_path, receiver, alerts_path)
    if not items:
        click.echo(f"receiver {receiver!r} has no integrations", err=True)
    for heading, body in items:
        if heading.endswith(": warning"):
            click.echo(f"warning: {body}", err=True)
            continue
        click.echo(f"### {heading}")
        click.echo(body)
        click.echo()


def status_rows(data: Any) -> list[dict[str, Any]]:
    """Validate the status API's answer (a list of integration records)."""
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError("unexpected answer from /api/cronwatch/v1/receivers (expected a list of objects)")
    return data


def status_table(rows: list[dict[str, Any]]) -> Any:
    """A rich table of the integrations' last results."""
    from rich.table import Table

    colour = {"sent": "green", "retry": "yellow", "permanent": "bold red"}
    table = Table(title="cronwatch alerter — receivers")
    for col in ("receiver", "integration", "last outcome", "last attempt", "last success", "attempts",
                "failures", "detail"):
        table.add_column(col, overflow="fold")
    for r in rows:
        outcome = r.get("last_outcome") or "—"
        table.add_row(str(r.get("receiver", "")), f"{r.get('integration', '')}[{r.get('index', 0)}]",
                      f"[{colour.get(outcome, 'white')}]{outcome}[/]", str(r.get("last_attempt") or "—"),
                      str(r.get("last_success") or "—"), str(r.get("attempts", 0)), str(r.get("failures", 0)),
                      str(r.get("last_detail") or ""))
    return table


@click.command("status")
@click.option("--url", default="http://127.0.0.1:9093", show_default=True, envvar="CRONWATCH_ALERTER_URL",
              help="Base URL of the running alerter.")
@click.option("--token", default=None, envvar="CRONWATCH_ALERTER_TOKEN",
              help="Bearer token, if the API requires one (env CRONWATCH_ALERTER_TOKEN).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON.")
@click.option("--check", is_flag=True, help="Exit 1 when any integration's last result is a permanent failure.")
def status(url: str, token: str | None, as_json: bool, check: bool) -> None:
    """Show each receiver integration's last delivery result (from a running alerter)."""
    import httpx
    import orjson
    from rich.console import Console

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    endpoint = url.rstrip("/") + "/api/cronwatch/v1/receivers"
    try:
        resp = httpx.get(endpoint, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the alerter at {url}: {type(exc).__name__}") from None
    if resp.status_code != 200:
        raise click.ClickException(f"{endpoint} answered HTTP {resp.status_code}")
    try:
        rows = status_rows(resp.json())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    else:
        Console(width=max(120, Console().width)).print(status_table(rows))
    if check and any(r.get("last_outcome") == "permanent" for r in rows):
        sys.exit(1)
