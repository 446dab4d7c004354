"""Checkpoints: how far each file (by identity) is acknowledged by the store, saved atomically.

The state file is JSON, written to a temporary file, fsynced and renamed over the old one, so a
crash leaves either the old or the new checkpoint, never half of one. Each entry keeps the id
source key assigned when the file was first seen, so document ids stay stable across restarts.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from shipper.tail.errors import CheckpointError

VERSION = 1


@dataclass(slots=True)
class FileState:
    """What is remembered about one file between runs."""

    key: str  # id source assigned at discovery (stable for the file's life)
    path: str  # last path it was seen at
    dev: int
    ino: int
    offset: int  # every byte below this offset is acknowledged by the store
    fp: str  # fingerprint of the first ``fp_len`` bytes
    fp_len: int
    input: int = 0  # index of the input that found it


def encode_states(states: list[FileState]) -> bytes:
    """The checkpoint document for ``states`` (pure)."""
    return orjson.dumps({"version": VERSION, "files": [asdict(s) for s in states]}, option=orjson.OPT_INDENT_2)


def decode_states(data: bytes, where: str) -> list[FileState]:
    """Parse a checkpoint document; a corrupt one is a :class:`CheckpointError` naming ``where``."""
    try:
        doc = orjson.loads(data)
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            raise ValueError(f"unsupported checkpoint version {doc.get('version') if isinstance(doc, dict) else doc!r}")
        return [FileState(**entry) for entry in doc["files"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"{where}: corrupt checkpoint file ({exc}); move it away to start over") from None


class CheckpointStore:
    """The checkpoint file under a state directory."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / "checkpoints.json"
        self._last: bytes | None = None

    def load(self) -> list[FileState]:
        """The saved states, or none when there is no checkpoint yet."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise CheckpointError(f"{self.path}: cannot read checkpoint: {exc.strerror}") from None
        states = decode_states(data, str(self.path))
        self._last = data
        return states

    def save(self, states: list[FileState]) -> None:
        """Replace the checkpoint with ``states`` atomically (write, fsync, rename, fsync dir); unchanged: no write."""
        data = encode_states(states)
        if data == self._last:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                with contextlib.suppress(OSError):
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise CheckpointError(f"{self.path}: cannot write checkpoint: {exc.strerror}") from None
        self._last = data
