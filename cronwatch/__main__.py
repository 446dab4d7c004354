"""``python -m cronwatch`` — the same as the ``cronwatch`` command."""

from cronwatch.cli import main

main()
