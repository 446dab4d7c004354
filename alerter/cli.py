"""``cronwatch alerter ...`` commands."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

DEFAULT_LISTEN = "127.0.0.1:9093"


@click.group()
def alerter() -> None:
    """The alerter part of cronwatch."""


config_option = click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
                             help="alerter.yml (or an alertmanager.yml).")


@alerter.command()
@config_option
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, help="HOST:PORT of the HTTP API.")
def run(config_path: Path, listen: str) -> None:
    """Run the alerter: HTTP API (Alertmanager v2), routing, silences, notifications."""
    import asyncio

    from alerter.server import serve
    from cronwatch.metrics import parse_listen

    try:
        host, port = parse_listen(listen, 9093)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    asyncio.run(serve(config_path, host, port))


def _check(path: Path) -> list[str]:
    """Load everything a running alerter would load; returns a summary or raises ConfigError."""
    import httpx

    from alerter.config import load_alerter_config
    from alerter.engine import build_integrations
    from alerter.model import BuildContext
    from alerter.silencefile import SilenceFile
    from cronwatch.clock import SYSTEM_CLOCK
    from cronwatch.errors import ConfigError

    cfg = load_alerter_config(path)
    problems: list[str] = []
    http = httpx.AsyncClient()
    ctx = BuildContext(http=http, clock=SYSTEM_CLOCK, state_dir=cfg.path(cfg.state_dir),
                       external_url=cfg.external_url, extra={"config_dir": cfg.base_dir, "config": cfg})
    n = 0
    try:
        n = sum(len(v) for v in build_integrations(cfg, ctx).values())
    except ConfigError as exc:
        problems += exc.problems
    silences = 0
    if cfg.silences_file:
        try:
            silences = len(SilenceFile(cfg.path(cfg.silences_file)).load().silences)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return [f"{path}: OK", f"  receivers: {len(cfg.receivers)} ({n} integrations)",
            f"  inhibit rules: {len(cfg.inhibit_rules)}", f"  time intervals: {len(cfg.intervals())}",
            f"  tiers: {', '.join(cfg.tiers) or 'none'}", f"  silences: {silences}"]


@alerter.command("check-config")
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path))
def check_config(config_path: Path) -> None:
    """Validate routes, receivers and silences; print file:line errors and exit 2 when invalid."""
    for line in _check(config_path):
        click.echo(line)


@alerter.command("routes-test")
@config_option
@click.option("--tree", is_flag=True, help="Also print the matched route of each receiver.")
@click.argument("labels", nargs=-1, required=True)
def routes_test(config_path: Path, tree: bool, labels: tuple[str, ...]) -> None:
    """Print the receivers an alert with LABEL=VALUE... reaches, one per line."""
    from alerter.config import load_alerter_config
    from alerter.route import Router

    lset: dict[str, str] = {}
    for item in labels:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: expected LABEL=VALUE", param_hint="LABELS")
        lset[name] = value.strip('"')
    router = Router(load_alerter_config(config_path))
    if tree:
        for d in router.destinations(lset):
            for r in d.opts.receivers:
                click.echo(f"{r}\t{d.route.key}{' tier=' + d.tier if d.tier else ''}")
        return
    for r in router.receivers_for(lset):
        click.echo(r)


@alerter.group()
def silence() -> None:
    """Add, list and expire silences (edits the silences YAML file in place, keeping comments)."""


def _silence_file(config_path: Path) -> Any:
    from alerter.config import load_alerter_config
    from alerter.silencefile import SilenceFile

    cfg = load_alerter_config(config_path)
    path = cfg.path(cfg.silences_file) if cfg.silences_file else cfg.path(cfg.state_dir) / "silences.yml"
    sf = SilenceFile(path)
    sf.load()
    return sf


@silence.command("add")
@config_option
@click.option("--duration", default="1h", show_default=True, help="How long, from --start (e.g. 2h, 30m).")
@click.option("--start", default=None, help="RFC 3339 start (default: now).")
@click.option("--comment", "-c", required=True, help="Why.")
@click.option("--author", "-a", default=None, help="Who (default: $USER).")
@click.option("--id", "sid", default=None, help="A stable id (default: a new UUID).")
@click.option("--every", default=None, metavar="CRON",
              help="Recurring: open a window of --duration at each fire of this cron expression.")
@click.option("--timezone", default="UTC", show_default=True, help="Time zone of --every.")
@click.option("--until", default=None, help="RFC 3339 end of a recurring silence (default: none).")
@click.argument("matchers", nargs=-1, required=True)
def silence_add(config_path: Path, duration: str, start: str | None, comment: str, author: str | None,
                sid: str | None, every: str | None, timezone: str, until: str | None,
                matchers: tuple[str, ...]) -> None:
    """Add a silence for MATCHERS such as 'task="db_backup"' 'severity=~"warning|info"'; prints its id.

    With --every, the silence recurs: e.g. --every "0 22 * * *" --duration 8h --timezone Asia/Shanghai.
    """
    import getpass

    from pydantic import ValidationError

    from alerter.errors import AlertInputError, SilenceError
    from alerter.ingest import parse_ts
    from alerter.silences import Silence
    from cronwatch.config import validation_problems
    from cronwatch.durations import parse_duration
    from cronwatch.errors import ConfigError

    try:
        begin = parse_ts(start, "--start") if start else None
        last = parse_ts(until, "--until") if until else None
    except AlertInputError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        length = parse_duration(duration)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--duration") from None
    data: dict[str, Any] = {"id": sid, "matchers": list(matchers), "created_by": author or getpass.getuser(),
                            "comment": comment}
    if every:
        data.update(every={"cron": every, "duration": length, "timezone": timezone}, starts_at=begin,
                    ends_at=last)
    else:
        begin = begin or datetime.now(UTC)
        data.update(starts_at=begin, ends_at=begin + length)
    try:
        s = Silence.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([p.replace("<silence>: ", "") for p in validation_problems(exc, None, "<silence>")]) \
            from None
    try:
        click.echo(_silence_file(config_path).add(s))
    except SilenceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@silence.command("list")
@config_option
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
def silence_list(config_path: Path, show_all: bool) -> None:
    """List silences: id, state, window, matchers, comment."""
    from alerter.payload import rfc3339
    from cronwatch.durations import format_duration

    sf = _silence_file(config_path)
    now = datetime.now(UTC)
    for s in sf.index.silences:
        state = s.state(now)
        if state == "expired" and not show_all:
            continue
        start, end = s.shown_window(now)
        every = f" every {s.every.cron} for {format_duration(s.every.duration)} ({s.every.timezone})" \
            if s.every else ""
        click.echo(f"{s.uid}\t{state}\t{rfc3339(start)}\t{rfc3339(end)}{every}\t{' '.join(s.matchers)}\t"
                   f"{s.created_by}\t{s.comment}")


@silence.command("expire")
@config_option
@click.argument("ids", nargs=-1, required=True)
def silence_expire(config_path: Path, ids: tuple[str, ...]) -> None:
    """Expire silences by id (the file keeps them, with ends_at set to now)."""
    from alerter.errors import SilenceError

    sf = _silence_file(config_path)
    failed = False
    for sid in ids:
        try:
            sf.expire(sid, datetime.now(UTC))
            click.echo(f"expired {sid}")
        except SilenceError as exc:
            click.echo(f"error: {exc}", err=True)
            failed = True
    if failed:
        sys.exit(1)


def _contributed_commands() -> None:
    """Add commands other alerter modules contribute (``render`` from ``alerter.render_cli``)."""
    try:
        from alerter import render_cli
    except ModuleNotFoundError as exc:
        if exc.name != "alerter.render_cli":
            raise
        return
    for obj in list(vars(render_cli).values()):
        if isinstance(obj, click.Command) and obj.name and obj.name not in alerter.commands:
            alerter.add_command(obj)


_contributed_commands()
