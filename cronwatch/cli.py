"""The one console command: ``cronwatch <part> <verb>``.

Each part contributes a click group from its own ``cli`` module; heavy imports stay inside the
commands so ``cronwatch --help`` is instant.
"""

from __future__ import annotations

import sys

import click

from cronwatch import __version__
from cronwatch.errors import ConfigError
from cronwatch.jsonlog import setup_logging


class CronwatchGroup(click.Group):
    """A group that prints configuration errors as they are (file:line: field: message), exit 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            for line in exc.problems:
                click.echo(f"error: {line}", err=True)
            sys.exit(2)


@click.group(cls=CronwatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default="info", show_default=True, envvar="CRONWATCH_LOG_LEVEL",
              type=click.Choice(["trace", "debug", "info", "warn", "error", "fatal"]),
              help="Level of cronwatch's own JSON logs (stderr).")
@click.version_option(__version__, "--version", prog_name="cronwatch")
@click.pass_context
def cli(ctx: click.Context, log_level: str) -> None:
    """cronwatch — logs, metrics and alerts for scheduled jobs."""
    ctx.ensure_object(dict)
    ctx.obj["log_level"] = log_level
    setup_logging(log_level, service=f"cronwatch-{ctx.invoked_subcommand or 'cli'}")


@cli.command()
def version() -> None:
    """Print cronwatch's version."""
    click.echo(f"cronwatch {__version__}")


def _register() -> None:
    from alerter.cli import alerter
    from cronwatch.demo import demo
    from cronwatch.logs import logs
    from scheduler.cli import scheduler
    from shipper.cli import shipper

    for group in (shipper, alerter, scheduler, demo, logs):
        cli.add_command(group)


_register()


def main() -> None:
    """Console entry point."""
    cli(prog_name="cronwatch")
