"""Configuration loading: line-numbered errors, environment interpolation and precedence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from cronwatch.config import Model, Settings, load_config, read_secret
from cronwatch.durations import Duration
from cronwatch.errors import ConfigError


class Task(Model):
    name: str
    timeout: Duration = timedelta(minutes=5)
    retries: int = 0


class TasksFile(Settings):
    model_config = SettingsConfigDict(env_prefix="CWTEST_")
    tasks: list[Task] = []
    state_dir: str = "var"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tasks.yml"
    p.write_text(text)
    return p


def test_error_names_file_line_and_field(tmp_path: Path) -> None:
    """A bad duration deep in a list is reported as file:line: tasks[3].timeout: message."""
    p = write(tmp_path, """\
tasks:
  - name: a
  - name: b
  - name: c
  - name: d
    retries: 2
    timeout: 5 minutes
""")
    with pytest.raises(ConfigError) as err:
        load_config(p, TasksFile)
    assert err.value.problems == [f'{p}:7: tasks[3].timeout: invalid duration "5 minutes"']


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    """Unknown keys and missing fields are errors too, every one with its own line."""
    p = write(tmp_path, "tasks:\n  - name: a\n    tiemout: 1s\n  - retries: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(p, TasksFile)
    text = str(err.value)
    assert f"{p}:3: tasks[0].tiemout: unknown field" in text
    assert f"{p}:4: tasks[1].name: required field is missing" in text


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and line."""
    p = write(tmp_path, "tasks:\n  - name: a\n   bad: [\n")
    with pytest.raises(ConfigError, match=rf"^{p}:\d+: invalid YAML"):
        load_config(p, TasksFile)


def test_env_interpolation_and_default(tmp_path: Path) -> None:
    """${VAR} and ${VAR:-default} are expanded; $${ stays literal."""
    p = write(tmp_path, "state_dir: ${CW_DIR}/x\ntasks:\n  - name: ${CW_NAME:-fallback}\n  - name: a$${b}\n")
    cfg = load_config(p, TasksFile, environ={"CW_DIR": "/srv"})
    assert cfg.state_dir == "/srv/x"
    assert [t.name for t in cfg.tasks] == ["fallback", "a${b}"]


def test_missing_env_var_is_an_error(tmp_path: Path) -> None:
    """An unset ${VAR} without default is an error naming the variable and the line."""
    p = write(tmp_path, "tasks:\n  - name: ${CW_NOT_SET}\n")
    with pytest.raises(ConfigError, match=rf"{p}:2: tasks\[0\].name: environment variable CW_NOT_SET is not set"):
        load_config(p, TasksFile, environ={})


def test_precedence_overrides_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overrides beat the environment, which beats the file."""
    p = write(tmp_path, "state_dir: from-file\n")
    assert load_config(p, TasksFile).state_dir == "from-file"
    monkeypatch.setenv("CWTEST_STATE_DIR", "from-env")
    assert load_config(p, TasksFile).state_dir == "from-env"
    assert load_config(p, TasksFile, overrides={"state_dir": "from-flag"}).state_dir == "from-flag"


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yml", TasksFile)


def test_read_secret_from_file_never_echoes(tmp_path: Path) -> None:
    """A secret file wins over the inline value; errors name the file, not the secret."""
    f = tmp_path / "key"
    f.write_text("abc123\n")
    assert read_secret(None, f, "dingtalk.secret") == "abc123"
    with pytest.raises(ConfigError) as err:
        read_secret(None, tmp_path / "missing", "dingtalk.secret")
    assert "dingtalk.secret" in str(err.value) and "abc123" not in str(err.value)


def test_cli_prints_config_error(tmp_path: Path) -> None:
    """The CLI prints file:line errors and exits 2 (through a real command's loader)."""
    import click
    from click.testing import CliRunner

    from cronwatch.cli import CronwatchGroup

    @click.group(cls=CronwatchGroup)
    def grp() -> None:
        pass

    @grp.command()
    @click.argument("path")
    def load(path: str) -> None:
        load_config(path, TasksFile)

    p = write(tmp_path, "tasks:\n  - name: a\n    timeout: soon\n")
    result = CliRunner().invoke(grp, ["load", str(p)])
    assert result.exit_code == 2
    assert f'error: {p}:3: tasks[0].timeout: invalid duration "soon"' in result.output
