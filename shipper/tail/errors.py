"""Exceptions of the tailer.

    CronwatchError
     └── TailError            a file or the state directory cannot be used
          └── CheckpointError the checkpoint file is unreadable or corrupt (message names the file)
"""

from __future__ import annotations

from cronwatch.errors import CronwatchError


class TailError(CronwatchError):
    """A log file or the state directory cannot be used."""


class CheckpointError(TailError):
    """The checkpoint file cannot be read or written; the message names the file."""
