"""tasks.yml validation: errors name file:line and field; defaults; duplicate names."""

from __future__ import annotations

from pathlib import Path

import pytest

from cronwatch.errors import ConfigError
from scheduler.model import load_scheduler_config, parse_task

GOOD = """\
state_dir: {state}
tasks:
  - name: backup
    schedule: "0 2 * * *"
    timezone: Asia/Shanghai
    command: ["/bin/true"]
    timeout: 5m
    retries: {{attempts: 3, initial: 1s, max: 30s}}
    labels: {{team: data}}
  - name: inproc
    schedule: "@every 10s"
    call: "scheduler.triggers:parse_schedule"
    retries: 2
"""


def test_valid_file_loads_with_defaults(tmp_path: Path) -> None:
    """A valid file loads; misfire grace defaults generously, concurrency to forbid, log under the state dir."""
    path = tmp_path / "tasks.yml"
    path.write_text(GOOD.format(state=tmp_path / "st"))
    cfg = load_scheduler_config(str(path))
    backup, inproc = cfg.tasks
    assert backup.retries.attempts == 3 and backup.timeout_s == 300
    assert backup.misfire_grace.total_seconds() >= 60 and backup.concurrency == "forbid"
    assert inproc.retries.attempts == 2
    assert cfg.resolved_log_file() == f"{tmp_path / 'st'}/logs/tasks.log"


def test_errors_name_file_line_and_field(tmp_path: Path) -> None:
    """Every problem is reported at once as file:line: field: message."""
    path = tmp_path / "tasks.yml"
    path.write_text(
        "tasks:\n"
        "  - name: a\n"
        '    schedule: "0 61 * * *"\n'
        "    command: echo hi\n"
        "  - name: b\n"
        '    schedule: "@every 5s"\n'
        "    command: [echo]\n"
        "    timeout: 5 minutes\n"
        "    concurrency: sometimes\n"
        "    colour: blue\n"
    )
    with pytest.raises(ConfigError) as info:
        load_scheduler_config(str(path))
    problems = info.value.problems
    assert f'{path}:3: tasks[0].schedule: schedule "0 61 * * *": hour field "61" is invalid' in problems[0]
    assert any(p.startswith(f'{path}:8: tasks[1].timeout: invalid duration "5 minutes"') for p in problems)
    assert any(p.startswith(f"{path}:9: tasks[1].concurrency:") for p in problems)
    assert any(p.startswith(f"{path}:10: tasks[1].colour: unknown field") for p in problems)


def test_duplicate_task_names_point_at_both_lines(tmp_path: Path) -> None:
    """A duplicate name is an error on the second definition that mentions the first one's line."""
    path = tmp_path / "tasks.yml"
    path.write_text("tasks:\n  - name: a\n    schedule: '@hourly'\n    command: x\n"
                    "  - name: a\n    schedule: '@daily'\n    command: y\n")
    with pytest.raises(ConfigError) as info:
        load_scheduler_config(str(path))
    assert info.value.problems == [f'{path}:5: tasks[1].name: duplicate task name "a" (first defined at line 2)']


def test_command_xor_call_and_importable_call() -> None:
    """A task needs exactly one of command/call, and a call target must import."""
    with pytest.raises(ConfigError, match="exactly one of command or call"):
        parse_task({"name": "x", "schedule": "@hourly"})
    with pytest.raises(ConfigError, match="cannot import no_such_module"):
        parse_task({"name": "x", "schedule": "@hourly", "call": "no_such_module:fn"})
    with pytest.raises(ConfigError, match="body: call"):
        parse_task({"name": "x", "schedule": "@hourly", "call": "not a target"})


def test_bad_task_name_and_time_zone() -> None:
    """Names are restricted to a safe alphabet and time zones must be IANA names."""
    with pytest.raises(ConfigError, match="body: name"):
        parse_task({"name": "../etc", "schedule": "@hourly", "command": "x"})
    with pytest.raises(ConfigError, match="body: timezone: unknown time zone"):
        parse_task({"name": "x", "schedule": "@hourly", "command": "x", "timezone": "Nowhere/City"})


def test_environment_overrides_file(tmp_path: Path) -> None:
    """CRONWATCH_SCHEDULER_* variables override the file; ${VAR} expands inside it."""
    path = tmp_path / "tasks.yml"
    path.write_text("listen: 127.0.0.1:1\ntasks:\n  - name: a\n    schedule: '@hourly'\n    command: ${CMD:-true}\n")
    import os
    os.environ["CRONWATCH_SCHEDULER_LISTEN"] = "127.0.0.1:2"
    try:
        cfg = load_scheduler_config(str(path))
    finally:
        del os.environ["CRONWATCH_SCHEDULER_LISTEN"]
    assert cfg.listen == "127.0.0.1:2" and cfg.tasks[0].command == "true"


def test_relative_cwd_is_relative_to_the_config_file(tmp_path: Path) -> None:
    """A relative cwd resolves against the config file's directory; a missing one is an error with its line."""
    (tmp_path / "jobs").mkdir()
    path = tmp_path / "tasks.yml"
    path.write_text("tasks:\n  - name: a\n    schedule: '@hourly'\n    command: x\n    cwd: jobs\n"
                    "  - name: b\n    schedule: '@hourly'\n    command: x\n    cwd: nowhere\n")
    with pytest.raises(ConfigError) as info:
        load_scheduler_config(str(path))
    assert info.value.problems == [f"{path}:9: tasks[1].cwd: directory {tmp_path / 'nowhere'} does not exist"]
    path.write_text("tasks:\n  - name: a\n    schedule: '@hourly'\n    command: x\n    cwd: jobs\n")
    assert load_scheduler_config(str(path)).tasks[0].cwd == str(tmp_path / "jobs")
