"""The Prometheus rules: promtool checks and unit tests, and the label/annotation contract."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from product_support import (
    REPO,
    RULE_FILES,
    RULE_TESTS,
    RULES,
    SEVERITIES,
    alerting_rules,
    load_yaml,
    metric_names_in,
    recording_names,
    rules,
)

from cronwatch.testing.services import which

RENDER = REPO / "deploy" / "prometheus" / "render-rules.sh"
ANNOTATIONS = {"summary", "description", "runbook_url", "kibana_url"}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run Debian's promtool and capture its output."""
    return subprocess.run([which("promtool", "prometheus"), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_rule_files_exist() -> None:
    """The three rule files and at least one promtool test file per rule file are there."""
    assert {p.name for p in RULE_FILES} == {"cronwatch-recording.rules.yml", "cronwatch-tasks.rules.yml",
                                           "cronwatch-pipeline.rules.yml"}
    assert len(RULE_TESTS) >= 3


def test_promtool_check_rules() -> None:
    """`promtool check rules` accepts every rule file (syntax, PromQL, templates)."""
    result = promtool("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_unit_tests(test_file: Path) -> None:
    """`promtool test rules` passes for each unit-test file in rules/tests/."""
    result = promtool("test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_unit_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """A rule whose threshold is changed makes its unit test fail (the tests have teeth)."""
    (tmp_path / "tests").mkdir()
    for path in RULE_FILES:
        (tmp_path / path.name).write_text(path.read_text())
    broken = tmp_path / "cronwatch-tasks.rules.yml"
    text = broken.read_text()
    assert "> 300\n" in text
    broken.write_text(text.replace("> 300\n", "> 3000\n"))  # the overdue grace, 5m -> 50m
    test_file = RULES / "tests" / "tasks_test.yml"
    (tmp_path / "tests" / test_file.name).write_text(test_file.read_text())
    result = promtool("test", "rules", test_file.name, cwd=tmp_path / "tests")
    assert result.returncode != 0
    assert "CronwatchTaskOverdue" in result.stdout + result.stderr


def test_alert_names_are_unique() -> None:
    """No two alerting rules share a name."""
    names = [r["alert"] for r in alerting_rules()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda r: r["alert"])
def test_alert_carries_contract_labels_and_annotations(rule: dict[str, Any]) -> None:
    """Every alert has a severity tier, a team, and the four contract annotations."""
    labels = rule.get("labels", {})
    assert labels.get("severity") in SEVERITIES
    assert labels.get("team")
    assert "job" not in labels and "task" not in labels  # both come from the series
    assert set(rule.get("annotations", {})) == ANNOTATIONS
    ann = rule["annotations"]
    assert ann["runbook_url"] == f"__RUNBOOK_URL__#{rule['alert'].lower()}"
    assert ann["kibana_url"].startswith("__KIBANA_URL__/app/")


@pytest.mark.parametrize("rule", [r for r in alerting_rules() if r["alert"].startswith(("CronwatchTask",
                                                                                        "CronwatchLogTask"))],
                         ids=lambda r: r["alert"])
def test_task_alerts_link_to_the_tasks_logs(rule: dict[str, Any]) -> None:
    """Per-task alerts keep the `task` label and link Kibana Discover filtered by task.name."""
    assert "task" in rule["expr"]
    url = rule["annotations"]["kibana_url"]
    assert "/app/discover#/" in url
    assert "task.name:%22{{ $labels.task | urlquery }}%22" in url
    assert "index:'cronwatch-logs'" in url
    assert "{{ $labels.task }}" in rule["annotations"]["summary"]


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    """Each alert has a promtool case where it fires and one where it stays quiet."""
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for test in load_yaml(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                (fires if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {r["alert"] for r in alerting_rules()}
    assert names - fires == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"


def test_rules_read_only_contract_metrics(contract_metrics: set[str]) -> None:
    """Every metric a rule reads is a DESIGN.md contract metric, a recorded series or `up`."""
    recorded = recording_names()
    for path, _, rule in rules():
        unknown = metric_names_in(rule["expr"]) - contract_metrics
        assert not unknown, f"{path.name}: {rule.get('alert') or rule.get('record')} reads {unknown}"
        for name in re.findall(r"\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b", rule["expr"]):
            assert name in recorded, f"{name} is not recorded by any rule"


def test_job_label_is_only_the_scrape_job() -> None:
    """No selector treats `job` as the task: only `up{job="cronwatch-…"}` matches on it."""
    for _, _, rule in rules():
        for matcher in re.findall(r"(\w+)\{[^}]*\bjob\s*=~?\s*\"([^\"]*)\"", rule["expr"]):
            assert matcher[0] == "up" and matcher[1].startswith("cronwatch-"), rule["expr"]


def test_recording_rules_follow_the_naming_convention() -> None:
    """Recorded series are named level:metric:operations."""
    for name in recording_names():
        level, metric, ops = name.split(":")
        assert level in {"task", "job"} and metric.startswith("cronwatch_") and ops, name


def test_runbook_has_a_section_per_alert() -> None:
    """rules/RUNBOOK.md has a heading for each alert, the anchor runbook_url points at."""
    headings = set(re.findall(r"^## (\w+)$", (RULES / "RUNBOOK.md").read_text(), re.MULTILINE))
    assert {r["alert"] for r in alerting_rules()} <= headings


def render(tmp_path: Path, kibana: str, runbook: str) -> subprocess.CompletedProcess[str]:
    """Run deploy/prometheus/render-rules.sh into tmp_path/out."""
    env = {**os.environ, "KIBANA_URL": kibana, "RUNBOOK_URL": runbook}
    return subprocess.run(["sh", str(RENDER), str(RULES), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=60)


def test_render_fills_in_the_base_urls(tmp_path: Path) -> None:
    """Rendering replaces both placeholders outside comments and keeps the rules valid."""
    result = render(tmp_path, "https://kibana.example.org:5601/", "https://wiki.example.org/run&book")
    assert result.returncode == 0, result.stderr
    out = sorted((tmp_path / "out").glob("*.rules.yml"))
    assert [p.name for p in out] == [p.name for p in RULE_FILES]
    for path in out:
        for line in path.read_text().splitlines():
            if not line.lstrip().startswith("#"):
                assert "__KIBANA_URL__" not in line and "__RUNBOOK_URL__" not in line
    text = (tmp_path / "out" / "cronwatch-tasks.rules.yml").read_text()
    assert '"https://kibana.example.org:5601/app/discover#/?' in text
    assert "'https://wiki.example.org/run&book#cronwatchtaskfailed'" in text
    check = promtool("check", "rules", *map(str, out))
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("kibana", ["kibana.example.org", "https://kibana.example.org/'x"])
def test_render_rejects_a_bad_base_url(tmp_path: Path, kibana: str) -> None:
    """A base URL without a scheme, or with a quote, is refused with a message naming it."""
    result = render(tmp_path, kibana, "https://wiki.example.org/runbook")
    assert result.returncode == 2
    assert "KIBANA_URL" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
