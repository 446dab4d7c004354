"""``cronwatch alerter ...`` commands."""

from __future__ import annotations

import click


@click.group()
def alerter() -> None:
    """The alerter part of cronwatch."""
