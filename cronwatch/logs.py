"""``cronwatch logs``: query job logs in the store from the terminal (filled in by the demo issue)."""

from __future__ import annotations

import click


@click.command()
@click.option("--hosts", default="http://localhost:9200", show_default=True)
def logs(hosts: str) -> None:
    """Search job logs by task, trace id, level or query string."""
    raise click.ClickException("cronwatch logs is not implemented yet")
