"""The demo's pure parts: rules rewritten for a quick demo, the live view's readers."""

from __future__ import annotations

import json
from pathlib import Path

from ruamel.yaml import YAML

from cronwatch.demo import REPO, demo_rules, prometheus_config
from cronwatch.demoview import describe_notification, scrape_runs
from cronwatch.durations import parse_duration


def test_demo_rules_cap_for_and_fill_placeholders(tmp_path: Path) -> None:
    """The demo's copy of rules/ evaluates every 2 s, waits at most 10 s, and has real links."""
    out = demo_rules(REPO / "rules", tmp_path)
    assert {p.name for p in out} == {p.name for p in (REPO / "rules").glob("*.yml")}
    for path in out:
        text = path.read_text()
        assert "__KIBANA_URL__" not in text and "__RUNBOOK_URL__" not in text
        for group in YAML(typ="safe").load(text)["groups"]:
            assert group["interval"] == "2s"
            for rule in group["rules"]:
                if "for" in rule:
                    assert parse_duration(rule["for"]).total_seconds() <= 10, rule
    # the originals are untouched
    assert "__KIBANA_URL__" in (REPO / "rules" / "cronwatch-tasks.rules.yml").read_text()


def test_prometheus_config_points_at_the_alerter(tmp_path: Path) -> None:
    """The demo's Prometheus scrapes every service and alerts into the alerter (API v2)."""
    cfg = YAML(typ="safe").load(prometheus_config({"scheduler": "127.0.0.1:1", "shipper": "127.0.0.1:2"},
                                                  "127.0.0.1:3", [tmp_path / "a.yml"]))
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:3"]
    assert [j["job_name"] for j in cfg["scrape_configs"]] == ["cronwatch-scheduler", "cronwatch-shipper"]
    assert cfg["rule_files"] == [str(tmp_path / "a.yml")]


def test_scrape_runs_reads_the_scheduler_counter() -> None:
    """Runs by task and outcome come from cronwatch_task_runs_total."""
    text = ('# HELP cronwatch_task_runs_total Runs.\n# TYPE cronwatch_task_runs_total counter\n'
            'cronwatch_task_runs_total{task="a",outcome="success"} 3.0\n'
            'cronwatch_task_runs_total{task="a",outcome="failure"} 1.0\n')
    assert scrape_runs(text) == {("a", "success"): 3, ("a", "failure"): 1}


def test_describe_notification(tmp_path: Path) -> None:
    """An outbox payload is summarised as status, alert, task and count; junk falls back to its name."""
    p = tmp_path / "n.json"
    p.write_text(json.dumps({"status": "firing", "groupLabels": {"alertname": "CronwatchTaskFailed", "task": "t"},
                             "alerts": [{}, {}]}))
    assert describe_notification(p) == "firing CronwatchTaskFailed t (2 alerts)"
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert describe_notification(bad) == "bad.json"
