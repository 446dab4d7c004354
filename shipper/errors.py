"""Exceptions of the shipper.

    CronwatchError
     ├── ShipperError             something in the shipper failed on purpose
     │    └── GrokTimeout         a risky grok pattern ran out of its per-line time budget
     │                            (internal: the line is tagged ``_groktimeout``)
     └── ConfigError
          └── PatternError        a grok pattern (or pattern file) does not compile; names the
                                  pattern, the file:line it came from and the position in it
                                  (also a ShipperError)

The parsing half never raises on bad *input*: a line that does not parse becomes an event with
a tag (``_grokparsefailure``, ``_dateparsefailure``, ``_truncated`` ...). Only bad
*configuration* raises, at start-up.
"""

from __future__ import annotations

from cronwatch.errors import ConfigError, CronwatchError


class ShipperError(CronwatchError):
    """Root of the shipper's own errors."""


class PatternError(ConfigError, ShipperError):
    """A grok pattern, pattern file or pattern definition is invalid (raised at start-up)."""


class GrokTimeout(ShipperError):
    """A risky grok pattern exceeded its per-line time budget (the line is tagged ``_groktimeout``)."""
