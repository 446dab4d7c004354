"""The silences YAML file: load with file:line errors, reload on change, edit in place.

Edits (add, expire) are ruamel.yaml round-trip edits: the user's comments, key order and
layout survive, and the file is replaced atomically. An invalid file is rejected whole; the
caller keeps the last good silences in force.
"""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from alerter.errors import SilenceError, SilenceNotFound
from alerter.silences import Silence, SilenceIndex, SilencesDocument
from cronwatch.config import parse_yaml_text, validate_document
from cronwatch.errors import ConfigError


def iso(ts: datetime) -> str:
    """RFC 3339 in UTC with ``Z``."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{ts.microsecond // 1000:03d}Z" if ts.microsecond else "Z")


def parse_silences(text: str, path: str) -> list[Silence]:
    """Validate the text of a silences file; problems are one ConfigError with file:line lines."""
    doc = parse_yaml_text(text, path)
    if doc.data == {}:
        return []
    return validate_document(doc, SilencesDocument).silences


class SilenceFile:
    """A silences file on disk and the silences last loaded from it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.index = SilenceIndex([])
        self.last_error: ConfigError | None = None
        self._stamp: tuple[int, int] | None = None
        self._read_stamp: tuple[int, int] | None = None

    def _current_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def load(self) -> SilenceIndex:
        """Load the file (a missing file means no silences); raise ConfigError when invalid."""
        stamp = self._current_stamp()
        text = self.path.read_text(encoding="utf-8") if stamp is not None else ""
        silences = parse_silences(text, str(self.path))
        self.index = SilenceIndex(silences)
        self._stamp = stamp
        self.last_error = None
        return self.index

    def reload_if_changed(self) -> bool | None:
        """Reload when the file changed: True reloaded, False invalid (old silences kept), None unchanged."""
        if not self.changed():
            return None
        base, stamp, text = self.snapshot()
        return self.install(base, stamp, self.parse_snapshot(text))

    # --- reloading off the event loop: snapshot on the loop, parse on a thread, install on the loop

    def changed(self) -> bool:
        """Whether the file differs from what was last loaded (a stat, no read)."""
        return self._current_stamp() != self._stamp

    def snapshot(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None, str]:
        """``(stamp loaded now, stamp of the file, its text)`` for :meth:`parse_snapshot` / :meth:`install`."""
        stamp = self._current_stamp()
        text = self.path.read_text(encoding="utf-8") if stamp is not None else ""
        return self._stamp, stamp, text

    def parse_snapshot(self, text: str) -> SilenceIndex | ConfigError:
        """The index for ``text``, or the ConfigError naming file:line (pure: safe on a thread)."""
        try:
            return SilenceIndex(parse_silences(text, str(self.path)))
        except ConfigError as exc:
            return exc

    def install(self, base: tuple[int, int] | None, stamp: tuple[int, int] | None,
                parsed: SilenceIndex | ConfigError) -> bool | None:
        """Apply a parsed snapshot taken when ``base`` was loaded: True reloaded, False invalid (old
        silences kept), None superseded (something loaded meanwhile — an API edit; nothing changes)."""
        if self._stamp != base:
            return None
        self._stamp = stamp
        if isinstance(parsed, ConfigError):
            self.last_error = parsed
            return False
        self.index = parsed
        self.last_error = None
        return True

    # --- round-trip edits -----------------------------------------------------------------

    def _yaml(self) -> YAML:
        y = YAML(typ="rt")
        y.preserve_quotes = True
        y.width = 4096
        y.indent(mapping=2, sequence=4, offset=2)
        return y

    def _read_rt(self) -> tuple[YAML, Any]:
        y = self._yaml()
        self._read_stamp = self._current_stamp()
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        root = y.load(text) if text.strip() else None
        if root is None:
            root = CommentedMap()
        if not isinstance(root, CommentedMap):
            raise ConfigError(f"{self.path}:1: (top level): expected a mapping with a 'silences' list")
        if root.get("silences") is None:
            root["silences"] = CommentedSeq()
        return y, root

    def _write_rt(self, y: YAML, root: Any) -> None:
        buf = io.StringIO()
        y.dump(root, buf)
        text = buf.getvalue()
        silences = parse_silences(text, str(self.path))  # never write a file we would reject
        if self._current_stamp() != self._read_stamp:
            raise SilenceError(f"{self.path} changed while it was being edited; nothing written, try again")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        self.index = SilenceIndex(silences)
        self._stamp = self._current_stamp()
        self.last_error = None

    def _require_valid(self) -> None:
        """Refuse to edit a file the user left invalid: their text is never overwritten."""
        self.reload_if_changed()
        if self.last_error is not None:
            raise SilenceError(f"{self.path} is invalid, fix it first: {self.last_error.problems[0]}")

    def add(self, silence: Silence) -> str:
        """Append ``silence`` to the file (with an id) and reload; returns the id."""
        self._require_valid()
        sid = silence.id or str(uuid.uuid4())
        if sid in self.index.by_id:
            raise SilenceError(f'a silence with id "{sid}" already exists')
        y, root = self._read_rt()
        entry = CommentedMap()
        entry["id"] = sid
        matchers = CommentedSeq(silence.matchers)
        matchers.fa.set_flow_style()
        entry["matchers"] = matchers
        if silence.starts_at is not None:
            entry["starts_at"] = iso(silence.starts_at)
        if silence.ends_at is not None:
            entry["ends_at"] = iso(silence.ends_at)
        if silence.every is not None:
            every = CommentedMap(silence.every.model_dump(mode="json"))
            every.fa.set_flow_style()
            entry["every"] = every
        if silence.created_by:
            entry["created_by"] = silence.created_by
        if silence.comment:
            entry["comment"] = silence.comment
        root["silences"].append(entry)
        self._write_rt(y, root)
        return sid

    def expire(self, sid: str, now: datetime) -> None:
        """End silence ``sid`` at ``now`` in the file (a pending one gets starts_at = ends_at = now)."""
        self._require_valid()
        current = self.index.by_id.get(sid)
        if current is None:
            raise SilenceNotFound(f'no silence with id "{sid}"')
        if current.state(now) == "expired":
            raise SilenceError(f'silence "{sid}" is already expired')
        y, root = self._read_rt()
        position = [s.uid for s in self.index.silences].index(sid)
        entry = root["silences"][position]
        stamp = iso(now)
        if current.starts_at is not None and current.starts_at > now:
            entry["starts_at"] = stamp
        if current.id is None:
            # the derived id would change with the edit; pin it so the API's id keeps working
            entry.insert(0, "id", sid)
        entry["ends_at"] = stamp
        self._write_rt(y, root)
