"""Exceptions of the shared kernel.

    CronwatchError
     └── ConfigError          a configuration file or value is invalid (message names file:line: field)
          └── DurationError   a duration string does not parse

Each part (shipper, alerter, scheduler) keeps its own ``errors.py`` whose root derives from
``CronwatchError``; third-party errors are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class CronwatchError(Exception):
    """Root of every error cronwatch raises on purpose."""


class ConfigError(CronwatchError):
    """A configuration file or value is invalid.

    ``problems`` holds one line per problem, each already formatted as
    ``file:line: field: message`` so the CLI can print them as they are.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class DurationError(ConfigError, ValueError):
    """A duration string such as ``"5 minutes"`` does not parse."""
