"""``cronwatch scheduler ...`` commands."""

from __future__ import annotations

import click


@click.group()
def scheduler() -> None:
    """The scheduler part of cronwatch."""
