"""``cronwatch scheduler ...`` commands: ``next``, ``validate``, ``run``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click


@contextmanager
def _config_errors() -> Iterator[None]:
    """Print ``ConfigError`` problems (file:line: field: message) and exit 2, whatever group runs us."""
    from cronwatch.errors import ConfigError

    try:
        yield
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(f"error: {line}", err=True)
        sys.exit(2)


@click.group()
def scheduler() -> None:
    """The reference scheduler: cron tasks that are observable by construction."""


@scheduler.command("next")
@click.argument("expr")
@click.option("--tz", "tz", default="UTC", show_default=True, help="IANA time zone of the schedule.")
@click.option("--after", default=None, help="ISO 8601 start (default: now); a time without offset is in --tz.")
@click.option("--count", "-n", default=5, show_default=True, type=click.IntRange(1, 10000))
def next_cmd(expr: str, tz: str, after: str | None, count: int) -> None:
    """Print the next COUNT fire times of EXPR (ISO 8601 with the zone's offset), one per line."""
    import time
    from datetime import datetime

    from cronwatch.errors import ConfigError
    from scheduler.triggers import parse_schedule, resolve_timezone, upcoming

    with _config_errors():
        trigger = parse_schedule(expr, tz)
        zone = resolve_timezone(tz)
        if after is None:
            start = time.time()
        else:
            try:
                dt = datetime.fromisoformat(after.strip())
            except ValueError:
                raise ConfigError(f'--after: invalid ISO 8601 time "{after}" (e.g. 2026-11-22T02:00:00+08:00)') from None
            start = (dt if dt.tzinfo else dt.replace(tzinfo=zone)).timestamp()
    for ts in upcoming(trigger, start, count):
        click.echo(datetime.fromtimestamp(ts, zone).isoformat())


@scheduler.command()
@click.option("--config", "-c", "config", required=True, type=click.Path(dir_okay=False))
def validate(config: str) -> None:
    """Check a tasks.yml file; print problems as file:line: field: message (exit 2)."""
    from scheduler.model import load_scheduler_config

    with _config_errors():
        cfg = load_scheduler_config(config)
    click.echo(f"{config}: ok ({len(cfg.tasks)} task(s))")


@scheduler.command()
@click.option("--config", "-c", "config", default=None, type=click.Path(dir_okay=False),
              help="tasks.yml (tasks, listen, state_dir, log_file, redis_url, api_token...).")
@click.option("--state", "state", default=None, help="State directory (SQLite, default var/scheduler).")
@click.option("--listen", default=None, help="HOST:PORT of the HTTP API and /metrics (default 127.0.0.1:9477).")
@click.option("--log-file", "log_file", default=None, help="Job log file (default <state>/logs/tasks.log).")
def run(config: str | None, state: str | None, listen: str | None, log_file: str | None) -> None:
    """Run the scheduler until SIGTERM (SIGHUP reloads the config)."""
    import asyncio

    from scheduler.service import Service

    overrides = {"state_dir": state, "listen": listen, "log_file": log_file}
    with _config_errors():
        service = Service(config, overrides)
    asyncio.run(service.serve())
