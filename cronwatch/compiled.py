"""cronwatch's optional compiled modules (``*/_speedups.c``, built by ``setup.py``).

Each compiled function has a Python twin that gives the same result (the tests compare them).
The compiled one is used unless it was not built (no C compiler at install time) or
``CRONWATCH_NO_EXTENSIONS`` is set to anything but ``0``.
"""

from __future__ import annotations

import importlib
import os
from typing import Any


def extension(name: str) -> Any:
    """The compiled module ``name`` (e.g. ``shipper._speedups``), or None (not built, or turned off)."""
    if os.environ.get("CRONWATCH_NO_EXTENSIONS", "") not in ("", "0"):
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
