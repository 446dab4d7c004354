"""Helpers shared by the product tests: where the files are and how to read them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
DESIGN = REPO.parent / "shared" / "DESIGN.md"
RULES = REPO / "rules"
RULE_FILES = sorted(RULES.glob("*.rules.yml"))
RULE_TESTS = sorted((RULES / "tests").glob("*_test.yml"))
GRAFANA = REPO / "dashboards" / "grafana"
KIBANA = REPO / "dashboards" / "kibana"

SEVERITIES = {"critical", "warning", "info"}


def load_yaml(path: Path) -> Any:
    """Parse a YAML file safely (no tags, no code)."""
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def contract_metric_names() -> set[str]:
    """Every metric name the DESIGN.md contract lists (``cronwatch_…``)."""
    text = DESIGN.read_text(encoding="utf-8")
    section = text.split("### Metric names", 1)[1].split("###", 1)[0]
    return set(re.findall(r"`(cronwatch_[a-z_]+)", section))


def rules() -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """Every rule of every rule file: (file, group name, rule)."""
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                yield path, group["name"], rule


def alerting_rules() -> list[dict[str, Any]]:
    """The alerting rules (those with ``alert:``)."""
    return [r for _, _, r in rules() if "alert" in r]


def recording_names() -> set[str]:
    """The names the recording rules record."""
    return {r["record"] for _, _, r in rules() if "record" in r}


def grafana_dashboards() -> list[tuple[Path, dict[str, Any]]]:
    """Every Grafana dashboard JSON file and its parsed content."""
    import json

    return [(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(GRAFANA.glob("*.json"))]


def grafana_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, including panels nested in rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def grafana_exprs() -> list[tuple[str, str, str]]:
    """Every PromQL expression of the Grafana dashboards: (dashboard file, panel title, expr)."""
    out = []
    for path, dash in grafana_dashboards():
        for panel in grafana_panels(dash):
            for target in panel.get("targets", []):
                if "expr" in target:
                    out.append((path.name, panel.get("title", "?"), target["expr"]))
        for var in dash.get("templating", {}).get("list", []):
            query = var.get("query")
            if var.get("type") == "query" and isinstance(query, dict) and query.get("query"):
                out.append((path.name, "$" + var["name"], query["query"]))
    return out


def metric_names_in(expr: str) -> set[str]:
    """The cronwatch metric names an expression reads (suffixes of histograms folded in)."""
    names = set()
    for name in re.findall(r"(?<![\w:])(cronwatch_[a-z_]+)(?![\w:])", expr):
        names.add(re.sub(r"_(bucket|sum|count)$", "", name))
    return names


def kibana_objects() -> list[dict[str, Any]]:
    """Every saved object of every dashboards/kibana/*.ndjson file."""
    import json

    out = []
    for path in sorted(KIBANA.glob("*.ndjson")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert line.strip(), f"{path.name}:{n}: empty line"
            out.append(json.loads(line))
    return out


def kql_fields(query: str) -> set[str]:
    """The field names a KQL query uses (``field : value``), quoted values removed first."""
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    return set(re.findall(r"([A-Za-z@_][\w.@]*)\s*:", unquoted))


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    """The parsed searchSourceJSON of a saved object."""
    import json

    source: dict[str, Any] = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
    return source


def kql_to_query_string(query: str) -> str:
    """The simple KQL the saved objects use, as Lucene query_string syntax (`a : ("x" or "y")` → `a:("x" OR "y")`)."""
    out = re.sub(r"\s*:\s*", ":", query)
    return re.sub(r"\b(and|or|not)\b", lambda m: m.group(1).upper(), out)
