"""Grafana dashboards: well-formed, provisioned, reading only contract metrics and recorded series."""

from __future__ import annotations

import re
from typing import Any

import pytest
from product_support import (
    RULE_FILES,
    grafana_dashboards,
    grafana_exprs,
    grafana_panels,
    metric_names_in,
    recording_names,
)

DASHBOARDS = grafana_dashboards()


def test_the_three_dashboards_exist() -> None:
    """Tasks, shipper and alerter dashboards, each with a unique uid."""
    uids = [d["uid"] for _, d in DASHBOARDS]
    assert sorted(uids) == ["cronwatch-alerter", "cronwatch-shipper", "cronwatch-tasks"]


@pytest.mark.parametrize(("path", "dash"), DASHBOARDS, ids=lambda v: getattr(v, "name", ""))
def test_dashboard_structure(path: Any, dash: dict[str, Any]) -> None:
    """Panels have unique ids, fit the 24-column grid without overlapping, and use the datasource variable."""
    assert dash["title"] and dash["schemaVersion"] >= 36 and not dash["editable"]
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names[0] == "datasource"
    ids: set[int] = set()
    cells: set[tuple[int, int]] = set()
    for panel in grafana_panels(dash):
        assert panel["id"] not in ids
        ids.add(panel["id"])
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{path.name}: panel {panel['title']!r} overlaps another"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            for var in re.findall(r"\$(\w+)", target["expr"]):
                assert var.startswith("__") or var in names, f"{panel['title']}: unknown variable ${var}"


def test_dashboards_read_only_known_series(contract_metrics: set[str]) -> None:
    """Every series a panel reads is a contract metric, a recorded series, `up` or `ALERTS`."""
    recorded = recording_names()
    for name, title, expr in grafana_exprs():
        unknown = metric_names_in(expr) - contract_metrics
        assert not unknown, f"{name}: {title}: {unknown}"
        for rec in re.findall(r"\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b", expr):
            assert rec in recorded, f"{name}: {title}: {rec} is not recorded"
        assert "job=" not in expr.replace('up{job="cronwatch-', "")


def test_every_contract_metric_is_shown_or_alerted_on(contract_metrics: set[str]) -> None:
    """Each metric of the contract appears in a dashboard or a rule (nothing is exported for nobody)."""
    used: set[str] = set()
    for _, _, expr in grafana_exprs():
        used |= metric_names_in(expr)
    for path in RULE_FILES:
        used |= metric_names_in(path.read_text())
    assert contract_metrics - used == set()


def test_tasks_dashboard_answers_the_morning_questions() -> None:
    """The tasks dashboard shows success rate, duration, lateness and next run."""
    dash = next(d for _, d in DASHBOARDS if d["uid"] == "cronwatch-tasks")
    titles = " | ".join(p["title"].lower() for p in grafana_panels(dash))
    for word in ("success ratio", "run time", "lateness", "next run", "failed"):
        assert word in titles


def test_shipper_and_alerter_dashboards_cover_their_metrics() -> None:
    """Shipper: throughput, lag, bulk errors, dead letters; alerter: notifications, latency, reload."""
    by_uid = {d["uid"]: " | ".join(p["title"].lower() for p in grafana_panels(d)) for _, d in DASHBOARDS}
    for word in ("events by stage", "lag", "bulk requests", "dead letters", "parse failures"):
        assert word in by_uid["cronwatch-shipper"]
    for word in ("notifications", "latency", "config reload", "alerts by state"):
        assert word in by_uid["cronwatch-alerter"]
