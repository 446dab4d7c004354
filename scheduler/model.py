"""The scheduler's configuration (``tasks.yml``) and task specs, validated by pydantic.

A task runs either ``command`` (an argv list, or a string run by ``/bin/sh -c``) or ``call``
(``package.module:function``, sync or async, run in-process). ``retries`` is a mapping
(``attempts``, ``initial``, ``max``, ``multiplier``) or a plain number of attempts.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from cronwatch.config import (
    Model,
    Settings,
    YamlDocument,
    interpolate_env,
    read_yaml,
    validate_document,
    validation_problems,
)
from cronwatch.durations import Duration
from cronwatch.errors import ConfigError
from scheduler.errors import ScheduleError, TaskCallError
from scheduler.triggers import parse_schedule, resolve_timezone

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
CALL_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
DEFAULT_LISTEN = "127.0.0.1:9477"


class RetryPolicy(Model):
    """Attempts and exponential backoff with full jitter between them."""

    attempts: int = Field(1, ge=1, le=100, description="total attempts (1 = no retry)")
    initial: Duration = timedelta(seconds=1)
    max: Duration = timedelta(seconds=60)
    multiplier: float = Field(2.0, ge=1.0, le=10.0)

    @model_validator(mode="before")
    @classmethod
    def _from_int(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"attempts": value}
        return value


def resolve_call(target: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (the attribute may be dotted)."""
    if not CALL_RE.match(target):
        raise TaskCallError(f'call "{target}" must look like package.module:function')
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise TaskCallError(f'call "{target}": cannot import {module_name}: {type(exc).__name__}: {exc}') from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TaskCallError(f'call "{target}": {module_name} has no attribute {attr}') from None
    if not callable(obj):
        raise TaskCallError(f'call "{target}": {attr} is not callable')
    return obj  # type: ignore[no-any-return]


class TaskSpec(Model):
    """One task as written in ``tasks.yml`` or sent to the API."""

    name: str
    schedule: str
    timezone: str = "UTC"
    command: list[str] | str | None = None
    call: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    timeout: Duration | None = None
    kill_grace: Duration = timedelta(seconds=5)
    retries: RetryPolicy = Field(default_factory=lambda: RetryPolicy.model_validate({}))
    concurrency: Literal["allow", "forbid", "replace"] = "forbid"
    misfire_grace: Duration = timedelta(minutes=5)
    catch_up: Literal["latest", "none"] = "none"
    labels: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(f'invalid task name "{v}": use letters, digits, "_", "-" or "." (max 100)')
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        try:
            parse_schedule(v)
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        resolve_timezone(v)
        return v

    @field_validator("command")
    @classmethod
    def _command(cls, v: list[str] | str | None) -> list[str] | str | None:
        if v is not None and (not v or (isinstance(v, str) and not v.strip())):
            raise ValueError("command is empty")
        return v

    @field_validator("call")
    @classmethod
    def _call(cls, v: str | None) -> str | None:
        if v is not None:
            resolve_call(v)
        return v

    @field_validator("timeout", "misfire_grace", "kill_grace")
    @classmethod
    def _positive(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v.total_seconds() <= 0:
            raise ValueError("must be a positive duration")
        return v

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        if (self.command is None) == (self.call is None):
            raise ValueError("a task needs exactly one of command or call")
        return self

    @property
    def timeout_s(self) -> float | None:
        """The timeout in seconds, or ``None``."""
        return self.timeout.total_seconds() if self.timeout is not None else None


class SchedulerConfig(Settings):
    """Top-level ``tasks.yml``; environment ``CRONWATCH_SCHEDULER_*`` overrides the file."""

    model_config = SettingsConfigDict(env_prefix="CRONWATCH_SCHEDULER_", extra="forbid",
                                      env_nested_delimiter="__", populate_by_name=True)

    tasks: list[TaskSpec] = Field(default_factory=list)
    state_dir: str = "var/scheduler"
    log_file: str | None = None
    listen: str = DEFAULT_LISTEN
    api_token: SecretStr | None = None
    api_token_file: str | None = None
    redis_url: SecretStr | None = None
    redis_prefix: str = "cronwatch:scheduler"
    shutdown_grace: Duration = timedelta(seconds=30)
    host_name: str | None = None
    history_per_task: int = Field(1000, ge=1)
    max_line_bytes: int = Field(32768, ge=256)

    def resolved_log_file(self) -> str:
        """``log_file`` or ``<state_dir>/logs/tasks.log``."""
        return self.log_file or f"{self.state_dir.rstrip('/')}/logs/tasks.log"

    @field_validator("tasks", mode="before")
    @classmethod
    def _tasks_list(cls, v: Any) -> Any:
        return [] if v is None else v


def _duplicates(doc: YamlDocument | None, tasks: list[TaskSpec], path: str) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for i, t in enumerate(tasks):
        if t.name in seen:
            first = seen[t.name]
            where = doc.where(("tasks", i, "name")) if doc else path
            first_at = doc.line_of(("tasks", first, "name")) if doc else None
            hint = f" (first defined at line {first_at})" if first_at else f" (same as tasks[{first}])"
            problems.append(f'{where}: tasks[{i}].name: duplicate task name "{t.name}"{hint}')
        else:
            seen[t.name] = i
    return problems


def load_scheduler_config(path: str | None, overrides: Mapping[str, Any] | None = None,
                          environ: Mapping[str, str] | None = None) -> SchedulerConfig:
    """Load ``tasks.yml`` (+ env + overrides); all problems become one ``ConfigError``.

    A relative ``cwd`` is relative to the directory of the config file.
    """
    doc = read_yaml(path) if path is not None else YamlDocument("<defaults>", {}, {(): 1})
    interpolate_env(doc, environ)
    config = validate_document(doc, SchedulerConfig, overrides)
    problems = _duplicates(doc, config.tasks, doc.path)
    base = Path(path).resolve().parent if path is not None else Path.cwd()
    for i, task in enumerate(config.tasks):
        if task.cwd is not None:
            cwd = Path(task.cwd) if Path(task.cwd).is_absolute() else base / task.cwd
            if not cwd.is_dir():
                problems.append(f"{doc.where(('tasks', i, 'cwd'))}: tasks[{i}].cwd: directory {cwd} does not exist")
            task.cwd = str(cwd)
    if problems:
        raise ConfigError(problems)
    return config


def parse_task(data: Any, where: str = "body") -> TaskSpec:
    """Validate one task from the API; problems name the field (``body: schedule: ...``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: (top level): expected a JSON object describing a task")
    try:
        return TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, None, where)) from None
