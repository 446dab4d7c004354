"""examples/alerter.yml and examples/silences.yml: valid for the real alerter, routed as documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from product_support import REPO, alerting_rules, load_yaml

EXAMPLES = REPO / "examples"
CLI = [sys.executable, "-c", "from cronwatch.cli import main; main()"]


@pytest.fixture
def secret_env(tmp_path: Path) -> dict[str, str]:
    """Environment with the receivers' secret files pointing at throw-away files."""
    files = {"DINGTALK_WEBHOOK_URL_FILE": "https://oapi.dingtalk.com/robot/send?access_token=t0ken",
             "DINGTALK_SECRET_FILE": "SECdingtalk", "WECOM_KEY_FILE": "wecom-key"}
    env = {k: v for k, v in os.environ.items() if not k.endswith("_FILE")}
    for name, content in files.items():
        path = tmp_path / name.lower()
        path.write_text(content + "\n")
        env[name] = str(path)
    return env


def cronwatch(env: dict[str, str], *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the cronwatch CLI in a subprocess."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def test_example_alerter_config_passes_check_config(secret_env: dict[str, str]) -> None:
    """`cronwatch alerter check-config` accepts the example with its silences file."""
    result = cronwatch(secret_env, "alerter", "check-config", str(EXAMPLES / "alerter.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "silences: 3" in result.stdout
    assert "tiers: critical, warning, info" in result.stdout


def test_example_config_never_echoes_a_secret(secret_env: dict[str, str]) -> None:
    """Neither check-config's output nor routes-test's shows the secret files' content."""
    out = cronwatch(secret_env, "alerter", "check-config", str(EXAMPLES / "alerter.yml"))
    out2 = cronwatch(secret_env, "alerter", "routes-test", "--config", str(EXAMPLES / "alerter.yml"),
                     "severity=critical")
    for text in (out.stdout + out.stderr, out2.stdout + out2.stderr):
        assert "t0ken" not in text and "SECdingtalk" not in text and "wecom-key" not in text


ROUTES = [
    (["severity=critical", "task=etl"], ["oncall-dingtalk", "oncall-mail", "archive"]),
    (["severity=warning", "task=etl"], ["team-mail", "archive"]),
    (["severity=warning", "task=etl", "team=finance"], ["finance-wecom", "team-mail", "archive"]),
    (["severity=info", "task=etl"], ["daily-digest", "archive"]),
    (["severity=warning", "team=platform", "alertname=CronwatchShipperLagging"], ["platform-mail"]),
    (["severity=critical", "team=platform", "alertname=CronwatchShipperDown"],
     ["oncall-dingtalk", "oncall-mail", "archive"]),
    (["severity=critical", "env=staging", "task=etl"], ["daily-digest"]),
    (["task=etl"], ["team-mail"]),
]


@pytest.mark.parametrize(("labels", "receivers"), ROUTES, ids=lambda v: " ".join(v))
def test_example_routes(secret_env: dict[str, str], labels: list[str], receivers: list[str]) -> None:
    """`cronwatch alerter routes-test` sends each kind of alert to the receivers the comments promise."""
    result = cronwatch(secret_env, "alerter", "routes-test", "--config", str(EXAMPLES / "alerter.yml"),
                       "alertname=Example", *labels)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == receivers


def test_a_broken_copy_is_reported_with_file_and_line(secret_env: dict[str, str], tmp_path: Path) -> None:
    """A typo in a copy of the example gives a file:line error and exit 2."""
    text = (EXAMPLES / "alerter.yml").read_text().replace("receivers: [team-mail, archive]",
                                                           "receivers: [team-mial, archive]")
    (tmp_path / "alerter.yml").write_text(text)
    (tmp_path / "silences.yml").write_text((EXAMPLES / "silences.yml").read_text())
    result = cronwatch(secret_env, "alerter", "check-config", str(tmp_path / "alerter.yml"))
    assert result.returncode == 2
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "team-mial" in s)
    assert f"alerter.yml:{line}:" in result.stderr and "team-mial" in result.stderr


def test_examples_name_only_alerts_that_exist() -> None:
    """Every alertname the example routes, inhibitions and silences match is a rule in rules/."""
    names = {r["alert"] for r in alerting_rules()}
    text = (EXAMPLES / "alerter.yml").read_text() + (EXAMPLES / "silences.yml").read_text()
    mentioned = set()
    for value in re.findall(r"alertname=~?\"([^\"]+)\"", text):
        mentioned |= set(value.split("|"))
    assert mentioned and mentioned <= names


def test_tiers_cover_every_severity_the_rules_use() -> None:
    """Each severity used by the rules has a tier in the example."""
    tiers = set(load_yaml(EXAMPLES / "alerter.yml")["tiers"])
    assert {r["labels"]["severity"] for r in alerting_rules()} <= tiers
