"""Exceptions of the alerter.

    CronwatchError                       (cronwatch.errors)
     ├── ConfigError                     an alerter.yml or silences file is invalid (file:line: field: message)
     └── AlerterError                    root of the alerter's own runtime errors
          ├── MatcherError               a label matcher does not parse (also a ValueError for pydantic)
          ├── SilenceError               a silence is invalid or unknown (API/CLI input)
          │    └── SilenceNotFound       no silence has the given id
          └── AlertInputError            an ingested alert payload is malformed (HTTP 400)

Delivery problems are never raised: receivers return a ``Result`` (see ``alerter.model``).
"""

from __future__ import annotations

from cronwatch.errors import CronwatchError


class AlerterError(CronwatchError):
    """Root of the alerter's runtime errors."""


class MatcherError(AlerterError, ValueError):
    """A label matcher such as ``severity=~"warn(ing"`` does not parse."""


class SilenceError(AlerterError, ValueError):
    """A silence given through the API or CLI is invalid."""


class SilenceNotFound(SilenceError):
    """No silence has the given id."""


class AlertInputError(AlerterError, ValueError):
    """An alert posted to the alerter is malformed; the message names the alert and field."""
