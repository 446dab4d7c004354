"""Per-input parse settings (``ParseConfig``); the tailer's ``InputConfig`` subclasses it."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from cronwatch.config import Model, TimeZoneName
from cronwatch.durations import Duration

Codec = Literal["auto", "json", "logfmt", "grok", "plain"]


class MultilineConfig(Model):
    """How lines are grouped into one record (tracebacks, stack traces, panics).

    With no ``start_pattern`` the built-in rules apply (indented lines, Python tracebacks, Java
    ``at``/``Caused by:`` frames, Go panics and goroutine dumps continue the previous record).
    With one, a line matching it starts a record and every other line continues it; ``"^"``
    makes every line a record of its own.
    """

    start_pattern: str | None = None
    max_lines: int = Field(default=500, ge=1)
    max_bytes: int = Field(default=1_048_576, ge=64)
    timeout: Duration = timedelta(seconds=2)

    @field_validator("start_pattern")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression at position {exc.pos}: {exc.msg}") from None
        return value


class ParseConfig(Model):
    """How the lines of one input become ECS documents.

    ``timezone``: IANA zone of times written without one (default: the machine's zone, where the
    jobs that write the logs run). ``task_from_path``: a regex with ``(?P<task>...)`` applied to
    the file path. ``labels``/``fields``: static values added to every document (``fields`` with
    a contract name such as ``service.name`` go to the top level, others under ``extra``).
    """

    codec: Codec = "auto"
    patterns: list[str] = Field(default_factory=list)
    pattern_files: list[Path] = Field(default_factory=list)
    pattern_definitions: dict[str, str] = Field(default_factory=dict)
    timezone: TimeZoneName | None = None
    task_from_path: str | None = None
    multiline: MultilineConfig = Field(default_factory=MultilineConfig)
    max_line_bytes: int = Field(default=1_048_576, ge=64)
    grok_timeout: Duration = timedelta(milliseconds=500)
    labels: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, Any] = Field(default_factory=dict)
    host: str | None = None

    @field_validator("grok_timeout")
    @classmethod
    def _positive_budget(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive (the time one risky grok pattern may spend on a line)")
        return value

    @field_validator("task_from_path")
    @classmethod
    def _task_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                rx = re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression at position {exc.pos}: {exc.msg}") from None
            if "task" not in rx.groupindex:
                raise ValueError("the regular expression needs a named group (?P<task>...)")
        return value
