"""Every PromQL expression of the rules and dashboards, evaluated by a real Prometheus scraping real services.

The stack (tests/product/live_stack.py, shared with the Kibana checks) runs the real scheduler,
shipper and alerter; Prometheus loads the rendered rules and alerts into the alerter.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from live_stack import KIBANA, RUNBOOK, Stack
from product_support import grafana_exprs, rules
from prometheus_client.parser import text_string_to_metric_families

from cronwatch.testing import services

GRAFANA_VARS = {"$__rate_interval": "1m", "$__range": "5m", "$__interval": "15s"}


def every_expression() -> list[tuple[str, str]]:
    """(where, expr) for each rule and each dashboard query, dashboard variables filled in."""
    out = [(f"{p.name}: {r.get('alert') or r.get('record')}", r["expr"]) for p, _, r in rules()]
    for name, title, expr in grafana_exprs():
        if expr.startswith("label_values("):
            expr = expr.removeprefix("label_values(").rsplit(",", 1)[0]
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        expr = re.sub(r"\$\w+", ".*", expr)
        out.append((f"{name}: {title}", expr))
    return out


@pytest.mark.parametrize(("where", "expr"), every_expression(), ids=[w for w, _ in every_expression()])
def test_expression_runs_on_real_prometheus(stack: Stack, where: str, expr: str) -> None:
    """The expression parses and evaluates without error against live cronwatch metrics."""
    answer = stack.query(expr)
    assert answer["status"] == "success", f"{where}: {answer.get('error')}"
    assert not answer.get("warnings"), f"{where}: {answer['warnings']}"


def test_every_rule_evaluates_healthy(stack: Stack) -> None:
    """Prometheus reports every loaded rule healthy (no evaluation error such as many-to-many matching)."""
    groups = httpx.get(stack.prometheus.url + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = [r for g in groups for r in g["rules"]]
    assert len(loaded) == sum(1 for _ in rules())
    bad = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
    assert bad == []


def families(url: str) -> set[str]:
    """The metric family names a service exposes on /metrics."""
    text = httpx.get(url + "/metrics", timeout=10).text
    return {f.name for f in text_string_to_metric_families(text)}


def test_services_expose_the_contract_metrics(stack: Stack, contract_metrics: set[str]) -> None:
    """The scheduler, shipper and alerter export every contract metric the rules and dashboards read."""
    exposed = families(stack.scheduler) | families(stack.shipper) | families(stack.alerter)
    exposed = {name.removesuffix("_total") for name in exposed}
    missing = {m for m in contract_metrics if m.removesuffix("_total") not in exposed}
    assert missing == set()


def test_recorded_series_have_data(stack: Stack) -> None:
    """The recording rules produce series from the live scheduler and the shipper's log-derived counters."""
    for name in ("task:cronwatch_task_runs:increase1h", "task:cronwatch_log_task_runs:increase1h",
                 "job:cronwatch_shipper_events:rate5m", "task:cronwatch_task_run_duration_seconds:p95_7d"):
        assert stack.query(name)["data"]["result"], name


def test_failing_task_fires_and_healthy_one_does_not(stack: Stack) -> None:
    """CronwatchTaskFailed fires for the tasks that fail or time out, never for the one that succeeds."""
    def firing() -> set[str]:
        result = stack.query('ALERTS{alertname="CronwatchTaskFailed", alertstate="firing"}')["data"]["result"]
        return {s["metric"]["task"] for s in result}

    services.wait_until(lambda: {"always_fails", "too_slow"} <= firing(), 20, "CronwatchTaskFailed")
    assert "always_ok" not in firing()


def test_the_alerter_receives_the_alert_with_rendered_links(stack: Stack) -> None:
    """Prometheus delivers the alert to the cronwatch alerter with contract labels and a Kibana link for the task."""
    def received() -> list[dict[str, Any]]:
        alerts = httpx.get(stack.alerter + "/api/v2/alerts", timeout=10).json()
        return [a for a in alerts if a["labels"].get("alertname") == "CronwatchTaskFailed"
                and a["labels"].get("task") == "always_fails"]

    services.wait_until(lambda: bool(received()), 30, "alert at the alerter")
    alert = received()[0]
    assert alert["labels"]["severity"] == "warning" and alert["labels"]["team"] == "ops"
    assert alert["labels"]["env"] == "test" and alert["labels"]["job"] == "cronwatch-scheduler"
    ann = alert["annotations"]
    assert ann["kibana_url"].startswith(KIBANA + "/app/discover#/")
    assert "task.name:%22always_fails%22" in ann["kibana_url"]
    assert ann["runbook_url"] == RUNBOOK + "#cronwatchtaskfailed"
    assert ann["summary"] == "Task always_fails failed its last run"


# --- the Kibana objects against the index the real shipper wrote --------------------------------

def test_log_only_task_failure_fires_from_the_shippers_metrics(stack: Stack) -> None:
    """A failed run logged by a task cronwatch does not schedule fires CronwatchLogTaskFailed; scheduler tasks do not."""
    def firing() -> set[str]:
        result = stack.query('ALERTS{alertname="CronwatchLogTaskFailed", alertstate="firing"}')["data"]["result"]
        return {s["metric"]["task"] for s in result}

    services.wait_until(lambda: "legacy_backup" in firing(), 30, "CronwatchLogTaskFailed")
    assert stack.query('cronwatch_log_task_runs_total{task="always_fails", outcome="failure"}')["data"]["result"]
    assert firing() == {"legacy_backup"}
