"""Exceptions of the tailer.

    CronwatchError
     └── ShipperError             (shipper/errors.py)
          └── TailError           a file or the state directory cannot be used
               └── CheckpointError the checkpoint file is unreadable or corrupt (message names the file)
"""

from __future__ import annotations

from shipper.errors import ShipperError


class TailError(ShipperError):
    """A log file or the state directory cannot be used."""


class CheckpointError(TailError):
    """The checkpoint file cannot be read or written; the message names the file."""
