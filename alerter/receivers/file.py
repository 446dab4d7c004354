"""``file_configs``: write each notification as a JSON file (webhook v4 payload) into a directory.

One file per notification, named so that names sort in delivery order
(``<UTC time>-<sequence>-<receiver>.json``), written atomically (temp file + rename). Used by
the demo and for dry runs.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from alerter.model import BuildContext, Notification, Outcome, Result
from alerter.payload import webhook_payload
from cronwatch.config import Model

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_SEQ = itertools.count(1)


class FileConfig(Model):
    """One entry of ``file_configs``."""

    directory: str
    send_resolved: bool = True

    def build(self, ctx: BuildContext) -> FileIntegration:
        """The integration for this entry (relative directories are relative to the config file)."""
        base = Path(ctx.extra.get("config_dir", "."))
        return FileIntegration(base / self.directory, self.send_resolved)


def file_name(receiver: str, now: datetime, seq: int) -> str:
    """A name that sorts by time, then by sequence within the process."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{seq:08d}-{_UNSAFE.sub('_', receiver)[:60]}.json"


class FileIntegration:
    """Writes notifications into ``directory``."""

    kind = "file"

    def __init__(self, directory: Path, send_resolved: bool = True) -> None:
        self.directory = directory
        self.send_resolved = send_resolved

    def write(self, name: str, data: bytes) -> Path:
        """Write ``data`` to ``directory/name`` atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        tmp = self.directory / f".{name}.{uuid.uuid4().hex}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path

    async def notify(self, notification: Notification) -> Result:
        """Write the v4 payload as one JSON file."""
        name = file_name(notification.receiver, notification.now, next(_SEQ))
        try:
            path = self.write(name, orjson.dumps(webhook_payload(notification), option=orjson.OPT_INDENT_2))
        except OSError as exc:
            return Result(Outcome.RETRY, f"cannot write to {self.directory}: {exc.strerror}")
        return Result(Outcome.SENT, f"wrote {path.name}")

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for the status API."""
        return {"directory": str(self.directory)}
