"""JSON logging for cronwatch's own processes, with ECS field names (see shared/DESIGN.md).

One line per record: ``@timestamp`` (UTC, ms, ``Z``), ``log.level``, ``log.logger``,
``message``, ``service.name``, plus any ``extra={...}`` fields given to the logging call (dotted
ECS names are kept as they are). Exceptions land in ``error.type``/``error.message``/
``error.stack_trace``. Values whose key looks like a secret are replaced by ``[REDACTED]``.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

LEVELS = {"trace": 5, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL}
_ECS_LEVEL = {5: "trace", logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn",
              logging.ERROR: "error", logging.CRITICAL: "fatal"}
_STD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}
_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "authorization", "access_key")


def format_ts(ts: float) -> str:
    """Epoch seconds → ``2026-11-22T02:00:00.123Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_secret_key(key: str) -> bool:
    """True when a field name suggests its value is a credential."""
    k = key.lower()
    return any(w in k for w in _SECRET_WORDS)


class EcsJsonFormatter(logging.Formatter):
    """Formats a ``LogRecord`` as one ECS JSON line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "@timestamp": format_ts(record.created),
            "log.level": _ECS_LEVEL.get(record.levelno, record.levelname.lower()),
            "log.logger": record.name,
            "message": record.getMessage(),
            "service.name": self.service,
        }
        for key, value in record.__dict__.items():
            if key in _STD_ATTRS or key.startswith("_"):
                continue
            doc[key] = "[REDACTED]" if is_secret_key(key) else value
        if record.exc_info and record.exc_info[0] is not None:
            etype, evalue, tb = record.exc_info
            doc["error.type"] = etype.__name__
            doc["error.message"] = str(evalue)
            doc["error.stack_trace"] = "".join(traceback.format_exception(etype, evalue, tb))
        return orjson.dumps(doc, default=str).decode()


def setup_logging(level: str = "info", service: str = "cronwatch", stream: TextIO | None = None) -> None:
    """Send every log record of this process to ``stream`` (stderr) as ECS JSON lines."""
    logging.addLevelName(5, "TRACE")
    lvl = LEVELS.get(level.lower())
    if lvl is None:
        raise ValueError(f"unknown log level {level!r}; use one of trace, debug, info, warn, error, fatal")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(EcsJsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(lvl)
    for noisy in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))
