"""Kibana saved objects: well-formed, self-consistent, and every field they use is in the index template."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from product_support import KIBANA, alerting_rules, kibana_objects, kql_fields, search_source

from shipper.config import SinkConfig
from shipper.sink.template import mappings

AGGREGATABLE = {"keyword", "long", "date", "integer", "double", "float", "boolean", "ip"}


def saved_objects() -> list[dict[str, Any]]:
    """Every saved object of the Kibana files."""
    return kibana_objects()


def template_fields() -> dict[str, str]:
    """Every field path of the index template with its type (objects flattened to dotted names)."""
    fields: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = prefix + name
            if "properties" in spec:
                walk(spec["properties"], path + ".")
            else:
                fields[path] = spec.get("type", "object")

    walk(mappings()["properties"], "")
    return fields


def field_type(field: str) -> str:
    """The template type of ``field``; dynamic ``labels.*`` are keywords, ``extra.*`` flattened keywords."""
    fields = template_fields()
    if field in fields:
        return fields[field]
    if field.startswith("labels."):
        return "keyword"
    if field.startswith("extra."):
        return "keyword"
    raise AssertionError(f"field {field!r} is not in the index template (shipper/sink/template.py)")


OBJECTS = saved_objects()
BY_ID = {(o["type"], o["id"]): o for o in OBJECTS}


def test_there_are_a_data_view_saved_searches_visualizations_and_a_dashboard() -> None:
    """The files hold the job-index data view, the four required saved searches and the overview dashboard."""
    assert ("index-pattern", "cronwatch-logs") in BY_ID
    for sid in ("cronwatch-failed-runs", "cronwatch-one-trace", "cronwatch-one-task", "cronwatch-errors-with-stack"):
        assert ("search", sid) in BY_ID
    assert ("dashboard", "cronwatch-overview") in BY_ID
    assert sum(1 for o in OBJECTS if o["type"] == "visualization") >= 3


def test_ids_are_unique_and_references_resolve() -> None:
    """No object id repeats, and every reference names an object in the files."""
    assert len(BY_ID) == len(OBJECTS)
    for obj in OBJECTS:
        for ref in obj.get("references", []):
            assert (ref["type"], ref["id"]) in BY_ID, f"{obj['id']} -> {ref}"


def test_data_view_matches_the_daily_indices() -> None:
    """The data view covers <default prefix>-* with @timestamp as its time field."""
    attrs = BY_ID[("index-pattern", "cronwatch-logs")]["attributes"]
    assert attrs["title"] == f"{SinkConfig().index_prefix}-*"
    assert attrs["timeFieldName"] == "@timestamp" and field_type("@timestamp") == "date"
    for name in json.loads(attrs["fieldFormatMap"]) | json.loads(attrs["fieldAttrs"]):
        field_type(name)
    assert json.loads(attrs["fieldFormatMap"])["event.duration"]["params"]["inputFormat"] == "nanoseconds"


@pytest.mark.parametrize("obj", [o for o in OBJECTS if o["type"] == "search"], ids=lambda o: o["id"])
def test_saved_search_fields_exist(obj: dict[str, Any]) -> None:
    """A saved search's query, columns and sort use template fields; sorting only on sortable ones."""
    source = search_source(obj)
    assert source["query"]["language"] == "kuery"
    fields = kql_fields(source["query"]["query"]) | set(obj["attributes"]["columns"])
    assert fields
    for field in fields:
        field_type(field)
    for field, order in obj["attributes"]["sort"]:
        assert field_type(field) in AGGREGATABLE and order in ("asc", "desc")
    refs = {r["name"]: r for r in obj["references"]}
    assert refs[source["indexRefName"]]["id"] == "cronwatch-logs"


@pytest.mark.parametrize("obj", [o for o in OBJECTS if o["type"] == "visualization"], ids=lambda o: o["id"])
def test_visualization_fields_exist_and_aggregate(obj: dict[str, Any]) -> None:
    """Every aggregation field of a visualization is in the template with an aggregatable type."""
    state = json.loads(obj["attributes"]["visState"])
    assert state["title"] == obj["attributes"]["title"]
    agg_fields = [a["params"]["field"] for a in state["aggs"] if "field" in a["params"]]
    assert agg_fields
    for field in agg_fields:
        assert field_type(field) in AGGREGATABLE, f"{field} ({field_type(field)}) cannot be aggregated"
    for field in kql_fields(search_source(obj)["query"]["query"]):
        field_type(field)


def test_dashboard_panels_are_referenced_and_do_not_overlap() -> None:
    """Each dashboard panel has a reference, fits the 48-column grid and overlaps no other panel."""
    dash = BY_ID[("dashboard", "cronwatch-overview")]
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dash["references"]}
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        ref = refs[panel["panelRefName"]]
        assert ref["type"] == panel["type"]
        g = panel["gridData"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 48
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"panel {panel['panelIndex']} overlaps"
        cells |= mine
    kinds = {refs[p["panelRefName"]]["id"] for p in panels}
    assert {"cronwatch-runs-by-outcome", "cronwatch-top-failing-tasks", "cronwatch-run-duration"} <= kinds


def test_alert_links_point_at_these_objects() -> None:
    """The rules' kibana_url links use this data view and dashboard, and filter on a template field."""
    for rule in alerting_rules():
        url = rule["annotations"]["kibana_url"]
        if "/app/discover" in url:
            assert "index:'cronwatch-logs'" in url
            query = re.search(r"query:'([^']*)'", url)
            assert query is not None
            for field in kql_fields(query.group(1).replace("%22", '"').replace("%20", " ")):
                field_type(field)
        else:
            view = re.search(r"/app/dashboards#/view/([\w-]+)", url)
            assert view is not None and ("dashboard", view.group(1)) in BY_ID


def test_kql_field_extraction_sees_fields_not_values() -> None:
    """The field extractor ignores colons inside quoted values (so the checks above are meaningful)."""
    assert kql_fields('task.name : "a:b" and error.type : * or tags : ("x:y")') == {"task.name", "error.type", "tags"}


def test_an_unknown_field_is_reported() -> None:
    """A field missing from the template fails the check with its name."""
    with pytest.raises(AssertionError, match=r"task\.nmae"):
        field_type("task.nmae")


def test_import_script_and_files_exist() -> None:
    """dashboards/import.sh imports every *.ndjson through the saved objects import API."""
    script = (KIBANA.parent / "import.sh").read_text()
    assert "/api/saved_objects/_import?overwrite=true" in script and "kbn-xsrf" in script
    assert Path(KIBANA.parent / "import.sh").stat().st_mode & 0o111


def test_objects_target_one_kibana_format() -> None:
    """Every object and dashboard panel declares the same Kibana 8.8 format, so an 8.8+ Kibana migrates them."""
    for obj in OBJECTS:
        assert obj["coreMigrationVersion"] == "8.8.0"
        version = tuple(int(part) for part in obj["typeMigrationVersion"].split("."))
        assert version <= (8, 9, 0), obj["id"]
    panels = json.loads(BY_ID[("dashboard", "cronwatch-overview")]["attributes"]["panelsJSON"])
    assert {p["version"] for p in panels} == {"8.8.0"}
