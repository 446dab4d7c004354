"""``cronwatch shipper ...`` commands."""

from __future__ import annotations

import click


@click.group()
def shipper() -> None:
    """The shipper part of cronwatch."""


from shipper.commands import backfill_cmd, check_cmd, run_cmd  # noqa: E402

shipper.add_command(run_cmd)
shipper.add_command(backfill_cmd)
shipper.add_command(check_cmd)


def _register_parse() -> None:
    from shipper.parse.command import parse

    shipper.add_command(parse)


_register_parse()
