"""``cronwatch shipper ...`` commands."""

from __future__ import annotations

import click


@click.group()
def shipper() -> None:
    """The shipper part of cronwatch."""
