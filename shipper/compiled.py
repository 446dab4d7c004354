"""The shipper's compiled hot paths (``shipper/_speedups.c``), when built and not turned off
(:func:`cronwatch.compiled.extension`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from cronwatch.compiled import extension
from shipper.model import Event, RawLine

# the compiled code, and the generated plain_run (shipper/parse/fastpath.py) for Event, fill these
# two without calling their __init__ (they set the fields one by one)
for _cls, _fields in ((Event, ("doc", "offset", "end", "meta")), (RawLine, ("text", "offset", "end", "read_time"))):
    if tuple(f.name for f in dataclasses.fields(_cls)) != _fields or hasattr(_cls, "__post_init__"):
        raise AssertionError(f"shipper.model.{_cls.__name__} changed: update shipper/_speedups.c and "
                             "plain_run in shipper/parse/fastpath.py")


def speedups() -> Any:
    """The ``shipper._speedups`` module, or None (not built, or turned off)."""
    return extension("shipper._speedups")
