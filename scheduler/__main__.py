"""``python -m scheduler ...``: the scheduler's commands without the rest of the CLI (same as ``cronwatch scheduler``)."""

from __future__ import annotations

import os

from cronwatch.jsonlog import setup_logging
from scheduler.cli import scheduler


def main() -> None:
    """Entry point."""
    setup_logging(os.environ.get("CRONWATCH_LOG_LEVEL", "info"), service="cronwatch-scheduler")
    scheduler(prog_name="cronwatch scheduler")


if __name__ == "__main__":
    main()
