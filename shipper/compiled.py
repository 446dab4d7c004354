"""The shipper's compiled hot paths (``shipper/_speedups.c``, built by ``setup.py``), when there.

Each has a Python twin that gives the same output (the tests compare them); the compiled one is
used unless it was not built (no C compiler at install time) or ``CRONWATCH_NO_EXTENSIONS`` is
set to anything but ``0``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any

from shipper.model import Event, RawLine

# the compiled code fills these two without calling their __init__ (it sets their slots)
for _cls, _fields in ((Event, ("doc", "offset", "end", "meta")), (RawLine, ("text", "offset", "end", "read_time"))):
    if tuple(f.name for f in dataclasses.fields(_cls)) != _fields or hasattr(_cls, "__post_init__"):
        raise AssertionError(f"shipper.model.{_cls.__name__} changed: update shipper/_speedups.c")


def speedups() -> Any:
    """The ``shipper._speedups`` module, or None (not built, or turned off)."""
    if os.environ.get("CRONWATCH_NO_EXTENSIONS", "") not in ("", "0"):
        return None
    try:
        return importlib.import_module("shipper._speedups")
    except ImportError:
        return None
