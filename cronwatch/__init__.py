"""cronwatch: an observability pipeline for scheduled jobs.

The package holds the command line (``cronwatch <part> <verb>``) and the shared kernel used by
``shipper``, ``alerter`` and ``scheduler``: configuration loading with line-numbered errors,
durations, JSON logging, an injectable clock, retry with backoff, and a metrics endpoint.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cronwatch")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
