"""``cronwatch demo``: the whole pipeline on embedded defaults (filled in by the demo issue)."""

from __future__ import annotations

import click


@click.command()
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--state", default="var/demo", show_default=True, help="Directory for the demo's state.")
def demo(duration: float | None, state: str) -> None:
    """Run the whole pipeline on one machine: store, Prometheus, alerter, shipper, scheduler."""
    click.echo("cronwatch demo: would start osmem-server, prometheus, alerter, shipper and scheduler")
    click.echo(f"  state directory: {state}")
    click.echo("  the full demo is not assembled yet (see the demo issue)")
