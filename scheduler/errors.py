"""Exceptions of the scheduler.

    CronwatchError                      (cronwatch.errors)
     ├── ConfigError                    (cronwatch.errors) a config value is invalid
     │    └── ScheduleError             a schedule expression or time zone is invalid (names the field)
     └── SchedulerError                 root of the scheduler's runtime errors
          ├── TaskNotFound              no task has that name
          ├── TaskExists                a task with that name already exists
          ├── TaskReadOnly              the task comes from the config file; edit the file instead
          ├── TaskCallError             a ``call`` target cannot be imported or is not callable
          ├── StateError                the SQLite state under ``--state`` cannot be read or written
          └── LockError                 the lock backend (Redis) failed; the slot is not run

Third-party errors (sqlite3, redis, cronsim) are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from cronwatch.errors import ConfigError, CronwatchError


class ScheduleError(ConfigError, ValueError):
    """A schedule expression or time zone is invalid; the message names the bad field."""


class SchedulerError(CronwatchError):
    """Root of the scheduler's runtime errors."""


class TaskNotFound(SchedulerError, KeyError):
    """No task has that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "task not found"


class TaskExists(SchedulerError):
    """A task with that name already exists."""


class TaskReadOnly(SchedulerError):
    """The task is defined in the config file and cannot be changed through the API."""


class TaskCallError(SchedulerError, ValueError):
    """A ``call`` target (``package.module:function``) cannot be imported or is not callable."""


class StateError(SchedulerError):
    """The SQLite state directory cannot be read or written."""


class LockError(SchedulerError):
    """The lock backend (Redis) failed."""
